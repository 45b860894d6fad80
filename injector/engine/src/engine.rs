//! The engine runs the steps in order, each in its own span: decide,
//! prepare (undo an earlier injection), render, merge, post-process,
//! status, patch. No I/O: the webhook, `kube-inject` and the config
//! server's validation all call this one type, so they cannot disagree
//! about what a pod looks like.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::{Value, json};

use crate::annotations::{self, AnnotationError};
use crate::config::{Config, Dialect, DialectReason};
use crate::decision::{self, Decision, Subject, Trace};
use crate::heap;
use crate::merge::{self, Injected};
use crate::patch::{self, Names, PatchError};
use crate::pod;
use crate::postprocess::istio::{self, IstioError};
use crate::postprocess::overrides::{self, Overrides};
use crate::postprocess::{self, PROXY_CONTAINER, probes};
use crate::status::Status;
use crate::template::data::{TemplateData, TemplateInputs};
use crate::template::{TemplateError, Templates};
use crate::workload::Workload;

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("cannot hash the configuration: {0}")]
    Hash(serde_json::Error),
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
    Annotation(#[from] AnnotationError),
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
    #[error("cannot serialize {what}: {message}")]
    Serialize { what: &'static str, message: String },
    #[error(transparent)]
    Istio(#[from] IstioError),
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
            InjectError::Serialize { .. } => "internal",
            InjectError::Istio(_) => "postprocess_error",
        }
    }

    fn bookkeeping(annotation: &'static str) -> impl Fn(serde_json::Error) -> Self {
        move |e| InjectError::Bookkeeping {
            annotation,
            message: e.to_string(),
        }
    }

    fn serialize(what: &'static str) -> impl Fn(serde_json::Error) -> Self {
        move |e| InjectError::Serialize {
            what,
            message: e.to_string(),
        }
    }
}

