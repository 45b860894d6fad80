//! The oracle: serde-saphyr set up as the engine sets it up, and the rule
//! that ties this reader to it.

use serde_json::Value;
use yaml_tree::Error;

fn options() -> serde_saphyr::Options {
    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    options
}

/// What the reference parser reads from a one-document text.
pub fn reference(text: &str) -> Result<Value, String> {
    serde_saphyr::from_str_with_options(text, options()).map_err(|e| e.to_string())
}

/// What the reference parser reads from a stream, empty documents dropped
/// as the engine drops them.
pub fn reference_documents(text: &str) -> Result<Vec<Value>, String> {
    let docs: Vec<Value> =
        serde_saphyr::from_multiple_with_options(text, options()).map_err(|e| e.to_string())?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

/// How this reader's answer relates to the reference parser's.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Both read the same value.
    Same,
    /// Both refused the text.
    BothRefuse,
    /// This reader sent the text to a full parser (unsupported or over a limit).
    Deferred,
}

/// How this reader fared on a text read as one document and as a stream.
pub struct Verdicts {
    pub one: Verdict,
    pub stream: Verdict,
}

/// Compares this reader with the reference on one text, read as one
/// document and as a stream: the same value, or both an error, or a
/// deferral; anything else is a bug, returned as text.
pub fn compare(text: &str) -> Result<Verdicts, String> {
    let ours = yaml_tree::parse(text);
    let theirs = reference(text);
    let one = judge(ours.as_ref().map(|d| &d.value), theirs.as_ref(), text)?;
    if let Ok(document) = &ours {
        check_spans(text, document.spans.as_slice())?;
    }
    let ours = yaml_tree::parse_documents(text);
    let theirs = reference_documents(text);
    let stream = judge(ours.as_ref().map(|d| &d.values), theirs.as_ref(), text)?;
    if let Ok(documents) = &ours {
        check_spans(text, documents.spans.as_slice())?;
    }
    Ok(Verdicts { one, stream })
}

fn judge<T: PartialEq + std::fmt::Debug>(
    ours: Result<&T, &Error>,
    theirs: Result<&T, &String>,
    text: &str,
) -> Result<Verdict, String> {
    match (ours, theirs) {
        (Ok(a), Ok(b)) if a == b => Ok(Verdict::Same),
        (Err(Error::Unsupported { .. } | Error::Limit { .. }), _) => Ok(Verdict::Deferred),
        (Err(_), Err(_)) => Ok(Verdict::BothRefuse),
        (ours, theirs) => Err(format!(
            "{text:?}\n  ours:   {ours:?}\n  theirs: {theirs:?}"
        )),
    }
}

/// Spans are sorted, disjoint, on character boundaries, and within the text.
pub fn check_spans(text: &str, spans: &[std::ops::Range<usize>]) -> Result<(), String> {
    let mut end = 0;
    for span in spans {
        let ok = span.start >= end
            && span.start <= span.end
            && span.end <= text.len()
            && text.is_char_boundary(span.start)
            && text.is_char_boundary(span.end);
        if !ok {
            return Err(format!("{text:?}: bad span {span:?} in {spans:?}"));
        }
        end = span.end;
    }
    Ok(())
}
