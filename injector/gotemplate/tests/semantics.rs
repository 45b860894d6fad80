//! Go text/template semantics, case by case. Expected outputs follow Go's
//! documented behaviour (text/template and fmt docs), with `map[string]any`
//! data as `encoding/json` produces it (numbers are float64).

use gotemplate::{Funcs, Kind, Template, Value};

fn data() -> serde_json::Value {
    serde_json::json!({
        "a": {"b": 1.0, "n": null, "big": 1_000_000.0, "s": "str", "t": true,
              "l": ["x", 2.0, null, {"k": "v"}], "e": [], "m": {"y": 1, "x": "2"}},
        "name": "world",
        "zero": 0,
    })
}

fn render(src: &str) -> Result<String, String> {
    let funcs = Funcs::with_sprig();
    let template = Template::parse("t", src, &funcs).map_err(|e| e.to_string())?;
    let data = data();
    let root = Value::json(&data, Kind::Any);
    template
        .execute(&root)
        .map(|r| r.text)
        .map_err(|e| e.to_string())
}

fn check(cases: &[(&str, &str)]) {
    for (src, want) in cases {
        match render(src) {
            Ok(got) => assert_eq!(&got, want, "template {src:?}"),
            Err(e) => panic!("template {src:?} failed: {e}"),
        }
    }
}

fn check_err(cases: &[(&str, &str)]) {
    for (src, want) in cases {
        match render(src) {
            Ok(got) => panic!("template {src:?} should fail with {want:?}, rendered {got:?}"),
            Err(e) => assert!(
                e.contains(want),
                "template {src:?}: error {e:?} should contain {want:?}"
            ),
        }
    }
}

#[test]
fn printing_values() {
    check(&[
        ("hello {{.name}}", "hello world"),
        (
            "{{.a.b}} {{.a.big}} {{.a.l}} {{.a.m}}",
            "1 1e+06 [x 2 <nil> map[k:v]] map[x:2 y:1]",
        ),
        (
            "{{.a.missing}}|{{.a.n}}|{{print .a.missing}}|{{print .a.n}}",
            "<no value>|<no value>|<nil>|<nil>",
        ),
        (
            "{{.a.missing.foo}}|{{.a.missing.x.y}}",
            "<no value>|<no value>",
        ),
        (
            "{{ 0x1F }} {{ 1_000 }} {{ 0o17 }} {{ 017 }} {{ 1e3 }} {{ 'a' }} {{ 1.5 }} {{ -3 }} {{ 0b101 }}",
            "31 1000 15 15 1000 97 1.5 -3 5",
        ),
        (
            "{{ \"a\\tb\" }}|{{ `raw\\n` }}|{{ true }}|{{ . | len }}",
            "a\tb|raw\\n|true|3",
        ),
        (
            "{{ print 1 2 \"a\" \"b\" 3 }}|{{ println 1 \"a\" }}",
            "1 2ab3|1 a\n",
        ),
    ]);
}

#[test]
fn trim_markers_and_comments() {
    check(&[
        ("a  {{- 1 -}}  \n b", "a1b"),
        ("a {{- /* note */ -}} b", "ab"),
        ("a {{/* note */}} b", "a  b"),
        ("{{ -3 }}x{{- -3 -}} y", "-3x-3y"),
    ]);
}

#[test]
fn conditionals_and_truth() {
    check(&[
        ("{{if .a.e}}y{{else}}n{{end}}", "n"),
        ("{{if .a.l}}y{{else}}n{{end}}", "y"),
        ("{{if .zero}}y{{else if .name}}name{{else}}n{{end}}", "name"),
        (
            "{{if .a.missing}}y{{else}}n{{end}}|{{if .a.n}}y{{else}}n{{end}}|{{if \"\"}}y{{else}}n{{end}}",
            "n|n|n",
        ),
        (
            "{{with .a.s}}{{.}}{{end}}|{{with .a.missing}}x{{else}}none{{end}}",
            "str|none",
        ),
        ("{{with .zero}}z{{else with .name}}{{.}}{{end}}", "world"),
        (
            "{{ and 1 0 2 }}|{{ or 0 \"\" \"x\" }}|{{ not 0 }}|{{ and 1 2 }}|{{ or 0 \"\" }}",
            "0|x|true|2|",
        ),
        // and/or stop evaluating at their answer: the failing call is never made.
        (
            "{{ or 1 (index .a.missing 1) }}|{{ and 0 (index .a.missing 1) }}",
            "1|0",
        ),
    ]);
}

