//! The command line: istio-iptables' flags with their long and short names
//! and the environment variables they read, so that Istio's templates (and
//! ours) can run `capture` where they ran `istio-iptables`; plus
//! `--cleanup`, and the two host facts a dry run can be given
//! (`--assume-ipv6`, `--resolv-conf`).
//!
//! Precedence is istio-iptables' (cobra flags bound to variables): a flag on
//! the command line wins over its variable, which wins over the default.
//! Booleans read Go's spellings (`true`, `1`, `T`, `False`, ...), on the
//! command line as `--flag` or `--flag=false`, and a flag may be repeated
//! (the last one wins).

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::{ArgAction, CommandFactory, FromArgMatches, Parser};

use crate::iptables::BinaryChoice;
use crate::log::LogLevel;
use crate::values::{
    ExcludedRanges, InboundPorts, InterceptionMode, Interfaces, IpRanges, Owners, Ports,
};

/// Sets up the pod's traffic capture: the iptables rules that send inbound
/// TCP to the proxy's inbound port and outbound TCP to its outbound port,
/// except the proxy's own traffic. Accepts istio-iptables' command line.
#[derive(Debug, Parser)]
#[command(name = "capture", version, args_override_self = true)]
pub struct Args {
    /// Istio's templates run `istio-iptables` as a subcommand of the proxy
    /// image's entry point; the word is accepted and means nothing here.
    #[arg(hide = true, value_parser = ["istio-iptables"])]
    pub istio_iptables: Option<String>,

    /// Port of the proxy's outbound listener: outbound TCP is redirected to it.
    #[arg(short = 'p', long = "envoy-port", default_value_t = 15001, value_parser = port())]
    pub proxy_port: u16,

    /// Port of the proxy's inbound listener: captured inbound TCP goes there.
    #[arg(short = 'z', long, env = "INBOUND_CAPTURE_PORT", default_value_t = 15006, value_parser = port())]
    pub inbound_capture_port: u16,

    /// The proxy's tunnel port (HBONE), never captured.
    #[arg(short = 'e', long, env = "INBOUND_TUNNEL_PORT", default_value_t = 15008, value_parser = port())]
    pub inbound_tunnel_port: u16,

    /// Users whose traffic is not captured (the proxy's); default: the uid
    /// of the user named by $ENVOY_USER (istio-proxy), else 1337.
    #[arg(short = 'u', long, env = "PROXY_UID", value_name = "UIDS")]
    pub proxy_uid: Option<Owners>,

    /// Groups whose traffic is not captured; default: the same as -u.
    #[arg(short = 'g', long, env = "PROXY_GID", value_name = "GIDS")]
    pub proxy_gid: Option<Owners>,

