//! The template data: what a template can read, under the same names as
//! Istio's (`ObjectMeta`, `Spec`, `Values`, `MeshConfig`, `ProxyConfig`, ...)
//! so template authors can move between the two.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::annotations::{self, AnnotationError};
use crate::config::{Config, merge_proto};

/// The proxy's user and group id, as in Istio.
pub const PROXY_UID: u32 = 1337;
pub const PROXY_GID: u32 = 1337;

/// The parts of the template data that depend only on the configuration,
/// computed once per snapshot.
#[derive(Debug)]
pub struct TemplateInputs {
    values: Value,
    mesh: Value,
    default_proxy_config: Map<String, Value>,
    revision: String,
    proxy_image: String,
    proxy_init_image: String,
    native_sidecars: bool,
    status_port: u16,
    rewrite_probes: bool,
    environment: BTreeMap<String, String>,
}

/// The per-pod parts of the template data.
#[derive(Debug)]
pub struct TemplateData<'a> {
    /// The pod's metadata and spec (any earlier injection already removed).
    pub metadata: &'a Value,
    pub spec: &'a Value,
    /// Name and namespace of the owning workload (or of the pod).
    pub workload_name: &'a str,
    pub namespace: &'a str,
    /// Kind and apiVersion of the owning workload.
    pub workload_kind: &'a str,
    pub workload_api_version: &'a str,
    /// The pod's `proxy.istio.io/config`, as validation parsed it.
    pub proxy_config_overrides: Option<Value>,
}

impl TemplateInputs {
    pub fn new(config: &Config) -> Result<Self, serde_json::Error> {
        let values = config.values.clone();
        let global = |key: &str| values.pointer(&format!("/global/{key}")).cloned();
        let hub = global("hub").and_then(as_string).unwrap_or_default();
        let tag = global("tag").map(scalar_text).unwrap_or_default();
        let image_of = |pointer: &str, default: &str| {
            let name = values
                .pointer(pointer)
                .cloned()
                .and_then(as_string)
                .unwrap_or_else(|| default.to_string());
            image_reference(&hub, &name, &tag)
        };
        let revision = values
            .get("revision")
            .cloned()
            .and_then(as_string)
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| "default".to_string());
        Ok(TemplateInputs {
            proxy_image: image_of("/global/proxy/image", "proxyv2"),
            proxy_init_image: image_of("/global/proxy_init/image", "proxyv2"),
            native_sidecars: config.cluster.native_sidecars,
            status_port: global("proxy")
                .and_then(|p| p.get("statusPort")?.as_u64())
                .and_then(|p| u16::try_from(p).ok())
                .unwrap_or(0),
            rewrite_probes: values
                .pointer("/sidecarInjectorWebhook/rewriteAppHTTPProbe")
                .and_then(Value::as_bool)
                .unwrap_or(true),
            revision,
            environment: istiod_environment(&values),
            mesh: serde_json::to_value(&config.mesh)?,
            default_proxy_config: config.mesh.default_config.clone(),
            values,
        })
    }

    /// The `values` key, as templates see it (`Values`).
    pub fn values(&self) -> &Value {
        &self.values
    }

    /// The mesh config, as templates see it (`MeshConfig`).
    pub fn mesh(&self) -> &Value {
        &self.mesh
    }

    /// istiod's environment variables as the values set them
    /// (`pilot.env`), which Istio's `env` template function reads.
    pub fn environment(&self) -> &BTreeMap<String, String> {
        &self.environment
    }

    /// `COMPLIANCE_POLICY` (`fips-140-3`...), from istiod's environment.
    pub fn compliance_policy(&self) -> &str {
        self.environment
            .get("COMPLIANCE_POLICY")
            .map_or("", String::as_str)
    }

    /// The control-plane revision this configuration serves.
    pub fn revision(&self) -> &str {
        &self.revision
    }

    /// Whether the proxy runs as a native sidecar for this pod: the
    /// `sidecar.istio.io/nativeSidecar` annotation, else what the cluster
    /// runs ([`ClusterFacts`](crate::config::ClusterFacts)).
    pub fn native_sidecars(&self, metadata: &Value) -> Result<bool, AnnotationError> {
        Ok(annotations::native_sidecar(metadata)?.unwrap_or(self.native_sidecars))
    }

    /// The agent's status port for this pod (`status.sidecar.istio.io/port`,
    /// else `global.proxy.statusPort`), which app probes are rewritten to;
    /// 0 when probes must not be rewritten. The annotation was validated.
    pub fn probe_port(&self, metadata: &Value) -> u16 {
        if !self.rewrite_probes {
            return 0;
        }
        annotations::get(metadata, annotations::STATUS_PORT)
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or(self.status_port)
    }

    /// Whether the proxy must start before the application containers:
    /// the proxy config says so, or the values do (as Istio's template and
    /// `reorderPod` read them).
    pub fn hold_application(&self, proxy_config: &Value) -> bool {
        let from_values = self
            .values
            .pointer("/global/proxy/holdApplicationUntilProxyStarts")
            .and_then(Value::as_bool);
        let from_proxy = proxy_config
            .get("holdApplicationUntilProxyStarts")
            .and_then(Value::as_bool);
        from_proxy == Some(true) || from_values == Some(true)
    }

    /// The per-pod part of the template data. Everything a template can
    /// read that differs between pods is in it, so two pods with equal
    /// per-pod data render identically.
    pub fn pod_data<'a>(&self, pod: &TemplateData<'a>) -> Result<PodData<'a>, AnnotationError> {
        let overrides = pod.proxy_config_overrides.clone();
        let mut proxy_config = self.default_proxy_config.clone();
        if let Some(Value::Object(o)) = &overrides {
            merge_proto(&mut proxy_config, o.clone());
        }
        // The capture init container runs the proxy image too, so the
        // annotation replaces both, as in Istio.
        let (proxy_image, proxy_init_image) =
            match annotations::get(pod.metadata, annotations::PROXY_IMAGE) {
                Some(image) => {
                    let image = annotations::image(annotations::PROXY_IMAGE, image)?;
                    (image.to_string(), image.to_string())
                }
                None => (self.proxy_image.clone(), self.proxy_init_image.clone()),
            };
        Ok(PodData {
            object_meta: pod.metadata,
            spec: pod.spec,
            proxy_config: Value::Object(proxy_config),
            proxy_config_overrides: overrides.unwrap_or_else(|| json!({})),
            proxy_image,
            proxy_init_image,
            native_sidecars: self.native_sidecars(pod.metadata)?,
            deployment_meta: WorkloadMeta {
                name: pod.workload_name,
                namespace: pod.namespace,
            },
            type_meta: TypeMeta {
                kind: pod.workload_kind,
                api_version: pod.workload_api_version,
            },
        })
    }
}