impl From<PatchError> for InjectError {
    fn from(e: PatchError) -> Self {
        match e {
            PatchError::NotAPod(m) => InjectError::NotAPod(m),
            PatchError::InvalidResult(m) => InjectError::InvalidResult(m),
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

impl PodRequest<'_> {
    /// The pod's namespace: its own, else the request's.
    pub fn namespace(&self) -> &str {
        pod::namespace(self.pod, self.namespace)
    }
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
    /// Why the templates are in their dialect, decided with it.
    dialect_reason: DialectReason,
    inputs: TemplateInputs,
    /// Container names the templates inject; user containers with these
    /// names are overrides.
    sidecar_names: BTreeSet<String>,
    hash: String,
    version: u64,
    /// Parsed template output by exact per-pod template data.
    rendered: RenderCache,
}

/// The render cache: serialized per-pod template data to the parsed
/// fragments, with their size.
type RenderCache = quick_cache::sync::Cache<Arc<[u8]>, Rendered, RenderWeight>;

/// Parsed fragments and what they weigh, counted once at insertion.
#[derive(Clone)]
struct Rendered {
    fragments: Arc<Vec<Value>>,
    bytes: u64,
}

/// An entry weighs its key (which holds the pod's metadata and spec) plus
/// the memory its fragments take ([`heap`]), so the budget bounds memory
/// and a few huge pods cannot hold more of it than many ordinary ones.
#[derive(Clone)]
struct RenderWeight;

impl quick_cache::Weighter<Arc<[u8]>, Rendered> for RenderWeight {
    fn weight(&self, key: &Arc<[u8]>, rendered: &Rendered) -> u64 {
        key.len() as u64 + rendered.bytes
    }
}

/// The bytes of memory a snapshot's render cache holds at most; the least
/// recently used shapes go first. An entry of the embedded sidecar for an
/// ordinary pod takes some 60 KiB, so this is over a hundred pod shapes
/// (replicas of one workload are answered by the response cache before
/// they get here), and a pod bigger than a cache shard is rendered every
/// time rather than cached.
pub const RENDER_CACHE_BYTES: u64 = 8 * 1024 * 1024;

/// The number of entries the cache is sized for (its hash table).
const RENDER_CACHE_ENTRIES: usize = 256;

impl Engine {
    /// Compiles `config` and proves it on a probe pod, so a configuration
    /// that cannot inject a plain pod never reaches a request.
    pub fn compile(config: Config, version: u64) -> Result<Self, CompileError> {
        let inputs = TemplateInputs::new(&config)
            .map_err(|e| CompileError::Template(TemplateError::Data(e)))?;
        let (dialect, dialect_reason) = config.inject.dialect();
        let templates = Templates::compile(&config.inject, dialect, &inputs)?;
        let hash = config.hash().map_err(CompileError::Hash)?;
        let mut engine = Engine {
            config,
            templates,
            dialect_reason,
            inputs,
            sidecar_names: BTreeSet::new(),
            hash,
            version,
            rendered: RenderCache::with_weighter(
                RENDER_CACHE_ENTRIES,
                RENDER_CACHE_BYTES,
                RenderWeight,
            ),
        };
        engine.sidecar_names = engine.probe().map_err(CompileError::Probe)?;
        Ok(engine)
    }

    /// Injects the probe pod with each template in turn, and returns the
    /// names of every container the templates inject.
    ///
    /// Our handlebars templates are all pod templates, so each must inject
    /// the probe pod. An Istio ConfigMap also holds templates for Gateway
    /// deployments (`waypoint`, `kube-gateway`...), which are not meant for
    /// pods: there only the default templates must inject it, and the
    /// others count when they do.
    fn probe(&self) -> Result<BTreeSet<String>, InjectError> {
        let mut names = BTreeSet::new();
        let required = |name: &str| {
            self.templates.dialect() == Dialect::Handlebars
                || self.config.inject.default_templates.iter().any(|d| {
                    d == name
                        || self
                            .config
                            .inject
                            .aliases
                            .get(d)
                            .is_some_and(|targets| targets.iter().any(|t| t == name))
                })
        };
        for name in self.config.inject.templates.keys() {
            let mut pod = probe_pod();
            pod["metadata"]["annotations"][annotations::TEMPLATES] = json!(name);
            let injection = self.inject(&PodRequest {
                pod: &pod,
                namespace: "default",
                namespace_labels: None,
                workload: None,
            });
            let injection = match injection {
                Ok(injection) => injection,
                Err(_) if !required(name) => continue,
                Err(error) => return Err(error),
            };
            let status = Status::of(&injection.pod)
                .map_err(InjectError::bookkeeping(annotations::STATUS))?
                .unwrap_or_default();
            names.extend(status.init_containers);
            names.extend(status.containers);
        }
        Ok(names)
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

    /// How many distinct renders the render cache holds.
    pub fn rendered_entries(&self) -> usize {
        self.rendered.len()
    }

    /// The language of this configuration's templates.
    pub fn dialect(&self) -> Dialect {
        self.templates.dialect()
    }

    /// Why [`Engine::dialect`] was chosen, for status and logs.
    pub fn dialect_reason(&self) -> DialectReason {
        self.dialect_reason
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
            namespace: req.namespace(),
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
        let mut injection = self.inject(req)?;
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

    /// Injects without deciding: every step after the decision.
    fn inject(&self, req: &PodRequest<'_>) -> Result<Injection, InjectError> {
        if self.templates.dialect() == Dialect::Go {
            return self.inject_as_istio(req);
        }
        let mut pod = req.pod.clone();
        let overrides = {
            let _span = tracing::info_span!("prepare").entered();
            self.prepare(&mut pod)?
        };
        let templates = self.select_templates(&pod["metadata"])?;
        let (fragments, settings, _) = self.render(req, &pod, &templates)?;
        let injected = {
            let _span = tracing::info_span!("merge").entered();
            merge::merge_fragments(&mut pod, &fragments)
        };
        {
            let _span = tracing::info_span!("postprocess").entered();
            postprocess::run(&mut pod, &injected, &overrides, settings);
        }
        {
            let _span = tracing::info_span!("status").entered();
            self.record_status(&mut pod, injected, &overrides)?;
        }
        finish(req, pod, templates, Names::Unique)
    }

    /// Istio's `injectPod`, which Istio's templates are written for: the
    /// templates see the pod with any earlier injection undone, each
    /// rendered template is merged into the pod as received, and Istio's
    /// post-processing follows ([`istio`]).
    fn inject_as_istio(&self, req: &PodRequest<'_>) -> Result<Injection, InjectError> {
        let original = istio::typed(req.pod);
        let mesh = self.inputs.mesh();
        let mut ctx = istio::Context {
            mesh,
            values: self.inputs.values(),
            proxy_config: &Value::Null,
            native_sidecars: false,
            hold_application: false,
        };
        let stripped = {
            let _span = tracing::info_span!("prepare").entered();
            istio::strip(&original, &ctx)?
        };
        let templates = self.select_templates(&stripped["metadata"])?;
        let (fragments, settings, proxy_config) = self.render(req, &stripped, &templates)?;
        ctx.proxy_config = &proxy_config;
        ctx.hold_application = settings.hold_application;
        ctx.native_sidecars = self.inputs.native_sidecars(&original["metadata"])?;
        let mut overlay = istio::Overlay::new(original.clone());
        {
            let _span = tracing::info_span!("merge").entered();
            for fragment in fragments.iter() {
                overlay.apply(fragment, ctx.native_sidecars)?;
            }
            overlay.settle();
            istio::reapply_overwritten(&mut overlay, &original, &ctx)?;
        }
        {
            let _span = tracing::info_span!("postprocess").entered();
            let status = Status::new(
                overlay.injected(),
                self.revision(),
                &self.hash,
                self.version,
            )
            .annotation()
            .map_err(InjectError::serialize("the status annotation"))?;
            let added = self
                .config
                .inject
                .injected_annotations
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()));
            istio::post_process(&mut overlay, &original, &ctx, status, added)?;
        }
        finish(req, overlay.pod, templates, Names::AsRendered)
    }

    /// Undoes an earlier injection, so injecting twice is injecting once:
    /// what its status lists is removed, rewritten probes are restored, and
    /// the user's overrides (recorded, and containers named like a sidecar)
    /// are taken out to be applied after the merge.
    fn prepare(&self, pod: &mut Value) -> Result<Overrides, InjectError> {
        let mut overrides =
            Overrides::recorded(pod).map_err(InjectError::bookkeeping(annotations::OVERRIDES))?;
        // A pod whose only container was the user's own sidecar has an empty
        // list once injected; its recorded override still counts.
        let declared = pod["spec"]["containers"].as_array().map_or(0, Vec::len);
        if declared + overrides.containers.len() == 0 {
            return Err(InjectError::NoContainers);
        }
        if let Some(status) =
            Status::of(pod).map_err(InjectError::bookkeeping(annotations::STATUS))?
        {
            probes::restore(pod, PROXY_CONTAINER);
            status.strip(pod);
        }
        pod::remove_annotations(pod, &[annotations::STATUS, annotations::OVERRIDES]);
        overrides::take(pod, &self.sidecar_names, &mut overrides);
        Ok(overrides)
    }

    /// The parsed fragments of `templates` for `pod`, and the settings the
    /// post-process step needs for it.
    ///
    /// Parsing the rendered YAML is most of an injection's cost, and the
    /// replicas of a workload reach admission with identical metadata and
    /// spec (the name is not yet generated), so results are cached per
    /// snapshot, keyed by the exact serialized per-pod data: equal keys
    /// mean equal template input, hence equal output, with no hash
    /// collision to fear.
    fn render(
        &self,
        req: &PodRequest<'_>,
        pod: &Value,
        templates: &[String],
    ) -> Result<(Arc<Vec<Value>>, postprocess::Settings, Value), InjectError> {
        let span = tracing::info_span!(
            "render",
            injection.templates = %templates.join(","),
            render.cached = tracing::field::Empty
        );
        let _entered = span.enter();
        let proxy_config_overrides = annotations::validate(&pod["metadata"])?;
        let owner;
        let workload = match req.workload {
            Some(w) => w,
            None => {
                owner = Workload::of_pod(pod);
                &owner
            }
        };
        let visible = self.templates.visible_metadata(&pod["metadata"]);
        let mut pod_data = self.inputs.pod_data(&TemplateData {
            metadata: &pod["metadata"],
            spec: &pod["spec"],
            workload_name: &workload.name,
            namespace: pod::namespace(pod, req.namespace),
            workload_kind: &workload.kind,
            workload_api_version: &workload.api_version,
            proxy_config_overrides,
        })?;
        // What the engine derived from the whole metadata (proxy config,
        // images...) is in `pod_data` already; the templates see only what
        // they can read, and the cache key holds only that.
        pod_data.object_meta = &visible;
        let settings = postprocess::Settings {
            probe_port: self.inputs.probe_port(&pod["metadata"]),
            hold_application: self.inputs.hold_application(&pod_data.proxy_config),
        };
        let key = serde_json::to_vec(&(templates, &pod_data))
            .map_err(InjectError::serialize("the render cache key"))?;
        if let Some(hit) = self.rendered.get(key.as_slice()) {
            span.record("render.cached", true);
            return Ok((hit.fragments, settings, pod_data.proxy_config));
        }
        span.record("render.cached", false);
        let fragments = Arc::new(self.templates.render(templates, &self.inputs, &pod_data)?);
        let rendered = Rendered {
            fragments: fragments.clone(),
            bytes: fragments.iter().map(heap::bytes).sum::<usize>() as u64,
        };
        self.rendered.insert(key.into(), rendered);
        Ok((fragments, settings, pod_data.proxy_config))
    }

    /// Adds the status annotation, the recorded overrides and the
    /// configured `injectedAnnotations`.
    fn record_status(
        &self,
        pod: &mut Value,
        injected: Injected,
        overrides: &Overrides,
    ) -> Result<(), InjectError> {
        let status = Status::new(injected, self.revision(), &self.hash, self.version);
        let mut added: Vec<(String, String)> = self
            .config
            .inject
            .injected_annotations
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        added.push(
            status
                .annotation()
                .map_err(InjectError::serialize("the status annotation"))?,
        );
        added.extend(
            overrides
                .annotation()
                .map_err(InjectError::serialize("the overrides annotation"))?,
        );
        pod::set_annotations(pod, added);
        Ok(())
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

/// The injection of `pod`, with its patch from the pod as received.
fn finish(
    req: &PodRequest<'_>,
    pod: Value,
    templates: Vec<String>,
    names: Names,
) -> Result<Injection, InjectError> {
    let patch = {
        let _span = tracing::info_span!("patch").entered();
        patch::diff(req.pod, &pod, names)?
    };
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RawConfig;
    use serde_json::json;

    #[test]
    fn pods_that_differ_only_in_labels_the_templates_do_not_read_share_one_render() {
        let engine = Engine::compile(RawConfig::embedded().parse().unwrap(), 1).unwrap();
        let inject = |labels: Value| {
            let pod = json!({
                "metadata": {"name": "p", "namespace": "shop", "labels": labels},
                "spec": {"containers": [{"name": "app", "image": "app:1"}]}
            });
            inject(&engine, &pod)
        };
        // Compiling rendered the probe pod.
        let probed = engine.rendered_entries();
        let first = inject(json!({"app": "shop", "pod-template-hash": "1"}));
        let second = inject(json!({"app": "shop", "pod-template-hash": "2"}));
        assert_eq!(engine.rendered_entries(), probed + 1);
        // The label the pod has is still its own; only the render is shared.
        assert_eq!(second["metadata"]["labels"]["pod-template-hash"], "2");
        let mut unshared = second.clone();
        unshared["metadata"]["labels"]["pod-template-hash"] = json!("1");
        assert_eq!(first, unshared);

        // `app` names the service: a read label renders anew.
        let other = inject(json!({"app": "cart", "pod-template-hash": "1"}));
        assert_eq!(engine.rendered_entries(), probed + 2);
        assert_ne!(
            other["metadata"]["labels"]["service.istio.io/canonical-name"],
            first["metadata"]["labels"]["service.istio.io/canonical-name"]
        );
    }

    fn pod(label: &str, annotation: &str) -> Value {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "labels": {"app": label}, "annotations": {"free-form": annotation}},
            "spec": {"containers": [{"name": "web", "image": "web:1"}]}
        })
    }

    /// The injected pod; fails unless `pod` is injected.
    fn inject(engine: &Engine, pod: &Value) -> Value {
        let request = PodRequest {
            pod,
            namespace: "shop",
            namespace_labels: None,
            workload: None,
        };
        match engine.process(&request).unwrap() {
            Outcome::Injected(injection) => injection.pod,
            Outcome::Skipped(d) => panic!("skipped: {d:?}"),
        }
    }

    /// Distinct pod shapes, ordinary and huge, never hold more than the
    /// cache's bytes: the oldest are evicted.
    #[test]
    fn the_render_cache_is_bounded_in_bytes() {
        let engine = Engine::compile(RawConfig::embedded().parse().unwrap(), 1).unwrap();
        let (probed, probed_weight) = (engine.rendered.len(), engine.rendered.weight());
        inject(&engine, &pod("first", ""));
        assert_eq!(engine.rendered.len(), probed + 1);
        let weight = engine.rendered.weight() - probed_weight;
        assert!(
            weight > 1000,
            "an entry weighs its key and fragments: {weight}"
        );

        // In a label the templates read: a huge annotation they do not read
        // is not part of the render at all. Each entry holds the label in
        // its key and in the rendered sidecar.
        let huge = "x".repeat(100 << 10);
        for i in 0..64 {
            inject(&engine, &pod(&format!("huge-{i}-{huge}"), ""));
            assert!(engine.rendered.weight() <= RENDER_CACHE_BYTES);
        }
        assert!(
            engine.rendered.len() < 64 + probed,
            "64 huge pods (over 12 MiB) did not all stay: {}",
            engine.rendered.len()
        );
        assert!(
            engine.rendered.weight() > RENDER_CACHE_BYTES / 4,
            "{}",
            engine.rendered.weight()
        );
    }
}
