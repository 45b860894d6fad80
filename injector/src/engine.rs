//! The injection engine: decide, render, merge, record status, diff. No I/O;
//! the webhook, `kube-inject` and the config server's validation all call
//! this one type, so they cannot disagree about what a pod looks like.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::annotations;
use crate::config::Config;
use crate::decision::{self, Decision, Subject, Trace};
use crate::merge::{self, Injected, Overrides};
use crate::probes;
use crate::status::Status;
use crate::template::{DataError, PodData, TemplateData, TemplateError, TemplateInputs, Templates};
use crate::workload::Workload;

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("the templates do not inject the probe pod: {0}")]
    Probe(InjectError),
}

/// Why a pod could not be injected. Each message says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum InjectError {
    #[error("not a valid Pod: {0}")]
    NotAPod(String),
    #[error("the pod has no containers")]
    NoContainers,
    #[error(transparent)]
    Annotation(#[from] DataError),
    #[error("annotation {annotation:?} is not valid JSON: {message}")]
    Bookkeeping {
        annotation: &'static str,
        message: String,
    },
    #[error("unknown template {name:?} in {source_of} (known templates: {known})")]
    UnknownTemplate {
        name: String,
        source_of: &'static str,
        known: String,
    },
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("the injected pod is not a valid Pod (check the templates): {0}")]
    InvalidResult(String),
}

impl InjectError {
    /// A stable code for the failure metric's bounded label set.
    pub fn code(&self) -> &'static str {
        match self {
            InjectError::NotAPod(_) => "not_a_pod",
            InjectError::NoContainers => "no_containers",
            InjectError::Annotation(_) => "invalid_annotation",
            InjectError::Bookkeeping { .. } => "invalid_status",
            InjectError::UnknownTemplate { .. } => "unknown_template",
            InjectError::Template(_) => "template_error",
            InjectError::InvalidResult(_) => "invalid_result",
        }
    }
}

/// One pod to inject, with what the caller knows about its context.
#[derive(Clone, Copy, Debug)]
pub struct PodRequest<'a> {
    /// The pod as received (a Pod, or a workload's pod template with
    /// `kind`/`apiVersion` absent).
    pub pod: &'a Value,
    /// The namespace, when the pod does not name one (the admission
    /// request's namespace; `default` offline).
    pub namespace: &'a str,
    /// The namespace's labels, when known (the webhook); `None` offline.
    pub namespace_labels: Option<&'a BTreeMap<String, String>>,
    /// The owning workload, when the caller knows it (`kube-inject`);
    /// otherwise derived from the pod's owner references.
    pub workload: Option<&'a Workload>,
}

/// The result of a successful injection.
#[derive(Debug)]
pub struct Injection {
    pub decision: Decision,
    /// The injected pod.
    pub pod: Value,
    /// The JSON Patch from the received pod to `pod`.
    pub patch: json_patch::Patch,
    /// The templates rendered, after alias resolution.
    pub templates: Vec<String>,
}

/// What the engine did with a pod.
#[derive(Debug)]
pub enum Outcome {
    Skipped(Decision),
    Injected(Injection),
}

/// A compiled configuration, ready to inject pods. Built once per snapshot
/// and shared by every request.
pub struct Engine {
    config: Config,
    templates: Templates,
    inputs: TemplateInputs,
    /// Container names the templates inject; user containers with these
    /// names are overrides.
    sidecar_names: BTreeSet<String>,
    hash: String,
    version: u64,
    /// Parsed template output by exact per-pod template data.
    rendered: RenderCache,
}

type RenderCache = quick_cache::sync::Cache<Arc<[u8]>, Arc<Vec<Value>>>;

/// How many distinct pod shapes' rendered sidecars a snapshot keeps
/// (about 20 KiB each).
const RENDER_CACHE_ENTRIES: usize = 512;

