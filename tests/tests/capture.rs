//! The traffic capture with real iptables, in network namespaces: a "pod"
//! namespace joined by a veth pair to an "outside" one, the `capture`
//! binary run in the pod with istio-iptables' arguments, and TCP
//! connections that show where traffic lands.
//!
//! These tests need root (to create namespaces), iptables (legacy and nft
//! variants, as Debian's `iptables` package installs them), iproute2,
//! util-linux's `unshare` and `nsenter`, and bash. Without them they fail,
//! saying what is missing: `.ci/run` installs them.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use e2e::cargo_bin::cargo_bin;
use nix::sched::{CloneFlags, setns};
use nix::sys::socket::{SockaddrIn, getsockopt, sockopt};

/// The proxy's user in every test, as in Istio's templates.
const PROXY_UID: u32 = 1337;
const POD: &str = "10.55.0.2";
const OUTSIDE: &str = "10.55.0.1";
/// A second outside address, for an excluded range.
const OUTSIDE_EXCLUDED: &str = "10.55.0.3";
const TIMEOUT: Duration = Duration::from_secs(5);

/// What the injector's default template passes, with an excluded range
/// and an excluded outbound port.
const TEMPLATE_ARGS: &[&str] = &[
    "istio-iptables",
    "-p",
    "15001",
    "-z",
    "15006",
    "-u",
    "1337",
    "-m",
    "REDIRECT",
    "-i",
    "*",
    "-x",
    "10.55.0.3/32",
    "-b",
    "*",
    "-d",
    "15090,15021,15020",
    "-o",
    "9090",
    "--log_output_level=default:info",
];

/// Fails the test with what is missing, unless namespaces and iptables can
/// be used here.
fn preflight() {
    let mut missing = Vec::new();
    if !nix::unistd::geteuid().is_root() {
        missing.push("root (to create network namespaces)".to_string());
    }
    for command in [
        "unshare",
        "nsenter",
        "ip",
        "bash",
        "timeout",
        "iptables-nft",
        "iptables-legacy",
        "ip6tables-nft",
    ] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {command}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            missing.push(format!("the {command} command"));
        }
    }
    assert!(
        missing.is_empty(),
        "the capture tests need {} (apt-get install iptables iproute2 util-linux)",
        missing.join(", ")
    );
}

/// A network namespace, held by a `sleep` process started in it; killed,
/// and the namespace gone, when dropped.
struct Netns {
    holder: Child,
    path: PathBuf,
}

