//! A spawned server process whose log lines the test can wait for.
//!
//! Servers are started on port 0 and announce their addresses in a log
//! line (`... listening ... addr=IP:PORT`), so tests never race for ports.
//! The process is killed when the handle is dropped, so a failing test
//! leaves nothing running.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
struct Log {
    lines: Mutex<Vec<String>>,
    grew: Condvar,
}

/// A running child process and its standard error, line by line.
pub struct Process {
    child: Child,
    log: Arc<Log>,
}

impl Process {
    /// Starts `program` with `args`; standard error is collected (and
    /// echoed, so `cargo test -- --nocapture` shows it).
    pub fn spawn<I, S>(program: &Path, args: I) -> Process
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Self::spawn_with_env(program, args, &[])
    }

    /// [`spawn`](Self::spawn) with `env` added to the environment.
    pub fn spawn_with_env<I, S>(program: &Path, args: I, env: &[(&str, &str)]) -> Process
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut child = Command::new(program)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or("info".into()),
            )
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        let log = Arc::new(Log::default());
        let stderr = child.stderr.take().expect("stderr is piped");
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[server] {line}");
                sink.lines.lock().unwrap().push(line);
                sink.grew.notify_all();
            }
        });
        Process { child, log }
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Every line logged so far.
    pub fn logs(&self) -> Vec<String> {
        self.log.lines.lock().unwrap().clone()
    }

    /// Waits up to `timeout` for a line containing every one of `needles`.
    pub fn wait_for_line(&self, needles: &[&str], timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        let mut lines = self.log.lines.lock().unwrap();
        loop {
            if let Some(line) = lines.iter().find(|l| needles.iter().all(|n| l.contains(n))) {
                return Some(line.clone());
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            lines = self.log.grew.wait_timeout(lines, left).unwrap().0;
        }
    }

    /// The address announced by the log line containing `label` and
    /// `addr=`. Panics with the log if it does not come within 30 s.
    pub fn announced_addr(&self, label: &str) -> SocketAddr {
        let line = self
            .wait_for_line(&[label, "addr="], Duration::from_secs(30))
            .unwrap_or_else(|| {
                panic!(
                    "no {label:?} address logged; log:\n{}",
                    self.logs().join("\n")
                )
            });
        let value = line.split("addr=").nth(1).unwrap_or_default();
        let value = value.split_whitespace().next().unwrap_or_default();
        value
            .trim_matches('"')
            .parse()
            .unwrap_or_else(|e| panic!("bad address in {line:?}: {e}"))
    }

    /// Sends `signal` (`TERM`, `INT`, ...) to the process.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal} {} failed", self.id());
    }

    /// Waits up to `timeout` for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
