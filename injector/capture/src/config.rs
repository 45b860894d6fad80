//! The validated settings of one run: the flags, the settings istio-iptables
//! reads only from its environment, and the host's facts, combined with
//! istio-iptables' defaults.

use std::net::IpAddr;

use tracing::warn;

use crate::cli::Args;
use crate::family::{ByFamily, Family};
use crate::host::{self, HostError};
use crate::values::{Cidr, InboundPorts, InterceptionMode, IpRanges, Owners, ValueError};

/// Istio's limit: the included groups all go into one rule, and iptables
/// takes only so many matches in a rule.
const MAX_OWNER_GROUPS_INCLUDED: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("${variable}")]
    Variable {
        variable: &'static str,
        #[source]
        source: ValueError,
    },
    #[error(
        "${OWNER_GROUPS_INCLUDE} lists {0} groups; at most {MAX_OWNER_GROUPS_INCLUDED} fit in one iptables rule"
    )]
    TooManyOwnerGroups(usize),
    #[error(
        "${LOOPBACK_CIDR}={0}: expected an IPv4 loopback range with a prefix length from 8 to 32"
    )]
    Loopback(String),
}

const OWNER_GROUPS_INCLUDE: &str = "ISTIO_OUTBOUND_OWNER_GROUPS";
const OWNER_GROUPS_EXCLUDE: &str = "ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE";
const LOOPBACK_CIDR: &str = "ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR";
const ENVOY_USER: &str = "ENVOY_USER";

/// The settings istio-iptables has no flag for, read from its environment
/// with its defaults. A variable set to the empty string is empty, not
/// unset (`ISTIO_OUTBOUND_OWNER_GROUPS=""` includes no group).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvSettings {
    /// Groups whose traffic is captured, `*` for all.
    pub owner_groups_include: String,
    /// Groups whose traffic is not captured, when all others are.
    pub owner_groups_exclude: String,
    /// The IPv4 range that counts as the pod's own loopback traffic.
    pub loopback_cidr: String,
    /// The proxy's user, whose uid is the default of `-u`.
    pub envoy_user: String,
}

impl Default for EnvSettings {
    fn default() -> Self {
        EnvSettings {
            owner_groups_include: "*".into(),
            owner_groups_exclude: String::new(),
            loopback_cidr: "127.0.0.1/32".into(),
            envoy_user: "istio-proxy".into(),
        }
    }
}

impl EnvSettings {
    pub fn from_process() -> Self {
        let defaults = EnvSettings::default();
        let read = |name: &str, default: String| std::env::var(name).unwrap_or(default);
        EnvSettings {
            owner_groups_include: read(OWNER_GROUPS_INCLUDE, defaults.owner_groups_include),
            owner_groups_exclude: read(OWNER_GROUPS_EXCLUDE, defaults.owner_groups_exclude),
            loopback_cidr: read(LOOPBACK_CIDR, defaults.loopback_cidr),
            envoy_user: read(ENVOY_USER, defaults.envoy_user),
        }
    }
}

/// What the host tells about the pod.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostFacts {
    /// The pod gets IPv6 rules too.
    pub ipv6: bool,
    /// resolv.conf's servers, read only when DNS capture needs them.
    pub nameservers: ByFamily<Vec<IpAddr>>,
}

impl HostFacts {
    /// The facts this run needs, from the flags that stand in for them or
    /// from the host. A dry run never looks at the host's addresses: without
    /// `--assume-ipv6` it plans for IPv4 only, so it prints the same rules
    /// on any machine. A cleanup does not need to know: it cleans both
    /// families.
    pub fn gather(args: &Args) -> Result<HostFacts, HostError> {
        let ipv6 = match args.assume_ipv6 {
            Some(ipv6) => ipv6,
            None if args.dry_run || args.cleanup => false,
            None => host::pod_is_ipv6(args.dual_stack)?,
        };
        let nameservers = if args.redirect_dns && !args.capture_all_dns {
            host::nameservers(&args.resolv_conf)?
        } else {
            ByFamily::default()
        };
        Ok(HostFacts { ipv6, nameservers })
    }
}

/// Which DNS traffic goes to the agent's resolver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsCapture {
    Off,
    /// All traffic to port 53 (`--capture-all-dns`).
    AllServers,
    /// Traffic to resolv.conf's servers.
    Servers(ByFamily<Vec<IpAddr>>),
}

/// Whose outbound traffic is captured, by the sending process's group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnerGroups {
    AllExcept(Vec<String>),
    Only(Vec<String>),
}

