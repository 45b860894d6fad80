//! Rendering: templates compiled once per configuration turn the template
//! [`data`] into partial pods ("fragments"), which the merge step folds
//! into the pod.
//!
//! One submodule per template dialect; each renders YAML text, and this
//! module parses and checks that text the same way for all of them.

pub mod data;
pub mod handlebars;

use std::collections::BTreeMap;

use serde_json::Value;

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
    #[error("cannot build the template data: {0}")]
    Data(serde_json::Error),
}

/// The compiled templates of one configuration.
#[derive(Debug)]
pub struct Templates {
    handlebars: handlebars::Registry,
}

/// The data one pod's templates render with, built once per pod for all
/// the templates it selects.
pub struct RenderData {
    handlebars: ::handlebars::Context,
}

impl Templates {
    /// Compiles every template.
    pub fn compile(sources: &BTreeMap<String, String>) -> Result<Self, TemplateError> {
        let handlebars =
            handlebars::Registry::compile(sources).map_err(|(name, e)| TemplateError::Compile {
                name,
                message: e.to_string(),
            })?;
        Ok(Templates { handlebars })
    }

    /// The data for one pod.
    pub fn data(
        &self,
        inputs: &TemplateInputs,
        pod: &PodData<'_>,
    ) -> Result<RenderData, TemplateError> {
        let handlebars = handlebars::context(inputs, pod).map_err(TemplateError::Data)?;
        Ok(RenderData { handlebars })
    }

    /// Renders template `name` and parses the result as a pod fragment: a
    /// mapping with at most `metadata` and `spec`.
    pub fn render(&self, name: &str, data: &RenderData) -> Result<Value, TemplateError> {
        let text = self
            .handlebars
            .render(name, &data.handlebars)
            .map_err(|e| TemplateError::Render {
                name: name.to_string(),
                message: e.to_string(),
            })?;
        let fragment: Value = crate::yaml::parse(&text).map_err(|e| TemplateError::Yaml {
            name: name.to_string(),
            message: e.to_string(),
        })?;
        check_fragment(name, fragment)
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
    use super::*;
    use ::handlebars::Context;
    use serde_json::json;

    fn compile(src: &str) -> Result<Templates, TemplateError> {
        Templates::compile(&BTreeMap::from([("t".to_string(), src.to_string())]))
    }

    fn data(value: Value) -> RenderData {
        RenderData {
            handlebars: Context::from(value),
        }
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
