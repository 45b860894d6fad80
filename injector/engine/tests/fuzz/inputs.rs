//! Generators and the budget: strings (arbitrary Unicode and the values
//! that break YAML and templates), JSON, pods that deserialize as a Pod,
//! and text mutations of real inputs.

use std::sync::OnceLock;

use injector_engine::{Engine, RawConfig};
use k8s_openapi::api::core::v1::Pod;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use serde_json::{Map, Value, json};

pub use test_support::budget::cases as budget;

/// The embedded configuration, compiled once for the whole suite.
pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine::compile(RawConfig::embedded().parse().unwrap(), 1).unwrap())
}

use crate::common::HOSTILE;

/// Any string: arbitrary Unicode, printable ASCII, or a hostile value.
pub fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => any::<String>(),
        3 => "[ -~]{0,24}",
        2 => select(HOSTILE).prop_map(String::from),
        1 => "[\u{80}-\u{10FFFF}]{0,12}",
    ]
}

/// Any JSON value, up to a few levels deep.
pub fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| {
            serde_json::Number::from_f64(f).map(Value::Number)
        }),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(text(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A value nested `depth` levels deep, alternating objects and arrays.
pub fn deep(depth: usize) -> Value {
    (0..depth).fold(json!("bottom"), |v, i| {
        if i % 2 == 0 {
            json!({ "d": v })
        } else {
            json!([v])
        }
    })
}

fn object(pairs: Vec<(&str, Option<Value>)>) -> Value {
    Value::Object(
        pairs
            .into_iter()
            .filter_map(|(k, v)| Some((k.to_string(), v?)))
            .collect(),
    )
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z][a-z0-9-]{0,10}",
        1 => Just("istio-proxy".to_string()),
        1 => Just("istio-init".to_string()),
        2 => text(),
    ]
}

fn port_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => (1..65536i64).prop_map(Value::from),
        1 => any::<i32>().prop_map(Value::from),
    ]
}

fn int_or_string() -> impl Strategy<Value = Value> {
    prop_oneof![port_number(), name().prop_map(Value::String)]
}

fn probe() -> impl Strategy<Value = Value> {
    prop_oneof![
        (
            text(),
            int_or_string(),
            prop::option::of(select(vec!["HTTP", "HTTPS"]))
        )
            .prop_map(|(path, port, scheme)| {
                json!({"httpGet": object(vec![
                    ("path", Some(Value::String(path))),
                    ("port", Some(port)),
                    ("scheme", scheme.map(Value::from)),
                ])})
            }),
        int_or_string().prop_map(|port| json!({"tcpSocket": {"port": port}})),
        port_number().prop_map(|port| json!({"grpc": {"port": port}})),
        prop::collection::vec(text(), 0..3).prop_map(|c| json!({"exec": {"command": c}})),
    ]
}

fn container() -> impl Strategy<Value = Value> {
    (
        name(),
        text(),
        prop::collection::vec((port_number(), prop::option::of(name())), 0..3),
        prop::collection::vec((text(), text()), 0..3),
        prop::option::of(prop::collection::vec(text(), 0..3)),
        prop::option::of(probe()),
        prop::option::of(probe()),
        prop::option::of(json()),
    )
        .prop_map(
            |(name, image, ports, env, args, readiness, liveness, extra)| {
                let ports = ports
                    .into_iter()
                    .map(|(p, n)| {
                        object(vec![
                            ("containerPort", Some(p)),
                            ("name", n.map(Value::from)),
                        ])
                    })
                    .collect::<Vec<_>>();
                let env = env
                    .into_iter()
                    .map(|(n, v)| json!({"name": n, "value": v}))
                    .collect::<Vec<_>>();
                object(vec![
                    ("name", Some(Value::String(name))),
                    ("image", Some(Value::String(image))),
                    ("ports", (!ports.is_empty()).then_some(Value::Array(ports))),
                    ("env", (!env.is_empty()).then_some(Value::Array(env))),
                    ("args", args.map(Value::from)),
                    ("readinessProbe", readiness),
                    ("livenessProbe", liveness),
                    ("x-fuzz", extra),
                ])
            },
        )
}

fn string_map(keys: impl Strategy<Value = String>) -> impl Strategy<Value = Value> {
    prop::collection::btree_map(keys, text(), 0..4)
        .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k, Value::String(v))).collect()))
}

/// Annotation and label keys: Istio's (so their handling is exercised)
/// and arbitrary ones.
fn meta_key() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => select(crate::annotations::READ).prop_map(String::from),
        1 => select(vec!["app", "version", "istio.io/rev", "security.istio.io/tlsMode",
                          "service.istio.io/canonical-name", "sidecar.istio.io/inject"])
            .prop_map(String::from),
        2 => text(),
    ]
}