/// Everything the rules are built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub proxy_port: u16,
    pub inbound_capture_port: u16,
    pub inbound_tunnel_port: u16,
    pub proxy_uids: Vec<String>,
    pub proxy_gids: Vec<String>,
    pub mode: InterceptionMode,
    pub inbound_ports: InboundPorts,
    /// Inbound ports skipped when all are captured.
    pub inbound_ports_exclude: Vec<u16>,
    pub outbound_ranges: ByFamily<IpRanges>,
    pub outbound_ranges_exclude: ByFamily<Vec<Cidr>>,
    pub outbound_ports: Vec<u16>,
    pub outbound_ports_exclude: Vec<u16>,
    pub exclude_interfaces: Vec<String>,
    pub kube_virt_interfaces: Vec<String>,
    pub tproxy_mark: u32,
    pub tproxy_route_table: u32,
    pub dns: DnsCapture,
    pub drop_invalid: bool,
    pub ipv6: bool,
    pub owner_groups: OwnerGroups,
    /// The IPv4 range of the pod's own loopback traffic (IPv6's is `::1/128`).
    pub loopback: Cidr,
}

impl Config {
    pub fn new(args: &Args, env: &EnvSettings, facts: &HostFacts) -> Result<Config, ConfigError> {
        let proxy_uids = match &args.proxy_uid {
            Some(Owners(uids)) if !uids.is_empty() => uids.clone(),
            _ => vec![host::uid_of(&env.envoy_user).unwrap_or_else(|| "1337".into())],
        };
        let proxy_gids = match &args.proxy_gid {
            Some(Owners(gids)) if !gids.is_empty() => gids.clone(),
            _ => proxy_uids.clone(),
        };
        Ok(Config {
            proxy_port: args.proxy_port,
            inbound_capture_port: args.inbound_capture_port,
            inbound_tunnel_port: args.inbound_tunnel_port,
            proxy_uids,
            proxy_gids,
            mode: args.interception_mode,
            inbound_ports: args.inbound_ports.clone(),
            inbound_ports_exclude: args.inbound_ports_exclude.0.clone(),
            outbound_ranges: split_ranges(&args.outbound_ranges),
            outbound_ranges_exclude: ByFamily::split(
                args.outbound_ranges_exclude.0.iter().copied(),
                |c| Family::of(&c.addr),
            ),
            outbound_ports: args.outbound_ports.0.clone(),
            outbound_ports_exclude: args.outbound_ports_exclude.0.clone(),
            exclude_interfaces: args.exclude_interfaces.0.clone(),
            kube_virt_interfaces: args.kube_virt_interfaces.0.clone(),
            tproxy_mark: args.tproxy_mark,
            tproxy_route_table: args.tproxy_route_table,
            dns: dns_capture(args, facts),
            drop_invalid: args.drop_invalid,
            ipv6: facts.ipv6,
            owner_groups: owner_groups(env)?,
            loopback: loopback(&env.loopback_cidr)?,
        })
    }

    /// Whether a captured outbound range is a loopback one: then the app's
    /// own loopback traffic is not let through early.
    pub fn captures_loopback(&self) -> bool {
        Family::ALL.iter().any(|f| match &self.outbound_ranges[*f] {
            IpRanges::Only(cidrs) => cidrs.iter().any(Cidr::is_loopback),
            IpRanges::All => false,
        })
    }
}

fn split_ranges(ranges: &IpRanges) -> ByFamily<IpRanges> {
    match ranges {
        IpRanges::All => ByFamily {
            v4: IpRanges::All,
            v6: IpRanges::All,
        },
        IpRanges::Only(cidrs) => {
            let split = ByFamily::split(cidrs.iter().copied(), |c| Family::of(&c.addr));
            ByFamily {
                v4: IpRanges::Only(split.v4),
                v6: IpRanges::Only(split.v6),
            }
        }
    }
}

/// DNS capture needs somewhere to capture to: asked for without
/// `--capture-all-dns` and with no server in resolv.conf, it is off.
fn dns_capture(args: &Args, facts: &HostFacts) -> DnsCapture {
    if !args.redirect_dns {
        DnsCapture::Off
    } else if args.capture_all_dns {
        DnsCapture::AllServers
    } else if facts.nameservers.v4.is_empty() && facts.nameservers.v6.is_empty() {
        warn!(
            "DNS capture asked for, but {} lists no server and --capture-all-dns is off: DNS is not captured",
            args.resolv_conf.display()
        );
        DnsCapture::Off
    } else {
        DnsCapture::Servers(facts.nameservers.clone())
    }
}

fn owner_groups(env: &EnvSettings) -> Result<OwnerGroups, ConfigError> {
    let parse = |variable: &'static str, text: &str| {
        text.parse::<Owners>()
            .map(|o| o.0)
            .map_err(|source| ConfigError::Variable { variable, source })
    };
    if env.owner_groups_include == "*" {
        return Ok(OwnerGroups::AllExcept(parse(
            OWNER_GROUPS_EXCLUDE,
            &env.owner_groups_exclude,
        )?));
    }
    let groups = parse(OWNER_GROUPS_INCLUDE, &env.owner_groups_include)?;
    if groups.len() > MAX_OWNER_GROUPS_INCLUDED {
        return Err(ConfigError::TooManyOwnerGroups(groups.len()));
    }
    Ok(OwnerGroups::Only(groups))
}

