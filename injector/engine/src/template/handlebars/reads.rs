//! Which of a pod's labels and annotations handlebars templates can read.
//!
//! A rollout's new pods differ from the last ones in a label the templates
//! never look at (`pod-template-hash`), and so do most pods of different
//! workloads. When every read of `ObjectMeta.labels` and
//! `ObjectMeta.annotations` in the templates names its key literally
//! (`index ObjectMeta.labels "app"`, `isset ObjectMeta.annotations "a"`,
//! `annotation ObjectMeta "sidecar.istio.io/logLevel" ...`),
//! the templates are given only those keys: the rendering provably cannot
//! depend on the others, so pods that differ only there share one render
//! (and one entry of the render cache).
//!
//! The scan is of the template text and errs on the side of "all": any
//! other mention of `ObjectMeta`, and any way to reach the root context
//! whole (`@root`, a bare `this` outside `#each`/`#with`, `..`), gives the
//! templates every label and annotation, as without this module.

use std::borrow::Cow;
use std::collections::BTreeSet;

use serde_json::{Map, Value};

/// The keys of one map the templates can read.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Keys {
    All,
    Only(BTreeSet<String>),
}

impl Keys {
    fn add(&mut self, key: &str) {
        if let Keys::Only(keys) = self {
            keys.insert(key.to_string());
        }
    }
}

/// What of `ObjectMeta.labels` and `ObjectMeta.annotations` the templates
/// can read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetadataReads {
    labels: Keys,
    annotations: Keys,
}

impl MetadataReads {
    /// Everything: the templates may read any label or annotation.
    fn all() -> Self {
        MetadataReads {
            labels: Keys::All,
            annotations: Keys::All,
        }
    }

    /// Scans the template sources.
    pub fn of<'a>(sources: impl IntoIterator<Item = &'a str>) -> Self {
        let mut reads = MetadataReads {
            labels: Keys::Only(BTreeSet::new()),
            annotations: Keys::Only(BTreeSet::new()),
        };
        for source in sources {
            if reaches_root(source) || !reads.scan(source) {
                return MetadataReads::all();
            }
        }
        reads
    }

    /// Records the literal reads in `source`; false when a mention of
    /// `ObjectMeta` is not one of the recognized forms.
    fn scan(&mut self, source: &str) -> bool {
        const NAME: &str = "ObjectMeta";
        let mut from = 0;
        while let Some(found) = source[from..].find(NAME) {
            let start = from + found;
            let end = start + NAME.len();
            from = end;
            let (before, after) = (&source[..start], &source[end..]);
            if before.ends_with(is_ident) || after.starts_with(is_ident) {
                continue; // part of a longer name
            }
            let field = after
                .strip_prefix('.')
                .map(|rest| &rest[..rest.find(|c: char| !is_ident(c)).unwrap_or(rest.len())]);
            let ok = match field {
                Some(map @ ("labels" | "annotations")) => {
                    let rest = &after[1 + map.len()..];
                    let keys = if map == "labels" {
                        &mut self.labels
                    } else {
                        &mut self.annotations
                    };
                    // The helpers that read one key of a map.
                    let one_key =
                        matches!(helper_before(before), Some("index" | "isset" | "lookup"));
                    match (one_key, literal_after(rest)) {
                        (true, Some(key)) => {
                            keys.add(key);
                            true
                        }
                        _ => false,
                    }
                }
                // Another field (name, namespace...): always given whole.
                Some(other) if !other.is_empty() => true,
                _ => match (helper_before(before), literal_after(after)) {
                    (Some("annotation"), Some(key)) => {
                        self.annotations.add(key);
                        true
                    }
                    _ => false,
                },
            };
            if !ok {
                return false;
            }
        }
        true
    }

    /// `metadata` with its labels and annotations reduced to what the
    /// templates can read.
    pub fn project<'v>(&self, metadata: &'v Value) -> Cow<'v, Value> {
        if self.labels == Keys::All && self.annotations == Keys::All {
            return Cow::Borrowed(metadata);
        }
        let Value::Object(fields) = metadata else {
            return Cow::Borrowed(metadata);
        };
        let mut projected = Map::new();
        for (field, value) in fields {
            let keys = match field.as_str() {
                "labels" => &self.labels,
                "annotations" => &self.annotations,
                _ => &Keys::All,
            };
            let value = match (keys, value) {
                (Keys::Only(keys), Value::Object(map)) => Value::Object(
                    map.iter()
                        .filter(|(k, _)| keys.contains(k.as_str()))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                ),
                _ => value.clone(),
            };
            projected.insert(field.clone(), value);
        }
        Cow::Owned(Value::Object(projected))
    }
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// The helper whose first argument starts here: `(index ` or `{{annotation `.
fn helper_before(before: &str) -> Option<&str> {
    let trimmed = before.trim_end();
    if trimmed.len() == before.len() {
        return None; // no space between helper and argument
    }
    let start = trimmed.rfind(|c: char| !is_ident(c)).map_or(0, |i| i + 1);
    let opener = trimmed[..start].trim_end();
    (opener.ends_with('(') || opener.ends_with("{{") || opener.ends_with("{{~"))
        .then_some(&trimmed[start..])
}

