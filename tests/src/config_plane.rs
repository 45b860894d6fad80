//! Fixtures for the config-plane tests: `config-server serve` on a
//! directory or an API server, the configuration files it serves, admission load at
//! injectors.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use injector_engine::config::embedded;
use proto::v1::StatusResponse;
use serde_json::Value;
use test_support::config::eventually;

use crate::cargo_bin::cargo_bin;
use crate::https::{Client, Protocol};
use crate::process::Process;
use crate::webhook::Webhook;

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

/// A running `config-server serve --source dir:PATH`.
pub struct ConfigServer {
    pub process: Process,
    pub addr: SocketAddr,
    /// The plain-HTTP address of `/healthz` and `/metrics`.
    pub admin: SocketAddr,
}

impl ConfigServer {
    /// Starts a server on `dir`, on `listen` (`127.0.0.1:0` for any port),
    /// with `extra` flags, and waits until it listens.
    pub fn start(dir: &Path, listen: &str, extra: &[&str]) -> ConfigServer {
        Self::start_with_env(dir, listen, extra, &[])
    }

    /// [`start`](Self::start) with `env` added to the process environment.
    pub fn start_with_env(
        dir: &Path,
        listen: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> ConfigServer {
        let source = format!("dir:{}", dir.display());
        Self::spawn(&source, listen, extra, env)
    }

    /// A server on the ConfigMaps (and Nodes) of the API server that
    /// `kubeconfig` names, with `extra` flags. It does not manage the
    /// webhook's certificates: a test installs its own webhook.
    pub fn start_kube(kubeconfig: &Path, extra: &[&str]) -> ConfigServer {
        let mut args = vec!["--self-managed-certs=false"];
        args.extend_from_slice(extra);
        let kubeconfig = kubeconfig.to_str().expect("UTF-8 path");
        Self::spawn(
            "kube",
            "127.0.0.1:0",
            &args,
            &[
                ("KUBECONFIG", kubeconfig),
                ("POD_NAMESPACE", "istio-system"),
            ],
        )
    }

    fn spawn(source: &str, listen: &str, extra: &[&str], env: &[(&str, &str)]) -> ConfigServer {
        let mut args = vec![
            "serve",
            "--source",
            source,
            "--listen",
            listen,
            "--admin-listen",
            "127.0.0.1:0",
        ];
        args.extend_from_slice(extra);
        let program = cargo_bin("config-server", "config-server");
        let process = Process::spawn_with_env(&program, &args, env);
        let addr = process.announced_addr("config server listening");
        let admin = process.announced_addr("admin listening");
        ConfigServer {
            process,
            addr,
            admin,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub async fn status(&self) -> StatusResponse {
        config_server::status::fetch(&self.url(), None)
            .await
            .expect("the Status RPC answers")
    }

    /// `config-server status --server URL`, as an operator runs it.
    pub fn status_cli(&self) -> String {
        let output = std::process::Command::new(cargo_bin("config-server", "config-server"))
            .args(["status", "--server", &self.url()])
            .output()
            .expect("config-server status runs");
        assert!(
            output.status.success(),
            "config-server status failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

/// A kubeconfig in `dir` for the API server at `server` (plain HTTP, a
/// dummy token), as the binaries read it from `KUBECONFIG`.
pub fn kubeconfig(dir: &Path, server: &str) -> std::path::PathBuf {
    let path = dir.join("kubeconfig");
    let config = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster: {{server: \"{server}\"}}\n\
         users:\n- name: me\n  user: {{token: t}}\ncontexts:\n- name: fake\n  context: {{cluster: fake, user: me}}\n\
         current-context: fake\n"
    );
    std::fs::write(&path, config).expect("write the kubeconfig");
    path
}

/// The content hash a config server and injectors give `config` with the
/// embedded values and mesh.
pub fn hash_of(config: &str) -> String {
    let mut raw = injector_engine::RawConfig::embedded();
    raw.config.body = config.to_string();
    raw.parse()
        .expect("a valid config")
        .hash()
        .expect("a hashable config")
}

/// `VmRSS` and `VmHWM` (peak) of process `pid`, in KiB.
pub fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Continuous admission requests at a set of injectors, recording when each
/// injector first answered with each `templateHash` and every failure.
pub struct AdmissionLoad {
    stop: Arc<AtomicBool>,
    stats: Arc<LoadStats>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

#[derive(Default)]
struct LoadStats {
    ok: AtomicU64,
    failures: Mutex<Vec<String>>,
    /// (injector, templateHash) → first answer carrying it.
    first_seen: Mutex<HashMap<(usize, String), Instant>>,
    /// Per injector, the templateHash of its latest answer.
    latest: Mutex<HashMap<usize, String>>,
}

/// The AdmissionReview the load sends: a Deployment's pod, injected by the
/// default policy.
const REVIEW: &str = include_str!("../data/ratings-review.json");
/// Longest wait for one answer before it counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest wait for [`AdmissionLoad::answered`].
const ANSWERED_WAIT: Duration = Duration::from_secs(20);

impl AdmissionLoad {
    /// Starts `per_injector` request loops on their own HTTP/2 connections
    /// against each of `injectors`.
    pub fn start(injectors: &[&Webhook], per_injector: usize) -> AdmissionLoad {
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(LoadStats::default());
        let mut tasks = Vec::new();
        for (index, injector) in injectors.iter().enumerate() {
            for _ in 0..per_injector {
                let client = injector.client(Protocol::Http2);
                let (stop, stats) = (Arc::clone(&stop), Arc::clone(&stats));
                tasks.push(tokio::spawn(request_loop(client, index, stop, stats)));
            }
        }
        AdmissionLoad { stop, stats, tasks }
    }

    /// When injector `index` first answered with `hash`.
    pub fn first_seen(&self, index: usize, hash: &str) -> Option<Instant> {
        let seen = self.stats.first_seen.lock().unwrap();
        seen.get(&(index, hash.to_string())).copied()
    }

    /// The templateHash of each injector's latest answer.
    pub fn latest(&self, index: usize) -> Option<String> {
        self.stats.latest.lock().unwrap().get(&index).cloned()
    }

    pub fn ok(&self) -> u64 {
        self.stats.ok.load(Ordering::Relaxed)
    }

    /// Waits until `more` admissions have been answered from now on: the
    /// observable form of "the replicas kept serving meanwhile".
    pub async fn answered(&self, more: u64) -> bool {
        let target = self.ok() + more;
        eventually(ANSWERED_WAIT, || (self.ok() >= target).then_some(()))
            .await
            .is_some()
    }

    pub fn failures(&self) -> Vec<String> {
        self.stats.failures.lock().unwrap().clone()
    }

    /// Stops the loops and waits for their last requests.
    pub async fn stop(self) -> (u64, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            let _ = task.await;
        }
        let failures = self.stats.failures.lock().unwrap().clone();
        (self.stats.ok.load(Ordering::Relaxed), failures)
    }
}

async fn request_loop(client: Client, index: usize, stop: Arc<AtomicBool>, stats: Arc<LoadStats>) {
    let fail = |message: String| stats.failures.lock().unwrap().push(message);
    while !stop.load(Ordering::Relaxed) {
        let mut connection = match client.connect().await {
            Ok(connection) => connection,
            Err(e) => {
                fail(format!("injector {index}: connect: {e}"));
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        while !stop.load(Ordering::Relaxed) {
            let sent = connection.post("/inject", Some("application/json"), REVIEW);
            let answer = match tokio::time::timeout(REQUEST_TIMEOUT, sent).await {
                Ok(Ok(reply)) if reply.status.is_success() => template_hash(&reply.json()),
                Ok(Ok(reply)) => Err(format!("HTTP {}: {}", reply.status, reply.text())),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err(format!("no answer within {REQUEST_TIMEOUT:?}")),
            };
            match answer {
                Ok(hash) => {
                    let now = Instant::now();
                    stats.ok.fetch_add(1, Ordering::Relaxed);
                    stats
                        .first_seen
                        .lock()
                        .unwrap()
                        .entry((index, hash.clone()))
                        .or_insert(now);
                    stats.latest.lock().unwrap().insert(index, hash);
                }
                Err(message) => {
                    fail(format!("injector {index}: {message}"));
                    break;
                }
            }
        }
    }
}

/// The `templateHash` of the status annotation the answer's patch adds.
fn template_hash(answer: &Value) -> Result<String, String> {
    let response = &answer["response"];
    if response["allowed"] != true {
        return Err(format!("not allowed: {answer}"));
    }
    let patch = response["patch"].as_str().ok_or("no patch")?;
    let patch = base64::engine::general_purpose::STANDARD
        .decode(patch)
        .map_err(|e| e.to_string())?;
    let patch: json_patch::Patch = serde_json::from_slice(&patch).map_err(|e| e.to_string())?;
    let review: Value = serde_json::from_str(REVIEW).expect("the review is JSON");
    let mut pod = review["request"]["object"].clone();
    json_patch::patch(&mut pod, &patch).map_err(|e| e.to_string())?;
    let status = pod["metadata"]["annotations"]["sidecar.istio.io/status"]
        .as_str()
        .ok_or("no status annotation")?;
    let status: Value = serde_json::from_str(status).map_err(|e| e.to_string())?;
    status["templateHash"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| "no templateHash".to_string())
}
