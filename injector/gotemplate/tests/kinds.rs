//! Struct versus map semantics over JSON, as the caller's kinds declare:
//! Go struct fields (Go names, zero values), `map[string]string` and
//! `map[string]any`, protobuf getters, enums and wrappers, the unknown-type
//! zero, and caller-assembled records.

use gotemplate::{EnumDef, FieldDef, Funcs, Kind, StructDef, Template, Value};

static MODE: EnumDef = EnumDef {
    name: "Mode",
    values: &["REDIRECT", "TPROXY", "NONE"],
};
static BOOL_VALUE: StructDef = StructDef {
    name: "BoolValue",
    fields: &[FieldDef::new("GetValue", "", Kind::Bool)],
    lower_camel_rest: false,
};
static TLS: StructDef = StructDef {
    name: "TLS",
    fields: &[FieldDef::new(
        "GetCaCertificates",
        "caCertificates",
        Kind::String,
    )],
    lower_camel_rest: false,
};
static TRACING: StructDef = StructDef {
    name: "Tracing",
    fields: &[FieldDef::new(
        "GetTlsSettings",
        "tlsSettings",
        Kind::Struct(&TLS),
    )],
    lower_camel_rest: false,
};
static PROXY: StructDef = StructDef {
    name: "ProxyConfig",
    fields: &[
        FieldDef::new("Mode", "interceptionMode", Kind::Enum(&MODE)),
        FieldDef::new("GetTracing", "tracing", Kind::Struct(&TRACING)),
        FieldDef::new(
            "Hold",
            "holdApplicationUntilProxyStarts",
            Kind::Struct(&BOOL_VALUE),
        ),
    ],
    lower_camel_rest: false,
};
static PORT: StructDef = StructDef {
    name: "ContainerPort",
    fields: &[FieldDef::new("ContainerPort", "containerPort", Kind::Int)],
    lower_camel_rest: false,
};
static PORT_KIND: Kind = Kind::Struct(&PORT);
static META: StructDef = StructDef {
    name: "ObjectMeta",
    fields: &[
        FieldDef::new("Name", "name", Kind::String),
        FieldDef::new("Annotations", "annotations", Kind::STRING_MAP),
        FieldDef::new("Labels", "labels", Kind::STRING_MAP),
        FieldDef::new("Ports", "ports", Kind::List(&PORT_KIND)),
        FieldDef::new("Generation", "generation", Kind::Int),
        FieldDef::new("Owner", "owner", Kind::Struct(&META)),
    ],
    // Fields not listed read their lower-camel JSON key, type unknown.
    lower_camel_rest: true,
};
static STRICT: StructDef = StructDef {
    name: "Strict",
    fields: &[],
    lower_camel_rest: false,
};

fn render_with(
    src: &str,
    meta: &serde_json::Value,
    proxy: &serde_json::Value,
) -> Result<String, String> {
    let values = serde_json::json!({"global": {"proxy": {"port": 15020}}, "nothing": null});
    let data = Value::record(
        "Data",
        vec![
            ("Meta", Value::json(meta, Kind::Struct(&META))),
            ("Proxy", Value::json(proxy, Kind::Struct(&PROXY))),
            ("Values", Value::json(&values, Kind::Any)),
            ("Strict", Value::json(&values, Kind::Struct(&STRICT))),
            ("UID", Value::Int(1337)),
        ],
    );
    let template = Template::parse("k", src, &Funcs::with_sprig()).map_err(|e| e.to_string())?;
    template
        .execute(&data)
        .map(|r| r.text)
        .map_err(|e| e.to_string())
}

fn render(src: &str) -> Result<String, String> {
    let meta = serde_json::json!({
        "name": "pod", "annotations": {"a": "1"}, "ports": [{"containerPort": 8080}], "generation": 3,
        "creationTimestamp": "2026-01-01T00:00:00Z"
    });
    render_with(src, &meta, &serde_json::json!({}))
}

fn check(cases: &[(&str, &str)]) {
    for (src, want) in cases {
        assert_eq!(render(src).as_deref(), Ok(*want), "{src}");
    }
}

