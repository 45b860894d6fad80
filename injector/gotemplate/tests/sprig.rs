//! sprig's functions, with the semantics of sprig v3's source (argument
//! order with the subject last, nil handling, error cases).

use gotemplate::{Funcs, Kind, Template, Value};

fn render(src: &str) -> Result<String, String> {
    let data = serde_json::json!({
        "s": "  Hello World  ", "n": 3, "f": 2.5, "l": ["b", "a", "b", null], "e": "", "m": {"k": "v", "z": 0},
        "labels": {"app": "web"}, "path": "/etc/istio/ca.pem"
    });
    static STRING_MAP: Kind = Kind::STRING_MAP;
    let root = Value::record(
        "Data",
        vec![
            ("V", Value::json(&data, Kind::Any)),
            ("Labels", Value::json(&data["labels"], STRING_MAP)),
        ],
    );
    let template = Template::parse("s", src, &Funcs::with_sprig()).map_err(|e| e.to_string())?;
    template
        .execute(&root)
        .map(|r| r.text)
        .map_err(|e| e.to_string())
}

fn check(cases: &[(&str, &str)]) {
    for (src, want) in cases {
        assert_eq!(render(src).as_deref(), Ok(*want), "{src}");
    }
}

#[test]
fn defaults_and_flow() {
    check(&[
        (
            "{{ .V.e | default \"d\" }}|{{ .V.missing | default \"d\" }}|{{ .V.n | default 9 }}|{{ default \"d\" }}",
            "d|d|3|d",
        ),
        (
            "{{ empty .V.e }} {{ empty .V.m }} {{ empty 0 }} {{ empty .V.missing }} {{ empty . }}",
            "true false true true false",
        ),
        (
            "{{ coalesce .V.e .V.missing \"x\" }}|{{ coalesce 0 \"\" }}",
            "x|<no value>",
        ),
        (
            "{{ ternary \"y\" \"n\" true }}{{ ternary \"y\" \"n\" false }}|{{ true | ternary 1 2 }}",
            "yn|1",
        ),
        (
            "{{ all 1 \"a\" true }} {{ all 1 0 }} {{ any 0 \"\" 1 }} {{ any }}",
            "true false true false",
        ),
    ]);
    assert!(
        render("{{ fail \"stop here\" }}")
            .unwrap_err()
            .contains("error calling fail: stop here")
    );
}

#[test]
fn strings() {
    check(&[
        (
            "[{{ trim .V.s }}]|[{{ trimAll \"-_.\" \"-_a.b_-\" }}]|{{ trimPrefix \"a\" \"aab\" }}|{{ trimSuffix \"b\" \"abb\" }}",
            "[Hello World]|[a.b]|ab|ab",
        ),
        (
            "{{ upper \"aé\" }} {{ lower \"AB\" }} {{ title \"hello wide-world\" }} {{ untitle \"Hello World\" }}",
            "AÉ ab Hello Wide-World hello world",
        ),
        (
            "{{ trunc 3 \"abcdef\" }}|{{ trunc -2 \"abcdef\" }}|{{ trunc 10 \"abc\" }}|{{ substr 1 3 \"abcdef\" }}|{{ substr 2 99 \"abcdef\" }}",
            "abc|ef|abc|bc|cdef",
        ),
        (
            "{{ repeat 3 \"ab\" }}|{{ nospace \" a b \" }}|{{ replace \"o\" \"0\" \"foo\" }}",
            "ababab|ab|f00",
        ),
        (
            "{{ contains \"ll\" \"hello\" }} {{ hasPrefix \"he\" \"hello\" }} {{ hasSuffix \"lo\" \"hello\" }}",
            "true true true",
        ),
        (
            "{{ quote \"a\\\"b\" 1 .V.missing }}|{{ squote \"a\" \"b\" }}|{{ cat \"a\" 1 .V.missing \"b\" }}",
            "\"a\\\"b\" \"1\"|'a' 'b'|a 1 b",
        ),
        (
            "{{ indent 2 \"a\\nb\" }}|{{ nindent 2 \"a\" }}",
            "  a\n  b|\n  a",
        ),
        (
            "{{ join \",\" .V.l }}|{{ join \"-\" (splitList \".\" \"a.b.c\") }}|{{ (split \".\" \"a.b\")._1 }}|{{ splitn \".\" 2 \"a.b.c\" }}",
            "b,a,b|a-b-c|b|map[_0:a _1:b.c]",
        ),
        (
            "{{ sortAlpha .V.l }}|{{ toStrings (list 1 \"a\") }}|{{ toString 2.5 }}|{{ plural \"one\" \"many\" 2 }}",
            "[a b b]|[1 a]|2.5|many",
        ),
        ("{{ b64enc \"hi\" }}|{{ b64dec \"aGk=\" }}", "aGk=|hi"),
        (
            "{{ base .V.path }}|{{ dir .V.path }}|{{ ext .V.path }}|{{ clean \"a/../b/./c/\" }}|{{ isAbs .V.path }}",
            "ca.pem|/etc/istio|.pem|b/c|true",
        ),
    ]);
    assert!(
        render("{{ trunc 2 .V.missing }}")
            .unwrap_err()
            .contains("invalid value; expected string")
    );
}

