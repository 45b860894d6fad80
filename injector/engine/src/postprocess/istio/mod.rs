//! Istio's injection steps, for the Go dialect: with Istio's own templates
//! the pod must come out as Istio's does, so after rendering the engine
//! follows Istio's `injectPod` rather than our handlebars pipeline:
//!
//! 1. [`strip`]: an earlier injection is undone for the template data
//!    (`stripPod`), and recorded overrides are put back (`reinsertOverrides`);
//! 2. [`Overlay`]: each rendered template is applied to the pod, and to
//!    an empty pod that records what the templates add, by strategic merge
//!    ([`smp`]) and Go's round trip ([`gotypes`]);
//! 3. [`reapply_overwritten`]: containers the pod declares under an
//!    injected name (`istio-proxy` with `image: auto`) are applied again
//!    over the injected ones and recorded in `proxy.istio.io/overrides`;
//! 4. [`post_process`]: cluster env, Prometheus merge, probe rewrite,
//!    network label, container order (`postProcessPod`).

mod gotypes;
mod probes;
mod prometheus;
mod quantity;
mod smp;

use std::borrow::Cow;

use serde_json::{Map, Value, json};

use crate::annotations;
use crate::merge::Injected;
use crate::pod::name_of;
use crate::status::Status;

pub use smp::PatchError;

const PROXY: &str = "istio-proxy";
const INIT: &str = "istio-init";
const VALIDATION: &str = "istio-validation";
const CORE_DUMP: &str = "enable-core-dump";
/// The image a pod's own `istio-proxy` names to keep the injected one.
const AUTO_IMAGE: &str = "auto";
const NETWORK_ENV: &str = "ISTIO_META_NETWORK";
const CLUSTER_ENV: &str = "ISTIO_META_CLUSTER_ID";
const NETWORK_LABEL: &str = "topology.istio.io/network";

/// Why Istio's steps failed on a pod.
#[derive(Debug, thiserror::Error)]
pub enum IstioError {
    #[error("annotation {annotation:?} is not valid JSON: {message}")]
    Annotation {
        annotation: &'static str,
        message: String,
    },
    #[error("cannot apply the rendered template: {0}")]
    Patch(PatchError),
    #[error("{0}")]
    Prometheus(String),
}

/// What the steps need to know beyond the pod.
pub struct Context<'a> {
    /// The mesh config (`MeshConfig` JSON, Istio's defaults applied).
    pub mesh: &'a Value,
    /// The `values` key.
    pub values: &'a Value,
    /// The mesh's proxy config with the pod's `proxy.istio.io/config`.
    pub proxy_config: &'a Value,
    /// Whether native sidecars are on for the cluster (before the pod's
    /// annotation).
    pub native_sidecars: bool,
    /// Whether the proxy must start first (proxy config or values).
    pub hold_application: bool,
}

impl Context<'_> {
    /// The mesh's agent status port, where probes and metrics go.
    fn status_port(&self) -> i64 {
        self.mesh
            .pointer("/defaultConfig/statusPort")
            .and_then(Value::as_i64)
            .unwrap_or(0)
    }

    /// `ISTIO_META_CLUSTER_ID` and `ISTIO_META_NETWORK` as Istio forces
    /// them on the proxy (`extractClusterAndNetwork`): from the values, the
    /// network label winning.
    fn proxy_envs(&self, pod: &Value) -> Vec<(&'static str, String)> {
        let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_string();
        let cluster = text(self.values.pointer("/global/multiCluster/clusterName"));
        let mut network = text(self.values.pointer("/global/network"));
        if let Some(label) = pod["metadata"]["labels"][NETWORK_LABEL].as_str() {
            network = label.to_string();
        }
        let mut envs = Vec::new();
        if !cluster.is_empty() {
            envs.push((CLUSTER_ENV, cluster));
        }
        if !network.is_empty() {
            envs.push((NETWORK_ENV, network));
        }
        envs
    }
}

fn json_annotation<T: serde::de::DeserializeOwned>(
    pod: &Value,
    annotation: &'static str,
) -> Result<Option<T>, IstioError> {
    annotations::get(&pod["metadata"], annotation)
        .map(|text| {
            serde_json::from_str(text).map_err(|e| IstioError::Annotation {
                annotation,
                message: e.to_string(),
            })
        })
        .transpose()
}

fn list<'a>(pod: &'a Value, field: &str) -> &'a [Value] {
    pod["spec"][field].as_array().map_or(&[], Vec::as_slice)
}

fn list_mut<'a>(pod: &'a mut Value, field: &str) -> Option<&'a mut Vec<Value>> {
    pod.get_mut("spec")?.get_mut(field)?.as_array_mut()
}

fn find<'a>(items: &'a [Value], name: &str) -> Option<&'a Value> {
    items.iter().find(|c| name_of(c) == Some(name))
}