#[test]
fn struct_fields_are_go_names_and_missing_ones_are_zero() {
    check(&[
        (
            "{{ .Meta.Name }}|{{ .Meta.Generation }}|{{ .UID }}",
            "pod|3|1337",
        ),
        // A listed field missing from the JSON: its type's zero.
        (
            "{{ .Meta.Owner }}|{{ .Meta.Owner.Name }}|{{ if .Meta.Owner }}y{{ else }}n{{ end }}",
            "<nil>||n",
        ),
        (
            "{{ .Meta.Labels }}|{{ len .Meta.Labels }}|{{ range .Meta.Labels }}x{{ else }}none{{ end }}",
            "map[]|0|none",
        ),
        // Not listed: read by its lower-camel key.
        ("{{ .Meta.CreationTimestamp }}", "2026-01-01T00:00:00Z"),
    ]);
    assert!(
        render("{{ .Strict.Global }}")
            .unwrap_err()
            .contains("can't evaluate field Global in type *Strict")
    );
}

#[test]
fn unknown_type_zero_acts_as_any_zero() {
    check(&[
        ("[{{ .Meta.DeletionTimestamp }}]", "[]"),
        (
            "{{ eq .Meta.Missing \"\" }} {{ eq .Meta.Missing 0 }} {{ eq .Meta.Missing false }} {{ eq .Meta.Missing nil }}",
            "true true true true",
        ),
        (
            "{{ len .Meta.Missing }}|{{ if .Meta.Missing }}y{{ else }}n{{ end }}|{{ range .Meta.Missing }}x{{ else }}none{{ end }}",
            "0|n|none",
        ),
        (
            "{{ .Meta.Missing.Deeper }}|{{ .Meta.Missing | default \"d\" }}",
            "|d",
        ),
    ]);
}

#[test]
fn string_maps_and_any_maps_differ_on_missing_keys() {
    check(&[
        // map[string]string: index of a missing key is "", a field of it is no value.
        (
            "[{{ index .Meta.Annotations \"b\" }}]|{{ .Meta.Annotations.b }}|{{ .Meta.Annotations.a }}",
            "[]|<no value>|1",
        ),
        // map[string]any: both are no value; exact keys.
        (
            "{{ index .Values \"x\" }}|{{ .Values.x }}|{{ .Values.global.proxy.port }}",
            "<no value>|<no value>|15020",
        ),
        ("{{ .Values.nope.deeper }}", "<no value>"),
    ]);
    assert!(
        render("{{ .Values.nothing.deeper }}")
            .unwrap_err()
            .contains("nil pointer evaluating interface {}.deeper")
    );
}

#[test]
fn numbers_keep_their_go_types() {
    // An int field compares with an int constant; a JSON number in
    // map[string]any is a float64 and does not (as in Go).
    check(&[(
        "{{ range .Meta.Ports }}{{ eq .ContainerPort 8080 }}{{ end }}",
        "true",
    )]);
    assert!(
        render("{{ eq .Values.global.proxy.port 15020 }}")
            .unwrap_err()
            .contains("incompatible types for comparison")
    );
}

#[test]
fn protobuf_getters_enums_and_wrappers() {
    let meta = serde_json::json!({});
    let empty = serde_json::json!({});
    let set = serde_json::json!({"interceptionMode": "TPROXY", "tracing": {"tlsSettings": {"caCertificates": "/etc/ca.pem"}}, "holdApplicationUntilProxyStarts": true});
    let numeric =
        serde_json::json!({"interceptionMode": 2, "holdApplicationUntilProxyStarts": false});
    let src = "{{ .Proxy.Mode }}|{{ .Proxy.Mode.String }}|{{ if .Proxy.GetTracing }}t{{ end }}|{{ .Proxy.GetTracing.GetTlsSettings.GetCaCertificates }}|{{ if .Proxy.Hold }}set{{ end }}|{{ .Proxy.Hold.GetValue }}";
    assert_eq!(
        render_with(src, &meta, &empty).unwrap(),
        "REDIRECT|REDIRECT||||false"
    );
    assert_eq!(
        render_with(src, &meta, &set).unwrap(),
        "TPROXY|TPROXY|t|/etc/ca.pem|set|true"
    );
    assert_eq!(
        render_with(src, &meta, &numeric).unwrap(),
        "NONE|NONE|||set|false"
    );
}

#[test]
fn records_print_as_go_structs() {
    let data = Value::record("Pair", vec![("A", Value::Int(1)), ("B", Value::str("b"))]);
    let template = Template::parse("r", "{{ . }}|{{ .B }}", &Funcs::builtin()).unwrap();
    assert_eq!(template.execute(&data).unwrap().text, "{1 b}|b");
    let missing = Template::parse("r", "{{ .C }}", &Funcs::builtin()).unwrap();
    assert!(
        missing
            .execute(&data)
            .unwrap_err()
            .to_string()
            .contains("can't evaluate field C in type Pair")
    );
}
