//! The number of generated cases a property test runs: fixed per property
//! so that `cargo test` takes a bounded time, or `PROPTEST_CASES` for a
//! longer run (`PROPTEST_CASES=5000 cargo test -p injector-engine --test fuzz`).

use proptest::test_runner::Config;

/// `default` cases, or `PROPTEST_CASES` when set. Failures are not
/// persisted to files: what a run finds goes into the crate's corpus of
/// regression tests by hand, with the bug it found.
pub fn cases(default: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}