    /// How inbound connections are captured: REDIRECT (NAT) or TPROXY.
    #[arg(
        short = 'm',
        long = "istio-inbound-interception-mode",
        env = "ISTIO_INBOUND_INTERCEPTION_MODE",
        default_value = "REDIRECT",
        value_name = "MODE"
    )]
    pub interception_mode: InterceptionMode,

    /// Inbound ports to capture: a list, `*` for all, empty for none.
    #[arg(
        short = 'b',
        long = "istio-inbound-ports",
        env = "ISTIO_INBOUND_PORTS",
        default_value = "",
        value_name = "PORTS"
    )]
    pub inbound_ports: InboundPorts,

    /// Inbound ports left alone when all are captured (`-b '*'`).
    #[arg(
        short = 'd',
        long = "istio-local-exclude-ports",
        env = "ISTIO_LOCAL_EXCLUDE_PORTS",
        default_value = "",
        value_name = "PORTS"
    )]
    pub inbound_ports_exclude: Ports,

    /// Interfaces whose traffic, in and out, is never captured.
    #[arg(
        short = 'c',
        long = "istio-exclude-interfaces",
        env = "ISTIO_EXCLUDE_INTERFACES",
        default_value = "",
        value_name = "NAMES"
    )]
    pub exclude_interfaces: Interfaces,

    /// Outbound IP ranges to capture: CIDRs, `*` for all, empty for none.
    #[arg(
        short = 'i',
        long = "istio-service-cidr",
        env = "ISTIO_SERVICE_CIDR",
        default_value = "",
        value_name = "CIDRS"
    )]
    pub outbound_ranges: IpRanges,

    /// Outbound IP ranges never captured.
    #[arg(
        short = 'x',
        long = "istio-service-exclude-cidr",
        env = "ISTIO_SERVICE_EXCLUDE_CIDR",
        default_value = "",
        value_name = "CIDRS"
    )]
    pub outbound_ranges_exclude: ExcludedRanges,

    /// Outbound ports always captured, whatever the destination.
    #[arg(
        short = 'q',
        long = "istio-outbound-ports",
        env = "ISTIO_OUTBOUND_PORTS",
        default_value = "",
        value_name = "PORTS"
    )]
    pub outbound_ports: Ports,

    /// Outbound ports never captured.
    #[arg(
        short = 'o',
        long = "istio-local-outbound-ports-exclude",
        env = "ISTIO_LOCAL_OUTBOUND_PORTS_EXCLUDE",
        default_value = "",
        value_name = "PORTS"
    )]
    pub outbound_ports_exclude: Ports,

    /// Virtual interfaces (a VM's) whose inbound traffic is treated as outbound.
    #[arg(
        short = 'k',
        long = "kube-virt-interfaces",
        env = "KUBE_VIRT_INTERFACES",
        default_value = "",
        value_name = "NAMES"
    )]
    pub kube_virt_interfaces: Interfaces,

    /// Packet mark of TPROXY-captured connections.
    #[arg(
        short = 't',
        long = "istio-inbound-tproxy-mark",
        env = "ISTIO_INBOUND_TPROXY_MARK",
        default_value_t = 1337
    )]
    pub tproxy_mark: u32,

    /// Routing table that sends TPROXY-marked packets to the loopback interface.
    #[arg(
        short = 'r',
        long = "istio-inbound-tproxy-route-table",
        env = "ISTIO_INBOUND_TPROXY_ROUTE_TABLE",
        default_value_t = 133
    )]
    pub tproxy_route_table: u32,

    /// Print the rules (as Istio's capture tests record them) instead of applying them.
    #[arg(short = 'n', long, env = "DRY_RUN")]
    pub dry_run: bool,

    /// Port the validation probe connects to.
    #[arg(long, env = "IPTABLES_PROBE_PORT", default_value_t = 15002, value_parser = port())]
    pub iptables_probe_port: u16,

    /// How long the validation probe waits for its connection to be redirected.
    #[arg(long, env = "PROBE_TIMEOUT", default_value = "5s", value_parser = go_duration)]
    pub probe_timeout: Duration,

    /// Do not touch the rules (with --run-validation: only check them).
    #[arg(long, env = "SKIP_RULE_APPLY")]
    pub skip_rule_apply: bool,

    /// Prove that a connection is redirected to the proxy's ports, as
    /// istio-validation does (run it as the proxy's user).
    #[arg(long, env = "RUN_VALIDATION")]
    pub run_validation: bool,

    /// Send DNS to the agent's resolver on 15053 (also $ISTIO_META_DNS_CAPTURE).
    #[arg(long, env = "REDIRECT_DNS")]
    pub redirect_dns: bool,

    /// With --redirect-dns, capture DNS to any server, not just resolv.conf's.
    #[arg(long, env = "CAPTURE_ALL_DNS")]
    pub capture_all_dns: bool,

    /// Drop packets conntrack finds invalid (also $INVALID_DROP).
    #[arg(long, env = "DROP_INVALID")]
    pub drop_invalid: bool,

    /// IPv6 rules as soon as the pod has any IPv6 address (also $ISTIO_DUAL_STACK).
    #[arg(long, env = "DUAL_STACK")]
    pub dual_stack: bool,

    /// Remove our chains and our rules (those these flags would add), and nothing else.
    #[arg(long, visible_alias = "cleanup-only", env = "CLEANUP_ONLY")]
    pub cleanup: bool,

    /// Accepted for istio-iptables' templates: every run already replaces our rules.
    #[arg(long, env = "FORCE_APPLY")]
    pub force_apply: bool,

    /// Accepted for istio-iptables' templates: rules go through iptables-nft anyway where nftables is in use.
    #[arg(long, env = "NATIVE_NFTABLES")]
    pub native_nftables: bool,

    /// Which iptables to use: legacy or nft (default: legacy if it holds rules, else nft).
    #[arg(
        long,
        env = "FORCE_IPTABLES_BINARY",
        default_value = "",
        value_name = "legacy|nft"
    )]
    pub force_iptables_binary: BinaryChoice,

    /// Whether the pod has an IPv6 address, instead of looking (a dry run
    /// without it assumes IPv4 only, so that it prints the same anywhere).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true",
          value_parser = go_bool, value_name = "BOOL")]
    pub assume_ipv6: Option<bool>,

    /// Where the DNS servers to capture are read from (with --redirect-dns).
    #[arg(long, default_value = "/etc/resolv.conf", value_name = "FILE")]
    pub resolv_conf: PathBuf,

    /// Istio's log level option: `default:LEVEL` (or just LEVEL), LEVEL one
    /// of debug, info, warn, error, fatal, none; other scopes are ignored.
    #[arg(
        long = "log_output_level",
        default_value = "default:info",
        value_name = "SCOPE:LEVEL,..."
    )]
    pub log_level: LogLevel,

    /// Log JSON lines instead of text.
    #[arg(long = "log_as_json")]
    pub log_as_json: bool,
}

