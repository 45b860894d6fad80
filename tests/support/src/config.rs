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

/// Istio's injection test manifests (from the shared reference data) and
/// our examples, as (path, text): pods of every shape to inject.
pub fn reference_manifests() -> Vec<(String, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut out = Vec::new();
    for dir in [
        root.join("../shared/istio-testdata/inject"),
        root.join("examples"),
    ] {
        for entry in std::fs::read_dir(&dir).expect("a manifest directory") {
            let path = entry.expect("a directory entry").path();
            if path.extension().is_some_and(|e| e == "yaml") {
                let text = std::fs::read_to_string(&path).expect("a readable manifest");
                out.push((path.display().to_string(), text));
            }
        }
    }
    assert!(
        out.len() > 30,
        "expected the reference manifests and examples"
    );
    out
}

/// A `config` whose only template does not compile.
pub const BROKEN_CONFIG: &str = "templates:\n  sidecar: |\n    {{#if}}\n";