impl Engine {
    /// Compiles `config` and proves it on a probe pod, so a configuration
    /// that cannot inject a plain pod never reaches a request.
    pub fn compile(config: Config, version: u64) -> Result<Self, CompileError> {
        let templates = Templates::compile(&config.inject.templates)?;
        let inputs = TemplateInputs::new(&config);
        let hash = content_hash(&config);
        let mut engine = Engine {
            config,
            templates,
            inputs,
            sidecar_names: BTreeSet::new(),
            hash,
            version,
            rendered: RenderCache::new(RENDER_CACHE_ENTRIES),
        };
        let probe = probe_pod();
        let mut names = BTreeSet::new();
        for name in engine.config.inject.templates.keys() {
            let mut pod = probe.clone();
            pod["metadata"]["annotations"][annotations::TEMPLATES] = json!(name);
            let injection = engine.inject_unconditionally(&PodRequest {
                pod: &pod,
                namespace: "default",
                namespace_labels: None,
                workload: None,
            });
            let injection = injection.map_err(CompileError::Probe)?;
            let status = status_of(&injection.pod).map_err(CompileError::Probe)?;
            let status = status.unwrap_or_default();
            names.extend(status.init_containers);
            names.extend(status.containers);
        }
        engine.sidecar_names = names;
        Ok(engine)
    }

    /// `sha256:<hex>` of the configuration's canonical content.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The control-plane revision this configuration serves.
    pub fn revision(&self) -> &str {
        self.inputs.revision()
    }

    /// Decides whether the pod gets a sidecar, recording the chain in
    /// `trace`.
    pub fn decide(&self, req: &PodRequest<'_>, trace: &mut Trace) -> Result<Decision, InjectError> {
        let meta = &req.pod["metadata"];
        let labels = string_map(meta, "labels")?;
        let annotations = string_map(meta, "annotations")?;
        let host_network = match &req.pod["spec"]["hostNetwork"] {
            Value::Null => false,
            Value::Bool(b) => *b,
            other => {
                return Err(InjectError::NotAPod(format!(
                    "spec.hostNetwork: {other} is not a boolean"
                )));
            }
        };
        let subject = Subject {
            namespace: meta["namespace"]
                .as_str()
                .filter(|n| !n.is_empty())
                .unwrap_or(req.namespace),
            labels: &labels,
            annotations: &annotations,
            host_network,
            namespace_labels: req.namespace_labels,
        };
        Ok(decision::decide(
            &subject,
            &self.config.inject,
            self.revision(),
            trace,
        ))
    }

    /// Decides, and injects when the decision says so.
    pub fn process(&self, req: &PodRequest<'_>) -> Result<Outcome, InjectError> {
        let decision = {
            let _span = tracing::info_span!("decide").entered();
            self.decide(req, &mut Trace::off())?
        };
        if !decision.inject {
            return Ok(Outcome::Skipped(decision));
        }
        let mut injection = self.inject_unconditionally(req)?;
        injection.decision = decision;
        Ok(Outcome::Injected(injection))
    }

    /// The templates a pod asks for (`inject.istio.io/templates`, else
    /// `defaultTemplates`), aliases resolved, duplicates dropped.
    pub fn select_templates(&self, metadata: &Value) -> Result<Vec<String>, InjectError> {
        let inject = &self.config.inject;
        let (names, source_of): (Vec<&str>, _) =
            match annotations::get(metadata, annotations::TEMPLATES) {
                Some(list) => (
                    list.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .collect(),
                    "annotation inject.istio.io/templates",
                ),
                None => (
                    inject
                        .default_templates
                        .iter()
                        .map(String::as_str)
                        .collect(),
                    "defaultTemplates",
                ),
            };
        let mut selected: Vec<String> = Vec::new();
        for name in names {
            let expanded: Vec<&str> = match inject.aliases.get(name) {
                Some(targets) => targets.iter().map(String::as_str).collect(),
                None => vec![name],
            };
            for t in expanded {
                if !inject.templates.contains_key(t) {
                    return Err(InjectError::UnknownTemplate {
                        name: t.to_string(),
                        source_of,
                        known: inject.template_names(),
                    });
                }
                if !selected.iter().any(|s| s == t) {
                    selected.push(t.to_string());
                }
            }
        }
        Ok(selected)
    }