/// `FindContainerFromPod`: containers first, then init containers.
fn find_in_pod<'a>(pod: &'a Value, name: &str) -> Option<&'a Value> {
    find(list(pod, "containers"), name).or_else(|| find(list(pod, "initContainers"), name))
}

fn sidecar_mut(pod: &mut Value) -> Option<&mut Map<String, Value>> {
    let field = if find(list(pod, "containers"), PROXY).is_some() {
        "containers"
    } else {
        "initContainers"
    };
    list_mut(pod, field)?
        .iter_mut()
        .find(|c| name_of(c) == Some(PROXY))?
        .as_object_mut()
}

/// The pod's annotations, created if absent.
fn annotations_mut(pod: &mut Value) -> Option<&mut Map<String, Value>> {
    let object = |v: &mut Value| {
        if !v.is_object() {
            *v = json!({});
        }
    };
    let meta = pod
        .as_object_mut()?
        .entry("metadata")
        .or_insert(Value::Null);
    object(meta);
    let annotations = meta
        .as_object_mut()?
        .entry("annotations")
        .or_insert(Value::Null);
    object(annotations);
    annotations.as_object_mut()
}

/// Go's `strconv.ParseBool`.
fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// The pod as Go reads it.
pub fn typed(pod: &Value) -> Value {
    let mut pod = pod.clone();
    gotypes::normalize(&mut pod);
    pod
}

/// The pod the templates see (`reinsertOverrides(stripPod(pod))`): what an
/// earlier injection added removed, its Prometheus rewrite undone, its
/// status dropped, and the recorded overrides back in place.
pub fn strip<'a>(pod: &'a Value, ctx: &Context<'_>) -> Result<Cow<'a, Value>, IstioError> {
    let meta = &pod["metadata"];
    if annotations::get(meta, annotations::STATUS).is_none()
        && annotations::get(meta, annotations::OVERRIDES).is_none()
    {
        return Ok(Cow::Borrowed(pod));
    }
    let mut pod = pod.clone();
    // An unreadable status is no earlier injection, as in Istio.
    let status = annotations::get(&pod["metadata"], annotations::STATUS)
        .and_then(|text| Status::parse(text).ok());
    if let Some(status) = status {
        for (field, names) in [
            ("containers", &status.containers),
            ("initContainers", &status.init_containers),
        ] {
            if let Some(items) = list_mut(&mut pod, field) {
                items.retain(|c| !name_of(c).is_some_and(|n| names.iter().any(|s| s == n)));
            }
        }
        let clear = prometheus::port(&pod) == Some(ctx.status_port().to_string());
        if let Some(annotations) = annotations_mut(&mut pod) {
            if clear {
                prometheus::clear(annotations);
            }
            annotations.remove(annotations::STATUS);
        }
    }
    let overrides: Option<Overrides> = json_annotation(&pod, annotations::OVERRIDES)?;
    for (field, items) in overrides.into_iter().flat_map(|o| {
        [
            ("containers", o.containers),
            ("initContainers", o.init_containers),
        ]
    }) {
        for c in items {
            let name = name_of(&c).unwrap_or("").to_string();
            if find(list(&pod, field), &name).is_none() {
                let spec = &mut pod["spec"];
                if !spec[field].is_array() {
                    spec[field] = json!([]);
                }
                if let Some(list) = spec[field].as_array_mut() {
                    list.push(c);
                }
            }
        }
    }
    Ok(Cow::Owned(pod))
}

/// `proxy.istio.io/overrides`: the pod's own versions of injected containers.
#[derive(Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Overrides {
    #[serde(default)]
    containers: Vec<Value>,
    #[serde(default)]
    init_containers: Vec<Value>,
}

/// The pod being injected, and the empty pod that records what the
/// templates add (Istio's `templatePod`).
pub struct Overlay {
    pub pod: Value,
    pub template: Value,
}

impl Overlay {
    pub fn new(pod: Value) -> Self {
        Overlay {
            pod,
            template: json!({"metadata": {}, "spec": {}}),
        }
    }

    /// Applies one rendered template. With native sidecars the template
    /// puts the proxy among the init containers, so a pod's own
    /// `istio-proxy` (a customization) moves there first.
    pub fn apply(&mut self, fragment: &Value, native: bool) -> Result<(), IstioError> {
        let Some(patch) = fragment.as_object() else {
            return Ok(());
        };
        merge(&mut self.template, &skeleton(fragment))?;
        if native
            && find(list(&self.template, "initContainers"), PROXY).is_some()
            && find(list(&self.pod, "containers"), PROXY).is_some()
            && let Some(containers) = list_mut(&mut self.pod, "containers")
            && let Some(i) = containers.iter().position(|c| name_of(c) == Some(PROXY))
        {
            let proxy = containers.remove(i);
            let spec = &mut self.pod["spec"];
            if !spec["initContainers"].is_array() {
                spec["initContainers"] = json!([]);
            }
            if let Some(init) = spec["initContainers"].as_array_mut() {
                init.push(proxy);
            }
        }
        merge(&mut self.pod, patch)
    }

