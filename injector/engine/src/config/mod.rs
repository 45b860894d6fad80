//! The injector's inputs: the `istio-sidecar-injector` ConfigMap (`config`,
//! `values`) and the `istio` ConfigMap (`mesh`).
//!
//! Everything here works on texts: the edges read files and ConfigMaps,
//! this module parses what they read. Fields the engine acts on are typed;
//! all others are kept as JSON so templates can read them.

mod cluster;
mod hash;
mod inject;
pub(crate) mod mesh;
mod source;

use serde::Serialize;
use serde_json::{Map, Value};

pub use cluster::ClusterFacts;
pub use inject::{Dialect, DialectReason, InjectConfig, Policy};
pub use mesh::{MeshConfig, merge_proto};
pub use source::{Origin, Text};

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
    /// Default `config` key: policy, selectors and the templates.
    pub const CONFIG: &str = include_str!("../../../../deploy/base/config/config");
    /// Default `values` key.
    pub const VALUES: &str = include_str!("../../../../deploy/base/config/values");
    /// Default `mesh` key.
    pub const MESH: &str = include_str!("../../../../deploy/base/config/mesh");
}

/// The three unparsed inputs, as a ConfigMap watch or a directory yields
/// them, and what the edge learned of the cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawConfig {
    pub config: Text,
    pub values: Text,
    pub mesh: Text,
    pub cluster: ClusterFacts,
}

/// Why the configuration could not be loaded. Every variant names the input.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
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
    MissingInDir { dir: String, key: String },
}

impl RawConfig {
    /// The configuration compiled into the binary.
    pub fn embedded() -> Self {
        RawConfig {
            config: Text::new(embedded::CONFIG, "embedded", CONFIG_KEY),
            values: Text::new(embedded::VALUES, "embedded", VALUES_KEY),
            mesh: Text::new(embedded::MESH, "embedded", MESH_KEY),
            cluster: ClusterFacts::default(),
        }
    }

    /// The same texts for a cluster with `cluster`'s facts.
    pub fn with_cluster(self, cluster: ClusterFacts) -> Self {
        RawConfig { cluster, ..self }
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
        let mesh = mesh.over_istio_defaults();
        Ok(Config {
            inject,
            values,
            mesh,
            cluster: self.cluster,
        })
    }
}

fn parse_text<T: serde::de::DeserializeOwned>(text: &Text) -> Result<T, ConfigError> {
    yaml::parse(&text.body).map_err(|e| ConfigError::Parse {
        origin: text.origin.clone(),
        message: e.to_string(),
    })
}

/// The parsed configuration: what a snapshot carries into the engine. The
/// cluster facts are part of it, and of its hash: a pod injected as a
/// native sidecar did not come from the same configuration as a classic one.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Config {
    pub inject: InjectConfig,
    pub values: Value,
    pub mesh: MeshConfig,
    pub cluster: ClusterFacts,
}
