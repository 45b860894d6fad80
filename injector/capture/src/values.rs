//! The values of istio-iptables' flags, parsed from the text Istio's
//! templates write: comma-separated lists whose empty items are skipped (so
//! `"6000,7000,"` is two ports and `""` is none), and `*` for "all" where a
//! flag allows it. Each type rejects what iptables would reject later, so a
//! bad value stops the run before any rule is touched.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// Why a flag's value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("{0:?} is not a port number (1-65535)")]
    Port(String),
    #[error("{0:?} is not an IP range in CIDR form (address/prefix length)")]
    Cidr(String),
    #[error("{0:?} is not a network interface name")]
    Interface(String),
    #[error("{0:?} is not a user or group name or number")]
    Owner(String),
    #[error("{0:?} is not an interception mode (REDIRECT or TPROXY)")]
    Mode(String),
    #[error("\"*\" cannot be excluded: exclusions only carve ranges out of the captured ones")]
    ExcludeAll,
}

/// The non-empty items of a comma-separated list, as Istio's `config.Split`.
fn items(text: &str) -> impl Iterator<Item = &str> {
    text.split(',').filter(|item| !item.is_empty())
}

fn parse_items<T>(
    text: &str,
    parse: impl Fn(&str) -> Result<T, ValueError>,
) -> Result<Vec<T>, ValueError> {
    items(text).map(parse).collect()
}

fn port(text: &str) -> Result<u16, ValueError> {
    text.parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| ValueError::Port(text.to_string()))
}

/// A list of TCP ports, as `-d`, `-q` and `-o` take.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ports(pub Vec<u16>);

impl FromStr for Ports {
    type Err = ValueError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse_items(text, port).map(Ports)
    }
}

/// The inbound ports to capture (`-b`): none (`""`), all (`*`), or a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboundPorts {
    All,
    Only(Vec<u16>),
}

impl InboundPorts {
    pub fn is_empty(&self) -> bool {
        matches!(self, InboundPorts::Only(ports) if ports.is_empty())
    }
}

impl FromStr for InboundPorts {
    type Err = ValueError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text == "*" {
            return Ok(InboundPorts::All);
        }
        parse_items(text, port).map(InboundPorts::Only)
    }
}

/// An IP range, printed as it was written (`10.1.2.3/8` stays so), the way
/// Go's `netip.Prefix` prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Cidr {
    pub fn is_ipv4(&self) -> bool {
        self.addr.is_ipv4()
    }

    pub fn is_loopback(&self) -> bool {
        self.addr.is_loopback()
    }
}

impl FromStr for Cidr {
    type Err = ValueError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || ValueError::Cidr(text.to_string());
        let (addr, prefix) = text.split_once('/').ok_or_else(invalid)?;
        let addr: IpAddr = addr.parse().map_err(|_| invalid())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = Some(prefix)
            .filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|p| p.parse::<u8>().ok())
            .filter(|p| *p <= max)
            .ok_or_else(invalid)?;
        Ok(Cidr { addr, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The outbound ranges to capture (`-i`): all (`*`) or a list, possibly empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpRanges {
    All,
    Only(Vec<Cidr>),
}

impl FromStr for IpRanges {
    type Err = ValueError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text == "*" {
            return Ok(IpRanges::All);
        }
        parse_items(text, Cidr::from_str).map(IpRanges::Only)
    }
}

/// The outbound ranges left alone (`-x`); `*` is refused, as Istio does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExcludedRanges(pub Vec<Cidr>);

impl FromStr for ExcludedRanges {
    type Err = ValueError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text == "*" {
            return Err(ValueError::ExcludeAll);
        }
        parse_items(text, Cidr::from_str).map(ExcludedRanges)
    }
}

/// Network interface names (`-c`, `-k`), as the kernel allows them: at
/// most 15 bytes, no `/`, `:` or white space (iptables' `+` suffix, "any
/// name with this prefix", is a valid character), and no control
/// character, which would end or split the iptables-restore line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Interfaces(pub Vec<String>);

impl FromStr for Interfaces {
    type Err = ValueError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let name = |item: &str| {
            let valid = item.len() <= 15
                && item != "."
                && item != ".."
                && !item.contains(|c: char| {
                    c == '/' || c == ':' || c.is_whitespace() || c.is_control()
                });
            valid
                .then(|| item.to_string())
                .ok_or_else(|| ValueError::Interface(item.to_string()))
        };
        parse_items(text, name).map(Interfaces)
    }
}

/// Users or groups for iptables' owner match (`-u`, `-g`, the owner-group
/// variables): names or numeric ids, or `first-last` id ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Owners(pub Vec<String>);

