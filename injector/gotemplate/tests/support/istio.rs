//! A small stand-in for Istio's template data and functions, shared by the
//! Istio tests and the benchmark. The engine provides the real ones; these
//! show that the public API expresses them (struct and map kinds, protobuf
//! getters and enums, variadic functions over any values, maps built from
//! borrowed data that keep their taint).

// Shared with the benchmark, where setup failing is a bug to see at once.
#![allow(dead_code, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use gotemplate::{
    ArgsExt, EnumDef, FieldDef, FuncError, Funcs, JsonStyle, Kind, Str, StrBuf, StructDef, Value,
    sprint, to_json, to_yaml,
};

pub static OBJECT_META: StructDef = StructDef {
    name: "v1.ObjectMeta",
    fields: &[
        FieldDef::new("Annotations", "annotations", Kind::STRING_MAP),
        FieldDef::new("Labels", "labels", Kind::STRING_MAP),
        FieldDef::new("Name", "name", Kind::String),
        FieldDef::new("Namespace", "namespace", Kind::String),
    ],
    lower_camel_rest: true,
};

static PORT: StructDef = StructDef {
    name: "v1.ContainerPort",
    fields: &[
        FieldDef::new("ContainerPort", "containerPort", Kind::Int),
        FieldDef::new("Name", "name", Kind::String),
    ],
    lower_camel_rest: true,
};
static PORT_KIND: Kind = Kind::Struct(&PORT);

static CONTAINER: StructDef = StructDef {
    name: "v1.Container",
    fields: &[
        FieldDef::new("Name", "name", Kind::String),
        FieldDef::new("Ports", "ports", Kind::List(&PORT_KIND)),
    ],
    lower_camel_rest: true,
};
static CONTAINER_KIND: Kind = Kind::Struct(&CONTAINER);

pub static POD_SPEC: StructDef = StructDef {
    name: "v1.PodSpec",
    fields: &[
        FieldDef::new("Containers", "containers", Kind::List(&CONTAINER_KIND)),
        FieldDef::new("ServiceAccountName", "serviceAccountName", Kind::String),
    ],
    lower_camel_rest: true,
};

static INTERCEPTION_MODE: EnumDef = EnumDef {
    name: "ProxyConfig_InboundInterceptionMode",
    values: &["REDIRECT", "TPROXY", "NONE"],
};
static BOOL_VALUE: StructDef = StructDef {
    name: "wrapperspb.BoolValue",
    fields: &[FieldDef::new("GetValue", "", Kind::Bool)],
    lower_camel_rest: false,
};
static TLS_SETTINGS: StructDef = StructDef {
    name: "v1alpha3.ClientTLSSettings",
    fields: &[FieldDef::new(
        "GetCaCertificates",
        "caCertificates",
        Kind::String,
    )],
    lower_camel_rest: true,
};
static TRACING: StructDef = StructDef {
    name: "meshconfig.Tracing",
    fields: &[FieldDef::new(
        "GetTlsSettings",
        "tlsSettings",
        Kind::Struct(&TLS_SETTINGS),
    )],
    lower_camel_rest: true,
};

pub static PROXY_CONFIG: StructDef = StructDef {
    name: "meshconfig.ProxyConfig",
    fields: &[
        FieldDef::new(
            "InterceptionMode",
            "interceptionMode",
            Kind::Enum(&INTERCEPTION_MODE),
        ),
        FieldDef::new("ProxyMetadata", "proxyMetadata", Kind::STRING_MAP),
        FieldDef::new("GetTracing", "tracing", Kind::Struct(&TRACING)),
        FieldDef::new(
            "HoldApplicationUntilProxyStarts",
            "holdApplicationUntilProxyStarts",
            Kind::Struct(&BOOL_VALUE),
        ),
        FieldDef::new("DiscoveryAddress", "discoveryAddress", Kind::String),
    ],
    lower_camel_rest: true,
};

pub static MESH_CONFIG: StructDef = StructDef {
    name: "meshconfig.MeshConfig",
    fields: &[
        FieldDef::new("TrustDomain", "trustDomain", Kind::String),
        FieldDef::new(
            "DefaultConfig",
            "defaultConfig",
            Kind::Struct(&PROXY_CONFIG),
        ),
        FieldDef::new("ProxyListenPort", "proxyListenPort", Kind::Int),
        FieldDef::new(
            "ProxyInboundListenPort",
            "proxyInboundListenPort",
            Kind::Int,
        ),
    ],
    lower_camel_rest: true,
};

/// The inputs of one render, borrowed by the data value.
pub struct Inputs {
    pub pod: serde_json::Value,
    pub values: serde_json::Value,
    pub mesh: serde_json::Value,
    pub proxy: serde_json::Value,
}

