//! The `injector` binary as a user runs it: `kube-inject` and `check`, good
//! and bad input, exit status, and what reaches stdout and stderr.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

use std::io::Write;
use std::process::{Command, Output, Stdio};

use e2e::cargo_bin::cargo_bin;

fn run(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(cargo_bin("injector", "injector"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: web\n    image: web:1\n";

/// Asserts a failed run: status 1, nothing on stdout, `needles` on stderr.
fn assert_fails(out: &Output, needles: &[&str]) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(
        out.stdout.is_empty(),
        "partial output: {}",
        text(&out.stdout)
    );
    for n in needles {
        assert!(stderr.contains(n), "stderr lacks {n:?}: {stderr}");
    }
}

#[test]
fn injects_from_stdin_and_reports_skips_on_stderr() {
    let input = format!(
        "{POD}---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: host\nspec:\n  hostNetwork: true\n  containers:\n  - name: c\n    image: c\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: svc\nspec:\n  ports: [{{port: 80}}]\n"
    );
    let out = run(&["kube-inject", "-f", "-"], &input);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(
        stdout.matches("sidecar.istio.io/status").count(),
        1,
        "{stdout}"
    );
    assert!(stdout.contains("kind: Service"), "other kinds pass through");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("Pod host (document 2): not injected (host_network)"),
        "{stderr}"
    );
}

#[test]
fn bad_input_fails_with_a_clear_message_and_no_output() {
    assert_fails(
        &run(&["kube-inject", "-f", "-"], "a: [\n"),
        &["not valid YAML", "line"],
    );
    assert_fails(
        &run(
            &["kube-inject", "-f", "-"],
            "apiVersion: v1\nkind: Pod\nmetadata: {name: empty}\nspec: {}\n",
        ),
        &["Pod empty (document 1)", "containers"],
    );
    assert_fails(
        &run(
            &["kube-inject", "-f", "-"],
            "apiVersion: v1\nkind: Pod\nmetadata: {name: empty}\nspec: {containers: []}\n",
        ),
        &["Pod empty (document 1)", "no containers"],
    );
    // The first document is fine; the second is not: nothing is written.
    let unknown = format!(
        "{POD}---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: odd\n  annotations: {{inject.istio.io/templates: spire}}\nspec:\n  containers: [{{name: c, image: c}}]\n"
    );
    assert_fails(
        &run(&["kube-inject", "-f", "-"], &unknown),
        &[
            "Pod odd (document 2)",
            "unknown template \"spire\"",
            "known templates: gateway, grpc-agent, grpc-simple, sidecar",
        ],
    );
    assert_fails(
        &run(
            &["kube-inject", "-f", "-"],
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {}\n",
        ),
        &["Deployment d (document 1)", "no pod template"],
    );
    assert_fails(
        &run(&["kube-inject", "-f", "/nonexistent.yaml"], ""),
        &["/nonexistent.yaml"],
    );
}

#[test]
fn a_template_that_is_not_a_pod_fragment_is_rejected_at_load() {
    let dir = tempfile::tempdir().unwrap();
    // Each case names its dialect, so that the detection rule (Go unless a
    // template uses a handlebars block) does not decide what is tested.
    for (dialect, template, needle) in [
        ("handlebars", "kind: Pod", "did not render a pod fragment"),
        ("handlebars", "- a\\n- b", "did not render a pod fragment"),
        (
            "handlebars",
            "spec: {containers: [",
            "rendered invalid YAML",
        ),
        (
            "handlebars",
            "spec: {{Values.nope.missing}}",
            "failed to render",
        ),
        ("handlebars", "{{#if}}", "does not compile"),
        ("go", "kind: Pod", "did not render a pod fragment"),
        ("go", "spec: {containers: [", "rendered invalid YAML"),
        ("go", "{{ if }}", "does not compile"),
        (
            "go",
            "{{ .Values.nope.missing }}",
            "did not render a pod fragment",
        ),
        ("go", "spec: {{ len 3 }}", "failed to render"),
    ] {
        let config = dir.path().join("config");
        std::fs::write(
            &config,
            format!("templateDialect: {dialect}\ntemplates:\n  sidecar: \"{template}\"\n"),
        )
        .unwrap();
        let out = run(
            &[
                "kube-inject",
                "-f",
                "-",
                "--inject-config",
                config.to_str().unwrap(),
            ],
            POD,
        );
        assert_fails(&out, &["template \"sidecar\"", needle]);
    }
}

#[test]
fn config_flags_take_configmaps_or_raw_keys_and_errors_name_file_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let values = dir.path().join("values.json");
    std::fs::write(&values, "{\"global\": {\"hub\": \"my.registry\", \"tag\": \"7\", \"proxy\": {\"statusPort\": 15020}}}").unwrap();
    let out = run(
        &[
            "kube-inject",
            "-f",
            "-",
            "--values",
            values.to_str().unwrap(),
        ],
        POD,
    );
    let stderr = text(&out.stderr);
    // A partial values file leaves the template reading fields it lacks.
    assert_fails(&out, &["template \"gateway\"", "failed to render"]);
    assert!(stderr.contains("global.proxy"), "{stderr}");

    let cm = dir.path().join("mesh-cm.yaml");
    std::fs::write(&cm, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio}\ndata:\n  mesh: |\n    trustDomain: example.org\n").unwrap();
    let out = run(
        &[
            "kube-inject",
            "-f",
            "-",
            "--mesh-config",
            cm.to_str().unwrap(),
        ],
        POD,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("example.org"));

    let bad = dir.path().join("bad-mesh");
    std::fs::write(&bad, "trustDomain: a\n  defaultConfig: [\n").unwrap();
    let out = run(
        &[
            "kube-inject",
            "-f",
            "-",
            "--mesh-config",
            bad.to_str().unwrap(),
        ],
        POD,
    );
    assert_fails(&out, &[bad.to_str().unwrap(), "key \"mesh\"", "line 2"]);

    let wrong = dir.path().join("wrong-cm.yaml");
    std::fs::write(
        &wrong,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n  other: x\n",
    )
    .unwrap();
    let out = run(
        &[
            "kube-inject",
            "-f",
            "-",
            "--inject-config",
            wrong.to_str().unwrap(),
        ],
        POD,
    );
    assert_fails(&out, &["no key \"config\"", "other"]);
}

