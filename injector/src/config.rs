//! The injector's inputs: the `istio-sidecar-injector` ConfigMap (`config`,
//! `values`) and the `istio` ConfigMap (`mesh`).
//!
//! Each input can be given as a ConfigMap manifest or as the raw text of its
//! key, so the same loader serves `kube-inject` flags, a mounted ConfigMap
//! directory and the config server. Fields the engine acts on are typed; all
//! others are kept as JSON so templates can read them.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::yaml;

/// The ConfigMap key holding the injector policy and templates.
pub const CONFIG_KEY: &str = "config";
/// The ConfigMap key holding the free-form values (JSON).
pub const VALUES_KEY: &str = "values";
/// The ConfigMap key (in the `istio` ConfigMap) holding the mesh config.
pub const MESH_KEY: &str = "mesh";

/// The embedded default configuration: the files `deploy/base/config/*`, the
/// same ones the kustomize base turns into ConfigMaps.
pub mod embedded {
    /// Default `config` key: policy, selectors and the `sidecar` template.
    pub const CONFIG: &str = include_str!("../../deploy/base/config/config");
    /// Default `values` key.
    pub const VALUES: &str = include_str!("../../deploy/base/config/values");
    /// Default `mesh` key.
    pub const MESH: &str = include_str!("../../deploy/base/config/mesh");
}

/// Where an input text came from, for error messages and snapshot provenance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// A file path, `embedded`, or `configmap NAMESPACE/NAME`.
    pub source: String,
    /// The ConfigMap key the text was read from.
    pub key: String,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (key {:?})", self.source, self.key)
    }
}

/// One input text and where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Text {
    pub body: String,
    pub origin: Origin,
}

impl Text {
    pub fn new(body: impl Into<String>, source: impl Into<String>, key: &str) -> Self {
        Text {
            body: body.into(),
            origin: Origin {
                source: source.into(),
                key: key.to_string(),
            },
        }
    }
}

/// The three unparsed inputs, as a ConfigMap watch or a directory yields them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawConfig {
    pub config: Text,
    pub values: Text,
    pub mesh: Text,
}

/// Why the configuration could not be loaded. Every variant names the input.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{origin}: {message}")]
    Parse { origin: Origin, message: String },
    #[error("{origin}: {message}")]
    Invalid { origin: Origin, message: String },
    #[error("{path}: ConfigMap has no key {key:?} (keys: {keys})")]
    MissingKey {
        path: String,
        key: String,
        keys: String,
    },
    #[error("{dir}: no {key:?} file and no ConfigMap holding that key")]
    MissingInDir { dir: PathBuf, key: String },
}

impl RawConfig {
    /// The configuration compiled into the binary.
    pub fn embedded() -> Self {
        RawConfig {
            config: Text::new(embedded::CONFIG, "embedded", CONFIG_KEY),
            values: Text::new(embedded::VALUES, "embedded", VALUES_KEY),
            mesh: Text::new(embedded::MESH, "embedded", MESH_KEY),
        }
    }

    /// Loads the three inputs from files, each either a ConfigMap manifest
    /// holding the key or the raw key text. `None` takes the embedded default.
    pub fn from_files(
        config: Option<&Path>,
        values: Option<&Path>,
        mesh: Option<&Path>,
    ) -> Result<Self, ConfigError> {
        let defaults = RawConfig::embedded();
        let load = |path: Option<&Path>, key: &str, default: Text| match path {
            Some(p) => read_key_file(p, key),
            None => Ok(default),
        };
        Ok(RawConfig {
            config: load(config, CONFIG_KEY, defaults.config)?,
            values: load(values, VALUES_KEY, defaults.values)?,
            mesh: load(mesh, MESH_KEY, defaults.mesh)?,
        })
    }

