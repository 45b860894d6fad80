//! Manifests, for the offline commands: [`kube_inject`] and [`check`] walk
//! the pods of a multi-document manifest (a Pod, the pod template of a
//! workload, or the items of a List) through the same engine as the
//! webhook. Text in, text out: the binary reads and writes the files.

pub mod check;
pub mod kube_inject;

use serde_json::{Value, json};

use crate::engine::InjectError;
use crate::workload::{Workload, pod_template_pointer};
use crate::yaml;

/// Why a manifest could not be processed. Nothing is written in that case.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("input is not valid YAML: {0}")]
    Yaml(String),
    #[error(transparent)]
    Shape(#[from] ShapeError),
    #[error("{object}: {error}")]
    Inject { object: String, error: InjectError },
    #[error("cannot write YAML: {0}")]
    Output(String),
}

/// The documents of a multi-document manifest; empty documents dropped.
fn parse(input: &str) -> Result<Vec<Value>, ManifestError> {
    yaml::parse_documents(input).map_err(|e| ManifestError::Yaml(e.to_string()))
}

/// One pod found in a manifest, with what the engine needs to know of it.
pub struct PodSite<'a> {
    /// `Kind namespace/name`, for messages.
    pub object: String,
    pub namespace: String,
    pub workload: Workload,
    /// The pod (a Pod manifest, or the template as a Pod), to read or replace.
    pub pod: &'a mut Value,
}

/// Why a manifest cannot be walked.
#[derive(Debug, thiserror::Error)]
#[error("{object}: {message}")]
pub struct ShapeError {
    pub object: String,
    pub message: String,
}

fn object_name(doc: &Value, index: usize) -> String {
    let kind = doc["kind"].as_str().unwrap_or("object");
    let name = doc["metadata"]["name"].as_str().unwrap_or("<unnamed>");
    match doc["metadata"]["namespace"].as_str() {
        Some(ns) => format!("{kind} {ns}/{name} (document {index})"),
        None => format!("{kind} {name} (document {index})"),
    }
}

/// Calls `visit` for every pod in `doc` (document number `index`), letting
/// it change the pod in place. Kinds without pods are left alone.
pub fn for_each_pod<E: From<ShapeError>>(
    doc: &mut Value,
    index: usize,
    visit: &mut dyn FnMut(PodSite<'_>) -> Result<(), E>,
) -> Result<(), E> {
    let object = object_name(doc, index);
    let shape = |message: &str| ShapeError {
        object: object.clone(),
        message: message.to_string(),
    };
    if !doc.is_object() {
        return Err(shape("a manifest must be a mapping").into());
    }
    let kind = doc["kind"].as_str().unwrap_or_default().to_string();
    if kind == "List" {
        let Some(items) = doc.get_mut("items").and_then(Value::as_array_mut) else {
            return Err(shape("a List needs an items list").into());
        };
        for item in items {
            for_each_pod(item, index, visit)?;
        }
        return Ok(());
    }
    let Some(pointer) = pod_template_pointer(&kind) else {
        return Ok(());
    };
    let name = doc["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let namespace = doc["metadata"]["namespace"]
        .as_str()
        .filter(|n| !n.is_empty())
        .unwrap_or("default")
        .to_string();
    let api_version = doc["apiVersion"].as_str().unwrap_or_default().to_string();
    if pointer.is_empty() {
        // A Pod belongs to its controller, as in the webhook.
        let workload = Workload::of_pod(doc);
        return visit(PodSite {
            object,
            namespace,
            workload,
            pod: doc,
        });
    }
    let Some(template) = doc.pointer_mut(pointer).filter(|t| t.is_object()) else {
        return Err(shape(&format!(
            "has no pod template at {}",
            pointer.replace('/', ".")
        ))
        .into());
    };
    let original = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": template.get("metadata").cloned().unwrap_or_else(|| json!({})),
        "spec": template.get("spec").cloned().unwrap_or(Value::Null),
    });
    let mut pod = original.clone();
    visit(PodSite {
        object,
        namespace,
        workload: Workload::new(&name, &kind, &api_version),
        pod: &mut pod,
    })?;
    if pod != original {
        template["metadata"] = pod["metadata"].take();
        template["spec"] = pod["spec"].take();
    }
    Ok(())
}
