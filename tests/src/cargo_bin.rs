//! Locating the workspace's binaries from another package's tests.
//!
//! Cargo only tells a package's own tests where its binaries are
//! (`CARGO_BIN_EXE_*`), and these tests live in their own package. So the
//! binary is built here, once per test process, with the same profile as
//! the tests, and its path taken from cargo's own report: no guessing at
//! the target directory's layout.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// The path of binary `bin` of workspace package `package`, built if stale.
///
/// Panics with cargo's output when the build fails: nothing can be tested
/// then.
pub fn cargo_bin(package: &str, bin: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<(String, String), PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    let key = (package.to_string(), bin.to_string());
    if let Some(path) = built.get(&key) {
        return path.clone();
    }
    let path = build(package, bin);
    built.insert(key, path.clone());
    path
}

fn build(package: &str, bin: &str) -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.args([
        "build",
        "--quiet",
        "--message-format=json",
        "-p",
        package,
        "--bin",
        bin,
    ]);
    if !cfg!(debug_assertions) {
        command.arg("--release");
    }
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run cargo to build {package}: {e}"));
    assert!(
        output.status.success(),
        "cargo build -p {package} --bin {bin} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == bin)
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("cargo built no executable named {bin} in {package}"))
}