#[test]
fn lists() {
    check(&[
        (
            "{{ list 1 \"a\" }}|{{ append (list 1) 2 }}|{{ prepend (list 1) 0 }}|{{ concat (list 1) (list 2 3) }}",
            "[1 a]|[1 2]|[0 1]|[1 2 3]",
        ),
        (
            "{{ first .V.l }} {{ last (list 1 2) }} {{ rest (list 1 2 3) }} {{ initial (list 1 2 3) }} {{ reverse (list 1 2) }}",
            "b 2 [2 3] [1 2] [2 1]",
        ),
        (
            "{{ first (list) }}|{{ rest (list) }}",
            "<no value>|<no value>",
        ),
        (
            "{{ uniq .V.l }}|{{ without .V.l \"b\" }}|{{ has \"a\" .V.l }}|{{ has 1 .V.missing }}|{{ compact .V.l }}",
            "[b a <nil>]|[a <nil>]|true|false|[b a b]",
        ),
        (
            "{{ until 3 }}|{{ untilStep 1 7 3 }}|{{ chunk 2 (list 1 2 3) }}",
            "[0 1 2]|[1 4]|[[1 2] [3]]",
        ),
        (
            "{{ $l := list }}{{ $l = append $l 1 }}{{ $l = append $l 2 }}{{ $l }}|{{ len $l }}",
            "[1 2]|2",
        ),
    ]);
    assert!(
        render("{{ first .V.missing }}")
            .unwrap_err()
            .contains("Cannot first on type <nil>")
    );
}

#[test]
fn dicts() {
    check(&[
        (
            "{{ dict \"a\" 1 \"b\" }}|{{ get .V.m \"k\" }}|[{{ get .V.m \"x\" }}]|{{ hasKey .V.m \"z\" }}",
            "map[a:1 b:]|v|[]|true",
        ),
        (
            "{{ set (dict) \"a\" 1 }}|{{ unset .V.m \"k\" }}|{{ keys .V.m (dict \"q\" 1) }}|{{ values .V.m }}",
            "map[a:1]|map[z:0]|[k z q]|[v 0]",
        ),
        (
            "{{ pick .V.m \"k\" }}|{{ omit .V.m \"k\" }}|{{ pluck \"k\" .V.m (dict \"k\" 2) (dict) }}",
            "map[k:v]|map[z:0]|[v 2]",
        ),
        (
            "{{ dig \"m\" \"k\" \"none\" .V }}|{{ dig \"m\" \"x\" \"none\" .V }}",
            "v|none",
        ),
        (
            "{{ merge (dict \"a\" 1 \"n\" (dict \"x\" 1)) (dict \"a\" 2 \"b\" 3 \"n\" (dict \"y\" 2)) }}",
            "map[a:1 b:3 n:map[x:1 y:2]]",
        ),
        (
            "{{ mergeOverwrite (dict \"a\" 1 \"c\" 5) (dict \"a\" 2 \"c\" 0) }}",
            "map[a:2 c:5]",
        ),
        ("{{ hasKey .V.missing \"x\" }}", "false"),
    ]);
    // sprig's dict functions take map[string]interface{}; annotations and labels are map[string]string.
    assert!(
        render("{{ hasKey .Labels \"app\" }}")
            .unwrap_err()
            .contains("expected map[string]interface {}; got map[string]string")
    );
}

#[test]
fn math_and_conversions() {
    check(&[
        (
            "{{ add 1 2 3 }} {{ add1 .V.n }} {{ sub 5 7 }} {{ mul 2 3 4 }} {{ div 7 2 }} {{ mod 7 3 }}",
            "6 4 -2 24 3 1",
        ),
        (
            "{{ max 1 9 3 }} {{ min 4 2 8 }} {{ biggest 1 2 }} {{ add .V.f 1 }} {{ add \"4\" \"0x10\" }}",
            "9 2 2 3 20",
        ),
        (
            "{{ addf 1.5 2 }} {{ subf 5 1.5 }} {{ mulf 2 1.5 }} {{ divf 3 2 }} {{ floor 1.7 }} {{ ceil 1.2 }} {{ round 2.555 2 }}",
            "3.5 3.5 3 1.5 1 2 2.56",
        ),
        (
            "{{ int \"12\" }} {{ int 3.9 }} {{ int64 true }} {{ float64 \"1.5\" }} {{ atoi \"x\" }}",
            "12 3 1 1.5 0",
        ),
        (
            "{{ typeOf 1 }} {{ typeOf .V.m }} {{ kindOf .V.l }} {{ kindIs \"string\" \"a\" }} {{ deepEqual (list 1) (list 1) }}",
            "int map[string]interface {} slice true true",
        ),
    ]);
    assert!(
        render("{{ div 1 0 }}")
            .unwrap_err()
            .contains("integer divide by zero")
    );
}

#[test]
fn json_encoders() {
    check(&[
        (
            "{{ toJson .V.m }}|{{ toJson (list 1 \"<a>\" nil) }}|{{ toRawJson (list \"<a>\") }}",
            "{\"k\":\"v\",\"z\":0}|[1,\"\\u003ca\\u003e\",null]|[\"<a>\"]",
        ),
        (
            "{{ toPrettyJson (dict \"a\" (list 1)) }}",
            "{\n  \"a\": [\n    1\n  ]\n}",
        ),
        (
            "{{ (fromJson \"{\\\"a\\\": [1, 2]}\").a }}|{{ fromJson \"not json\" }}",
            "[1 2]|<no value>",
        ),
    ]);
}