impl FromStr for Owners {
    type Err = ValueError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let owner = |item: &str| {
            let valid = item
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
            valid
                .then(|| item.to_string())
                .ok_or_else(|| ValueError::Owner(item.to_string()))
        };
        parse_items(text, owner).map(Owners)
    }
}

/// How inbound connections reach the proxy (`-m`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum InterceptionMode {
    /// NAT to the inbound capture port; the proxy sees its own address.
    #[default]
    Redirect,
    /// The mangle table's TPROXY target; the original source is kept.
    Tproxy,
}

impl FromStr for InterceptionMode {
    type Err = ValueError;
    /// Empty means the default, as in istio-iptables (a template that
    /// renders an unset annotation passes `-m ""`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "" | "REDIRECT" => Ok(InterceptionMode::Redirect),
            "TPROXY" => Ok(InterceptionMode::Tproxy),
            _ => Err(ValueError::Mode(text.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_skip_empty_items_like_istio() {
        assert_eq!("6000,7000,".parse(), Ok(Ports(vec![6000, 7000])));
        assert_eq!("".parse(), Ok(Ports(vec![])));
        assert_eq!(",".parse(), Ok(Ports(vec![])));
    }

    #[test]
    fn ports_must_be_numbers_in_range() {
        for bad in ["0", "65536", "http", " 80", "80-90", "*"] {
            assert_eq!(
                bad.parse::<Ports>(),
                Err(ValueError::Port(bad.into())),
                "{bad}"
            );
        }
        assert_eq!("65535".parse(), Ok(Ports(vec![65535])));
    }

    #[test]
    fn inbound_ports_wildcard_only_alone() {
        assert_eq!("*".parse(), Ok(InboundPorts::All));
        assert!("".parse::<InboundPorts>().unwrap().is_empty());
        assert_eq!(
            "80,*".parse::<InboundPorts>(),
            Err(ValueError::Port("*".into()))
        );
    }

    #[test]
    fn cidrs_keep_host_bits_and_print_canonical_addresses() {
        let printed = |s: &str| s.parse::<Cidr>().map(|c| c.to_string());
        assert_eq!(printed("10.1.2.3/8"), Ok("10.1.2.3/8".into()));
        assert_eq!(printed("2001:DB8::/32"), Ok("2001:db8::/32".into()));
        assert_eq!(
            printed("::ffff:10.0.0.0/104"),
            Ok("::ffff:10.0.0.0/104".into())
        );
        for bad in [
            "10.0.0.0",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/+8",
            "host/8",
            "10.0.0.0/",
        ] {
            assert_eq!(
                bad.parse::<Cidr>(),
                Err(ValueError::Cidr(bad.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn loopback_ranges_are_recognised_per_family() {
        assert!("127.1.2.3/32".parse::<Cidr>().unwrap().is_loopback());
        assert!("::1/128".parse::<Cidr>().unwrap().is_loopback());
        assert!(!"10.0.0.0/8".parse::<Cidr>().unwrap().is_loopback());
    }

    #[test]
    fn exclusions_refuse_the_wildcard() {
        assert_eq!("*".parse::<ExcludedRanges>(), Err(ValueError::ExcludeAll));
        assert_eq!("".parse::<ExcludedRanges>(), Ok(ExcludedRanges(vec![])));
    }

    #[test]
    fn interface_names_follow_the_kernel_rules() {
        assert_eq!(
            "eth0,veth+".parse(),
            Ok(Interfaces(vec!["eth0".into(), "veth+".into()]))
        );
        // "\0" and "\u{1b}" were found by tests/flags_fuzz.rs.
        for bad in [
            "a-name-longer-than-15",
            "a/b",
            "a b",
            "..",
            "eth0:1",
            "\0",
            "e\u{1b}",
        ] {
            assert_eq!(
                bad.parse::<Interfaces>(),
                Err(ValueError::Interface(bad.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn owners_are_names_ids_or_ranges() {
        assert_eq!(
            "java,202,1000-2000".parse(),
            Ok(Owners(vec![
                "java".into(),
                "202".into(),
                "1000-2000".into()
            ]))
        );
        assert_eq!(
            "a b".parse::<Owners>(),
            Err(ValueError::Owner("a b".into()))
        );
    }

    #[test]
    fn interception_modes() {
        assert_eq!("".parse(), Ok(InterceptionMode::Redirect));
        assert_eq!("REDIRECT".parse(), Ok(InterceptionMode::Redirect));
        assert_eq!("TPROXY".parse(), Ok(InterceptionMode::Tproxy));
        assert_eq!(
            "tproxy".parse::<InterceptionMode>(),
            Err(ValueError::Mode("tproxy".into()))
        );
        assert_eq!(
            "NONE".parse::<InterceptionMode>(),
            Err(ValueError::Mode("NONE".into()))
        );
    }
}
