//! `injector check`: for each pod in a manifest, the decision chain step by
//! step, and the templates it would get.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::{ManifestError, for_each_pod, parse};
use crate::decision::Trace;
use crate::engine::{Engine, PodRequest};

/// Explains, for every pod in `input`, whether and why it would be
/// injected. `namespace_labels` turns on the namespace layer, as the webhook
/// sees it.
pub fn check(
    engine: &Engine,
    input: &str,
    namespace_labels: Option<&BTreeMap<String, String>>,
) -> Result<String, ManifestError> {
    let mut docs = parse(input)?;
    let mut out = String::new();
    for (i, doc) in docs.iter_mut().enumerate() {
        for_each_pod(doc, i + 1, &mut |site| {
            let req = PodRequest {
                pod: site.pod,
                namespace: &site.namespace,
                namespace_labels,
                workload: Some(&site.workload),
            };
            let inject_err = |error| ManifestError::Inject {
                object: site.object.clone(),
                error,
            };
            let mut trace = Trace::on();
            let decision = engine.decide(&req, &mut trace).map_err(inject_err)?;
            let _ = writeln!(out, "{}:", site.object);
            for step in trace.into_steps() {
                let _ = writeln!(out, "  - {step}");
            }
            let verdict = if decision.inject { "INJECT" } else { "SKIP" };
            let _ = writeln!(
                out,
                "  => {verdict} ({}): {}",
                decision.reason, decision.detail
            );
            if decision.inject {
                let templates = engine
                    .select_templates(&site.pod["metadata"])
                    .map_err(inject_err)?;
                let _ = writeln!(
                    out,
                    "  templates: {} (in {}: {})",
                    templates.join(", "),
                    engine.dialect().name(),
                    engine.dialect_reason()
                );
            }
            Ok::<(), ManifestError>(())
        })?;
    }
    Ok(out)
}