    /// The rendered and parsed fragments of `templates` for `pod_data`.
    ///
    /// Parsing the rendered YAML is most of an injection's cost, and the
    /// replicas of a workload reach admission with identical metadata and
    /// spec (the name is not yet generated), so results are cached per
    /// snapshot, keyed by the exact serialized per-pod data: equal keys
    /// mean equal template input, hence equal output, with no hash
    /// collision to fear.
    fn render(
        &self,
        templates: &[String],
        pod_data: &PodData<'_>,
    ) -> Result<Arc<Vec<Value>>, InjectError> {
        let span = tracing::info_span!("render", injection.templates = %templates.join(","), render.cached = tracing::field::Empty);
        let _entered = span.enter();
        let key = serde_json::to_vec(&(templates, pod_data)).unwrap_or_default();
        if let Some(hit) = self.rendered.get(key.as_slice()) {
            span.record("render.cached", true);
            return Ok(hit);
        }
        span.record("render.cached", false);
        let context = self.inputs.context(pod_data);
        let fragments = templates
            .iter()
            .map(|name| self.templates.render(name, &context))
            .collect::<Result<Vec<_>, _>>()?;
        let fragments = Arc::new(fragments);
        self.rendered.insert(key.into(), fragments.clone());
        Ok(fragments)
    }

    /// Merges the rendered fragments into the pod, then applies the user's
    /// overrides, rewrites the app probes and orders the containers.
    /// Returns what was injected.
    fn merge(
        &self,
        pod: &mut Value,
        fragments: &[Value],
        overrides: &Overrides,
        probe_port: u16,
        hold_application: bool,
    ) -> Injected {
        let mut injected = Injected::default();
        for fragment in fragments {
            injected.record(fragment);
            if let (Value::Object(base), Value::Object(patch)) = (&mut *pod, fragment.clone()) {
                merge::merge_object(base, patch);
            }
        }
        merge::apply_overrides(pod, overrides);
        let sidecars: Vec<String> = injected
            .init_containers
            .iter()
            .chain(&injected.containers)
            .cloned()
            .collect();
        let probers = probes::rewrite(pod, &sidecars, probe_port);
        probes::hand_to_proxy(pod, merge::PROXY_CONTAINER, &probers);
        merge::order(pod, &injected, hold_application);
        injected
    }

    /// Adds the status annotation, the recorded overrides and the
    /// configured `injectedAnnotations`.
    fn annotate(&self, pod: &mut Value, injected: Injected, overrides: &Overrides) {
        let status = Status::new(injected, self.revision(), &self.hash, self.version);
        let mut added: Vec<(String, String)> = self
            .config
            .inject
            .injected_annotations
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        added.push((annotations::STATUS.to_string(), status.to_json()));
        if !overrides.is_empty() {
            let recorded = serde_json::to_string(overrides).unwrap_or_default();
            added.push((annotations::OVERRIDES.to_string(), recorded));
        }
        set_annotations(pod, added);
    }

    /// Injects without deciding: strip any earlier injection, render the
    /// selected templates, merge, apply user overrides, order, annotate,
    /// validate and diff.
    fn inject_unconditionally(&self, req: &PodRequest<'_>) -> Result<Injection, InjectError> {
        let original = req.pod;
        let mut pod = original.clone();
        let mut overrides = recorded_overrides(&pod)?;
        // A pod whose only container was the user's own sidecar has an empty
        // list once injected; its recorded override still counts.
        let declared = pod["spec"]["containers"].as_array().map_or(0, Vec::len);
        if declared + overrides.containers.len() == 0 {
            return Err(InjectError::NoContainers);
        }
        if let Some(status) = status_of(&pod)? {
            probes::restore(&mut pod, merge::PROXY_CONTAINER);
            merge::strip_injected(&mut pod, &status);
        }
        remove_annotations(&mut pod, &[annotations::STATUS, annotations::OVERRIDES]);
        merge::take_overrides(&mut pod, &self.sidecar_names, &mut overrides);
        let proxy_config_overrides = annotations::validate(&pod["metadata"])?;

        let templates = self.select_templates(&pod["metadata"])?;
        let owner;
        let workload = match req.workload {
            Some(w) => w,
            None => {
                owner = Workload::of_pod(&pod);
                &owner
            }
        };
        let namespace = pod["metadata"]["namespace"]
            .as_str()
            .filter(|n| !n.is_empty())
            .unwrap_or(req.namespace);
        let pod_data = self.inputs.pod_data(&TemplateData {
            metadata: &pod["metadata"],
            spec: &pod["spec"],
            workload_name: &workload.name,
            namespace,
            workload_kind: &workload.kind,
            workload_api_version: &workload.api_version,
            proxy_config_overrides,
        })?;
        let probe_port = self.inputs.probe_port(&pod["metadata"]);
        let hold_application = TemplateInputs::hold_application(&pod_data.proxy_config);
        let fragments = self.render(&templates, &pod_data)?;

        let injected = {
            let _span = tracing::info_span!("merge").entered();
            self.merge(
                &mut pod,
                &fragments,
                &overrides,
                probe_port,
                hold_application,
            )
        };

        let _span = tracing::info_span!("diff").entered();
        self.annotate(&mut pod, injected, &overrides);
        // The result must be a Pod. If it is not, say whose fault it is:
        // the pod as received, or the templates.
        if let Err(result) = typed_pod(&pod) {
            typed_pod(original)?;
            return Err(InjectError::InvalidResult(result.to_string()));
        }
        let patch = json_patch::diff(original, &pod);
        Ok(Injection {
            decision: Decision {
                inject: true,
                reason: decision::Reason::PolicyEnabled,
                detail: String::new(),
            },
            pod,
            patch,
            templates,
        })
    }
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("version", &self.version)
            .field("hash", &self.hash)
            .field("templates", &self.templates)
            .finish_non_exhaustive()
    }
}

