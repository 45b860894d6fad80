//! The `config` key of the `istio-sidecar-injector` ConfigMap: policy,
//! selectors, annotations to add, and the templates.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{ConfigError, Origin};

/// Whether pods are injected when nothing else decides.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    #[default]
    Enabled,
    Disabled,
}

/// The `config` key of the `istio-sidecar-injector` ConfigMap.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InjectConfig {
    #[serde(default)]
    pub policy: Policy,
    #[serde(default)]
    pub always_inject_selector: Vec<LabelSelector>,
    #[serde(default)]
    pub never_inject_selector: Vec<LabelSelector>,
    /// Annotations added to every injected pod.
    #[serde(default)]
    pub injected_annotations: BTreeMap<String, String>,
    #[serde(default = "default_templates")]
    pub default_templates: Vec<String>,
    /// Template name to template source.
    #[serde(default)]
    pub templates: BTreeMap<String, String>,
    /// Alias name to the template names it stands for.
    #[serde(default)]
    pub aliases: BTreeMap<String, Vec<String>>,
    /// Keys the engine does not act on, kept for templates and round trips.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn default_templates() -> Vec<String> {
    vec!["sidecar".to_string()]
}

impl InjectConfig {
    /// Checks the references between fields: every default template and
    /// every alias target must name a template.
    pub(super) fn check(&self, origin: &Origin) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            origin: origin.clone(),
            message,
        };
        if self.templates.is_empty() {
            return Err(invalid("no templates defined".into()));
        }
        for name in &self.default_templates {
            if !self.templates.contains_key(name) && !self.aliases.contains_key(name) {
                return Err(invalid(format!(
                    "defaultTemplates names {name:?}, which is not a template (templates: {})",
                    self.template_names()
                )));
            }
        }
        for (alias, targets) in &self.aliases {
            if let Some(missing) = targets.iter().find(|t| !self.templates.contains_key(*t)) {
                return Err(invalid(format!(
                    "alias {alias:?} names {missing:?}, which is not a template (templates: {})",
                    self.template_names()
                )));
            }
        }
        Ok(())
    }

    /// The known template names, comma-separated, for error messages.
    pub fn template_names(&self) -> String {
        self.templates
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    }
}
