//! The limits against hostile input stop where the reference parser's stop:
//! what one refuses the other refuses too, and nothing costs more than
//! linear time.

use std::time::{Duration, Instant};

use yaml_tree::Error;

use crate::oracle::{reference, reference_documents};

fn flow_nested(depth: usize) -> String {
    format!("{}{}\n", "[".repeat(depth), "]".repeat(depth))
}

fn block_nested(depth: usize) -> String {
    (0..depth)
        .map(|i| format!("{}a:\n", " ".repeat(i)))
        .collect::<String>()
        + &" ".repeat(depth)
        + "b\n"
}

fn compact_nested(depth: usize) -> String {
    "- ".repeat(depth) + "a\n"
}

#[test]
fn nesting_stops_at_64_levels_as_the_reference_does() {
    for make in [flow_nested, block_nested, compact_nested] {
        let text = make(64);
        assert!(yaml_tree::parse(&text).is_ok(), "{text}");
        assert!(reference(&text).is_ok(), "{text}");
        let text = make(65);
        assert!(
            matches!(yaml_tree::parse(&text), Err(Error::Limit { .. })),
            "{text}"
        );
        assert!(reference(&text).is_err(), "{text}");
    }
}

#[test]
fn a_stream_holds_at_most_250000_nodes_as_in_the_reference() {
    // A sequence of n scalars is n + 1 nodes; keys count too.
    let sequence = |n: usize| format!("[{}1]\n", "1,".repeat(n - 1));
    let text = sequence(249_999);
    assert!(yaml_tree::parse(&text).is_ok());
    assert!(reference(&text).is_ok());
    let text = sequence(250_000);
    assert!(matches!(yaml_tree::parse(&text), Err(Error::Limit { .. })));
    assert!(reference(&text).is_err());
    // The count runs over the whole stream, not per document.
    let text = format!("{}---\n{}", sequence(125_000), sequence(125_000));
    assert!(matches!(
        yaml_tree::parse_documents(&text),
        Err(Error::Limit { .. })
    ));
    assert!(reference_documents(&text).is_err());
}

#[test]
fn a_stream_holds_at_most_1024_documents_as_in_the_reference() {
    for (documents, fits) in [(1024, true), (1025, false)] {
        for document in ["---\na\n", "---\n"] {
            let text = document.repeat(documents);
            assert_eq!(
                yaml_tree::parse_documents(&text).is_ok(),
                fits,
                "{documents} x {document:?}"
            );
            assert_eq!(
                reference_documents(&text).is_ok(),
                fits,
                "{documents} x {document:?}"
            );
        }
    }
}

#[test]
fn at_most_32_comments_separate_a_key_or_item_from_its_value() {
    for (comments, fits) in [(32, true), (33, false)] {
        let lines = "# c\n".repeat(comments);
        for text in [
            format!("a:\n{lines}  b: 1\n"),
            format!("a:\n{lines}b: 1\n"),
            format!("- \n{lines}  - b\n"),
            format!("a: # c\n{}  b\n", "# c\n".repeat(comments - 1)),
        ] {
            let ours = yaml_tree::parse(&text);
            assert_eq!(ours.is_ok(), fits, "{text:?}");
            assert!(fits || matches!(ours, Err(Error::Limit { .. })), "{text:?}");
            assert_eq!(reference(&text).is_ok(), fits, "{text:?}");
        }
    }
    // Elsewhere comments are free.
    let text = format!(
        "a: 1\n{}b: [\n{}1]\n",
        "# c\n".repeat(100),
        "# c\n".repeat(100)
    );
    assert!(yaml_tree::parse(&text).is_ok());
    assert!(reference(&text).is_ok());
}

#[test]
fn an_implicit_key_holds_at_most_1024_characters_as_yaml_says() {
    for (chars, fits) in [(1024, true), (1025, false)] {
        for text in [
            format!("{}: v\n", "k".repeat(chars)),
            format!("{}: v\n", "é".repeat(chars)),
            format!("{}   : v\n", "k".repeat(chars - 3)),
            format!("\"{}\": v\n", "k".repeat(chars - 2)),
            format!("- {}: v\n", "k".repeat(chars)),
            format!("{{\"{}\": v}}\n", "k".repeat(chars - 2)),
            format!("{{{}: v}}\n", "日".repeat(chars)),
        ] {
            let ours = yaml_tree::parse(&text);
            assert_eq!(
                ours.is_ok(),
                fits,
                "{} chars: {ours:?}",
                text.chars().count()
            );
            assert_eq!(
                reference(&text).is_ok(),
                fits,
                "{} chars",
                text.chars().count()
            );
        }
    }
    // Only keys are bounded: long values, and flow keys without a value, are not.
    let long = "k".repeat(5000);
    for text in [
        format!("a: {long}\n"),
        format!("{{{long}, b: 1}}\n"),
        format!("- \"{long}\"\n"),
    ] {
        assert!(yaml_tree::parse(&text).is_ok());
        assert!(reference(&text).is_ok());
    }
}

/// Times a parse of a text `make` builds at size n and at 32 n: a linear
/// reader takes about 32 times as long, a quadratic one 1,024 times.
fn assert_linear(name: &str, make: impl Fn(usize) -> String) {
    let time = |text: &str| {
        (0..3)
            .map(|_| {
                let start = Instant::now();
                let read = yaml_tree::parse(text);
                let elapsed = start.elapsed();
                assert!(read.is_ok(), "{name}: {read:?}");
                elapsed
            })
            .min()
            .unwrap_or_default()
    };
    let small = time(&make(1_000));
    let large = time(&make(32_000));
    assert!(
        large < small * 320 + Duration::from_millis(20),
        "{name}: {small:?} at size n, {large:?} at 32 n"
    );
}

#[test]
fn reading_time_is_linear_in_long_lines_and_deep_indentation() {
    assert_linear("a long plain line", |n| format!("k: {}\n", "ab ".repeat(n)));
    assert_linear("a long quoted line", |n| {
        format!("k: \"{}\"\n", "a\\tb\\u00e9 ".repeat(n))
    });
    assert_linear("a long line of blanks", |n| {
        format!("k: a{}# c\n", " ".repeat(n))
    });
    assert_linear("deep indentation", |n| format!("{}k: v\n", " ".repeat(n)));
    assert_linear("nesting at deep indentation", |n| {
        (0..60)
            .map(|i| format!("{}k:\n", " ".repeat(i * n / 60)))
            .collect::<String>()
            + &" ".repeat(n)
            + "v\n"
    });
    assert_linear("a plain scalar over many lines", |n| {
        format!("k: a\n{}", "  b\n\n".repeat(n))
    });
    assert_linear("a block scalar", |n| {
        format!("k: |\n{}", "  line\n\n".repeat(n))
    });
    assert_linear("many keys", |n| {
        (0..n).map(|i| format!("k{i}: [{i}, \"{i}\"]\n")).collect()
    });
    assert_linear("many items", |n| "- a: 1\n  b: x\n".repeat(n));
    assert_linear("many comment lines", |n| {
        format!("{}k: v\n", "   # comment\n".repeat(n))
    });
    assert_linear("a long flow collection", |n| {
        format!("[{}]\n", "{a: 1},\n".repeat(n))
    });
}