/// Variables that set a boolean flag besides the flag's own variable, as
/// istio-iptables' `flag.AdditionalEnv`: they win over the flag's own
/// variable, and the command line wins over both.
const ALSO_FROM_ENV: &[(&str, &str)] = &[
    ("redirect-dns", "ISTIO_META_DNS_CAPTURE"),
    ("drop-invalid", "INVALID_DROP"),
    ("dual-stack", "ISTIO_DUAL_STACK"),
];

/// Parses a command line (program name first), reading the flags'
/// variables from the process environment.
pub fn parse<I, T>(argv: I) -> Result<Args, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let mut argv = argv.into_iter().map(Into::into);
    let program = argv.next().unwrap_or_else(|| "capture".into());
    // The additional variables become flags placed before the real ones,
    // so that a flag given on the command line overrides them.
    let mut full = vec![program];
    for (flag, variable) in ALSO_FROM_ENV {
        if let Ok(value) = std::env::var(variable) {
            let value = go_bool(&value).map_err(|e| {
                Args::command().error(ErrorKind::InvalidValue, format!("${variable}: {e}"))
            })?;
            full.push(format!("--{flag}={value}").into());
        }
    }
    full.extend(argv);
    let matches = command().try_get_matches_from(full)?;
    Args::from_arg_matches(&matches)
}

/// The clap command, with every plain boolean flag made Go-like: it takes an
/// optional `=value` (`--dry-run=false`) and its variable reads Go's spellings.
fn command() -> clap::Command {
    Args::command().mut_args(|arg| {
        if matches!(arg.get_action(), ArgAction::SetTrue) {
            arg.action(ArgAction::Set)
                .num_args(0..=1)
                .require_equals(true)
                .default_missing_value("true")
                .default_value("false")
                .value_parser(go_bool)
                .value_name("BOOL")
        } else {
            arg
        }
    })
}

fn port() -> clap::builder::RangedI64ValueParser<u16> {
    clap::value_parser!(u16).range(1..)
}

