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
    #[serde(default, deserialize_with = "null_as_default")]
    pub policy: Policy,
    #[serde(default, deserialize_with = "null_as_default")]
    pub always_inject_selector: Vec<LabelSelector>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub never_inject_selector: Vec<LabelSelector>,
    /// Annotations added to every injected pod.
    #[serde(default, deserialize_with = "null_as_default")]
    pub injected_annotations: BTreeMap<String, String>,
    #[serde(
        default = "default_templates",
        deserialize_with = "null_as_default_templates"
    )]
    pub default_templates: Vec<String>,
    /// Template name to template source.
    #[serde(default, deserialize_with = "null_as_default")]
    pub templates: BTreeMap<String, String>,
    /// Alias name to the template names it stands for.
    #[serde(default, deserialize_with = "null_as_default")]
    pub aliases: BTreeMap<String, Vec<String>>,
    /// The templates' language; by default the one they are written in
    /// (see [`InjectConfig::dialect`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_dialect: Option<Dialect>,
    /// Keys the engine does not act on, kept for templates and round trips.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The language of the templates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// Go's text/template with sprig and Istio's functions over Istio's data
    /// model: what every Istio installation's ConfigMap holds.
    Go,
    /// Ours: every `{{x}}` a quoted YAML scalar.
    Handlebars,
}

impl Dialect {
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Go => "go",
            Dialect::Handlebars => "handlebars",
        }
    }
}

/// How the dialect was decided, for status and logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialectReason {
    /// `templateDialect` says so.
    Declared,
    /// A template opens a handlebars block (`{{#if}}`, `{{#each}}`...),
    /// which Go's templates cannot contain.
    HandlebarsBlock,
    /// Neither: Go, as in Istio's ConfigMap.
    Default,
}

impl std::fmt::Display for DialectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DialectReason::Declared => "declared by templateDialect",
            DialectReason::HandlebarsBlock => "a template opens a handlebars block",
            DialectReason::Default => {
                "no templateDialect and no handlebars block, as in Istio's ConfigMap"
            }
        })
    }
}

fn default_templates() -> Vec<String> {
    vec!["sidecar".to_string()]
}

/// A key written with no value (`injectedAnnotations:` as Istio's chart
/// renders it) is null in YAML, and means the default.
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn null_as_default_templates<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_else(default_templates))
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

    /// The dialect of the templates, and why: `templateDialect` when set;
    /// otherwise handlebars when any template opens a handlebars block
    /// (`{{#`, or `{{~#`), which is a syntax error in Go; otherwise Go,
    /// so Istio's ConfigMap works without an extra key.
    pub fn dialect(&self) -> (Dialect, DialectReason) {
        if let Some(declared) = self.template_dialect {
            return (declared, DialectReason::Declared);
        }
        let block = |t: &String| t.contains("{{#") || t.contains("{{~#");
        if self.templates.values().any(block) {
            (Dialect::Handlebars, DialectReason::HandlebarsBlock)
        } else {
            (Dialect::Go, DialectReason::Default)
        }
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
