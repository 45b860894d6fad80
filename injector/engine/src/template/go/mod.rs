//! The Go dialect: Istio's own templates (Go text/template, sprig and
//! Istio's functions) over Istio's data model, so the
//! `istio-sidecar-injector` ConfigMap of a real Istio installation works
//! unchanged.
//!
//! Istio protects these templates only by validating a few annotations.
//! Here every string the pod controls is tainted in the data, the template
//! engine reports which output bytes came from such strings, and the
//! rendered YAML is accepted only if each of those byte ranges lies inside
//! the content of one scalar ([`super::safety`]): a pod string can be a
//! value, never a key, an item, a document or a quote that ends one.

mod funcs;
mod model;
pub(crate) mod proto;

use std::collections::BTreeMap;

use gotemplate::{Kind, Template, Value};
use serde_json::Value as Json;

use super::data::{PROXY_GID, PROXY_UID, PodData, TemplateInputs};
use crate::annotations;

/// The compiled Go templates of one configuration.
pub struct Registry {
    templates: BTreeMap<String, Template>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.templates.keys()).finish()
    }
}

impl Registry {
    /// Parses every template, with Istio's functions; `environment` stands
    /// for istiod's environment variables, which the `env` function reads.
    pub fn compile(
        sources: &BTreeMap<String, String>,
        environment: &BTreeMap<String, String>,
    ) -> Result<Self, (String, String)> {
        let funcs = funcs::istio(environment);
        let templates = sources
            .iter()
            .map(|(name, source)| {
                Template::parse(name, source, &funcs)
                    .map(|t| (name.clone(), t))
                    .map_err(|e| (name.clone(), e.to_string()))
            })
            .collect::<Result<_, _>>()?;
        Ok(Registry { templates })
    }

    /// Template `name`, which renders its output with the byte ranges that
    /// came from pod strings.
    pub fn get(&self, name: &str) -> Option<&Template> {
        self.templates.get(name)
    }
}

/// Istio's `SidecarTemplateData` for one pod: the pod's metadata and spec
/// as Kubernetes' Go types, tainted; the proxy and mesh config as Istio's
/// protobuf types; the values as `map[string]any`.
pub fn data<'a>(inputs: &'a TemplateInputs, pod: &'a PodData<'a>, images: &'a Images) -> Value<'a> {
    let proxy_kind = Kind::Struct(&model::PROXY_CONFIG);
    // The proxy config is the mesh's unless the pod overrides it: then its
    // strings are the pod's too.
    let proxy_config = if pod
        .proxy_config_overrides
        .as_object()
        .is_some_and(|o| !o.is_empty())
    {
        Value::json_tainted(&pod.proxy_config, proxy_kind)
    } else {
        Value::json(&pod.proxy_config, proxy_kind)
    };
    Value::record(
        "inject.SidecarTemplateData",
        vec![
            (
                "TypeMeta",
                Value::record(
                    "v1.TypeMeta",
                    vec![
                        ("Kind", Value::str(pod.type_meta.kind)),
                        ("APIVersion", Value::str(pod.type_meta.api_version)),
                    ],
                ),
            ),
            (
                "DeploymentMeta",
                Value::record(
                    "types.NamespacedName",
                    vec![
                        ("Namespace", Value::str(pod.deployment_meta.namespace)),
                        ("Name", Value::str(pod.deployment_meta.name)),
                    ],
                ),
            ),
            (
                "ObjectMeta",
                Value::json_tainted(pod.object_meta, Kind::Struct(&model::OBJECT_META)),
            ),
            (
                "Spec",
                Value::json_tainted(pod.spec, Kind::Struct(&model::POD_SPEC)),
            ),
            ("ProxyConfig", proxy_config),
            (
                "MeshConfig",
                Value::json(inputs.mesh(), Kind::Struct(&model::MESH_CONFIG)),
            ),
            ("Values", Value::json(inputs.values(), Kind::Any)),
            ("Revision", Value::str(inputs.revision())),
            ("NativeSidecars", Value::Bool(pod.native_sidecars)),
            ("ProxyImage", Value::str(&images.proxy)),
            ("ProxyInitImage", Value::str(&images.proxy_init)),
            ("ProxyUID", Value::Int(PROXY_UID.into())),
            ("ProxyGID", Value::Int(PROXY_GID.into())),
            (
                "InboundTrafficPolicyMode",
                Value::str(inbound_traffic_policy_mode(inputs.mesh())),
            ),
            ("CompliancePolicy", Value::str(inputs.compliance_policy())),
        ],
    )
}

