//! Taint flows from the data the caller marks through every value and
//! function to exact byte ranges of the output; untrusted data only.

use gotemplate::{ArgsExt, Funcs, Kind, Template, Value, locate, to_yaml};

fn pod() -> serde_json::Value {
    serde_json::json!({
        "labels": {"app": "web", "evil": "x\n  injected: true"},
        "names": ["a", "b"],
        "quote": "say \"hi\"",
    })
}

/// Renders with the pod tainted and trusted values beside it; returns the
/// text and each tainted span as (its text, the JSON pointer it came from).
fn render(src: &str) -> (String, Vec<(String, String)>) {
    let pod = pod();
    let trusted = serde_json::json!({"image": "proxy:1", "sep": ","});
    let data = Value::record(
        "Data",
        vec![
            ("Pod", Value::json_tainted(&pod, Kind::Any)),
            ("Values", Value::json(&trusted, Kind::Any)),
        ],
    );
    let mut funcs = Funcs::with_sprig();
    // Not sprig's: Istio's (and Helm's); the engine registers it like this.
    funcs.insert("toYaml", |args| Ok(Value::Str(to_yaml(&args.arg(0)))));
    let template = Template::parse("t", src, &funcs).unwrap_or_else(|e| panic!("{src}: {e}"));
    let out = template
        .execute(&data)
        .unwrap_or_else(|e| panic!("{src}: {e}"));
    let mut last_end = 0;
    let spans = out
        .taint
        .iter()
        .map(|s| {
            assert!(
                s.range.start >= last_end && s.range.start < s.range.end,
                "spans sorted and disjoint: {:?}",
                out.taint
            );
            last_end = s.range.end;
            (
                out.text[s.range.clone()].to_owned(),
                locate(&pod, s.origin)
                    .unwrap_or_else(|| panic!("{src}: {s:?} has no origin in the pod")),
            )
        })
        .collect();
    (out.text, spans)
}

fn spans(src: &str) -> Vec<(String, String)> {
    render(src).1
}

fn t(text: &str, path: &str) -> (String, String) {
    (text.to_owned(), path.to_owned())
}

#[test]
fn printed_strings_are_tainted_trusted_ones_are_not() {
    let (text, tainted) = render("image: {{ .Values.image }}\napp: {{ .Pod.labels.app }}\n");
    assert_eq!(text, "image: proxy:1\napp: web\n");
    assert_eq!(tainted, vec![t("web", "/labels/app")]);
    assert!(spans("{{ .Values.image }}{{ len .Pod.names }}").is_empty());
}

#[test]
fn concatenating_functions_keep_exact_ranges() {
    assert_eq!(
        spans("{{ printf \"%s-%s\" .Pod.labels.app .Values.image }}"),
        vec![t("web", "/labels/app")]
    );
    assert_eq!(
        spans("{{ print .Pod.labels.app \"!\" }}"),
        vec![t("web", "/labels/app")]
    );
    assert_eq!(
        spans("{{ join .Values.sep .Pod.names }}"),
        vec![t("a", "/names/0"), t("b", "/names/1")]
    );
    assert_eq!(
        spans("{{ cat .Pod.labels.app .Values.image }}"),
        vec![t("web", "/labels/app")]
    );
    assert_eq!(
        spans("{{ .Pod.labels.evil | indent 2 }}"),
        vec![
            t("x\n", "/labels/evil"),
            t("  injected: true", "/labels/evil")
        ]
    );
    assert_eq!(
        spans("{{ .Pod.labels.evil | nindent 4 | trim }}"),
        vec![
            t("x\n", "/labels/evil"),
            t("  injected: true", "/labels/evil")
        ]
    );
    assert_eq!(
        spans("{{ replace \"e\" \"E\" .Pod.labels.app }}"),
        vec![t("w", "/labels/app"), t("b", "/labels/app")]
    );
    assert_eq!(
        spans("{{ trunc 2 .Pod.labels.app }}|{{ trimPrefix \"w\" .Pod.labels.app }}"),
        vec![t("we", "/labels/app"), t("eb", "/labels/app")]
    );
}

#[test]
fn escaping_taints_the_escaped_contents_not_the_quotes() {
    assert_eq!(
        spans("{{ .Pod.quote | quote }}"),
        vec![t("say \\\"hi\\\"", "/quote")]
    );
    assert_eq!(
        spans("{{ .Pod.labels.app | upper }}"),
        vec![t("WEB", "/labels/app")]
    );
    assert_eq!(
        spans("{{ html .Pod.quote }}"),
        vec![t("say &#34;hi&#34;", "/quote")]
    );
}

#[test]
fn serializers_taint_string_contents_and_keys_only() {
    let (text, tainted) = render("{{ toJson .Pod.labels }}");
    assert_eq!(text, r#"{"app":"web","evil":"x\n  injected: true"}"#);
    assert_eq!(
        tainted,
        vec![
            t("app", "/labels/app"),
            t("web", "/labels/app"),
            t("evil", "/labels/evil"),
            t("x\\n  injected: true", "/labels/evil")
        ]
    );
    let (text, tainted) = render("{{ dict \"k\" .Pod.labels.app \"num\" 1 | toYaml }}");
    assert_eq!(text, "k: web\nnum: 1");
    assert_eq!(tainted, vec![t("web", "/labels/app")]);
}

#[test]
fn taint_follows_values_through_variables_lists_maps_and_ranges() {
    assert_eq!(
        spans("{{ $a := .Pod.labels.app }}{{ $a }}"),
        vec![t("web", "/labels/app")]
    );
    assert_eq!(
        spans("{{ range $k, $v := .Pod.labels }}{{ $k }}={{ len $v }};{{ end }}"),
        vec![t("app", "/labels/app"), t("evil", "/labels/evil")]
    );
    assert_eq!(
        spans("{{ index (list .Values.image .Pod.labels.app) 1 }}"),
        vec![t("web", "/labels/app")]
    );
    assert_eq!(
        spans("{{ .Pod.labels.missing | default .Pod.labels.app }}"),
        vec![t("web", "/labels/app")]
    );
    assert_eq!(
        spans("{{ (dict \"x\" .Pod.labels.app).x }}"),
        vec![t("web", "/labels/app")]
    );
}

#[test]
fn unmappable_output_is_tainted_whole() {
    let (text, tainted) = render("{{ b64enc .Pod.labels.app }}");
    assert_eq!(tainted, vec![t(&text, "/labels/app")]);
}
