//! Rendering: templates compiled once per configuration turn the template
//! [`data`] into partial pods ("fragments"), which the merge step folds
//! into the pod.
//!
//! One submodule per template dialect: [`handlebars`] (ours) and [`go`]
//! (Istio's). Each renders YAML text; this module parses and checks that
//! text the same way for both, and for Go also checks that no pod string
//! changed its structure ([`safety`]).

pub mod data;
pub mod go;
pub mod handlebars;
mod multus;
mod safety;

use serde_json::Value;

use crate::config::{Dialect, InjectConfig};
use data::{PodData, TemplateInputs};

/// Why a template could not be compiled or rendered.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("template {name:?} does not compile: {message}")]
    Compile { name: String, message: String },
    #[error("template {name:?} failed to render: {message}")]
    Render { name: String, message: String },
    #[error("template {name:?} rendered invalid YAML: {message}")]
    Yaml { name: String, message: String },
    #[error("template {name:?} did not render a pod fragment: {message}")]
    NotAPodFragment { name: String, message: String },
    #[error("template {name:?}: {message}")]
    Unsafe { name: String, message: String },
    #[error("cannot build the template data: {0}")]
    Data(serde_json::Error),
}

/// The compiled templates of one configuration, in its dialect.
#[derive(Debug)]
pub enum Templates {
    Handlebars(handlebars::Registry),
    Go(go::Registry),
}

impl Templates {
    /// Compiles every template in `dialect` (as the configuration's
    /// [`InjectConfig::dialect`] chose it).
    pub fn compile(
        config: &InjectConfig,
        dialect: Dialect,
        inputs: &TemplateInputs,
    ) -> Result<Self, TemplateError> {
        let compile_error =
            |name: String, message: String| TemplateError::Compile { name, message };
        match dialect {
            Dialect::Handlebars => handlebars::Registry::compile(&config.templates)
                .map(Templates::Handlebars)
                .map_err(|(name, e)| compile_error(name, e.to_string())),
            Dialect::Go => go::Registry::compile(&config.templates, inputs.environment())
                .map(Templates::Go)
                .map_err(|(name, message)| compile_error(name, message)),
        }
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            Templates::Handlebars(_) => Dialect::Handlebars,
            Templates::Go(_) => Dialect::Go,
        }
    }

    /// The pod's metadata as the templates may see it: for handlebars
    /// templates that read labels and annotations by literal key only,
    /// just those keys (see [`handlebars::MetadataReads`]), so pods that
    /// differ elsewhere render alike; otherwise all of it.
    pub fn visible_metadata<'v>(&self, metadata: &'v Value) -> std::borrow::Cow<'v, Value> {
        match self {
            Templates::Handlebars(registry) => registry.metadata_reads().project(metadata),
            Templates::Go(_) => std::borrow::Cow::Borrowed(metadata),
        }
    }

    /// Renders each of `names` for one pod and parses the results as pod
    /// fragments: mappings with at most `metadata` and `spec`.
    pub fn render(
        &self,
        names: &[String],
        inputs: &TemplateInputs,
        pod: &PodData<'_>,
    ) -> Result<Vec<Value>, TemplateError> {
        match self {
            Templates::Handlebars(registry) => {
                let context = handlebars::context(inputs, pod).map_err(TemplateError::Data)?;
                names
                    .iter()
                    .map(|name| {
                        let text =
                            registry
                                .render(name, &context)
                                .map_err(|e| TemplateError::Render {
                                    name: name.clone(),
                                    message: e.to_string(),
                                })?;
                        // Every `{{x}}` is a quoted scalar by construction,
                        // so the spans are not needed: only the speed.
                        let (fragment, _) = read_rendered(name, &text)?;
                        check_fragment(name, fragment)
                    })
                    .collect()
            }
            Templates::Go(registry) => {
                let images = go::Images::new(inputs.values(), pod.object_meta);
                let data = go::data(inputs, pod, &images);
                let sources = safety::Sources {
                    metadata: pod.object_meta,
                    spec: pod.spec,
                    proxy_config: &pod.proxy_config,
                };
                names
                    .iter()
                    .map(|name| render_go(registry, name, &data, &sources))
                    .collect()
            }
        }
    }
}