impl Netns {
    fn new() -> Netns {
        let holder = Command::new("unshare")
            .args(["--net", "sleep", "600"])
            .spawn()
            .expect("unshare starts");
        let path = PathBuf::from(format!("/proc/{}/ns/net", holder.id()));
        let ours = std::fs::read_link("/proc/self/ns/net").unwrap();
        let deadline = Instant::now() + TIMEOUT;
        while std::fs::read_link(&path).ok().is_none_or(|ns| ns == ours) {
            assert!(
                Instant::now() < deadline,
                "unshare did not enter a new namespace"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let netns = Netns { holder, path };
        netns.sh("ip link set lo up");
        netns
    }

    fn command(&self, program: impl AsRef<Path>) -> Command {
        let mut command = Command::new("nsenter");
        command.arg(format!("--net={}", self.path.display()));
        command.arg(program.as_ref());
        command
    }

    /// Runs a shell script in the namespace; its output, or the test fails.
    fn sh(&self, script: &str) -> String {
        let output = self.command("sh").args(["-c", script]).output().unwrap();
        assert!(
            output.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Runs `f` on a thread inside the namespace: sockets it opens belong
    /// to the namespace and can be used from any thread afterwards.
    fn enter<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let ns = std::fs::File::open(&self.path).unwrap();
        std::thread::scope(|s| {
            s.spawn(move || {
                setns(&ns, CloneFlags::CLONE_NEWNET).expect("setns");
                f()
            })
            .join()
            .unwrap()
        })
    }

    /// Listens on `addr`; every connection is answered with `ROLE
    /// ORIGINAL-DESTINATION` (the destination before any redirect).
    fn listen(&self, addr: &str, role: &'static str) {
        let addr: SocketAddr = addr.parse().unwrap();
        let listener = self.enter(|| TcpListener::bind(addr)).unwrap();
        std::thread::spawn(move || {
            for mut connection in listener.incoming().flatten() {
                let _ = writeln!(connection, "{role} {}", original_destination(&connection));
            }
        });
    }

    /// Connects to `addr` as root and returns the answer.
    fn ask(&self, addr: &str) -> String {
        let addr: SocketAddr = addr.parse().unwrap();
        self.enter(|| {
            let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT)
                .unwrap_or_else(|e| panic!("connecting to {addr}: {e}"));
            stream.set_read_timeout(Some(TIMEOUT)).unwrap();
            let mut answer = String::new();
            stream.read_to_string(&mut answer).unwrap();
            answer.trim().to_string()
        })
    }

    /// Connects to `addr` from a process running as `uid` and returns the answer.
    fn ask_as(&self, uid: u32, addr: &str) -> String {
        let (host, port) = addr.rsplit_once(':').unwrap();
        let output = self
            .command("timeout")
            .arg(TIMEOUT.as_secs().to_string())
            .args([
                "nsenter",
                &format!("--setuid={uid}"),
                &format!("--setgid={uid}"),
            ])
            .args([
                "bash",
                "-c",
                &format!("exec 3<>/dev/tcp/{host}/{port} && cat <&3"),
            ])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "connecting to {addr} as {uid}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    /// Runs the capture binary in the namespace.
    fn capture(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.command(cargo_bin("capture", "capture"))
            .args(args)
            .envs(env.iter().copied())
            .output()
            .unwrap()
    }

    /// Runs the capture binary in the namespace as `uid`.
    fn capture_as(&self, uid: u32, args: &[&str]) -> Output {
        self.command("nsenter")
            .args([format!("--setuid={uid}"), format!("--setgid={uid}")])
            .arg(cargo_bin("capture", "capture"))
            .args(args)
            .output()
            .unwrap()
    }

    /// Both families' rules as iptables-save prints them, and the TPROXY
    /// policy routing, without what changes by itself: comments (they hold a
    /// date), packet counters, and empty tables (iptables creates a table
    /// on first use, and nothing removes an empty one).
    fn state(&self, variant: &str) -> String {
        let save = |binary: &str| self.sh(&format!("{binary}-{variant}-save"));
        let mut state = String::new();
        for save in [save("iptables"), save("ip6tables")] {
            state.push_str(&without_noise(&save));
        }
        // The TPROXY route table: empty and missing look alike.
        state.push_str(
            &self.sh("ip -4 rule; ip -6 rule; \
             ip -4 route show table 133 2>/dev/null; ip -6 route show table 133 2>/dev/null; true"),
        );
        state
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

fn without_noise(save: &str) -> String {
    let mut kept = String::new();
    let mut table = String::new();
    for line in save.lines().filter(|l| !l.starts_with('#')) {
        let line = match line.rsplit_once(" [") {
            Some((chain, _counters)) if line.starts_with(':') => chain,
            _ => line,
        };
        table.push_str(line);
        table.push('\n');
        if line == "COMMIT" {
            let used = table
                .lines()
                .any(|l| l.starts_with("-A") || (l.starts_with(':') && l.ends_with(" -")));
            if used {
                kept.push_str(&table);
            }
            table.clear();
        }
    }
    kept
}

fn original_destination(connection: &TcpStream) -> SocketAddr {
    getsockopt(connection, sockopt::OriginalDst)
        .map(|raw| std::net::SocketAddrV4::from(SockaddrIn::from(raw)).into())
        .unwrap_or_else(|_| connection.local_addr().unwrap())
}

/// The pod and the outside, joined by a veth pair.
fn pod_and_outside() -> (Netns, Netns) {
    let pod = Netns::new();
    let outside = Netns::new();
    pod.sh(&format!(
        "ip link add eth0 type veth peer name peer0 netns {}",
        outside.holder.id()
    ));
    pod.sh(&format!(
        "ip addr add {POD}/24 dev eth0 && ip link set eth0 up"
    ));
    outside.sh(&format!(
        "ip addr add {OUTSIDE}/24 dev peer0 && ip addr add {OUTSIDE_EXCLUDED}/24 dev peer0 && ip link set peer0 up"
    ));
    (pod, outside)
}

fn assert_success(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what}: {:?}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn traffic_goes_through_the_proxy_except_the_proxys_own_and_the_excluded() {
    preflight();
    let (pod, outside) = pod_and_outside();
    pod.listen("0.0.0.0:15001", "proxy-outbound");
    pod.listen("0.0.0.0:15006", "proxy-inbound");
    pod.listen("0.0.0.0:8000", "app");
    pod.listen("0.0.0.0:15090", "app");
    outside.listen("0.0.0.0:8080", "outside");
    outside.listen("0.0.0.0:9090", "outside");
    assert_success(&pod.capture(TEMPLATE_ARGS, &[]), "capture");

    // Outbound: the app's connections reach the proxy's outbound port,
    // which can tell where they were going.
    assert_eq!(pod.ask("10.55.0.1:8080"), "proxy-outbound 10.55.0.1:8080");
    // The proxy's own connections, an excluded range and an excluded
    // port go out untouched.
    assert_eq!(
        pod.ask_as(PROXY_UID, "10.55.0.1:8080"),
        "outside 10.55.0.1:8080"
    );
    assert_eq!(pod.ask("10.55.0.3:8080"), "outside 10.55.0.3:8080");
    assert_eq!(pod.ask("10.55.0.1:9090"), "outside 10.55.0.1:9090");

    // Inbound: connections to an app port reach the proxy's inbound port;
    // an excluded port reaches the app.
    assert_eq!(
        outside.ask("10.55.0.2:8000"),
        "proxy-inbound 10.55.0.2:8000"
    );
    assert_eq!(outside.ask("10.55.0.2:15090"), "app 10.55.0.2:15090");

    // Loopback, as Istio treats it: the app reaching itself (by loopback or
    // by the pod's address) is left alone; the proxy reaching the pod's
    // address is a call of the app to itself through a service, and comes
    // back in through the inbound port; the proxy on loopback is left alone.
    assert_eq!(pod.ask("127.0.0.1:8000"), "app 127.0.0.1:8000");
    assert_eq!(pod.ask("10.55.0.2:8000"), "app 10.55.0.2:8000");
    assert_eq!(
        pod.ask_as(PROXY_UID, "10.55.0.2:8000"),
        "proxy-inbound 10.55.0.2:8000"
    );
    assert_eq!(
        pod.ask_as(PROXY_UID, "127.0.0.1:8000"),
        "app 127.0.0.1:8000"
    );
}

/// A rerun leaves the same rules as one run, and the cleanup gives back the
/// rules there were before, a foreign rule included, in both families, with
/// either iptables variant.
#[test]
fn a_rerun_changes_nothing_and_the_cleanup_restores_the_original_rules() {
    preflight();
    let resolv_conf = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        resolv_conf.path(),
        "nameserver 10.96.0.10\nnameserver fd00::10\n",
    )
    .unwrap();
    let resolv_conf = format!("--resolv-conf={}", resolv_conf.path().display());
    let tproxy_dns_ipv6: &[&str] = &[
        "-u",
        "1337",
        "-m",
        "TPROXY",
        "-i",
        "*",
        "-x",
        "10.0.0.0/8,fd00:1::/64",
        "-b",
        "*",
        "-d",
        "15090,15021,15020",
        "-c",
        "eth9",
        "-k",
        "vm0",
        "--redirect-dns",
        "--drop-invalid",
        "--assume-ipv6",
        &resolv_conf,
    ];
    for variant in ["nft", "legacy"] {
        for flags in [TEMPLATE_ARGS, tproxy_dns_ipv6] {
            let case = format!("{variant} {}", flags.join(" "));
            let (pod, _outside) = pod_and_outside();
            pod.sh(&format!(
                "iptables-{variant} -w -t nat -A OUTPUT -p tcp --dport 9 -j ACCEPT && \
                 ip6tables-{variant} -w -t mangle -A OUTPUT -p tcp --dport 9 -j ACCEPT"
            ));
            let original = pod.state(variant);
            let binary = format!("--force-iptables-binary={variant}");
            let args: Vec<&str> = flags.iter().copied().chain([binary.as_str()]).collect();

            assert_success(&pod.capture(&args, &[]), &case);
            let once = pod.state(variant);
            assert!(
                once.contains("-A ISTIO_OUTPUT"),
                "{case}: no rules applied:\n{once}"
            );
            assert!(
                once.contains("--dport 9 -j ACCEPT"),
                "{case}: the foreign rule is gone"
            );

            assert_success(&pod.capture(&args, &[]), &case);
            assert_eq!(
                pod.state(variant),
                once,
                "{case}: a second run changed the rules"
            );

            let cleanup: Vec<&str> = args.iter().copied().chain(["--cleanup"]).collect();
            assert_success(&pod.capture(&cleanup, &[]), &case);
            assert_eq!(
                pod.state(variant),
                original,
                "{case}: the cleanup left a difference"
            );
        }
    }
}

#[test]
fn bad_input_applies_nothing() {
    preflight();
    let (pod, _outside) = pod_and_outside();
    let original = pod.state("nft");

    // Refused by capture itself.
    for bad in [
        &["-b", "80,http"][..],
        &["-x", "*"],
        &["-i", "10.0.0.0/33"],
        &["-m", "tproxy"],
    ] {
        let output = pod.capture(&[TEMPLATE_ARGS, bad].concat(), &[]);
        assert_eq!(output.status.code(), Some(2), "{bad:?} was accepted");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&format!("'{}'", bad[1])),
            "{bad:?}: {stderr}"
        );
    }
    let output = pod.capture(TEMPLATE_ARGS, &[("ISTIO_OUTBOUND_OWNER_GROUPS", "a group")]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(pod.state("nft"), original);

    // Refused by iptables (a group that does not exist, in the second of
    // the two tables): not even the first table is written.
    let output = pod.capture(
        &[TEMPLATE_ARGS, &["--drop-invalid"]].concat(),
        &[("ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE", "no-such-group")],
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("IPv4 rules were refused"), "{stderr}");
    assert_eq!(pod.state("nft"), original);
}

/// A fake ip6tables-nft-restore that fails, on the `--test` pre-check or
/// only on the real commit, first in PATH.
fn failing_ip6tables_restore(dir: &Path, on_test_too: bool) -> String {
    let check = if on_test_too {
        ""
    } else {
        "for a in \"$@\"; do [ \"$a\" = --test ] && exit 0; done\n"
    };
    let script = dir.join("ip6tables-nft-restore");
    std::fs::write(
        &script,
        format!("#!/bin/sh\n{check}echo 'line 2 failed' >&2\nexit 1\n"),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    format!("{}:{}", dir.display(), std::env::var("PATH").unwrap())
}

#[test]
fn an_ipv6_failure_leaves_ipv4_as_it_was() {
    preflight();
    for on_test_too in [true, false] {
        let (pod, _outside) = pod_and_outside();
        let original = pod.state("nft");
        let fake = tempfile::tempdir().unwrap();
        let path = failing_ip6tables_restore(fake.path(), on_test_too);
        let args = [
            TEMPLATE_ARGS,
            &["--assume-ipv6", "--force-iptables-binary=nft"],
        ]
        .concat();
        let output = pod.capture(&args, &[("PATH", &path)]);
        assert_eq!(output.status.code(), Some(1), "on_test_too={on_test_too}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("IPv6 rules were refused"), "{stderr}");
        assert_eq!(pod.state("nft"), original, "on_test_too={on_test_too}");
    }
}

#[test]
fn validation_passes_only_when_traffic_is_captured() {
    preflight();
    let (pod, _outside) = pod_and_outside();
    let validate = [
        "--run-validation",
        "--skip-rule-apply",
        "--probe-timeout=2s",
    ];
    let before = pod.capture_as(PROXY_UID, &validate);
    assert_eq!(before.status.code(), Some(126), "{before:?}");
    assert!(String::from_utf8_lossy(&before.stderr).contains("traffic is not captured"));

    assert_success(&pod.capture(TEMPLATE_ARGS, &[]), "capture");
    assert_success(&pod.capture_as(PROXY_UID, &validate), "validation");
}
