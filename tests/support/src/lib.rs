//! Test support shared by the in-process tests of several crates and the
//! end-to-end tests: a [`fake_apiserver`] and test [`config`]urations.

pub mod config;
pub mod fake_apiserver;
