//! Each construct of the subset, the spans of its scalars, and what is
//! refused and how.

use serde_json::{Value, json};
use yaml_tree::Error;

fn value(text: &str) -> Value {
    yaml_tree::parse(text)
        .unwrap_or_else(|e| panic!("{text:?}: {e}"))
        .value
}

/// The source text at each scalar's span.
fn scalars(text: &str) -> Vec<&str> {
    let document = yaml_tree::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
    document
        .spans
        .as_slice()
        .iter()
        .map(|s| &text[s.clone()])
        .collect()
}

fn error(text: &str) -> Error {
    match yaml_tree::parse(text) {
        Ok(d) => panic!("{text:?} read as {}", d.value),
        Err(e) => e,
    }
}

fn unsupported(text: &str) -> &'static str {
    match error(text) {
        Error::Unsupported { what, .. } => what,
        other => panic!("{text:?}: {other}"),
    }
}

fn syntax(text: &str) -> (usize, usize) {
    match error(text) {
        Error::Syntax { line, col, .. } => (line, col),
        other => panic!("{text:?}: {other}"),
    }
}

#[test]
fn block_mappings_and_sequences_nest_by_indentation() {
    let text = "\
metadata:
  labels:
    app: ratings
    version: v1
spec:
  containers:
  - name: proxy
    args:
    - run
    -   --verbose
  volumes:
    - name: data
      emptyDir: {}
";
    assert_eq!(
        value(text),
        json!({
            "metadata": {"labels": {"app": "ratings", "version": "v1"}},
            "spec": {
                "containers": [{"name": "proxy", "args": ["run", "--verbose"]}],
                "volumes": [{"name": "data", "emptyDir": {}}]
            }
        })
    );
    assert_eq!(
        value("  indented: 1\n  document: 2\n"),
        json!({"indented": 1, "document": 2})
    );
}

#[test]
fn compact_items_hold_mappings_and_sequences() {
    assert_eq!(
        value("- a: 1\n  b: 2\n- - x\n  - y\n-   - z\n"),
        json!([{"a": 1, "b": 2}, ["x", "y"], ["z"]])
    );
    assert_eq!(
        value("- - - a\n    - b\n  - c\n"),
        json!([[["a", "b"], "c"]])
    );
    assert_eq!(
        value("- a:\n  - x\n  b: 1\n"),
        json!([{"a": ["x"], "b": 1}])
    );
}

#[test]
fn empty_values_are_null() {
    assert_eq!(
        value("a:\nb: ~\nc: null\nd: # c\n"),
        json!({"a": null, "b": null, "c": null, "d": null})
    );
    assert_eq!(value("-\n- \n"), json!([null, null]));
    assert_eq!(value(""), json!(null));
    assert_eq!(value("# only a comment\n"), json!(null));
    assert_eq!(
        value("{a, b: , c: 1}"),
        json!({"a": null, "b": null, "c": 1})
    );
}

#[test]
fn plain_scalars_end_at_a_value_indicator_or_a_comment_and_fold_their_lines() {
    assert_eq!(
        value("a: http://x:80/y # port\nb: a:b#c\nc: -1 ?x :y\nd: one\n  two\n\n  three\n"),
        json!({"a": "http://x:80/y", "b": "a:b#c", "c": "-1 ?x :y", "d": "one two\nthree"})
    );
    assert_eq!(value("- a\n  - b\n"), json!(["a - b"]));
    assert_eq!(value("a\nb\n"), json!("a b"));
    assert_eq!(
        value("[a b, c\n  d, e:f, {g:}]"),
        json!(["a b", "c d", "e:f", {"g": null}])
    );
    assert_eq!(value("{a :b}"), json!({"a :b": null}));
}

#[test]
fn double_quoted_scalars_take_every_escape() {
    assert_eq!(
        value(r#"k: "\0\a\b\t\	\n\v\f\r\e\ \"\/\\\N\_\L\P\x41\xe9\u00e9\U0001F600\ud83d\ude00""#),
        json!({"k": "\0\u{7}\u{8}\t\t\n\u{b}\u{c}\r\u{1b} \"/\\\u{85}\u{a0}\u{2028}\u{2029}Aéé😀😀"})
    );
    for bad in [
        r#""\q""#,
        r#""\x4""#,
        r#""\ud83d""#,
        r#""\ude00""#,
        r#""\ud83dx""#,
        r#""\UFFFFFFFF""#,
    ] {
        syntax(bad);
    }
}

#[test]
fn quoted_scalars_fold_their_lines() {
    assert_eq!(
        value("k: \"a  \n   b\n\n   c \\\n   d\\\n   \\ e\"\n"),
        json!({"k": "a b\nc d e"})
    );
    assert_eq!(
        value("k: 'it''s\n  folded\n\n\n  here'\n"),
        json!({"k": "it's folded\n\nhere"})
    );
    assert_eq!(value("\"top\nlevel\""), json!("top level"));
}

#[test]
fn literal_and_folded_block_scalars_chomp_as_told() {
    let text = "\
clip: |
  a
   b

strip: |-
  a

keep: |+
  a


folded: >
  a
  b

  c
    more
  d
explicit: |2
    two extra
  back
header: >- # a comment
  x
";
    assert_eq!(
        value(text),
        json!({
            "clip": "a\n b\n",
            "strip": "a",
            "keep": "a\n\n\n",
            "folded": "a b\nc\n  more\nd\n",
            "explicit": "  two extra\nback\n",
            "header": "x",
        })
    );
    assert_eq!(
        value("k: |\n  last line at the end"),
        json!({"k": "last line at the end\n"})
    );
    assert_eq!(value("k: |\n  x\n     \n"), json!({"k": "x\n   \n"}));
    assert_eq!(value("k: |\nj: 1\n"), json!({"k": "", "j": 1}));
    assert_eq!(value("--- >\n folded\n top\n"), json!("folded top\n"));
}

#[test]
fn flow_collections_read_json_and_span_lines() {
    let text = r#"resources: {"limits": {"cpu": "2", "memory": "1Gi"},
  "requests": {"cpu": 0.1, "n": [1, -2, 3e2, true, null]}}
args: [ proxy, sidecar, # the mode
  "--domain", 'x.svc',
]
empty: [{}, []]
"#;
    assert_eq!(
        value(text),
        json!({
            "resources": {
                "limits": {"cpu": "2", "memory": "1Gi"},
                "requests": {"cpu": 0.1, "n": [1, -2, 300.0, true, null]}
            },
            "args": ["proxy", "sidecar", "--domain", "x.svc"],
            "empty": [{}, []]
        })
    );
}