/// The images as Istio names them: `HUB/NAME:TAG`, the tag carrying the
/// image type (`-distroless`...) of `global.variant` or the pod's
/// `sidecar.istio.io/proxyImageType`. (A template that wants a full
/// reference from the values or the pod's `sidecar.istio.io/proxyImage`
/// checks for a `/` itself.)
#[derive(Debug)]
pub struct Images {
    pub proxy: String,
    pub proxy_init: String,
}

impl Images {
    pub fn new(values: &Json, metadata: &Json) -> Images {
        let global = &values["global"];
        let name = |image: &Json| match image.as_str() {
            Some(name) if !name.is_empty() => name.to_string(),
            _ => "proxyv2".to_string(),
        };
        let tag = match &global["tag"] {
            Json::Null => String::new(),
            Json::String(s) => s.clone(),
            other => other.to_string(),
        };
        let image_type = annotations::get(metadata, "sidecar.istio.io/proxyImageType")
            .or_else(|| global["variant"].as_str())
            .unwrap_or("");
        let hub = global["hub"].as_str().unwrap_or("");
        let url = |name: String, image_type: &str| {
            format!("{hub}/{name}:{}", tag_with_type(&tag, image_type))
        };
        Images {
            proxy: url(name(&global["proxy"]["image"]), image_type),
            proxy_init: url(
                name(&global["proxy_init"]["image"]),
                annotations::get(metadata, "sidecar.istio.io/proxyImageType").unwrap_or(""),
            ),
        }
    }
}

/// Istio's image types, which a tag may already end with.
const IMAGE_TYPES: [&str; 3] = ["default", "debug", "distroless"];

fn tag_with_type(tag: &str, image_type: &str) -> String {
    if image_type.is_empty() {
        return tag.to_string();
    }
    let base = IMAGE_TYPES
        .iter()
        .find_map(|t| tag.strip_suffix(&format!("-{t}")))
        .unwrap_or(tag);
    if image_type == "default" {
        base.to_string()
    } else {
        format!("{base}-{image_type}")
    }
}

/// `InboundTrafficPolicyMode(mesh)`: `localhost` or `passthrough`.
fn inbound_traffic_policy_mode(mesh: &Json) -> &'static str {
    match mesh["inboundTrafficPolicy"]["mode"].as_str() {
        Some("LOCALHOST") => "localhost",
        _ => "passthrough",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn images_as_istio_names_them() {
        let values = json!({"global": {"hub": "reg.io/istio", "tag": "1.2.3-distroless", "proxy": {"image": "proxyTest"}}});
        let images = Images::new(&values, &json!({}));
        assert_eq!(images.proxy, "reg.io/istio/proxyTest:1.2.3-distroless");
        assert_eq!(images.proxy_init, "reg.io/istio/proxyv2:1.2.3-distroless");
        let meta = json!({"annotations": {"sidecar.istio.io/proxyImageType": "debug"}});
        let images = Images::new(&values, &meta);
        assert_eq!(images.proxy, "reg.io/istio/proxyTest:1.2.3-debug");
        let values = json!({"global": {"hub": "h", "tag": 1.22}});
        assert_eq!(Images::new(&values, &json!({})).proxy, "h/proxyv2:1.22");
    }
}
