//! Property tests of the command line: any argv (flags with arbitrary,
//! plausible or hostile values, in any order) is refused with an error
//! naming what is wrong or gives a rule set; never a panic, and no value
//! adds a rule, a target or a line to the iptables-restore input.
//!
//! `PROPTEST_CASES` raises the number of cases (default 512).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

use capture::config::{Config, EnvSettings, HostFacts};
use capture::{cli, restore, rules};
use proptest::prelude::*;
use proptest::sample::select;
use test_support::budget::cases as budget;

const FLAGS: &[&str] = &[
    "-p",
    "--envoy-port",
    "-z",
    "--inbound-capture-port",
    "-e",
    "--inbound-tunnel-port",
    "-u",
    "--proxy-uid",
    "-g",
    "--proxy-gid",
    "-m",
    "--istio-inbound-interception-mode",
    "-b",
    "--istio-inbound-ports",
    "-d",
    "--istio-local-exclude-ports",
    "-c",
    "--istio-exclude-interfaces",
    "-i",
    "--istio-service-cidr",
    "-x",
    "--istio-service-exclude-cidr",
    "-q",
    "--istio-outbound-ports",
    "-o",
    "--istio-local-outbound-ports-exclude",
    "-k",
    "--kube-virt-interfaces",
    "-t",
    "--istio-inbound-tproxy-mark",
    "-r",
    "--istio-inbound-tproxy-route-table",
    "-n",
    "--dry-run",
    "--iptables-probe-port",
    "--probe-timeout",
    "--skip-rule-apply",
    "--run-validation",
    "--redirect-dns",
    "--capture-all-dns",
    "--drop-invalid",
    "--dual-stack",
    "--cleanup",
    "--cleanup-only",
    "--force-apply",
    "--native-nftables",
    "--force-iptables-binary",
    "--assume-ipv6",
    "--log_output_level",
    "--log_as_json",
    "istio-iptables",
    "--",
    "-",
    "--help",
    "-h",
    "--version",
    "-V",
    "--nope",
];

const HOSTILE: &[&str] = &[
    "",
    " ",
    "*",
    ",",
    ",,",
    "-",
    "--",
    "eth0 -j ACCEPT",
    "eth0\n-A OUTPUT -j DROP",
    "lo",
    "a b",
    "\u{0}",
    "é",
    "1337 1338",
    "1337,",
    "0",
    "65535",
    "65536",
    "-1",
    "99999999999999999999",
    "0.0.0.0/0",
    "::/0",
    "10.0.0.0/33",
    "10.0.0.1",
    "fe80::1%eth0/64",
    "1.2.3.4/8,::1/128",
    "REDIRECT",
    "TPROXY",
    "redirect",
    "true",
    "false",
    "T",
    "2",
    "5s",
    "1h",
    "-5s",
    "1e9s",
    "legacy",
    "nft",
    "default:debug",
    "#",
    "COMMIT",
    "* nat",
];

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => select(HOSTILE).prop_map(String::from),
        2 => "[0-9]{1,6}(,[0-9]{1,6}){0,3}",
        1 => "([0-9]{1,3}\\.){3}[0-9]{1,3}/[0-9]{1,2}",
        1 => "[a-z0-9]{1,8}(,[a-z0-9]{1,8}){0,2}",
        1 => "[ -~]{0,16}",
        1 => any::<String>(),
    ]
}

/// One argument: a flag, a flag with `=value`, or a bare value.
fn arg() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => select(FLAGS).prop_map(String::from),
        2 => (select(FLAGS), value()).prop_map(|(f, v)| format!("{f}={v}")),
        3 => value(),
    ]
}

/// The flags that take a value, each with one: most such command lines
/// parse, so the values reach the rules.
const VALUED: &[&str] = &[
    "--envoy-port",
    "--inbound-capture-port",
    "--inbound-tunnel-port",
    "--proxy-uid",
    "--proxy-gid",
    "--istio-inbound-interception-mode",
    "--istio-inbound-ports",
    "--istio-local-exclude-ports",
    "--istio-exclude-interfaces",
    "--istio-service-cidr",
    "--istio-service-exclude-cidr",
    "--istio-outbound-ports",
    "--istio-local-outbound-ports-exclude",
    "--kube-virt-interfaces",
    "--istio-inbound-tproxy-mark",
    "--istio-inbound-tproxy-route-table",
    "--redirect-dns",
    "--capture-all-dns",
    "--drop-invalid",
    "--dual-stack",
];

fn valued_arg() -> impl Strategy<Value = String> {
    (select(VALUED), value()).prop_map(|(f, v)| format!("{f}={v}"))
}

fn env_settings() -> impl Strategy<Value = EnvSettings> {
    (value(), value(), value()).prop_map(|(include, exclude, loopback)| EnvSettings {
        owner_groups_include: include,
        owner_groups_exclude: exclude,
        loopback_cidr: loopback,
        envoy_user: "nobody-here".into(),
    })
}

/// The lines iptables-restore input and the dry run's record may hold.
fn well_formed(line: &str) -> bool {
    let known = ["iptables-save", "ip6tables-save", "COMMIT"].contains(&line)
        || ["* ", "-N ", "-A ", "-I ", ":"]
            .iter()
            .any(|p| line.starts_with(p));
    let one_target = line.split(' ').filter(|t| *t == "-j").count() <= 1;
    known && one_target && !line.chars().any(char::is_control)
}

proptest! {
    #![proptest_config(budget(512))]

    #[test]
    fn any_argv_is_refused_cleanly_or_gives_well_formed_rules(
        argv in prop_oneof![
            prop::collection::vec(arg(), 0..8),
            prop::collection::vec(valued_arg(), 1..3),
        ],
        env in prop_oneof![Just(EnvSettings::default()), env_settings()],
        ipv6 in any::<bool>(),
    ) {
        let args = match cli::parse(std::iter::once("capture".to_string()).chain(argv)) {
            Ok(args) => args,
            Err(e) => {
                prop_assert!(!e.to_string().is_empty());
                return Ok(());
            }
        };
        let facts = HostFacts { ipv6, ..HostFacts::default() };
        let cfg = match Config::new(&args, &env, &facts) {
            Ok(cfg) => cfg,
            Err(e) => {
                prop_assert!(!e.to_string().is_empty());
                return Ok(());
            }
        };
        let text = restore::dry_run(&rules::build(&cfg));
        for line in text.lines() {
            prop_assert!(well_formed(line), "line {:?} in\n{}", line, text);
        }
    }
}
