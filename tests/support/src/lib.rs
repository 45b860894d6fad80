//! Test support shared by the in-process tests of several crates and the
//! end-to-end tests: a [`fake_apiserver`] (with kube-apiserver's Pod
//! [`admission`] through webhooks and its [`pod_rules`]), test
//! [`config`]urations and the [`budget`] of property tests.

pub mod admission;
pub mod budget;
pub mod config;
pub mod fake_apiserver;
pub mod pod_rules;
