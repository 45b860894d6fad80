//! Helpers for the end-to-end tests: build and spawn the real binaries,
//! make certificates, talk HTTPS to them.

pub mod atomic_dir;
pub mod cargo_bin;
pub mod config_plane;
pub mod https;
pub mod otlp;
pub mod pki;
pub mod process;
pub mod prometheus;
pub mod webhook;
