//! The `mesh` key of the `istio` ConfigMap, read as Istio reads it: over
//! Istio's built-in mesh defaults.
//!
//! istiod never uses the ConfigMap's mesh as written: it applies it over
//! `DefaultMeshConfig()` (pkg/config/mesh), and the proxy config
//! (`defaultConfig`) over `DefaultProxyConfig()`, so a template reading
//! `.ProxyConfig.StatusPort` or `.MeshConfig.ProxyListenPort` sees 15020 and
//! 15001 though the ConfigMap says neither. The defaults below are Istio's
//! values, written out as the JSON the mesh config serializes to.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// The mesh config. Only `defaultConfig` is read by the engine directly;
/// the rest goes to templates as `MeshConfig`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MeshConfig {
    /// The default proxy config, overlaid per pod by `proxy.istio.io/config`.
    #[serde(default)]
    pub default_config: Map<String, Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl MeshConfig {
    /// This mesh config applied over Istio's defaults, as istiod's
    /// `ApplyMeshConfig` does: fields override the defaults (messages merge
    /// field by field), `defaultConfig` merges into the default proxy config
    /// (`proxyMetadata` entry by entry), `extensionProviders` replace the
    /// default provider of the same name or are appended, and
    /// `trustDomainAliases` are a sorted union.
    pub fn over_istio_defaults(self) -> MeshConfig {
        let Value::Object(mut mesh) = default_mesh() else {
            return self;
        };
        let mut proxy = default_proxy_config();
        merge_proto(&mut proxy, self.default_config);
        let mut extra = self.extra;
        let providers = extra.remove("extensionProviders");
        let aliases = extra.remove("trustDomainAliases");
        merge_proto(&mut mesh, extra);
        if let Some(Value::Array(providers)) = providers {
            merge_providers(&mut mesh, providers);
        }
        if let Some(Value::Array(aliases)) = aliases {
            let mut all: Vec<Value> = aliases;
            all.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
            all.dedup();
            mesh.insert("trustDomainAliases".into(), Value::Array(all));
        }
        MeshConfig {
            default_config: proxy,
            extra: mesh,
        }
    }
}

/// Merges `overlay` into `base` as protobuf's JSON reader merges into an
/// existing message: objects (messages and maps) merge key by key, a null
/// leaves the field as it was, anything else replaces.
pub fn merge_proto(base: &mut Map<String, Value>, overlay: Map<String, Value>) {
    for (key, value) in overlay {
        match (base.get_mut(&key), value) {
            (_, Value::Null) => {}
            (Some(Value::Object(b)), Value::Object(o)) => merge_proto(b, o),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

fn merge_providers(mesh: &mut Map<String, Value>, providers: Vec<Value>) {
    let list = mesh
        .entry("extensionProviders")
        .or_insert_with(|| Value::Array(Vec::new()));
    let Value::Array(list) = list else { return };
    for provider in providers {
        match list.iter_mut().find(|p| p["name"] == provider["name"]) {
            Some(existing) => *existing = provider,
            None => list.push(provider),
        }
    }
}

/// `DefaultProxyConfig()`.
pub fn default_proxy_config() -> Map<String, Value> {
    let defaults = json!({
        "configPath": "./etc/istio/proxy",
        "binaryPath": "/usr/local/bin/envoy",
        "serviceCluster": "istio-proxy",
        "drainDuration": "45s",
        "discoveryAddress": "istiod.istio-system.svc:15012",
        "proxyAdminPort": 15000,
        "controlPlaneAuthPolicy": "MUTUAL_TLS",
        "statNameLength": 189,
        "statusPort": 15020,
        "terminationDrainDuration": "5s",
    });
    match defaults {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// `DefaultMeshConfig()` without its `defaultConfig`, the fields that are
/// not their type's zero value.
fn default_mesh() -> Value {
    json!({
        "enableTracing": true,
        "accessLogEncoding": "TEXT",
        "protocolDetectionTimeout": "0s",
        "ingressService": "istio-ingressgateway",
        "ingressControllerMode": "STRICT",
        "ingressClass": "istio",
        "trustDomain": "cluster.local",
        "enableAutoMtls": true,
        "outboundTrafficPolicy": {"mode": "ALLOW_ANY"},
        "inboundTrafficPolicy": {"mode": "PASSTHROUGH"},
        "localityLbSetting": {"enabled": true},
        "rootNamespace": "istio-system",
        "proxyListenPort": 15001,
        "proxyInboundListenPort": 15006,
        "connectTimeout": "10s",
        "defaultServiceExportTo": ["*"],
        "defaultVirtualServiceExportTo": ["*"],
        "defaultDestinationRuleExportTo": ["*"],
        "dnsRefreshRate": "60s",
        "enablePrometheusMerge": true,
        "defaultProviders": {},
        "extensionProviders": [
            {"name": "prometheus", "prometheus": {}},
            {"name": "stackdriver", "stackdriver": {}},
            {"name": "envoy", "envoyFileAccessLog": {"path": "/dev/stdout"}},
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mesh(yaml: serde_json::Value) -> MeshConfig {
        serde_json::from_value::<MeshConfig>(yaml)
            .unwrap()
            .over_istio_defaults()
    }

    #[test]
    fn fields_override_defaults_and_proxy_config_merges() {
        let m = mesh(json!({
            "trustDomain": "example.org",
            "defaultConfig": {"drainDuration": "23s", "proxyMetadata": {"A": "1"}},
            "outboundTrafficPolicy": {"mode": "REGISTRY_ONLY"},
            "extensionProviders": [
                {"name": "envoy", "envoyFileAccessLog": {"path": "/dev/null"}},
                {"name": "otel", "opentelemetry": {"port": 4317}}
            ],
            "trustDomainAliases": ["b", "a", "b"],
            "enableTracing": null
        }));
        assert_eq!(m.extra["trustDomain"], "example.org");
        assert_eq!(m.extra["proxyListenPort"], 15001);
        assert_eq!(m.extra["enableTracing"], true);
        assert_eq!(m.extra["outboundTrafficPolicy"]["mode"], "REGISTRY_ONLY");
        assert_eq!(m.default_config["drainDuration"], "23s");
        assert_eq!(m.default_config["statusPort"], 15020);
        assert_eq!(m.default_config["proxyMetadata"]["A"], "1");
        let providers = m.extra["extensionProviders"].as_array().unwrap();
        let names: Vec<&str> = providers
            .iter()
            .filter_map(|p| p["name"].as_str())
            .collect();
        assert_eq!(names, ["prometheus", "stackdriver", "envoy", "otel"]);
        assert_eq!(providers[2]["envoyFileAccessLog"]["path"], "/dev/null");
        assert_eq!(m.extra["trustDomainAliases"], json!(["a", "b"]));
    }
}
