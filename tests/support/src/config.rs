//! Configurations for tests, and bounded polling.

use std::time::{Duration, Instant};

use injector_engine::config::embedded;

/// Polls `check` every 5 ms until it returns `Some` or `timeout` passes.
pub async fn eventually<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The embedded `config` with a marker in the sidecar's annotations, so each
/// rewrite is new content (a new hash) and still a valid template.
pub fn config_with_marker(marker: &str) -> String {
    let config = embedded::CONFIG.replacen(
        "injectedAnnotations: {}",
        &format!("injectedAnnotations:\n  e2e.example/generation: \"{marker}\""),
        1,
    );
    assert_ne!(
        config,
        embedded::CONFIG,
        "the embedded config has no injectedAnnotations line"
    );
    config
}

/// A `config` whose only template does not compile.
pub const BROKEN_CONFIG: &str = "templates:\n  sidecar: |\n    {{#if}}\n";
