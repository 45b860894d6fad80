//! The `capture` binary's command line, as a process sees it: flags over
//! their environment variables, Istio's additional variables, exit codes,
//! and what a dry run prints.

#![allow(clippy::unwrap_used, reason = "test helpers: a panic fails the test")]

use std::process::{Command, Output};

/// Runs `capture --dry-run` with exactly these arguments and variables.
fn dry_run(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_capture"))
        .env_clear()
        .envs(env.iter().copied())
        .args(["--dry-run", "-u", "1337"])
        .args(args)
        .output()
        .unwrap()
}

fn rules(args: &[&str], env: &[(&str, &str)]) -> String {
    let output = dry_run(args, env);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

const INBOUND_80: &str = "-A ISTIO_INBOUND -p tcp --dport 80 -j ISTIO_IN_REDIRECT";
const INBOUND_90: &str = "-A ISTIO_INBOUND -p tcp --dport 90 -j ISTIO_IN_REDIRECT";

#[test]
fn a_flag_wins_over_its_variable() {
    let from_env = rules(&[], &[("ISTIO_INBOUND_PORTS", "80")]);
    assert!(from_env.contains(INBOUND_80), "{from_env}");
    let both = rules(&["-b", "90"], &[("ISTIO_INBOUND_PORTS", "80")]);
    assert!(
        both.contains(INBOUND_90) && !both.contains(INBOUND_80),
        "{both}"
    );
}

#[test]
fn istios_additional_variables_win_over_the_flags_own_but_not_over_the_flag() {
    let drop_rule = "-A ISTIO_DROP -j DROP";
    assert!(rules(&[], &[("INVALID_DROP", "true"), ("DROP_INVALID", "false")]).contains(drop_rule));
    assert!(!rules(&[], &[("INVALID_DROP", "0"), ("DROP_INVALID", "true")]).contains(drop_rule));
    assert!(!rules(&["--drop-invalid=false"], &[("INVALID_DROP", "1")]).contains(drop_rule));
    assert!(rules(&["--drop-invalid"], &[]).contains(drop_rule));

    let dns = "-j ISTIO_OUTPUT_DNS";
    let capture_all = ["--capture-all-dns"];
    assert!(rules(&capture_all, &[("ISTIO_META_DNS_CAPTURE", "True")]).contains(dns));
    assert!(
        !rules(
            &capture_all,
            &[("ISTIO_META_DNS_CAPTURE", "F"), ("REDIRECT_DNS", "T")]
        )
        .contains(dns)
    );
}

#[test]
fn the_dns_servers_come_from_the_given_resolv_conf() {
    let dir = tempfile::tempdir().unwrap();
    let resolv_conf = dir.path().join("resolv.conf");
    std::fs::write(&resolv_conf, "nameserver 10.96.0.10\nnameserver fd00::10\n").unwrap();
    let file = format!("--resolv-conf={}", resolv_conf.display());
    let ipv4 = rules(&["--redirect-dns", &file], &[]);
    assert!(
        ipv4.contains("-d 10.96.0.10/32 -j REDIRECT --to-ports 15053"),
        "{ipv4}"
    );
    assert!(
        !ipv4.contains("fd00::10"),
        "an IPv4 pod has no IPv6 rules: {ipv4}"
    );
    let dual = rules(&["--redirect-dns", &file, "--assume-ipv6"], &[]);
    assert!(
        dual.contains("-d fd00::10/128 -j REDIRECT --to-ports 15053"),
        "{dual}"
    );

    let missing = dry_run(
        &["--redirect-dns", "--resolv-conf=/nonexistent/resolv.conf"],
        &[],
    );
    assert_eq!(missing.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("/nonexistent/resolv.conf"), "{stderr}");
}

#[test]
fn bad_input_is_refused_before_printing_anything() {
    for (args, env, code, needle) in [
        (&["-b", "80,http"][..], &[][..], 2, "'80,http'"),
        (&[], &[("ISTIO_INBOUND_PORTS", "99999")][..], 2, "'99999'"),
        (&["--no-such-flag"], &[], 2, "--no-such-flag"),
        (
            &[],
            &[("ISTIO_META_DNS_CAPTURE", "maybe")],
            2,
            "$ISTIO_META_DNS_CAPTURE",
        ),
        (
            &[],
            &[("ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR", "10.0.0.1/32")],
            1,
            "ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR",
        ),
    ] {
        let output = dry_run(args, env);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(code),
            "{args:?} {env:?}: {stderr}"
        );
        assert!(stderr.contains(needle), "{args:?} {env:?}: {stderr}");
        assert!(output.stdout.is_empty(), "{args:?} {env:?}");
    }
}

#[test]
fn skipping_the_apply_prints_no_rules() {
    let output = dry_run(&["--skip-rule-apply", "-b", "*"], &[]);
    assert!(output.status.success());
    assert!(output.stdout.is_empty());
}

#[test]
fn a_cleanup_dry_run_lists_the_removal_for_both_families() {
    let removal = rules(&["--cleanup", "-c", "eth9"], &[]);
    assert_eq!(
        removal.matches("-D OUTPUT -j ISTIO_OUTPUT").count(),
        2,
        "{removal}"
    );
    assert_eq!(
        removal.matches("-D PREROUTING -i eth9 -j RETURN").count(),
        2,
        "{removal}"
    );
    assert_eq!(removal.matches("-X ISTIO_OUTPUT").count(), 2, "{removal}");
    assert!(!removal.contains("-A "), "{removal}");
}