#[test]
fn variables_and_scope() {
    check(&[
        (
            "{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ $y := 3 }}{{ end }}{{ $x }}",
            "2",
        ),
        ("{{ with $x := 5 }}{{ . }}{{ $x }}{{ end }}", "55"),
        ("{{ $ := 1 }}{{ $ }}", "1"),
        (
            "{{ range .a.l }}{{ $.name }}{{ end }}",
            "worldworldworldworld",
        ),
        (
            "{{ $v := .a }}{{ $v.s }}{{ ($v).b }}{{ (.a.m).x }}",
            "str12",
        ),
        (
            "{{ $first := true }}{{ range .a.m }}{{ if not $first }},{{ end }}{{ $first = false }}{{ . }}{{ end }}",
            "2,1",
        ),
    ]);
    check_err(&[
        ("{{ $y }}", "undefined variable \"$y\""),
        (
            "{{ if true }}{{ $z := 1 }}{{ end }}{{ $z }}",
            "undefined variable",
        ),
    ]);
}

#[test]
fn range_forms() {
    check(&[
        (
            "{{ range $i, $e := .a.l }}{{$i}}={{$e}},{{end}}",
            "0=x,1=2,2=<no value>,3=map[k:v],",
        ),
        (
            "{{ range $k, $v := .a.m }}{{$k}}:{{$v}} {{end}}",
            "x:2 y:1 ",
        ),
        (
            "{{ range .a.e }}x{{ else }}empty{{ end }}|{{ range .a.missing }}x{{ else }}none{{ end }}",
            "empty|none",
        ),
        (
            "{{ range 3 }}{{.}}{{ end }}|{{ range $i := 2 }}{{$i}}{{ end }}",
            "012|01",
        ),
        (
            "{{ range .a.l }}{{ if eq (printf \"%v\" .) \"2\" }}{{ break }}{{ end }}{{.}}{{ end }}",
            "x",
        ),
        (
            "{{ range .a.l }}{{ if not . }}{{ continue }}{{ end }}{{ len (print .) }}{{ end }}",
            "118",
        ),
        (
            "{{ $x := 0 }}{{ range $x = .a.l }}{{ end }}{{ $x }}",
            "map[k:v]",
        ),
        // The variables hold the whole value until the first iteration.
        (
            "{{ range $i, $v := .a.e }}{{ else }}{{ $i }}{{ end }}",
            "[]",
        ),
    ]);
    check_err(&[
        ("{{ break }}", "{{break}} outside {{range}}"),
        (
            "{{ range .name }}{{ end }}",
            "range can't iterate over world",
        ),
    ]);
}

#[test]
fn builtin_functions() {
    check(&[
        (
            "{{ index .a.l 3 \"k\" }}|{{ index .a.m \"none\" }}|{{ index .a \"l\" 0 }}",
            "v|<no value>|x",
        ),
        (
            "{{ slice \"hello\" 1 3 }}|{{ slice .a.l 1 2 }}|{{ slice \"abc\" 1 }}",
            "el|[2]|bc",
        ),
        ("{{ len .a.l }} {{ len .name }} {{ len .a.m }}", "4 5 2"),
        (
            "{{ eq .a.s \"str\" }} {{ eq \"a\" \"b\" \"a\" }} {{ ne 1 2 }} {{ eq .a.missing \"\" }} {{ eq nil nil }}",
            "true true true false true",
        ),
        (
            "{{ lt 1 2 }} {{ le 2 2 }} {{ gt \"b\" \"a\" }} {{ ge 1.5 2.5 }}",
            "true true true false",
        ),
        (
            "{{ html \"<a&\\\"b>\" }}|{{ js \"a'b\\\"<>\" }}|{{ urlquery \"a b&c\" }}",
            "&lt;a&amp;&#34;b&gt;|a\\'b\\\"\\u003C\\u003E|a+b%26c",
        ),
        (
            "{{ printf \"%s-%d-%v-%q-%5.1f-%x-%t\" \"s\" 42 .a.l \"q\" 3.14159 255 true }}",
            "s-42-[x 2 <nil> map[k:v]]-\"q\"-  3.1-ff-true",
        ),
        (
            "{{ printf \"%d\" .a.b }}|{{ printf \"%s\" .a.missing }}",
            "%!d(float64=1)|%!s(<nil>)",
        ),
        ("{{ \"x\" | printf \"%s-%s\" \"a\" }}", "a-x"),
        // A nil element prints <nil> under any verb; quoting variants.
        (
            "{{ printf \"%s|%d\" .a.l .a.l }}",
            "[x %!s(float64=2) <nil> map[k:v]]|[%!d(string=x) %!d(float64=2) <nil> map[%!d(string=k):%!d(string=v)]]",
        ),
        (
            "{{ printf \"%+q|%#q|%q\" \"é\" \"a\" \"\\x01\\u2028\" }}",
            "\"\\u00e9\"|`a`|\"\\x01\\u2028\"",
        ),
    ]);
}