/// The string literal that follows as the next argument: `"app"`.
fn literal_after(after: &str) -> Option<&str> {
    let rest = after.strip_prefix(char::is_whitespace)?.trim_start();
    let body = rest.strip_prefix('"')?;
    let end = body.find('"')?;
    let literal = &body[..end];
    (!literal.contains('\\')).then_some(literal)
}

/// Whether `source` can reach the root context whole: `@root` not followed
/// by a field, `..` not followed by a path, or `this` outside any
/// `#each`/`#with` (inside a partial too: it may be called at the root).
fn reaches_root(source: &str) -> bool {
    let mut depth = 0usize;
    let mut rest = source;
    while let Some(open) = rest.find("{{") {
        let tag_start = &rest[open + 2..];
        let Some(close) = tag_start.find("}}") else {
            return true;
        };
        let tag = tag_start[..close].trim_start_matches('~').trim();
        rest = &tag_start[close + 2..];
        let scoped = |block: &str| block.starts_with("each") || block.starts_with("with");
        match (tag.strip_prefix('#'), tag.strip_prefix('/')) {
            (Some(block), _) if scoped(block) => depth += 1,
            (_, Some(block)) if scoped(block) => depth = depth.saturating_sub(1),
            _ => {}
        }
        if tag.starts_with('!') {
            continue; // a comment
        }
        for word in tag.split(|c: char| c.is_whitespace() || "()=".contains(c)) {
            let bare_root = word == "@root" || word.starts_with("@root/");
            let bare_parent = word == ".." || word == "../";
            let bare_this = depth == 0 && (word == "this" || word == "." || word == "./");
            if bare_root || bare_parent || bare_this {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reads(source: &str) -> MetadataReads {
        MetadataReads::of([source])
    }

    fn only(keys: &[&str]) -> Keys {
        Keys::Only(keys.iter().map(|k| k.to_string()).collect())
    }

    #[test]
    fn literal_reads_are_collected() {
        let r = reads(
            r#"a: {{default "x" (index ObjectMeta.labels "app")}}
b: {{annotation ObjectMeta "sidecar.istio.io/logLevel" Values.x}}
c: {{ObjectMeta.name}}
{{#if (index ObjectMeta.annotations "k8s.v1.cni.cncf.io/networks")}}d: 1{{/if}}
{{#if (isset ObjectMeta.annotations "x")}}e: 1{{/if}}
{{#each Spec.containers}}- {{this.name}}{{/each}}"#,
        );
        assert_eq!(r.labels, only(&["app"]));
        assert_eq!(
            r.annotations,
            only(&[
                "sidecar.istio.io/logLevel",
                "k8s.v1.cni.cncf.io/networks",
                "x"
            ])
        );
        let meta = json!({"name": "p", "labels": {"app": "a", "seq": "1"},
                          "annotations": {"other": "x"}, "ownerReferences": []});
        assert_eq!(
            *r.project(&meta),
            json!({"name": "p", "labels": {"app": "a"}, "annotations": {}, "ownerReferences": []})
        );
    }

    #[test]
    fn any_other_way_in_reads_everything() {
        for source in [
            "{{json ObjectMeta}}",
            "{{json ObjectMeta.labels}}",
            "{{#each ObjectMeta.labels}}{{@key}}{{/each}}",
            "{{index ObjectMeta.labels someKey}}",
            "{{lookup ObjectMeta.annotations a}}",
            "{{ObjectMeta.labels.app}}",
            "{{index ObjectMeta.labels \"a\\\"b\"}}",
            "{{annotation ObjectMeta key}}",
            "{{json @root}}",
            "{{json this}}",
            "{{#each Spec.containers}}{{json ..}}{{/each}}",
            "{{#*inline \"p\"}}{{json this}}{{/inline}}",
            "{{#with ObjectMeta}}{{labels.app}}{{/with}}",
        ] {
            assert_eq!(reads(source), MetadataReads::all(), "{source}");
        }
        let meta = json!({"labels": {"a": "1"}});
        assert!(matches!(
            MetadataReads::all().project(&meta),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn the_embedded_templates_read_literal_keys_only() {
        let config = crate::RawConfig::embedded().parse().unwrap();
        let r = MetadataReads::of(config.inject.templates.values().map(String::as_str));
        assert!(
            matches!(&r.labels, Keys::Only(keys) if keys.contains("app")),
            "{r:?}"
        );
        assert!(matches!(r.annotations, Keys::Only(_)), "{r:?}");
    }
}