/// Istio's `SidecarTemplateData` over the inputs: the pod's metadata and
/// spec tainted (the pod's author controls them), the rest trusted.
pub fn data(inputs: &Inputs) -> Value<'_> {
    let pod = &inputs.pod;
    fn str_at(v: &serde_json::Value) -> Value<'_> {
        Value::str(v.as_str().unwrap_or(""))
    }
    Value::record(
        "inject.SidecarTemplateData",
        vec![
            (
                "TypeMeta",
                Value::record(
                    "v1.TypeMeta",
                    vec![
                        ("APIVersion", str_at(&pod["apiVersion"])),
                        ("Kind", str_at(&pod["kind"])),
                    ],
                ),
            ),
            (
                "DeploymentMeta",
                Value::record(
                    "types.NamespacedName",
                    vec![
                        ("Name", str_at(&pod["metadata"]["name"])),
                        ("Namespace", str_at(&pod["metadata"]["namespace"])),
                    ],
                ),
            ),
            (
                "ObjectMeta",
                Value::json_tainted(&pod["metadata"], Kind::Struct(&OBJECT_META)),
            ),
            (
                "Spec",
                Value::json_tainted(&pod["spec"], Kind::Struct(&POD_SPEC)),
            ),
            (
                "ProxyConfig",
                Value::json(&inputs.proxy, Kind::Struct(&PROXY_CONFIG)),
            ),
            (
                "MeshConfig",
                Value::json(&inputs.mesh, Kind::Struct(&MESH_CONFIG)),
            ),
            ("Values", Value::json(&inputs.values, Kind::Any)),
            ("Revision", Value::str("default")),
            ("NativeSidecars", Value::Bool(false)),
            ("ProxyImage", Value::str("docker.io/istio/proxyv2:1.99.0")),
            (
                "ProxyInitImage",
                Value::str("docker.io/istio/proxyv2:1.99.0"),
            ),
            ("ProxyUID", Value::Int(1337)),
            ("ProxyGID", Value::Int(1337)),
            ("InboundTrafficPolicyMode", Value::str("")),
            ("CompliancePolicy", Value::str("")),
        ],
    )
}

pub fn hello_pod() -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "hello",
            "namespace": "default",
            "labels": {"app": "hello", "version": "v1"},
            "annotations": {"sidecar.istio.io/proxyCPU": "200m"}
        },
        "spec": {
            "serviceAccountName": "hello",
            "containers": [{"name": "hello", "image": "hello:1", "ports": [{"containerPort": 8080, "name": "http"}]}]
        }
    })
}

fn configmap_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/istio-configmaps/istio-sidecar-injector.yaml")
}

/// Istio's templates (name → text) and its `values`, from the shared ConfigMap.
pub fn istio_configmap() -> (BTreeMap<String, String>, serde_json::Value) {
    let text = std::fs::read_to_string(configmap_path())
        .expect("read the istio-sidecar-injector ConfigMap");
    let configmap: serde_json::Value = serde_saphyr::from_str(&text).expect("ConfigMap is YAML");
    let config: serde_json::Value =
        serde_saphyr::from_str(configmap["data"]["config"].as_str().expect("data.config"))
            .expect("data.config is YAML");
    let templates = config["templates"]
        .as_object()
        .expect("templates map")
        .iter()
        .map(|(name, text)| {
            (
                name.clone(),
                text.as_str().expect("template text").to_owned(),
            )
        })
        .collect();
    let values = serde_json::from_str(configmap["data"]["values"].as_str().expect("data.values"))
        .expect("values are JSON");
    (templates, values)
}

pub fn inputs(values: serde_json::Value) -> Inputs {
    Inputs {
        pod: hello_pod(),
        values,
        mesh: serde_json::json!({"trustDomain": "cluster.local", "defaultConfig": {"discoveryAddress": "istiod.istio-system.svc:15012"}}),
        proxy: serde_json::json!({"discoveryAddress": "istiod.istio-system.svc:15012", "proxyMetadata": {}}),
    }
}