/// Deserializes into the real Kubernetes type: the check that a pod has the
/// shape the API server accepts.
fn typed_pod(pod: &Value) -> Result<Pod, InjectError> {
    Pod::deserialize(pod).map_err(|e| InjectError::NotAPod(e.to_string()))
}

/// A `metadata` map of strings (labels, annotations); absent is empty.
fn string_map(meta: &Value, field: &str) -> Result<BTreeMap<String, String>, InjectError> {
    match &meta[field] {
        Value::Null => Ok(BTreeMap::new()),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                other => Err(InjectError::NotAPod(format!(
                    "metadata.{field}.{k}: {other} is not a string"
                ))),
            })
            .collect(),
        other => Err(InjectError::NotAPod(format!(
            "metadata.{field}: {other} is not a map"
        ))),
    }
}

fn status_of(pod: &Value) -> Result<Option<Status>, InjectError> {
    match annotations::get(&pod["metadata"], annotations::STATUS) {
        None => Ok(None),
        Some(text) => Status::parse(text)
            .map(Some)
            .map_err(|e| InjectError::Bookkeeping {
                annotation: annotations::STATUS,
                message: e.to_string(),
            }),
    }
}

fn recorded_overrides(pod: &Value) -> Result<Overrides, InjectError> {
    match annotations::get(&pod["metadata"], annotations::OVERRIDES) {
        None => Ok(Overrides::default()),
        Some(text) => serde_json::from_str(text).map_err(|e| InjectError::Bookkeeping {
            annotation: annotations::OVERRIDES,
            message: e.to_string(),
        }),
    }
}

fn annotations_mut(pod: &mut Value) -> Option<&mut Map<String, Value>> {
    let meta = pod
        .as_object_mut()?
        .entry("metadata")
        .or_insert_with(|| json!({}));
    let anns = meta
        .as_object_mut()?
        .entry("annotations")
        .or_insert_with(|| json!({}));
    if anns.is_null() {
        *anns = json!({});
    }
    anns.as_object_mut()
}

fn remove_annotations(pod: &mut Value, keys: &[&str]) {
    if let Some(Value::Object(anns)) = pod
        .get_mut("metadata")
        .and_then(|m| m.get_mut("annotations"))
    {
        for k in keys {
            anns.remove(*k);
        }
    }
}

fn set_annotations(pod: &mut Value, pairs: Vec<(String, String)>) {
    if let Some(anns) = annotations_mut(pod) {
        for (k, v) in pairs {
            anns.insert(k, Value::String(v));
        }
    }
}

/// The pod every configuration must be able to inject.
fn probe_pod() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "probe",
            "namespace": "default",
            "labels": {"app": "probe", "version": "v1"},
            "annotations": {}
        },
        "spec": {
            "containers": [{
                "name": "app",
                "image": "registry.example/app:1",
                "ports": [{"name": "http", "containerPort": 8080}],
                "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}}
            }]
        }
    })
}

/// `sha256:<hex>` of the canonical JSON of the configuration: keys sorted,
/// no insignificant white space, so comments and formatting in the
/// ConfigMaps never change the hash and every replica computes the same one.
pub fn content_hash(config: &Config) -> String {
    let value = serde_json::to_value(config).unwrap_or_default();
    let mut canonical = String::new();
    write_canonical(&value, &mut canonical);
    let digest = Sha256::digest(canonical.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}
