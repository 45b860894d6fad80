//! The gRPC channel between injectors and the config server over mutual
//! TLS, configured by files: the injector verifies the server against a CA,
//! the server requires a client certificate from the same CA, and
//! `config-server status` speaks the same TLS.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use e2e::cargo_bin::cargo_bin;
use e2e::config_plane::{ConfigServer, write_config};
use e2e::pki::Ca;
use e2e::webhook::Webhook;
use injector_engine::config::embedded;

const WAIT: Duration = Duration::from_secs(20);

fn write(dir: &Path, name: &str, pem: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, pem).unwrap();
    path
}

fn status(url: &str, tls: &[&Path]) -> Output {
    let mut command = Command::new(cargo_bin("config-server", "config-server"));
    command.args(["status", "--server", url]);
    for (flag, path) in ["--ca", "--cert", "--key"].iter().zip(tls) {
        command.arg(flag).arg(path);
    }
    command.output().expect("config-server status runs")
}

#[tokio::test(flavor = "multi_thread")]
async fn injector_and_status_reach_the_server_over_mutual_tls() {
    let pki = tempfile::tempdir().unwrap();
    let ca = Ca::new("config plane CA");
    let server_leaf = ca.issue(&["localhost", "127.0.0.1"]);
    let client_leaf = ca.issue_client("injector-tls");
    let ca_pem = write(pki.path(), "ca.pem", &ca.pem());
    let server_cert = write(pki.path(), "server.pem", &server_leaf.cert_pem);
    let server_key = write(pki.path(), "server-key.pem", &server_leaf.key_pem);
    let client_cert = write(pki.path(), "client.pem", &client_leaf.cert_pem);
    let client_key = write(pki.path(), "client-key.pem", &client_leaf.key_pem);

    let config = tempfile::tempdir().unwrap();
    write_config(config.path(), embedded::CONFIG);
    let path = |p: &PathBuf| p.to_str().unwrap().to_string();
    let server = ConfigServer::start(
        config.path(),
        "127.0.0.1:0",
        &[
            "--tls-cert",
            &path(&server_cert),
            "--tls-key",
            &path(&server_key),
            "--client-ca",
            &path(&ca_pem),
        ],
    );
    let url = format!("https://localhost:{}", server.addr.port());

    let injector = Webhook::start(&[
        "--config-server",
        &url,
        "--config-server-ca",
        &path(&ca_pem),
        "--config-server-cert",
        &path(&client_cert),
        "--config-server-key",
        &path(&client_key),
        "--pod-name",
        "injector-tls",
    ]);
    assert!(
        injector.ready_within(WAIT).await,
        "the injector never got a snapshot over mTLS"
    );

    let deadline = Instant::now() + WAIT;
    let text = loop {
        let output = status(&url, &[&ca_pem, &client_cert, &client_key]);
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        if text.contains("acked: version 1") || Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(text.contains("injector-tls (injector 0.1.0"), "{text}");
    assert!(text.contains("acked: version 1"), "{text}");

    // Without a client certificate the server refuses the connection; over
    // plain HTTP nothing is served either.
    let refused = status(&url, &[&ca_pem]);
    assert!(!refused.status.success());
    let plain = status(&server.url(), &[]);
    assert!(!plain.status.success());
}