    /// The pod in Go's form, as Istio's steps after the templates see it.
    pub fn settle(&mut self) {
        gotypes::normalize(&mut self.pod);
    }

    /// What the templates added, for the status annotation.
    pub fn injected(&self) -> Injected {
        let mut injected = Injected::default();
        injected.record(&self.template);
        injected
    }
}

/// One strategic merge. The pod is brought to Go's form once the
/// templates are applied and once at the end, which is where Istio's steps
/// read it.
/// The names of what a fragment adds, under their lists: all the
/// template pod is read for, and all that decides its order.
fn skeleton(fragment: &Value) -> Map<String, Value> {
    let mut spec = Map::new();
    for field in [
        "initContainers",
        "containers",
        "volumes",
        "imagePullSecrets",
    ] {
        if let Some(items) = fragment["spec"][field].as_array() {
            let names = items
                .iter()
                .filter_map(|i| Some(json!({"name": i.get("name")?})))
                .collect();
            spec.insert(field.to_string(), Value::Array(names));
        }
    }
    let mut out = Map::new();
    out.insert("spec".into(), Value::Object(spec));
    out
}

fn merge(pod: &mut Value, patch: &Map<String, Value>) -> Result<(), IstioError> {
    if let Value::Object(map) = pod {
        smp::apply(map, patch).map_err(IstioError::Patch)?;
    }
    Ok(())
}

/// `reapplyOverwrittenContainers`: the pod's own containers named like
/// injected ones (recorded overrides first) are merged again over them,
/// `image: auto` keeping the injected image, and recorded in
/// `proxy.istio.io/overrides` on a first injection.
pub fn reapply_overwritten(
    overlay: &mut Overlay,
    original: &Value,
    ctx: &Context<'_>,
) -> Result<(), IstioError> {
    let recorded: Overrides =
        json_annotation(original, annotations::OVERRIDES)?.unwrap_or_default();
    let status = annotations::get(&original["metadata"], annotations::STATUS)
        .and_then(|text| Status::parse(text).ok());
    let mut applied: Vec<(&str, Vec<Value>)> =
        vec![("containers", vec![]), ("initContainers", vec![])];
    for (field, recorded, done) in [
        (
            "containers",
            &recorded.containers,
            status.as_ref().map(|s| &s.containers),
        ),
        (
            "initContainers",
            &recorded.init_containers,
            status.as_ref().map(|s| &s.init_containers),
        ),
    ] {
        let names: Vec<String> = list(&overlay.template, field)
            .iter()
            .filter_map(|c| name_of(c).map(str::to_string))
            .collect();
        for name in names {
            if done.is_some_and(|d| d.contains(&name)) {
                continue;
            }
            let own = find(recorded, &name).or_else(|| {
                if field == "containers" {
                    find(list(original, "containers"), &name)
                } else {
                    find_in_pod(original, &name)
                }
            });
            let Some(own) = own else { continue };
            let mut own = gotypes::normalize_container(own.clone());
            if own["image"] == AUTO_IMAGE
                && let Value::Object(c) = &mut own
            {
                c.remove("image");
            }
            let patch = json!({"spec": {field: [own.clone()]}});
            if let Some(patch) = patch.as_object() {
                merge(&mut overlay.pod, patch)?;
            }
            if let Some((_, list)) = applied.iter_mut().find(|(f, _)| *f == field) {
                list.push(own);
            }
        }
    }
    let any = applied.iter().any(|(_, l)| !l.is_empty());
    if status.is_none() && any {
        let mut text = String::from("{");
        let mut first = true;
        for (field, items) in &applied {
            if items.is_empty() {
                continue;
            }
            if !first {
                text.push(',');
            }
            first = false;
            text.push_str(&format!("\"{field}\":"));
            gotypes::write_json(&Value::Array(items.clone()), gotypes::CONTAINERS, &mut text);
        }
        text.push('}');
        if let Some(annotations) = annotations_mut(&mut overlay.pod) {
            annotations.insert(annotations::OVERRIDES.into(), Value::String(text));
        }
    }
    adjust_init_user(&mut overlay.pod, original, ctx);
    Ok(())
}