/// A boolean as Go's `strconv.ParseBool` reads it.
fn go_bool(text: &str) -> Result<bool, String> {
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!("{text:?} is not a boolean (true or false)")),
    }
}

/// A duration as Go's `time.ParseDuration` reads it: `5s`, `1m30s`,
/// `1.5s`, `250ms`; `0` alone needs no unit.
fn go_duration(text: &str) -> Result<Duration, String> {
    let invalid = || format!("{text:?} is not a duration (such as 5s, 500ms or 1m30s)");
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    if text.is_empty() {
        return Err(invalid());
    }
    let mut seconds = 0f64;
    let mut rest = text;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        let (number, tail) = rest.split_at(number_end);
        let unit_end = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_end);
        let scale = match unit {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(invalid()),
        };
        seconds += number.parse::<f64>().map_err(|_| invalid())? * scale;
        rest = next;
    }
    Duration::try_from_secs_f64(seconds).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &[&str]) -> Result<Args, clap::Error> {
        parse(std::iter::once("capture").chain(line.iter().copied()))
    }

    #[test]
    fn the_arguments_of_istios_template_parse() {
        let a = args(&[
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
            "",
            "-b",
            "*",
            "-d",
            "15090,15021,15020",
            "--log_output_level=default:info",
        ])
        .unwrap();
        assert_eq!(a.outbound_ranges, IpRanges::All);
        assert_eq!(a.outbound_ranges_exclude, ExcludedRanges(vec![]));
        assert_eq!(a.inbound_ports, InboundPorts::All);
        assert_eq!(a.inbound_ports_exclude, Ports(vec![15090, 15021, 15020]));
        assert_eq!(a.proxy_uid, Some(Owners(vec!["1337".into()])));
        assert_eq!(a.proxy_gid, None);
    }

    #[test]
    fn booleans_take_an_optional_go_value_and_the_last_one_wins() {
        assert!(args(&["--redirect-dns"]).unwrap().redirect_dns);
        assert!(!args(&["--redirect-dns=False"]).unwrap().redirect_dns);
        assert!(!args(&["-n", "--dry-run=0"]).unwrap().dry_run);
        assert!(!args(&[]).unwrap().drop_invalid);
        let err = args(&["--dry-run=maybe"]).unwrap_err().to_string();
        assert!(err.contains("\"maybe\" is not a boolean"), "{err}");
    }

    #[test]
    fn repeated_flags_keep_the_last_value() {
        assert_eq!(args(&["-p", "1", "-p", "2"]).unwrap().proxy_port, 2);
    }

    #[test]
    fn bad_values_name_the_flag_and_the_value() {
        let err = args(&["-b", "80,http"]).unwrap_err().to_string();
        assert!(
            err.contains("--istio-inbound-ports") && err.contains("\"http\" is not a port"),
            "{err}"
        );
        let err = args(&["-p", "0"]).unwrap_err().to_string();
        assert!(err.contains("--envoy-port"), "{err}");
        assert!(args(&["-x", "*"]).is_err());
        assert!(args(&["--no-such-flag"]).is_err());
        assert!(args(&["some-other-command"]).is_err());
    }

    #[test]
    fn assume_ipv6_is_unset_true_or_false() {
        assert_eq!(args(&[]).unwrap().assume_ipv6, None);
        assert_eq!(args(&["--assume-ipv6"]).unwrap().assume_ipv6, Some(true));
        assert_eq!(
            args(&["--assume-ipv6=false"]).unwrap().assume_ipv6,
            Some(false)
        );
    }

    #[test]
    fn cleanup_has_istios_name_too() {
        assert!(args(&["--cleanup-only"]).unwrap().cleanup);
    }

    #[test]
    fn durations_read_like_go() {
        assert_eq!(go_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(go_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(go_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(go_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(go_duration("0"), Ok(Duration::ZERO));
        for bad in ["", "5", "s", "5x", "1..5s"] {
            assert!(go_duration(bad).is_err(), "{bad}");
        }
    }
}
