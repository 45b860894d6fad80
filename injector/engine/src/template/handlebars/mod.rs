//! The handlebars dialect, ours: strict mode, Istio-like helpers, and every
//! `{{ }}` written as a quoted YAML scalar, so pod strings can never change
//! the structure of what a template renders ([`escape`]).

mod escape;
mod helpers;
mod reads;

use std::collections::BTreeMap;

use handlebars::{Context, Handlebars};
use serde_json::{Value, json};

pub use escape::yaml_quoted;

pub use reads::MetadataReads;

use super::data::{PROXY_GID, PROXY_UID, PodData, TemplateInputs};

/// The compiled handlebars templates of one configuration.
pub struct Registry {
    registry: Handlebars<'static>,
    /// Boxed: it is large, and only looked at once per render.
    reads: Box<MetadataReads>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.registry.get_templates().keys())
            .finish()
    }
}

/// Why a handlebars template failed, with its line and column when known.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Error(String);

impl Registry {
    /// Compiles every template. Strict mode: a template that reads a field
    /// the data does not have fails instead of rendering an empty string.
    pub fn compile(sources: &BTreeMap<String, String>) -> Result<Self, (String, Error)> {
        let mut registry = Handlebars::new();
        registry.set_strict_mode(true);
        registry.register_escape_fn(escape::yaml_quoted);
        helpers::register(&mut registry);
        for (name, source) in sources {
            registry
                .register_template_string(name, source)
                .map_err(|e| (name.clone(), Error(e.to_string())))?;
        }
        let reads = MetadataReads::of(sources.values().map(String::as_str));
        Ok(Registry {
            registry,
            reads: Box::new(reads),
        })
    }

    /// What of the pod's labels and annotations the templates can read.
    pub fn metadata_reads(&self) -> &MetadataReads {
        &self.reads
    }

    /// Renders template `name` to YAML text.
    pub fn render(&self, name: &str, context: &Context) -> Result<String, Error> {
        self.registry
            .render_with_context(name, context)
            .map_err(|e| Error(render_error_message(&e)))
    }
}

/// The handlebars context: the per-pod data plus what every pod of the
/// configuration shares, under Istio's top-level names.
pub fn context(
    inputs: &TemplateInputs,
    pod_data: &PodData<'_>,
) -> Result<Context, serde_json::Error> {
    let mut data = serde_json::to_value(pod_data)?;
    // Our templates read the proxy's hold from the proxy config alone.
    if inputs.hold_application(&pod_data.proxy_config) {
        data["ProxyConfig"]["holdApplicationUntilProxyStarts"] = Value::Bool(true);
    }
    if let Value::Object(data) = &mut data {
        data.insert("Values".into(), inputs.values().clone());
        data.insert("MeshConfig".into(), inputs.mesh().clone());
        data.insert("Revision".into(), json!(inputs.revision()));
        data.insert("ProxyUID".into(), json!(PROXY_UID));
        data.insert("ProxyGID".into(), json!(PROXY_GID));
    }
    Ok(Context::from(data))
}

fn render_error_message(e: &handlebars::RenderError) -> String {
    let mut message = e.reason().to_string();
    if let (Some(line), Some(col)) = (e.line_no, e.column_no) {
        message.push_str(&format!(" (line {line}, column {col})"));
    }
    message
}