/// The per-pod template data, borrowing the pod's metadata and spec so a
/// cache key can be serialized from it without copying the pod.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PodData<'a> {
    pub object_meta: &'a Value,
    pub spec: &'a Value,
    /// The mesh's default proxy config overlaid by `proxy.istio.io/config`.
    pub proxy_config: Value,
    /// Just the pod's `proxy.istio.io/config` overrides.
    pub proxy_config_overrides: Value,
    pub proxy_image: String,
    pub proxy_init_image: String,
    pub native_sidecars: bool,
    pub deployment_meta: WorkloadMeta<'a>,
    pub type_meta: TypeMeta<'a>,
}

/// `DeploymentMeta`: the owning workload's name and namespace.
#[derive(Debug, Serialize)]
pub struct WorkloadMeta<'a> {
    pub name: &'a str,
    pub namespace: &'a str,
}

/// `TypeMeta`: the owning workload's kind and apiVersion.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TypeMeta<'a> {
    pub kind: &'a str,
    pub api_version: &'a str,
}

/// The chart's `pilot.env`: what istiod's environment holds, each value
/// as its text.
fn istiod_environment(values: &Value) -> BTreeMap<String, String> {
    values
        .pointer("/pilot/env")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), scalar_text(v.clone())))
        .collect()
}

fn as_string(v: Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s),
        _ => None,
    }
}

fn scalar_text(v: Value) -> String {
    match v {
        Value::String(s) => s,
        other => other.to_string(),
    }
}

/// `hub/name:tag`, unless `name` is already a full reference (has a `/`).
fn image_reference(hub: &str, name: &str, tag: &str) -> String {
    if name.contains('/') || hub.is_empty() {
        return name.to_string();
    }
    if tag.is_empty() {
        format!("{hub}/{name}")
    } else {
        format!("{hub}/{name}:{tag}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references() {
        assert_eq!(
            image_reference("docker.io/istio", "proxyv2", "1.28.0"),
            "docker.io/istio/proxyv2:1.28.0"
        );
        assert_eq!(
            image_reference("docker.io/istio", "my.reg/proxy:1", "1.28.0"),
            "my.reg/proxy:1"
        );
    }
}
