//! Facts istio-iptables reads from the pod rather than from its flags:
//! whether the pod is IPv6, the DNS servers of resolv.conf, and the proxy
//! user's uid. `--assume-ipv6` and `--resolv-conf` stand in for the first
//! two, so that a dry run can be reproduced on any machine.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::family::{ByFamily, Family};

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("cannot list the pod's addresses")]
    Addresses(#[source] nix::Error),
    #[error(
        "the pod has no address besides loopback and link-local ones, so whether it is IPv6 \
         is unknown (say it with --assume-ipv6 or --assume-ipv6=false)"
    )]
    NoAddress,
    #[error("cannot read the DNS servers from {}", path.display())]
    ResolvConf {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Whether the pod gets IPv6 rules: its first address that is neither
/// loopback nor link-local is IPv6, or with `dual_stack`, any such address
/// is. The kernel lists IPv4 addresses first, so a dual-stack pod is IPv4
/// unless `dual_stack` is set (as in istio-iptables).
pub fn pod_is_ipv6(dual_stack: bool) -> Result<bool, HostError> {
    let addresses = nix::ifaddrs::getifaddrs().map_err(HostError::Addresses)?;
    let addresses = addresses.filter_map(|interface| {
        let address = interface.address?;
        if let Some(v4) = address.as_sockaddr_in() {
            Some(IpAddr::V4(v4.ip()))
        } else {
            address.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
        }
    });
    decide_ipv6(addresses, dual_stack).ok_or(HostError::NoAddress)
}

/// The decision of [`pod_is_ipv6`] over addresses in the kernel's order;
/// `None` when no address counts.
fn decide_ipv6(addresses: impl IntoIterator<Item = IpAddr>, dual_stack: bool) -> Option<bool> {
    let mut pod_addresses = addresses
        .into_iter()
        .map(|a| a.to_canonical())
        .filter(|a| !a.is_loopback() && !is_link_local(a))
        .peekable();
    pod_addresses.peek()?;
    Some(if dual_stack {
        pod_addresses.any(|a| a.is_ipv6())
    } else {
        pod_addresses.next().is_some_and(|a| a.is_ipv6())
    })
}

fn is_link_local(addr: &IpAddr) -> bool {
    match addr {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => v6.is_unicast_link_local(),
    }
}

/// The nameservers of a resolv.conf file, by family.
pub fn nameservers(path: &Path) -> Result<ByFamily<Vec<IpAddr>>, HostError> {
    let text = std::fs::read_to_string(path).map_err(|source| HostError::ResolvConf {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(parse_nameservers(&text))
}

/// `nameserver ADDRESS` lines, in order; what is not an address (a zoned
/// IPv6 address, a name) is skipped, as istio-iptables skips it.
fn parse_nameservers(resolv_conf: &str) -> ByFamily<Vec<IpAddr>> {
    let servers = resolv_conf.lines().filter_map(|line| {
        let mut words = line.split_whitespace();
        (words.next() == Some("nameserver"))
            .then(|| words.next()?.parse::<IpAddr>().ok())
            .flatten()
    });
    ByFamily::split(servers, Family::of)
}

/// The uid of a user of /etc/passwd, by name.
pub fn uid_of(user: &str) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd_uid(&passwd, user)
}

fn passwd_uid(passwd: &str, user: &str) -> Option<String> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        (fields.next() == Some(user))
            .then(|| fields.nth(1))
            .flatten()
            .filter(|uid| !uid.is_empty() && uid.bytes().all(|b| b.is_ascii_digit()))
            .map(str::to_string)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|a| a.parse().unwrap()).collect()
    }

    #[test]
    fn the_first_pod_address_decides_unless_dual_stack() {
        let v4_then_v6 = addrs(&["127.0.0.1", "10.0.0.5", "::1", "fe80::1", "fd00::5"]);
        assert_eq!(decide_ipv6(v4_then_v6.clone(), false), Some(false));
        assert_eq!(decide_ipv6(v4_then_v6, true), Some(true));
        let v6_only = addrs(&["127.0.0.1", "169.254.1.1", "::1", "fe80::1", "fd00::5"]);
        assert_eq!(decide_ipv6(v6_only, false), Some(true));
        let v4_mapped = addrs(&["::ffff:10.0.0.5"]);
        assert_eq!(decide_ipv6(v4_mapped, false), Some(false));
    }

    #[test]
    fn no_pod_address_is_no_answer() {
        assert_eq!(
            decide_ipv6(addrs(&["127.0.0.1", "::1", "fe80::1"]), false),
            None
        );
    }

    #[test]
    fn nameservers_by_family_in_order() {
        let servers = parse_nameservers(
            "# generated\nsearch svc.cluster.local\nnameserver 10.96.0.10\n\
             nameserver  fd00::a \noptions ndots:5\nnameserver 10.96.0.11\n\
             nameserver fe80::1%eth0\nnameserver dns.example\n#nameserver 1.1.1.1\n",
        );
        assert_eq!(servers.v4, addrs(&["10.96.0.10", "10.96.0.11"]));
        assert_eq!(servers.v6, addrs(&["fd00::a"]));
    }

    #[test]
    fn uid_from_passwd() {
        let passwd = "root:x:0:0:root:/root:/bin/sh\nistio-proxy:x:1337:1337::/home:/bin/false\n";
        assert_eq!(passwd_uid(passwd, "istio-proxy"), Some("1337".into()));
        assert_eq!(passwd_uid(passwd, "istio"), None);
        assert_eq!(passwd_uid(passwd, "root"), Some("0".into()));
    }
}