/// sprig plus simple versions of Istio's functions under Istio's names.
pub fn funcs() -> Funcs {
    let mut funcs = Funcs::with_sprig();
    funcs
        .insert("isset", |args| {
            args.exact(2)?;
            Ok(Value::Bool(
                args[0].map_has(args.string(1)?.as_str()).unwrap_or(false),
            ))
        })
        .insert("annotation", |args| {
            args.exact(3)?;
            let annotations = args[0].field("Annotations")?;
            let name = args.string(1)?;
            if annotations.map_has(name.as_str()) == Some(true) {
                return Ok(annotations.map_get(name.as_str()).unwrap_or(Value::Nil));
            }
            Ok(Value::Str(sprinted(&args[2..])))
        })
        .insert("valueOrDefault", |args| {
            args.exact(2)?;
            let empty = args[0].is_nil() || args[0].as_str().is_some_and(|s| s.as_str().is_empty());
            Ok(args[if empty { 1 } else { 0 }].clone())
        })
        .insert("excludeInboundPort", |args| {
            args.exact(2)?;
            let port = sprinted(&args[..1]);
            let excluded = args.string(1)?;
            if port.as_str().trim().is_empty()
                || excluded
                    .as_str()
                    .split(',')
                    .any(|p| p.trim() == port.as_str())
            {
                return Ok(Value::Str(excluded));
            }
            let mut out = StrBuf::new();
            for p in excluded
                .as_str()
                .split(',')
                .filter(|p| !p.trim().is_empty())
            {
                out.push_str(p.trim());
                out.push_char(',');
            }
            out.push(&port);
            Ok(Value::Str(out.finish()))
        })
        .insert("includeInboundPorts", |_| Ok(Value::str("")))
        .insert("applicationPorts", |_| Ok(Value::str("")))
        .insert("kubevirtInterfaces", |args| Ok(args.arg(0)))
        .insert("excludeInterfaces", |args| Ok(args.arg(0)))
        .insert("toJSON", json)
        .insert("structToJSON", json)
        .insert("protoToJSON", json)
        .insert("toJsonMap", |args| {
            let mut merged = BTreeMap::new();
            for map in args {
                merged.extend(map.map_entries().unwrap_or_default());
            }
            Ok(Value::Str(to_json(
                &Value::map(merged),
                JsonStyle::default(),
            )))
        })
        .insert("fromJSON", |args| {
            args.exact(1)?;
            // A real fromJSON returns owned values parsed from the text.
            Ok(Value::Nil)
        })
        .insert("toYaml", |args| {
            args.exact(1)?;
            Ok(Value::Str(to_yaml(&args[0])))
        })
        .insert("indent", |args| {
            // Istio's own indent: every line but the first.
            args.exact(2)?;
            let pad = " ".repeat(usize::try_from(args.int(0)?).unwrap_or(0));
            let source = args.string(1)?;
            let mut out = StrBuf::new();
            let mut start = 0;
            for (i, _) in source.as_str().match_indices('\n') {
                out.push(&source.slice(start..i + 1));
                out.push_str(&pad);
                start = i + 1;
            }
            out.push(&source.slice(start..source.as_str().len()));
            Ok(Value::Str(out.finish()))
        })
        .insert("contains", |args| {
            args.exact(2)?;
            Ok(Value::Bool(
                args.string(1)?.as_str().contains(args.string(0)?.as_str()),
            ))
        })
        .insert("toLower", |args| {
            args.exact(1)?;
            Ok(Value::Str(
                args.string(0)?
                    .map_runs(|run, out| out.push_str(&run.to_lowercase())),
            ))
        })
        .insert("omit", |args| {
            args.at_least(1)?;
            let drop: Vec<String> = args[1..]
                .iter()
                .filter_map(Value::as_str)
                .map(|s| s.as_str().to_owned())
                .collect();
            let kept = args[0]
                .map_entries()
                .unwrap_or_default()
                .into_iter()
                .filter(|(k, _)| !drop.iter().any(|d| d == k.as_str()));
            Ok(Value::map(kept.collect()))
        })
        .insert("omitNil", |args| {
            args.exact(1)?;
            let kept = args[0]
                .map_entries()
                .unwrap_or_default()
                .into_iter()
                .filter(|(_, v)| !v.is_nil());
            Ok(Value::map(kept.collect()))
        })
        .insert("strdict", |args| {
            let pairs = args.chunks(2).map(|p| {
                (
                    p[0].as_str().unwrap_or(Str::borrowed("")),
                    p.get(1).cloned().unwrap_or(Value::str("")),
                )
            });
            Ok(Value::map(pairs.collect()))
        })
        .insert("mergeMaps", |args| {
            let mut merged = BTreeMap::new();
            for map in args {
                merged.extend(map.map_entries().unwrap_or_default());
            }
            Ok(Value::map(merged))
        })
        .insert("otelResourceAttributes", |_| Ok(Value::str("")))
        .insert("env", |args| Ok(args.arg(1)))
        .insert("directory", |args| {
            let path = args.string(0)?;
            let end = path.as_str().rfind('/').unwrap_or(0);
            Ok(Value::Str(path.slice(0..end)))
        })
        .insert("appendMultusNetwork", |args| Ok(args.arg(1)))
        .insert("formatDuration", |args| Ok(Value::Str(sprinted(args))));
    funcs
}

fn sprinted<'a>(args: &[Value<'a>]) -> Str<'a> {
    let mut out = StrBuf::new();
    sprint(&mut out, args);
    out.finish()
}

fn json<'a>(args: &[Value<'a>]) -> Result<Value<'a>, FuncError> {
    args.exact(1)?;
    Ok(Value::Str(to_json(&args[0], JsonStyle::default())))
}