#[test]
fn output_file_is_written_only_on_success() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.yaml");
    let out = run(
        &["kube-inject", "-f", "-", "-o", path.to_str().unwrap()],
        POD,
    );
    assert!(out.status.success() && out.stdout.is_empty());
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .contains("istio-proxy")
    );
    let failed = dir.path().join("failed.yaml");
    let out = run(
        &["kube-inject", "-f", "-", "-o", failed.to_str().unwrap()],
        "a: [",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(!failed.exists());
}

#[test]
fn check_explains_the_decision_chain() {
    let out = run(&["check", "-f", "-"], POD);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.contains("Pod web (document 1):"), "{stdout}");
    assert!(
        stdout.contains("pod label sidecar.istio.io/inject: absent"),
        "{stdout}"
    );
    assert!(stdout.contains("=> INJECT (policy_enabled)"), "{stdout}");
    assert!(
        stdout.contains("templates: sidecar (in handlebars: a template opens a handlebars block)"),
        "{stdout}"
    );

    let out = run(
        &[
            "check",
            "-f",
            "-",
            "--namespace-labels",
            "istio-injection=disabled",
        ],
        POD,
    );
    assert!(
        text(&out.stdout).contains("=> SKIP (namespace_disabled)"),
        "{}",
        text(&out.stdout)
    );
    let out = run(&["check", "-f", "-", "--namespace-labels", "team=a"], POD);
    assert!(text(&out.stdout).contains("=> SKIP (namespace_not_selected)"));
    assert_fails(
        &run(&["check", "-f", "-", "--namespace-labels", "novalue"], POD),
        &["key=value"],
    );
}

#[test]
fn an_error_is_printed_once() {
    let pod = POD.replace(
        "  name: web\n",
        "  name: web\n  annotations:\n    inject.istio.io/templates: no-such\n",
    );
    let out = run(&["kube-inject", "-f", "-"], &pod);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    let message = "unknown template \"no-such\" in annotation inject.istio.io/templates";
    assert_eq!(stderr.matches(message).count(), 1, "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn native_sidecars_flag_offline_auto_is_classic() {
    let proxy_restarts = |args: &[&str]| {
        let mut all = vec!["kube-inject", "-f", "-"];
        all.extend_from_slice(args);
        let out = run(&all, POD);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout).contains("restartPolicy: Always")
    };
    assert!(!proxy_restarts(&[]), "auto offline has no cluster: classic");
    assert!(!proxy_restarts(&["--native-sidecars", "auto"]));
    assert!(!proxy_restarts(&["--native-sidecars", "false"]));
    assert!(proxy_restarts(&["--native-sidecars", "true"]));
    let usage = run(
        &["kube-inject", "-f", "-", "--native-sidecars", "maybe"],
        POD,
    );
    assert_eq!(usage.status.code(), Some(2), "a usage error");
    assert!(
        text(&usage.stderr).contains("[possible values: true, false, auto]"),
        "{}",
        text(&usage.stderr)
    );
}