fn loopback(text: &str) -> Result<Cidr, ConfigError> {
    text.parse::<Cidr>()
        .ok()
        .filter(|c| c.is_ipv4() && c.is_loopback() && (8..=32).contains(&c.prefix))
        .ok_or_else(|| ConfigError::Loopback(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &[&str]) -> Args {
        crate::cli::parse(std::iter::once("capture").chain(line.iter().copied())).unwrap()
    }

    fn config(line: &[&str]) -> Config {
        Config::new(&args(line), &EnvSettings::default(), &HostFacts::default()).unwrap()
    }

    #[test]
    fn gid_defaults_to_uid() {
        let c = config(&["-u", "3,4"]);
        assert_eq!(c.proxy_uids, ["3", "4"]);
        assert_eq!(c.proxy_gids, ["3", "4"]);
        let c = config(&["-u", "3", "-g", "7"]);
        assert_eq!(c.proxy_gids, ["7"]);
    }

    #[test]
    fn ranges_split_by_family_and_wildcard_covers_both() {
        let c = config(&["-i", "10.0.0.0/8,fd00::/8", "-x", "fd00:1::/32,1.1.0.0/16"]);
        assert_eq!(
            c.outbound_ranges.v4,
            IpRanges::Only(vec!["10.0.0.0/8".parse().unwrap()])
        );
        assert_eq!(
            c.outbound_ranges.v6,
            IpRanges::Only(vec!["fd00::/8".parse().unwrap()])
        );
        assert_eq!(
            c.outbound_ranges_exclude.v4,
            ["1.1.0.0/16".parse().unwrap()]
        );
        assert_eq!(
            c.outbound_ranges_exclude.v6,
            ["fd00:1::/32".parse().unwrap()]
        );
        let c = config(&["-i", "*"]);
        assert_eq!(c.outbound_ranges.v6, IpRanges::All);
    }

    #[test]
    fn a_captured_loopback_range_is_noticed() {
        assert!(config(&["-i", "127.1.2.3/32"]).captures_loopback());
        assert!(config(&["-i", "::1/128"]).captures_loopback());
        assert!(!config(&["-i", "*"]).captures_loopback());
    }

    #[test]
    fn dns_capture_needs_servers_or_capture_all() {
        let servers = ByFamily {
            v4: vec!["10.96.0.10".parse().unwrap()],
            v6: vec![],
        };
        let with = |line: &[&str], nameservers: ByFamily<Vec<IpAddr>>| {
            let facts = HostFacts {
                ipv6: false,
                nameservers,
            };
            Config::new(&args(line), &EnvSettings::default(), &facts)
                .unwrap()
                .dns
        };
        assert_eq!(with(&[], servers.clone()), DnsCapture::Off);
        assert_eq!(
            with(&["--redirect-dns"], ByFamily::default()),
            DnsCapture::Off
        );
        assert_eq!(
            with(&["--redirect-dns"], servers.clone()),
            DnsCapture::Servers(servers)
        );
        assert_eq!(
            with(
                &["--redirect-dns", "--capture-all-dns"],
                ByFamily::default()
            ),
            DnsCapture::AllServers
        );
    }

    #[test]
    fn owner_groups_from_the_environment() {
        let groups = |include: &str, exclude: &str| {
            let env = EnvSettings {
                owner_groups_include: include.into(),
                owner_groups_exclude: exclude.into(),
                ..EnvSettings::default()
            };
            Config::new(&args(&[]), &env, &HostFacts::default()).map(|c| c.owner_groups)
        };
        assert_eq!(groups("*", "").unwrap(), OwnerGroups::AllExcept(vec![]));
        assert_eq!(
            groups("*", "888,ftp").unwrap(),
            OwnerGroups::AllExcept(vec!["888".into(), "ftp".into()])
        );
        assert_eq!(
            groups("java,202", "ignored").unwrap(),
            OwnerGroups::Only(vec!["java".into(), "202".into()])
        );
        let many = (0..65).map(|g| g.to_string()).collect::<Vec<_>>().join(",");
        assert!(matches!(
            groups(&many, ""),
            Err(ConfigError::TooManyOwnerGroups(65))
        ));
        let err = groups("a b", "").unwrap_err();
        assert_eq!(err.to_string(), "$ISTIO_OUTBOUND_OWNER_GROUPS");
    }

    #[test]
    fn the_loopback_range_must_be_ipv4_loopback() {
        let with = |cidr: &str| {
            let env = EnvSettings {
                loopback_cidr: cidr.into(),
                ..EnvSettings::default()
            };
            Config::new(&args(&[]), &env, &HostFacts::default()).map(|c| c.loopback.to_string())
        };
        assert_eq!(with("127.0.0.1/8").unwrap(), "127.0.0.1/8");
        for bad in ["10.0.0.1/32", "127.0.0.1/7", "::1/128", "127.0.0.1"] {
            assert!(matches!(with(bad), Err(ConfigError::Loopback(_))), "{bad}");
        }
    }
}