#[test]
fn documents_are_separated_by_markers() {
    assert_eq!(value("--- # the only one\na: 1\n...\n"), json!({"a": 1}));
    assert_eq!(value("--- text\n"), json!("text"));
    let stream = "a: 1\n---\n---\n- b\n...\n--- null\n--- [c]\n";
    let documents = yaml_tree::parse_documents(stream).unwrap();
    assert_eq!(
        documents.values,
        vec![json!({"a": 1}), json!(["b"]), json!(["c"])]
    );
    syntax(stream);
    syntax("a: 1\n--- b\n");
}

#[test]
fn keys_are_text_and_never_twice() {
    assert_eq!(
        value("1: a\n1.5: b\ntrue: c\n\"q\": d\n'': e\n"),
        json!({"1": "a", "1.5": "b", "true": "c", "q": "d", "": "e"})
    );
    assert!(matches!(
        error("a: 1\nb: 2\na: 3\n"),
        Error::DuplicateKey {
            line: 3,
            col: 1,
            ..
        }
    ));
    assert!(matches!(
        error("0x10: 1\n16: 2\n"),
        Error::DuplicateKey { .. }
    ));
    assert!(matches!(
        error("{a: 1, 'a': 2}"),
        Error::DuplicateKey { .. }
    ));
    assert!(matches!(error("null: 1\n"), Error::NotJson { .. }));
    assert!(matches!(error(": 1\n"), Error::NotJson { .. }));
    assert!(matches!(error("k: .inf\n"), Error::NotJson { .. }));
    unsupported("1: a\n\"1\": b\n");
}

#[test]
fn what_a_full_parser_must_read_is_refused_as_unsupported() {
    for text in [
        "a: &x 1\n",
        "a: *x\n",
        "a: !!str 1\n",
        "%YAML 1.2\n---\na\n",
        "? a\n: b\n",
        "[a]: b\n",
        "{[a]: b}\n",
        "<<: {a: 1}\n",
        "\"multi\n line\": key\n",
        "{multi\n line: key}\n",
        "[a: b]\n",
        "a:\n\tb: 1\n",
        "-\ta\n",
        "a: 1\r\n",
        "\u{feff}a: 1\n",
        "a: x\u{2028}y\n",
        "--- |1\n  x\n",
        "k: |+\n x\n ",
    ] {
        unsupported(text);
    }
}

#[test]
fn syntax_errors_say_where() {
    assert_eq!(syntax("a: \"open\n"), (1, 4));
    assert_eq!(syntax("a: [1, 2\n"), (1, 4));
    assert_eq!(syntax("a: 1\n  b: 2\n"), (2, 4));
    assert_eq!(syntax("a:\n  b: 1\n c: 2\n"), (3, 2));
    assert_eq!(syntax("a: b: c\n"), (1, 4));
    assert_eq!(syntax("- a\nb: 1\n"), (2, 1));
    assert_eq!(syntax("k: \"é\\q\"\n"), (1, 6));
    assert_eq!(syntax("a: x\u{1}\n"), (1, 5));
    assert_eq!(syntax("k: |0\n x\n"), (1, 5));
}

#[test]
fn spans_cover_scalar_content_only() {
    let text = "\
plain: one two  # comment
\"quoted\": 'it''s'
block: |
  line 1
  line 2

empty:
flow: {\"a\": [b, \"c\"]}
";
    assert_eq!(
        scalars(text),
        vec![
            "plain",
            "one two",
            "quoted",
            "it''s",
            "block",
            "  line 1\n  line 2",
            "empty",
            "",
            "flow",
            "a",
            "b",
            "c",
        ]
    );
    assert_eq!(
        scalars("k: \"folded\n   on two lines\"\n"),
        vec!["k", "folded\n   on two lines"]
    );
    assert_eq!(scalars("k: |\nnext: 1\n"), vec!["k", "", "next", "1"]);
}

/// The check the Go dialect makes: text pasted into a template must lie
/// inside one scalar of the result.
#[test]
fn pasted_text_that_breaks_out_of_its_scalar_is_caught() {
    let template = ["annotations:\n  note: \"", "\"\n  other: x\n"];
    let paste = |inserted: &str| {
        let text = format!("{}{inserted}{}", template[0], template[1]);
        let start = template[0].len();
        yaml_tree::parse(&text).map(|d| d.spans.holds(start..start + inserted.len()))
    };
    assert_eq!(paste("harmless: text, [really]"), Ok(true));
    assert_eq!(paste("with \\\" escaped quote"), Ok(true));
    // Closing the quote and adding a key: the pasted bytes leave the scalar.
    assert_eq!(paste("x\"\n  injected: \"y"), Ok(false));
    assert!(paste("x\" , \"y").is_err());
}