/// Renders one Go template, reads the YAML with its scalar spans, checks
/// that pod strings stayed inside scalars, and checks the fragment.
fn render_go(
    registry: &go::Registry,
    name: &str,
    data: &gotemplate::Value<'_>,
    sources: &safety::Sources<'_>,
) -> Result<Value, TemplateError> {
    let render_error = |message: String| TemplateError::Render {
        name: name.to_string(),
        message,
    };
    let template = registry
        .get(name)
        .ok_or_else(|| render_error("no such template".into()))?;
    let rendered = template
        .execute(data)
        .map_err(|e| render_error(e.to_string()))?;
    let yaml_error = |message: String| TemplateError::Yaml {
        name: name.to_string(),
        message,
    };
    let fragment = match yaml_tree::parse(&rendered.text) {
        Ok(document) => {
            safety::check(&rendered, &document.spans, sources).map_err(|message| {
                TemplateError::Unsafe {
                    name: name.to_string(),
                    message,
                }
            })?;
            document.value
        }
        // YAML outside the fast reader's subset: only the full parser reads
        // it, and without spans the check cannot vouch for pod strings in it.
        Err(yaml_tree::Error::Unsupported { .. }) if rendered.taint.is_empty() => {
            crate::yaml::parse(&rendered.text).map_err(|e| yaml_error(e.to_string()))?
        }
        Err(e @ yaml_tree::Error::Unsupported { .. }) => {
            let message = match safety::blame(&rendered, e.line(), e.col(), sources) {
                Some(culprit) => format!("{culprit}: {e}"),
                None => format!(
                    "the rendered YAML holds pod strings in a construct whose structure cannot be checked ({e})"
                ),
            };
            return Err(TemplateError::Unsafe {
                name: name.to_string(),
                message,
            });
        }
        Err(e) => {
            return Err(match safety::blame(&rendered, e.line(), e.col(), sources) {
                Some(message) => TemplateError::Unsafe {
                    name: name.to_string(),
                    message: format!("{message}: {e}"),
                },
                None => yaml_error(e.to_string()),
            });
        }
    };
    check_fragment(name, fragment)
}

/// Reads rendered YAML: with the fast reader, which also gives each
/// scalar's span, or, for YAML outside its subset (anchors, tags...), with
/// the full parser and no spans. Both read the same text to the same value.
fn read_rendered(
    name: &str,
    text: &str,
) -> Result<(Value, Option<yaml_tree::Spans>), TemplateError> {
    let yaml_error = |message: String| TemplateError::Yaml {
        name: name.to_string(),
        message,
    };
    match yaml_tree::parse(text) {
        Ok(document) => Ok((document.value, Some(document.spans))),
        Err(yaml_tree::Error::Unsupported { .. }) => crate::yaml::parse(text)
            .map(|value| (value, None))
            .map_err(|e| yaml_error(e.to_string())),
        Err(e) => Err(yaml_error(e.to_string())),
    }
}

fn check_fragment(name: &str, fragment: Value) -> Result<Value, TemplateError> {
    let not_a_pod = |message: String| TemplateError::NotAPodFragment {
        name: name.to_string(),
        message,
    };
    let object = match fragment {
        Value::Null => return Ok(Value::Object(Default::default())),
        Value::Object(o) => o,
        other => {
            return Err(not_a_pod(format!(
                "expected a mapping, got {}",
                kind(&other)
            )));
        }
    };
    for (key, value) in &object {
        match key.as_str() {
            "metadata" | "spec" if value.is_object() || value.is_null() => {}
            "metadata" | "spec" => {
                return Err(not_a_pod(format!(
                    "{key} must be a mapping, got {}",
                    kind(value)
                )));
            }
            other => {
                return Err(not_a_pod(format!(
                    "unexpected top-level key {other:?} (only metadata and spec)"
                )));
            }
        }
    }
    Ok(Value::Object(object))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use ::handlebars::Context;
    use serde_json::json;

    struct Compiled(handlebars::Registry);

    impl Compiled {
        fn render(&self, name: &str, context: &Context) -> Result<Value, TemplateError> {
            let text = self
                .0
                .render(name, context)
                .map_err(|e| TemplateError::Render {
                    name: name.into(),
                    message: e.to_string(),
                })?;
            let fragment = crate::yaml::parse(&text).map_err(|e| TemplateError::Yaml {
                name: name.into(),
                message: e.to_string(),
            })?;
            check_fragment(name, fragment)
        }
    }

    fn compile(src: &str) -> Result<Compiled, TemplateError> {
        handlebars::Registry::compile(&BTreeMap::from([("t".to_string(), src.to_string())]))
            .map(Compiled)
            .map_err(|(name, e)| TemplateError::Compile {
                name,
                message: e.to_string(),
            })
    }

    fn data(value: Value) -> Context {
        Context::from(value)
    }

    #[test]
    fn interpolation_is_quoted_and_int_is_checked() {
        let t = compile("spec:\n  a: {{x}}\n  b: {{int n}}\n  c: {{quote n}}\n").unwrap();
        let ctx = data(json!({"x": "v: 1\n- y", "n": 7}));
        assert_eq!(
            t.render("t", &ctx).unwrap(),
            json!({"spec": {"a": "v: 1\n- y", "b": 7, "c": "7"}})
        );
        let ctx = data(json!({"x": "", "n": "7\nz: 1"}));
        let err = t.render("t", &ctx).unwrap_err().to_string();
        assert!(err.contains("not an integer"), "{err}");
    }

    #[test]
    fn strict_mode_reports_missing_fields() {
        let t = compile("spec:\n  a: {{missing.field}}\n").unwrap();
        let err = t.render("t", &data(json!({}))).unwrap_err();
        assert!(matches!(err, TemplateError::Render { .. }), "{err}");
    }

    #[test]
    fn rejects_non_fragments() {
        let t = compile("kind: Pod\n").unwrap();
        assert!(matches!(
            t.render("t", &data(json!({}))),
            Err(TemplateError::NotAPodFragment { .. })
        ));
        let t = compile("- a\n").unwrap();
        assert!(t.render("t", &data(json!({}))).is_err());
        assert!(matches!(
            compile("{{#if}}"),
            Err(TemplateError::Compile { .. })
        ));
    }
}
