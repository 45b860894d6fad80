//! Rendering: handlebars templates, compiled once per configuration, that
//! turn the template data into partial pods.

mod data;
mod escape;
mod helpers;

use std::collections::BTreeMap;

use handlebars::{Context, Handlebars};
use serde_json::Value;

pub use data::{DataError, PodData, TemplateData, TemplateInputs};
pub use escape::yaml_quoted;

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
}

/// The compiled templates of one configuration.
pub struct Templates {
    registry: Handlebars<'static>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates")
            .field(
                "names",
                &self.registry.get_templates().keys().collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Templates {
    /// Compiles every template. Strict mode: a template that reads a field
    /// the data does not have fails instead of rendering an empty string.
    pub fn compile(sources: &BTreeMap<String, String>) -> Result<Self, TemplateError> {
        let mut registry = Handlebars::new();
        registry.set_strict_mode(true);
        registry.register_escape_fn(escape::yaml_quoted);
        helpers::register(&mut registry);
        for (name, source) in sources {
            registry
                .register_template_string(name, source)
                .map_err(|e| TemplateError::Compile {
                    name: name.clone(),
                    message: e.to_string(),
                })?;
        }
        Ok(Templates { registry })
    }

    /// Renders template `name` and parses the result as a pod fragment: a
    /// mapping with at most `metadata` and `spec`.
    pub fn render(&self, name: &str, data: &Context) -> Result<Value, TemplateError> {
        let text =
            self.registry
                .render_with_context(name, data)
                .map_err(|e| TemplateError::Render {
                    name: name.to_string(),
                    message: render_error_message(&e),
                })?;
        let fragment: Value = crate::yaml::parse(&text).map_err(|e| TemplateError::Yaml {
            name: name.to_string(),
            message: e.to_string(),
        })?;
        check_fragment(name, fragment)
    }
}

fn render_error_message(e: &handlebars::RenderError) -> String {
    let mut message = e.reason().to_string();
    if let (Some(line), Some(col)) = (e.line_no, e.column_no) {
        message.push_str(&format!(" (line {line}, column {col})"));
    }
    message
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
    use serde_json::json;

    fn compile(src: &str) -> Result<Templates, TemplateError> {
        Templates::compile(&BTreeMap::from([("t".to_string(), src.to_string())]))
    }

    #[test]
    fn interpolation_is_quoted_and_int_is_checked() {
        let t = compile("spec:\n  a: {{x}}\n  b: {{int n}}\n  c: {{quote n}}\n").unwrap();
        let ctx = Context::from(json!({"x": "v: 1\n- y", "n": 7}));
        assert_eq!(
            t.render("t", &ctx).unwrap(),
            json!({"spec": {"a": "v: 1\n- y", "b": 7, "c": "7"}})
        );
        let ctx = Context::from(json!({"x": "", "n": "7\nz: 1"}));
        let err = t.render("t", &ctx).unwrap_err().to_string();
        assert!(err.contains("not an integer"), "{err}");
    }

    #[test]
    fn strict_mode_reports_missing_fields() {
        let t = compile("spec:\n  a: {{missing.field}}\n").unwrap();
        let err = t.render("t", &Context::from(json!({}))).unwrap_err();
        assert!(matches!(err, TemplateError::Render { .. }), "{err}");
    }

    #[test]
    fn rejects_non_fragments() {
        let t = compile("kind: Pod\n").unwrap();
        assert!(matches!(
            t.render("t", &Context::from(json!({}))),
            Err(TemplateError::NotAPodFragment { .. })
        ));
        let t = compile("- a\n").unwrap();
        assert!(t.render("t", &Context::from(json!({}))).is_err());
        assert!(matches!(
            compile("{{#if}}"),
            Err(TemplateError::Compile { .. })
        ));
    }
}
