//! The structure check of rendered Go templates: every byte that came from
//! a pod string must lie inside the content of one YAML scalar.
//!
//! Istio's templates paste annotations and labels into YAML (`"{{ index
//! .ObjectMeta.Annotations `x` }}"`), so a value holding a quote, a
//! newline or `: ` could add keys, items or documents to the sidecar. The
//! template engine tells us which output bytes came from the pod (taint),
//! the YAML reader tells us where each scalar's content lies; if a tainted
//! range does not fit inside one scalar, the pod's string changed the
//! structure, and the injection fails naming that string.

use gotemplate::{Origin, Rendered, Span, locate};
use serde_json::Value;

/// Where the pod strings come from, to name the culprit: the pod's
/// metadata and spec, and the proxy config when the pod overrides it.
pub struct Sources<'a> {
    pub metadata: &'a Value,
    pub spec: &'a Value,
    pub proxy_config: &'a Value,
}

/// The first tainted span not held by one scalar, as a message naming the
/// pod field it came from.
pub fn check(
    rendered: &Rendered,
    scalars: &yaml_tree::Spans,
    sources: &Sources<'_>,
) -> Result<(), String> {
    let Some(escape) = rendered
        .taint
        .iter()
        .find(|span| !span.range.is_empty() && !scalars.holds(span.range.clone()))
    else {
        return Ok(());
    };
    Err(format!(
        "the value of {} changes the structure of the rendered YAML ({:?} does not stay inside one value)",
        describe(escape.origin, sources),
        excerpt(rendered, escape)
    ))
}

/// The pod string most likely to have broken the rendered YAML where the
/// reader stopped (1-based `line`, `col` in characters): one that holds
/// that point, else the last one before it on its line.
pub fn blame(
    rendered: &Rendered,
    line: usize,
    col: usize,
    sources: &Sources<'_>,
) -> Option<String> {
    let text = &rendered.text;
    let line_start = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum::<usize>();
    let line_text = text.get(line_start..)?.split('\n').next().unwrap_or("");
    let offset = line_start
        + line_text
            .char_indices()
            .nth(col.saturating_sub(1))
            .map_or(line_text.len(), |(i, _)| i);
    let spans = rendered.taint.iter().filter(|s| !s.range.is_empty());
    let holding = spans
        .clone()
        .find(|s| s.range.start <= offset && offset <= s.range.end);
    let before = spans
        .rev()
        .find(|s| s.range.start < offset && s.range.end >= line_start);
    let span = holding.or(before)?;
    Some(format!(
        "the value of {} breaks the rendered YAML ({:?} does not stay inside one value)",
        describe(span.origin, sources),
        excerpt(rendered, span)
    ))
}

/// The offending text, shortened.
fn excerpt(rendered: &Rendered, span: &Span) -> String {
    let text = rendered.text.get(span.range.clone()).unwrap_or("");
    let mut excerpt: String = text.chars().take(60).collect();
    if excerpt.len() < text.len() {
        excerpt.push('…');
    }
    excerpt
}

/// The pod field an origin points at: `annotation "x"`, `label "x"`,
/// `metadata.name`, `spec.containers[0].name`, or the proxy config
/// annotation.
fn describe(origin: Origin, sources: &Sources<'_>) -> String {
    if let Some(pointer) = locate(sources.metadata, origin) {
        let mut parts = pointer.trim_start_matches('/').splitn(2, '/');
        let (field, key) = (parts.next().unwrap_or(""), parts.next());
        let key = key.map(unescape);
        return match (field, key) {
            ("annotations", Some(key)) => format!("annotation {key:?}"),
            ("labels", Some(key)) => format!("label {key:?}"),
            _ => format!("metadata{}", dotted(&pointer)),
        };
    }
    if let Some(pointer) = locate(sources.spec, origin) {
        return format!("spec{}", dotted(&pointer));
    }
    if locate(sources.proxy_config, origin).is_some() {
        return format!("annotation {:?}", crate::annotations::PROXY_CONFIG);
    }
    "a pod field".to_string()
}

/// A JSON pointer as `.a.b[0].c`.
fn dotted(pointer: &str) -> String {
    pointer
        .split('/')
        .skip(1)
        .map(|part| {
            let part = unescape(part);
            if part.chars().all(|c| c.is_ascii_digit()) && !part.is_empty() {
                format!("[{part}]")
            } else {
                format!(".{part}")
            }
        })
        .collect()
}

fn unescape(part: &str) -> String {
    part.replace("~1", "/").replace("~0", "~")
}
