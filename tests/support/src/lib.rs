//! Test support shared by the in-process tests of several crates and the
//! end-to-end tests: a [`fake_apiserver`], test [`config`]urations and the
//! [`budget`] of property tests.

pub mod budget;
pub mod config;
pub mod fake_apiserver;