    /// Loads a directory holding either the raw key files (`config`, `values`,
    /// `mesh`, as a mounted ConfigMap shows them) or ConfigMap manifests
    /// (`*.yaml`) holding those keys.
    pub fn from_dir(dir: &Path) -> Result<Self, ConfigError> {
        let read_err = |path: &Path, source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        };
        let mut found: BTreeMap<&str, Text> = BTreeMap::new();
        for key in [CONFIG_KEY, VALUES_KEY, MESH_KEY] {
            let path = dir.join(key);
            if path.is_file() {
                let body = std::fs::read_to_string(&path).map_err(|e| read_err(&path, e))?;
                found.insert(key, Text::new(body, path.display().to_string(), key));
            }
        }
        let mut manifests: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| read_err(dir, e))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| {
                p.is_file()
                    && matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
            })
            .collect();
        manifests.sort();
        for path in manifests {
            let body = std::fs::read_to_string(&path).map_err(|e| read_err(&path, e))?;
            let source = path.display().to_string();
            for doc in parse_manifests(&body, &source)? {
                if let Some(data) = configmap_data(&doc) {
                    for key in [CONFIG_KEY, VALUES_KEY, MESH_KEY] {
                        if let Some(text) = data.get(key).and_then(Value::as_str) {
                            found
                                .entry(key)
                                .or_insert_with(|| Text::new(text, source.clone(), key));
                        }
                    }
                }
            }
        }
        let mut take = |key: &str| {
            found.remove(key).ok_or_else(|| ConfigError::MissingInDir {
                dir: dir.to_path_buf(),
                key: key.to_string(),
            })
        };
        Ok(RawConfig {
            config: take(CONFIG_KEY)?,
            values: take(VALUES_KEY)?,
            mesh: take(MESH_KEY)?,
        })
    }

    /// Parses and checks the three inputs.
    pub fn parse(&self) -> Result<Config, ConfigError> {
        let inject: InjectConfig = parse_text(&self.config)?;
        inject.check(&self.config.origin)?;
        let values: Value = if self.values.body.trim().is_empty() {
            Value::Object(Map::new())
        } else {
            parse_text(&self.values)?
        };
        if !values.is_object() {
            return Err(ConfigError::Invalid {
                origin: self.values.origin.clone(),
                message: "values must be a JSON object".into(),
            });
        }
        let mesh: MeshConfig = if self.mesh.body.trim().is_empty() {
            MeshConfig::default()
        } else {
            parse_text(&self.mesh)?
        };
        Ok(Config {
            inject,
            values,
            mesh,
        })
    }
}

fn parse_text<T: serde::de::DeserializeOwned>(text: &Text) -> Result<T, ConfigError> {
    yaml::parse(&text.body).map_err(|e| ConfigError::Parse {
        origin: text.origin.clone(),
        message: e.to_string(),
    })
}

fn parse_manifests(body: &str, source: &str) -> Result<Vec<Value>, ConfigError> {
    yaml::parse_documents(body).map_err(|e| ConfigError::Parse {
        origin: Origin {
            source: source.to_string(),
            key: "(manifest)".into(),
        },
        message: e.to_string(),
    })
}

fn configmap_data(doc: &Value) -> Option<&Map<String, Value>> {
    (doc.get("kind")?.as_str()? == "ConfigMap")
        .then(|| doc.get("data")?.as_object())
        .flatten()
}

/// Reads a file that is either a ConfigMap manifest holding `key` or the raw
/// text of that key.
fn read_key_file(path: &Path, key: &str) -> Result<Text, ConfigError> {
    let body = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let source = path.display().to_string();
    // A raw `values` file is JSON and a raw `config` may fail as a manifest
    // stream; only a document that says `kind: ConfigMap` is taken as one.
    let docs = yaml::parse_documents(&body).unwrap_or_default();
    let maps: Vec<&Map<String, Value>> = docs.iter().filter_map(configmap_data).collect();
    if maps.is_empty() {
        return Ok(Text::new(body, source, key));
    }
    maps.iter()
        .find_map(|data| data.get(key).and_then(Value::as_str))
        .map(|text| Text::new(text, source.clone(), key))
        .ok_or_else(|| ConfigError::MissingKey {
            path: source,
            key: key.to_string(),
            keys: maps
                .iter()
                .flat_map(|d| d.keys().cloned())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// The parsed configuration: what a snapshot carries into the engine.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Config {
    pub inject: InjectConfig,
    pub values: Value,
    pub mesh: MeshConfig,
}

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
    /// Template name to handlebars source.
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
    fn check(&self, origin: &Origin) -> Result<(), ConfigError> {
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

/// The `mesh` key of the `istio` ConfigMap. Only `defaultConfig` is read by
/// the engine directly; the rest goes to templates as `MeshConfig`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MeshConfig {
    /// The default proxy config, overlaid per pod by `proxy.istio.io/config`.
    #[serde(default)]
    pub default_config: Map<String, Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
