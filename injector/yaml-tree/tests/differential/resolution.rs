//! Every way a plain scalar can resolve, against serde-saphyr: as a value
//! (null, boolean, integer, float, string, or refused) and as a key (its
//! text, and which spellings are the same key).

use crate::oracle::reference;
use serde_json::Value;

/// Spellings at the edges of each rule.
const SPELLINGS: &[&str] = &[
    "null",
    "Null",
    "NULL",
    "nULL",
    "~",
    "true",
    "True",
    "TRUE",
    "tRUE",
    "false",
    "False",
    "FALSE",
    "yes",
    "no",
    "on",
    "off",
    "y",
    "n",
    "0",
    "-0",
    "+0",
    "00",
    "007",
    "-007",
    "+007",
    "12",
    "+12",
    "-12",
    "1_000",
    "1__000",
    "_1",
    "1_",
    "0x1F",
    "0X1f",
    "-0x1F",
    "+0x1F",
    "0x",
    "0x_1",
    "0x1_F",
    "0xG",
    "0o17",
    "0O17",
    "0o18",
    "-0o17",
    "0b101",
    "0B11",
    "0b102",
    "-0b1",
    "0127",
    "0_1",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775808",
    "-9223372036854775809",
    "340282366920938463463374607431768211456",
    "0xFFFFFFFFFFFFFFFF",
    "0x10000000000000000",
    "1.",
    ".5",
    "-.5",
    "+.5",
    "1.5",
    "1e5",
    "1E5",
    "1e+5",
    "1e-5",
    "-1.5e3",
    "1.5E-3",
    "1e",
    "e5",
    ".",
    "-",
    "+",
    "1.2.3",
    "1,5",
    "1_000.5",
    "0.0",
    "-0.0",
    ".inf",
    "-.inf",
    "+.INF",
    ".Inf",
    ".nan",
    ".NaN",
    ".NAN",
    "-.nan",
    "inf",
    "-inf",
    "infinity",
    "nan",
    "NaN",
    "1e999",
    "-1e999",
    "0x1p3",
    "1d",
    "12:30",
    "2024-01-01",
    "1 2",
    "true false",
    "0b",
    "0o",
    "+-1",
    "-+1",
];

fn as_value(spelling: &str) -> (Result<Value, yaml_tree::Error>, Result<Value, String>) {
    let text = format!("k: {spelling}\n");
    let ours = yaml_tree::parse(&text).map(|d| d.value["k"].clone());
    let theirs = reference(&text).map(|v| v["k"].clone());
    (ours, theirs)
}

#[test]
fn plain_values_resolve_as_the_reference_resolves_them() {
    for spelling in SPELLINGS {
        match as_value(spelling) {
            (Ok(ours), Ok(theirs)) => assert_eq!(ours, theirs, "{spelling:?}"),
            (Err(_), Err(_)) => {}
            (ours, theirs) => panic!("{spelling:?}: ours {ours:?}, theirs {theirs:?}"),
        }
    }
    for spelling in [".inf", "-.Inf", ".nan", "1e999"] {
        let (ours, _) = as_value(spelling);
        assert!(
            matches!(ours, Err(yaml_tree::Error::NotJson { .. })),
            "{spelling:?}: {ours:?}"
        );
    }
}

#[test]
fn quoted_spellings_stay_strings() {
    for spelling in SPELLINGS {
        let text = format!("k: \"{spelling}\"\nj: '{spelling}'\n");
        let value = yaml_tree::parse(&text).unwrap().value;
        assert_eq!(value["k"], Value::String(spelling.to_string()));
        assert_eq!(value, reference(&text).unwrap(), "{spelling:?}");
    }
}

/// Number spellings from a seeded generator: digits, signs, prefixes,
/// underscores, dots and exponents in every order.
#[test]
fn generated_number_spellings_resolve_as_the_reference_resolves_them() {
    const PARTS: &[&str] = &[
        "0",
        "1",
        "7",
        "9",
        "_",
        ".",
        "e",
        "E",
        "-",
        "+",
        "x",
        "o",
        "b",
        "f",
        "F",
        "99999999999",
    ];
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    for _ in 0..20_000 {
        let mut spelling = String::new();
        for _ in 0..1 + state % 6 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            spelling.push_str(PARTS[(state % PARTS.len() as u64) as usize]);
        }
        match as_value(&spelling) {
            (Ok(ours), Ok(theirs)) => assert_eq!(ours, theirs, "{spelling:?}"),
            (Err(_), Err(_)) => {}
            (ours, theirs) => panic!("{spelling:?}: ours {ours:?}, theirs {theirs:?}"),
        }
    }
}

#[test]
fn keys_are_their_text_and_equal_integers_are_the_same_key() {
    for spelling in SPELLINGS {
        let text = format!("{spelling}: v\n");
        match (yaml_tree::parse(&text), reference(&text)) {
            (Ok(ours), Ok(theirs)) => {
                assert_eq!(ours.value, theirs, "{spelling:?}");
                if spelling != &"-" {
                    assert_eq!(ours.value[spelling], "v", "{spelling:?}");
                }
            }
            (Err(_), Err(_)) => {}
            (ours, theirs) => panic!("{spelling:?}: ours {ours:?}, theirs {theirs:?}"),
        }
    }
    // Pairs of keys: duplicates when the same node, however spelled.
    for (a, b) in [
        ("16", "0x10"),
        ("16", "+16"),
        ("16", "1_6"),
        ("16", "0o20"),
        ("-0", "0"),
        ("-1", "-0x1"),
        ("a", "'a'"),
        ("a", "\"a\""),
        ("true", "'true'"),
        ("1.0", "1.00"),
        ("1.0", "'1.0'"),
        ("0127", "'0127'"),
        ("1", "'1'"),
        ("16", "'0x10'"),
        ("'16'", "0x10"),
    ] {
        let text = format!("{a}: 1\n{b}: 2\n");
        let ours = yaml_tree::parse(&text);
        let theirs = reference(&text);
        match (&ours, &theirs) {
            (Ok(ours), Ok(theirs)) => assert_eq!(&ours.value, theirs, "{text:?}"),
            (Err(yaml_tree::Error::DuplicateKey { .. }), Err(e)) => {
                assert!(e.contains("duplicate"), "{text:?}: {e}")
            }
            // `1` and `'1'` are two keys with one JSON text: the reference
            // keeps the last; this reader defers rather than choose.
            (Err(yaml_tree::Error::Unsupported { .. }), Ok(_)) => {}
            _ => panic!("{text:?}: ours {ours:?}, theirs {theirs:?}"),
        }
    }
}