#[test]
fn execution_errors_name_template_line_and_expression() {
    check_err(&[
        (
            "line1\n{{ .a.n.foo }}",
            "template: t:2:3: executing \"t\" at <.a.n.foo>: nil pointer evaluating interface {}.foo",
        ),
        (
            "{{ eq .a.b 1 }}",
            "template: t:1:3: executing \"t\" at <eq .a.b 1>: error calling eq: incompatible types for comparison",
        ),
        ("{{ lt 1 2.5 }}", "incompatible types for comparison"),
        (
            "{{ index .a.l 9 }}",
            "error calling index: index out of range: 9",
        ),
        ("{{ len .a.missing }}", "error calling len"),
        (
            "{{ and }}",
            "wrong number of args for and: want at least 1 got 0",
        ),
        (
            "{{ .name 1 }}",
            "at <.name>: name is not a method but has arguments",
        ),
        ("{{ 1 2 }}", "can't give argument to non-function 1"),
        ("{{ nil }}", "nil is not a command"),
        ("{{ template \"nope\" }}", "template \"nope\" not defined"),
        (
            "{{ define \"r\" }}{{ .x.y.z }}{{ end }}{{ template \"r\" 1 }}",
            "executing \"r\" at <.x.y.z>: can't evaluate field x in type int",
        ),
        (
            "{{ define \"loop\" }}{{ template \"loop\" }}{{ end }}{{ template \"loop\" }}",
            "exceeded maximum template depth",
        ),
    ]);
}

#[test]
fn defined_templates_run_on_their_own() {
    let funcs = Funcs::builtin();
    let template = Template::parse(
        "set",
        "main{{ define \"part\" }}[{{ .n }}]{{ end }}",
        &funcs,
    )
    .unwrap();
    assert_eq!(template.defined().collect::<Vec<_>>(), vec!["part"]);
    let data = serde_json::json!({"n": 1});
    let out = template
        .execute_defined("part", &Value::json(&data, Kind::Any))
        .unwrap();
    assert_eq!(out.text, "[1]");
    let missing = template.execute_defined("nope", &Value::Nil).unwrap_err();
    assert!(
        missing.to_string().contains("no template \"nope\" defined"),
        "{missing}"
    );
}

#[test]
fn define_rules() {
    check(&[(
        "{{ define \"x\" }} {{ end }}{{ define \"x\" }}b{{ end }}{{ template \"x\" }}",
        "b",
    )]);
    check_err(&[
        (
            "{{ define \"x\" }}a{{ end }}{{ define \"x\" }}b{{ end }}",
            "multiple definition of template \"x\"",
        ),
        (
            "{{ if true }}{{ define \"z\" }}{{ end }}{{ end }}",
            "unexpected <define> in command",
        ),
    ]);
}

#[test]
fn parse_errors() {
    check_err(&[
        (
            "{{ nosuchfunc 1 }}",
            "template: t:1:3: function \"nosuchfunc\" not defined",
        ),
        ("{{ if true }}x", "unexpected EOF"),
        ("{{ end }}", "unexpected {{end}}"),
        ("{{ else }}", "unexpected {{else}}"),
        ("{{ if }}{{ end }}", "missing value for if"),
        ("{{ 1 | 2 }}", "non executable command in pipeline stage 2"),
        ("{{ \"a\".x }}", "unexpected . after term"),
        ("{{ $x, $y := 1 }}", "too many declarations"),
        ("{{ (1 }}", "unclosed left paren"),
        ("{{ 99999999999999999999 }}", "integer overflow"),
        ("{{ 18446744073709551615 }}", "overflows int"),
    ]);
}

#[test]
fn define_template_and_block() {
    check(&[
        (
            "{{ define \"x\" }}[{{ . }}]{{ end }}{{ template \"x\" .name }}{{ template \"x\" }}",
            "[world][<no value>]",
        ),
        ("{{ block \"b\" .a.s }}<{{ . }}>{{ end }}", "<str>"),
        (
            "{{ template \"later\" 1 }}{{ define \"later\" }}{{ . }}{{ end }}",
            "1",
        ),
        (
            "{{ define \"v\" }}{{ $ }}{{ end }}{{ $x := 1 }}{{ template \"v\" 2 }}",
            "2",
        ),
    ]);
}

#[test]
fn parse_once_share_across_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Template>();
    let funcs = Funcs::with_sprig();
    let template = std::sync::Arc::new(Template::parse("t", "{{ .n }}", &funcs).unwrap());
    let handles: Vec<_> = (0..2)
        .map(|i| {
            let template = template.clone();
            std::thread::spawn(move || {
                let data = serde_json::json!({ "n": i });
                template
                    .execute(&Value::json(&data, Kind::Any))
                    .unwrap()
                    .text
            })
        })
        .collect();
    let outputs: Vec<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(outputs, vec!["0", "1"]);
}
