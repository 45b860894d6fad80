//! Istio's own capture test cases (`../shared/istio-testdata/capture`): for
//! each, `capture --dry-run` with the case's flags and environment, and the
//! host facts the case states, must print the case's golden rule set: the
//! same tables, chains and rules in the same order.

#![allow(clippy::unwrap_used, reason = "test helpers: a panic fails the test")]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn testdata() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/istio-testdata/capture");
    assert!(
        dir.is_dir(),
        "Istio's capture test data is expected at {}",
        dir.display()
    );
    dir
}

/// What `capture --dry-run` prints for a case, run with the case's flags
/// and environment only (no ISTIO_* or other setting of this process).
fn dry_run(case: &Value, scratch: &Path) -> String {
    let name = case["name"].as_str().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_capture"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    command.arg("--dry-run");
    for flag in case["flags"].as_array().unwrap() {
        command.arg(flag.as_str().unwrap());
    }
    for (variable, value) in case["env"].as_object().unwrap() {
        command.env(variable, value.as_str().unwrap());
    }
    let host = &case["host"];
    if host["ipv6"].as_bool().unwrap() {
        command.arg("--assume-ipv6");
    }
    if let Some(servers) = host["resolv_conf_nameservers"].as_array() {
        let resolv_conf = scratch.join(format!("{name}.resolv.conf"));
        let lines: String = servers
            .iter()
            .map(|s| format!("nameserver {}\n", s.as_str().unwrap()))
            .collect();
        std::fs::write(&resolv_conf, lines).unwrap();
        command.arg(format!("--resolv-conf={}", resolv_conf.display()));
    }
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{name}: capture failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn every_shared_case_prints_its_golden_rules() {
    let dir = testdata();
    let cases: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("cases.json")).unwrap()).unwrap();
    assert!(
        cases.len() >= 10,
        "expected Istio's cases, found {}",
        cases.len()
    );
    let scratch = tempfile::tempdir().unwrap();
    let mut matched = Vec::new();
    let mut failures = Vec::new();
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let golden = std::fs::read_to_string(dir.join(case["golden"].as_str().unwrap())).unwrap();
        let printed = dry_run(case, scratch.path());
        if printed.trim() == golden.trim() {
            matched.push(name);
        } else {
            failures.push(format!(
                "{name}:\n--- golden\n{}\n--- capture --dry-run\n{}",
                golden.trim(),
                printed.trim()
            ));
        }
    }
    println!(
        "{} of {} cases match: {}",
        matched.len(),
        cases.len(),
        matched.join(", ")
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
