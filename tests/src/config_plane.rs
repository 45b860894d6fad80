//! Fixtures for the config-plane tests: the configuration files served,
//! and bounded polling.

use std::path::Path;
use std::time::{Duration, Instant};

use injector::config::embedded;

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

/// Writes the three key files into `dir`, each replaced atomically (written
/// beside, then renamed) as a careful editor or a config tool would.
pub fn write_config(dir: &Path, config: &str) {
    for (key, body) in [
        ("config", config),
        ("values", embedded::VALUES),
        ("mesh", embedded::MESH),
    ] {
        let tmp = dir.join(format!(".{key}.tmp"));
        std::fs::write(&tmp, body).expect("write the key file");
        std::fs::rename(&tmp, dir.join(key)).expect("rename the key file");
    }
}
