//! The sidecar injection engine: from an AdmissionReview to a JSON Patch,
//! with no I/O and no async runtime. The webhook, `kube-inject`, `check` and
//! the config server's validation are thin edges around it.
//!
//! The pipeline, in the order a pod goes through it:
//! - [`config`]: the ConfigMaps' texts parsed and checked (once per snapshot);
//! - [`admission`]: the AdmissionReview envelope in, the answer out;
//! - [`decision`]: whether the pod gets a sidecar, and why;
//! - [`template`]: the selected templates rendered into pod fragments, one
//!   submodule per dialect over the shared [`template::data`];
//! - [`merge`]: the fragments merged into the pod (strategic merge);
//! - [`postprocess`]: the user's overrides, probe rewriting, ordering;
//! - [`status`]: the `sidecar.istio.io/status` annotation (and undoing an
//!   earlier injection);
//! - [`patch`]: the result checked as a Pod and diffed into a JSON Patch.
//!
//! [`engine`] runs the steps with one span each; [`manifest`] walks the pods
//! of a manifest for the offline commands.

pub mod admission;
pub mod annotations;
pub mod config;
pub mod decision;
pub mod engine;
mod heap;
pub mod manifest;
pub mod merge;
pub mod patch;
pub mod pod;
pub mod postprocess;
pub mod status;
pub mod template;
pub mod workload;
pub mod yaml;

pub use config::{Config, ConfigError, RawConfig};
pub use engine::{CompileError, Engine, InjectError, Injection, Outcome, PodRequest};