/// `adjustInitContainerUser`: a pod's own `istio-proxy` running as another
/// user moves the capture's `-u` (and the validation container's user)
/// with it; in TPROXY mode the proxy stays root.
fn adjust_init_user(pod: &mut Value, original: &Value, ctx: &Context<'_>) {
    let Some(own) = find_in_pod(original, PROXY) else {
        return;
    };
    let user = own["securityContext"]["runAsUser"].as_i64();
    let group = own["securityContext"]["runAsGroup"].as_i64();
    if user.is_none() && group.is_none() {
        return;
    }
    let Some(init_name) = [INIT, VALIDATION]
        .into_iter()
        .find(|n| find(list(pod, "initContainers"), n).is_some())
    else {
        return;
    };
    let tproxy = ctx.proxy_config["interceptionMode"] == "TPROXY"
        || annotations::get(&pod["metadata"], "sidecar.istio.io/interceptionMode")
            == Some("TPROXY");
    if tproxy
        && user.is_some()
        && let Some(sidecar) = sidecar_mut(pod)
    {
        sidecar
            .entry("securityContext")
            .or_insert_with(|| json!({}))["runAsUser"] = json!(0);
    }
    let Some(init) = list_mut(pod, "initContainers")
        .and_then(|l| l.iter_mut().find(|c| name_of(c) == Some(init_name)))
    else {
        return;
    };
    if !tproxy && init_name == VALIDATION {
        if !init["securityContext"].is_object() {
            init["securityContext"] = json!({});
        }
        if let Some(u) = user {
            init["securityContext"]["runAsUser"] = json!(u);
        }
        if let Some(g) = group {
            init["securityContext"]["runAsGroup"] = json!(g);
        }
    }
    let Some(u) = user.filter(|u| *u != 0) else {
        return;
    };
    if let Some(args) = init["args"].as_array_mut()
        && let Some(i) = args.iter().position(|a| a == "-u")
        && i + 1 < args.len()
    {
        args[i + 1] = json!(u.to_string());
    }
}

/// `postProcessPod`: everything after the merge, in Istio's order.
pub fn post_process(
    overlay: &mut Overlay,
    original: &Value,
    ctx: &Context<'_>,
    status: (String, String),
    injected_annotations: impl IntoIterator<Item = (String, String)>,
) -> Result<(), IstioError> {
    let pod = &mut overlay.pod;
    let envs = ctx.proxy_envs(original);
    force_env(pod, &envs);
    prometheus::merge(pod, ctx)?;
    prometheus::secure_port(pod);
    probes::rewrite(pod, ctx);
    if let Some((_, network)) = envs.iter().find(|(k, _)| *k == NETWORK_ENV) {
        if !pod["metadata"]["labels"].is_object() {
            pod["metadata"]["labels"] = json!({});
        }
        pod["metadata"]["labels"][NETWORK_LABEL] = json!(network);
    }
    if let Some(annotations) = annotations_mut(pod) {
        annotations.insert(status.0, Value::String(status.1));
        annotations.extend(
            injected_annotations
                .into_iter()
                .map(|(k, v)| (k, Value::String(v))),
        );
    }
    reorder(pod, ctx.hold_application);
    gotypes::normalize(pod);
    Ok(())
}

/// `overwriteClusterInfo`: the cluster and network env vars go last on the
/// proxy, sorted, with Istio's values.
fn force_env(pod: &mut Value, envs: &[(&'static str, String)]) {
    if envs.is_empty() {
        return;
    }
    let Some(sidecar) = sidecar_mut(pod) else {
        return;
    };
    let mut env: Vec<Value> = sidecar
        .get("env")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    env.retain(|e| !name_of(e).is_some_and(|n| envs.iter().any(|(k, _)| *k == n)));
    let mut forced: Vec<&(&str, String)> = envs.iter().collect();
    forced.sort();
    env.extend(
        forced
            .into_iter()
            .map(|(k, v)| json!({"name": k, "value": v})),
    );
    sidecar.insert("env".into(), Value::Array(env));
}

/// `modifyContainers` with `MoveFirst`/`MoveLast`.
fn move_container(items: &mut Vec<Value>, name: &str, first: bool) {
    let Some(last) = items.iter().rposition(|c| name_of(c) == Some(name)) else {
        return;
    };
    let found = items.remove(last);
    items.retain(|c| name_of(c) != Some(name));
    if first {
        items.insert(0, found);
    } else {
        items.push(found);
    }
}

/// `reorderPod`: the proxy last among the containers (first when the app
/// waits for it); a native proxy after the capture and before the pod's
/// init containers; otherwise validation first, capture last.
fn reorder(pod: &mut Value, hold: bool) {
    if let Some(containers) = list_mut(pod, "containers") {
        move_container(containers, PROXY, hold);
    }
    let native = find(list(pod, "initContainers"), PROXY).is_some();
    let Some(init) = list_mut(pod, "initContainers") else {
        return;
    };
    if native {
        for name in [CORE_DUMP, PROXY, VALIDATION, INIT] {
            move_container(init, name, true);
        }
    } else {
        move_container(init, VALIDATION, true);
        move_container(init, INIT, false);
        move_container(init, CORE_DUMP, false);
    }
}
