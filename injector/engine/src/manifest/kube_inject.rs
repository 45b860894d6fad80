//! Manual injection (`injector kube-inject`): every pod in a multi-document
//! manifest goes through the same engine as the webhook, offline.

use serde_json::Value;

use super::{ManifestError, for_each_pod, parse};
use crate::config::Dialect;
use crate::engine::{Engine, Outcome, PodRequest};
use crate::postprocess::istio;
use crate::yaml;

/// The injected manifest and what was skipped, and why.
#[derive(Debug, Default)]
pub struct Report {
    pub output: String,
    pub skipped: Vec<String>,
    pub injected: usize,
}

/// Injects every pod of the manifest `input`. Other kinds pass through.
pub fn kube_inject(engine: &Engine, input: &str) -> Result<Report, ManifestError> {
    let mut docs = parse(input)?;
    let mut report = Report::default();
    for (i, doc) in docs.iter_mut().enumerate() {
        for_each_pod(doc, i + 1, &mut |site| {
            let req = PodRequest {
                pod: site.pod,
                namespace: &site.namespace,
                namespace_labels: None,
                workload: Some(&site.workload),
            };
            let outcome = engine
                .process(&req)
                .map_err(|error| ManifestError::Inject {
                    object: site.object.clone(),
                    error,
                })?;
            match outcome {
                Outcome::Skipped(d) => {
                    // Istio's kube-inject writes every pod through Go's
                    // types, injected or not; with its templates, so do we.
                    if engine.dialect() == Dialect::Go {
                        *site.pod = istio::typed(site.pod);
                    }
                    report.skipped.push(format!(
                        "{}: not injected ({}): {}",
                        site.object, d.reason, d.detail
                    ));
                }
                Outcome::Injected(injection) => {
                    *site.pod = injection.pod;
                    report.injected += 1;
                }
            }
            Ok::<(), ManifestError>(())
        })?;
    }
    report.output = write_documents(&docs)?;
    Ok(report)
}

fn write_documents(docs: &[Value]) -> Result<String, ManifestError> {
    let mut out = String::new();
    for doc in docs {
        if !out.is_empty() {
            out.push_str("---\n");
        }
        out.push_str(&yaml::to_string(doc).map_err(|e| ManifestError::Output(e.to_string()))?);
    }
    Ok(out)
}
