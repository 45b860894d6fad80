//! Property tests ("fuzzing") of every input the engine parses: the
//! AdmissionReview body, the pod, every annotation the engine reads, the
//! three ConfigMap keys and the templates of both dialects.
//!
//! Each property runs a fixed number of generated cases (see
//! [`inputs::budget`]; `PROPTEST_CASES` raises it), so the suite runs in
//! `cargo test` within a bounded time. What a run found is kept in
//! `corpus.rs` as plain tests.
//!
//! The invariants (`check.rs`): no panic; an error says what is wrong; an
//! injected pod is a valid Pod; the JSON Patch applied to the input gives
//! the output; injecting the result again changes nothing; no value the
//! pod controls changes the structure of what is injected.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod admission;
mod annotations;
mod check;
#[path = "../common/mod.rs"]
mod common;
mod config;
mod corpus;
mod inputs;
mod pods;
