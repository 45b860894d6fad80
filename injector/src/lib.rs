//! The sidecar injection engine and the programs around it.
//!
//! The pipeline reads in order: [`config`] (the ConfigMaps), [`decision`],
//! [`template`] (data, handlebars, helpers), [`merge`], [`status`], and
//! [`engine`], which runs them and diffs the result into a JSON Patch.
//! [`kube_inject`] and [`check`] are the offline edges; [`server`] runs the
//! admission [`webhook`] over [`tls`] with the [`admin`] port and
//! [`metrics`]; [`telemetry`] sets up logs and traces.

pub mod admin;
pub mod annotations;
pub mod check;
pub mod config;
pub mod decision;
pub mod engine;
pub mod kube_inject;
pub mod manifest;
pub mod merge;
pub mod metrics;
pub mod probes;
pub mod selector;
pub mod server;
pub mod snapshot;
pub mod source;
pub mod status;
pub mod telemetry;
pub mod template;
pub mod tls;
pub mod webhook;
pub mod workload;
pub mod yaml;

pub use config::{Config, ConfigError, RawConfig};
pub use engine::{CompileError, Engine, InjectError, Injection, Outcome, PodRequest};
