//! Helpers for the end-to-end tests.

pub mod config_plane;
pub mod fake_apiserver;