/// Any JSON that deserializes as a Pod: metadata with arbitrary labels and
/// annotations, 0 to 3 containers with ports, env and probes, and unknown
/// fields (any JSON, a deep value) that the engine must carry through.
pub fn pod() -> impl Strategy<Value = Value> {
    (
        prop::option::of(name()),
        prop::option::of(name()),
        string_map(meta_key()),
        string_map(meta_key()),
        prop::collection::vec(container(), 0..4),
        prop::collection::vec(container(), 0..2),
        prop::option::of(any::<bool>()),
        prop::option::of(json()),
        prop::option::of(0..100usize),
    )
        .prop_map(
            |(
                name,
                namespace,
                labels,
                annotations,
                containers,
                init,
                host_network,
                extra,
                depth,
            )| {
                let metadata = object(vec![
                    ("name", name.map(Value::from)),
                    ("namespace", namespace.map(Value::from)),
                    ("labels", Some(labels)),
                    ("annotations", Some(annotations)),
                    ("x-deep", depth.map(deep)),
                ]);
                let spec = object(vec![
                    ("containers", Some(Value::Array(containers))),
                    (
                        "initContainers",
                        (!init.is_empty()).then_some(Value::Array(init)),
                    ),
                    ("hostNetwork", host_network.map(Value::from)),
                    ("x-fuzz", extra),
                ]);
                json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec})
            },
        )
        .prop_filter("deserializes as a Pod", is_pod)
}

pub fn is_pod(v: &Value) -> bool {
    serde_json::from_value::<Pod>(v.clone()).is_ok()
}

/// Sets `metadata.<field>.<key>` to `value`.
pub fn set_meta(pod: &mut Value, field: &str, key: &str, value: &str) {
    if !pod["metadata"][field].is_object() {
        pod["metadata"][field] = Value::Object(Map::new());
    }
    pod["metadata"][field][key] = Value::String(value.to_string());
}

/// Fragments that are syntax in YAML, handlebars or Go templates: inserted
/// into real inputs they break them in the ways an edit does.
const TOKENS: &[&str] = &[
    "{{",
    "}}",
    "{{{",
    "}}}",
    "{{end}}",
    "{{ end }}",
    "{{ else }}",
    "{{/if}}",
    "{{/each}}",
    "{{#if ",
    "{{#each ",
    "{{ if ",
    "{{ range ",
    "{{ with ",
    "{{ define \"x\" }}",
    "{{ template \"x\" . }}",
    "{{ .Values.global.proxy.image }}",
    "{{ .Nope.Nope }}",
    "{{ index .ObjectMeta.annotations \"x\" }}",
    "{{ toJSON this }}",
    "{{ $x := 1 }}",
    "{{ $x }}",
    "(",
    ")",
    "|",
    "\"",
    "'",
    ":",
    ": ",
    "- ",
    "  ",
    "\t",
    "\n",
    "#",
    "&a ",
    "*a",
    "!!str ",
    "? ",
    "[",
    "]",
    "{",
    "}",
    ",",
    "---\n",
    "...\n",
    "\u{0}",
    "\u{feff}",
    "é",
    "999999999999999999999",
    "-1",
    "null",
    "~",
];

/// One edit of a text.
#[derive(Clone, Debug)]
pub enum Edit {
    DeleteLine(Index),
    DuplicateLine(Index),
    SwapLines(Index, Index),
    Insert(Index, Index, &'static str),
    DeleteChars(Index, Index, usize),
    Truncate(Index),
}

pub fn edits(max: usize) -> impl Strategy<Value = Vec<Edit>> {
    let edit = prop_oneof![
        1 => any::<Index>().prop_map(Edit::DeleteLine),
        1 => any::<Index>().prop_map(Edit::DuplicateLine),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
        4 => (any::<Index>(), any::<Index>(), select(TOKENS)).prop_map(|(l, c, t)| Edit::Insert(l, c, t)),
        2 => (any::<Index>(), any::<Index>(), 1..8usize).prop_map(|(l, c, n)| Edit::DeleteChars(l, c, n)),
        1 => any::<Index>().prop_map(Edit::Truncate),
    ];
    prop::collection::vec(edit, 1..=max)
}

/// `text` with `edits` applied, line by line (positions are char
/// boundaries, so the result is still UTF-8).
pub fn mutate(text: &str, edits: &[Edit]) -> String {
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    for edit in edits {
        if lines.is_empty() {
            lines.push(String::new());
        }
        let n = lines.len();
        match edit {
            Edit::DeleteLine(i) => {
                lines.remove(i.index(n));
            }
            Edit::DuplicateLine(i) => {
                let line = lines[i.index(n)].clone();
                lines.insert(i.index(n), line);
            }
            Edit::SwapLines(a, b) => lines.swap(a.index(n), b.index(n)),
            Edit::Insert(l, c, token) => {
                let line = &mut lines[l.index(n)];
                let at = char_boundary(line, *c);
                line.insert_str(at, token);
            }
            Edit::DeleteChars(l, c, count) => {
                let line = &mut lines[l.index(n)];
                let at = char_boundary(line, *c);
                let end = line[at..]
                    .char_indices()
                    .nth(*count)
                    .map_or(line.len(), |(i, _)| at + i);
                line.replace_range(at..end, "");
            }
            Edit::Truncate(i) => lines.truncate(i.index(n) + 1),
        }
    }
    lines.join("\n")
}

fn char_boundary(line: &str, at: Index) -> usize {
    let bounds: Vec<usize> = line
        .char_indices()
        .map(|(i, _)| i)
        .chain([line.len()])
        .collect();
    bounds[at.index(bounds.len())]
}
