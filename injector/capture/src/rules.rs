//! The rule set, built from the settings alone, without I/O. Tables, chains
//! and rules come in istio-iptables' order, because in iptables order is
//! meaning: the first rule that matches decides.
//!
//! Outbound (nat OUTPUT -> ISTIO_OUTPUT): the proxy's own traffic and the
//! app's loopback traffic return early; excluded ports and ranges return;
//! what is left and captured goes to ISTIO_REDIRECT (the proxy's outbound
//! port). Inbound (PREROUTING -> ISTIO_INBOUND): captured ports go to
//! ISTIO_IN_REDIRECT (REDIRECT mode) or to the mangle table's TPROXY chains.

use std::fmt;

use crate::config::{Config, DnsCapture, OwnerGroups};
use crate::family::{ByFamily, Family};
use crate::values::{InboundPorts, InterceptionMode, IpRanges};

/// The agent's DNS resolver port.
const AGENT_DNS_PORT: u16 = 15053;
/// Mark of packets the proxy sends to the pod's own address in TPROXY mode,
/// so that they are not captured again on the way in.
const OUTBOUND_MARK: u32 = 1338;

/// The tables we write to, in the order iptables-restore input lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Table {
    Mangle,
    Nat,
    Raw,
}

impl Table {
    pub const ALL: [Table; 3] = [Table::Mangle, Table::Nat, Table::Raw];

    pub fn name(self) -> &'static str {
        match self {
            Table::Mangle => "mangle",
            Table::Nat => "nat",
            Table::Raw => "raw",
        }
    }

    pub fn named(name: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// The built-in chains we hook into, and our own chains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Chain {
    Prerouting,
    Output,
    IstioInbound,
    IstioOutput,
    IstioOutputDns,
    IstioRedirect,
    IstioInRedirect,
    IstioDivert,
    IstioTproxy,
    IstioDrop,
}

impl Chain {
    /// Every chain this program creates (in whichever tables it needs it).
    pub const OURS: [Chain; 8] = [
        Chain::IstioInbound,
        Chain::IstioOutput,
        Chain::IstioOutputDns,
        Chain::IstioRedirect,
        Chain::IstioInRedirect,
        Chain::IstioDivert,
        Chain::IstioTproxy,
        Chain::IstioDrop,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Chain::Prerouting => "PREROUTING",
            Chain::Output => "OUTPUT",
            Chain::IstioInbound => "ISTIO_INBOUND",
            Chain::IstioOutput => "ISTIO_OUTPUT",
            Chain::IstioOutputDns => "ISTIO_OUTPUT_DNS",
            Chain::IstioRedirect => "ISTIO_REDIRECT",
            Chain::IstioInRedirect => "ISTIO_IN_REDIRECT",
            Chain::IstioDivert => "ISTIO_DIVERT",
            Chain::IstioTproxy => "ISTIO_TPROXY",
            Chain::IstioDrop => "ISTIO_DROP",
        }
    }

    pub fn is_ours(self) -> bool {
        !matches!(self, Chain::Prerouting | Chain::Output)
    }

    /// Our chain of that name, if it is one.
    pub fn ours_named(name: &str) -> Option<Chain> {
        Chain::OURS.into_iter().find(|c| c.name() == name)
    }
}

/// What a rule does with the packets it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Continue in one of our chains.
    Chain(Chain),
    Return,
    /// A built-in target with its options, e.g. `REDIRECT --to-ports 15001`.
    Action(String),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Chain(chain) => f.write_str(chain.name()),
            Target::Return => f.write_str("RETURN"),
            Target::Action(action) => f.write_str(action),
        }
    }
}

fn action(text: impl Into<String>) -> Target {
    Target::Action(text.into())
}

/// One rule: appended to its chain, or inserted at `position` (1 = first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub table: Table,
    pub chain: Chain,
    pub position: Option<u32>,
    /// The match options, in iptables syntax; empty to match everything.
    pub matches: String,
    pub target: Target,
}

impl Rule {
    /// The rule without its chain, as `iptables -C CHAIN` and `-D CHAIN` take it.
    pub fn spec(&self) -> String {
        if self.matches.is_empty() {
            format!("-j {}", self.target)
        } else {
            format!("{} -j {}", self.matches, self.target)
        }
    }

    /// The chain of ours this rule jumps to.
    pub fn jump(&self) -> Option<Chain> {
        match self.target {
            Target::Chain(chain) => Some(chain),
            _ => None,
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            None => write!(f, "-A {} {}", self.chain.name(), self.spec()),
            Some(p) => write!(f, "-I {} {p} {}", self.chain.name(), self.spec()),
        }
    }
}

/// The rules of both families; IPv6's only when the pod is IPv6.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSet {
    pub v4: Vec<Rule>,
    pub v6: Option<Vec<Rule>>,
}

impl RuleSet {
    /// The families that have rules, with their rules.
    pub fn families(&self) -> impl Iterator<Item = (Family, &[Rule])> {
        std::iter::once((Family::V4, self.v4.as_slice()))
            .chain(self.v6.as_deref().map(|v6| (Family::V6, v6)))
    }
}

/// The rules `cfg` asks for.
pub fn build(cfg: &Config) -> RuleSet {
    let mut b = Builder::new(cfg);
    skip_excluded_interfaces(&mut b);
    skip_kube_virt_interfaces(&mut b);
    if cfg.drop_invalid {
        drop_invalid(&mut b);
    }
    redirect_chains(&mut b);
    capture_inbound(&mut b);
    capture_outbound(&mut b);
    if cfg.mode == InterceptionMode::Tproxy {
        mark_tproxy_connections(&mut b);
    }
    b.finish()
}

/// Collects rules per family, dropping IPv6 ones when the pod is IPv4 only.
struct Builder<'a> {
    cfg: &'a Config,
    /// Each family's range of the pod's own loopback traffic.
    loopback: ByFamily<String>,
    rules: ByFamily<Vec<Rule>>,
}

impl<'a> Builder<'a> {
    fn new(cfg: &'a Config) -> Self {
        Builder {
            cfg,
            loopback: ByFamily {
                v4: cfg.loopback.to_string(),
                v6: "::1/128".to_string(),
            },
            rules: ByFamily::default(),
        }
    }

    fn finish(self) -> RuleSet {
        RuleSet {
            v4: self.rules.v4,
            v6: self.cfg.ipv6.then_some(self.rules.v6),
        }
    }

    /// Adds the rule to `families`; `matches` writes each family's match
    /// options (some hold an address of that family).
    fn add(
        &mut self,
        families: &[Family],
        table: Table,
        chain: Chain,
        position: Option<u32>,
        matches: impl Fn(Family) -> String,
        target: Target,
    ) {
        for &family in families {
            if family == Family::V6 && !self.cfg.ipv6 {
                continue;
            }
            self.rules[family].push(Rule {
                table,
                chain,
                position,
                matches: matches(family),
                target: target.clone(),
            });
        }
    }

    fn append(&mut self, table: Table, chain: Chain, matches: impl AsRef<str>, target: Target) {
        let matches = matches.as_ref();
        self.add(
            &Family::ALL,
            table,
            chain,
            None,
            |_| matches.to_string(),
            target,
        );
    }

    fn append_each(
        &mut self,
        table: Table,
        chain: Chain,
        matches: impl Fn(Family) -> String,
        target: Target,
    ) {
        self.add(&Family::ALL, table, chain, None, matches, target);
    }

    fn append_in(
        &mut self,
        family: Family,
        table: Table,
        chain: Chain,
        matches: impl AsRef<str>,
        target: Target,
    ) {
        let matches = matches.as_ref();
        self.add(
            &[family],
            table,
            chain,
            None,
            |_| matches.to_string(),
            target,
        );
    }

    fn insert(
        &mut self,
        table: Table,
        chain: Chain,
        position: u32,
        matches: impl AsRef<str>,
        target: Target,
    ) {
        let matches = matches.as_ref();
        self.add(
            &Family::ALL,
            table,
            chain,
            Some(position),
            |_| matches.to_string(),
            target,
        );
    }

    fn insert_each(
        &mut self,
        table: Table,
        chain: Chain,
        position: u32,
        matches: impl Fn(Family) -> String,
        target: Target,
    ) {
        self.add(&Family::ALL, table, chain, Some(position), matches, target);
    }

    fn insert_in(
        &mut self,
        family: Family,
        table: Table,
        chain: Chain,
        position: u32,
        matches: impl AsRef<str>,
        target: Target,
    ) {
        let matches = matches.as_ref();
        self.add(
            &[family],
            table,
            chain,
            Some(position),
            |_| matches.to_string(),
            target,
        );
    }
}

/// The proxy's users and groups, as owner match options.
fn proxy_owners(cfg: &Config) -> impl Iterator<Item = (&'static str, &str)> {
    let uids = cfg
        .proxy_uids
        .iter()
        .map(|uid| ("--uid-owner", uid.as_str()));
    let gids = cfg
        .proxy_gids
        .iter()
        .map(|gid| ("--gid-owner", gid.as_str()));
    uids.chain(gids)
}

/// The source address the proxy uses to reach the app on the inbound
/// passthrough path: its traffic from there is never captured.
fn passthrough_source(family: Family) -> &'static str {
    match family {
        Family::V4 => "127.0.0.6/32",
        Family::V6 => "::6/128",
    }
}

fn host_prefix(family: Family) -> u8 {
    match family {
        Family::V4 => 32,
        Family::V6 => 128,
    }
}

/// Traffic through an excluded interface returns before any capture.
fn skip_excluded_interfaces(b: &mut Builder) {
    let interfaces = &b.cfg.exclude_interfaces;
    let tables: &[Table] = match b.cfg.mode {
        InterceptionMode::Redirect => &[Table::Nat],
        InterceptionMode::Tproxy => &[Table::Nat, Table::Mangle],
    };
    for &table in tables {
        for interface in interfaces {
            b.append(
                table,
                Chain::Prerouting,
                format!("-i {interface}"),
                Target::Return,
            );
            b.append(
                table,
                Chain::Output,
                format!("-o {interface}"),
                Target::Return,
            );
        }
    }
}

/// A VM's traffic arrives on its virtual interfaces; it is not the pod's
/// inbound traffic (the outbound ranges may send it to the proxy instead).
fn skip_kube_virt_interfaces(b: &mut Builder) {
    for interface in &b.cfg.kube_virt_interfaces {
        b.insert(
            Table::Nat,
            Chain::Prerouting,
            1,
            format!("-i {interface}"),
            Target::Return,
        );
    }
}

/// Out-of-window packets are dropped rather than answered with a reset.
fn drop_invalid(b: &mut Builder) {
    b.append(
        Table::Mangle,
        Chain::Prerouting,
        "-m conntrack --ctstate INVALID",
        Target::Chain(Chain::IstioDrop),
    );
    b.append(Table::Mangle, Chain::IstioDrop, "", action("DROP"));
}

/// The two redirecting chains, and the tunnel port, never captured inbound.
fn redirect_chains(b: &mut Builder) {
    let cfg = b.cfg;
    b.append(
        Table::Nat,
        Chain::IstioInbound,
        format!("-p tcp --dport {}", cfg.inbound_tunnel_port),
        Target::Return,
    );
    b.append(
        Table::Nat,
        Chain::IstioRedirect,
        "-p tcp",
        action(format!("REDIRECT --to-ports {}", cfg.proxy_port)),
    );
    b.append(
        Table::Nat,
        Chain::IstioInRedirect,
        "-p tcp",
        action(format!("REDIRECT --to-ports {}", cfg.inbound_capture_port)),
    );
}

fn capture_inbound(b: &mut Builder) {
    let cfg = b.cfg;
    if cfg.inbound_ports.is_empty() {
        return;
    }
    let table = match cfg.mode {
        InterceptionMode::Redirect => Table::Nat,
        InterceptionMode::Tproxy => {
            tproxy_chains(b);
            Table::Mangle
        }
    };
    b.append(
        table,
        Chain::Prerouting,
        "-p tcp",
        Target::Chain(Chain::IstioInbound),
    );
    match &cfg.inbound_ports {
        InboundPorts::All => {
            for port in &cfg.inbound_ports_exclude {
                b.append(
                    table,
                    Chain::IstioInbound,
                    format!("-p tcp --dport {port}"),
                    Target::Return,
                );
            }
            send_inbound_to_proxy(b, "-p tcp");
        }
        InboundPorts::Only(ports) => {
            for port in ports {
                send_inbound_to_proxy(b, &format!("-p tcp --dport {port}"));
            }
        }
    }
}

/// TPROXY: ISTIO_DIVERT marks a packet and accepts it (the mark routes it
/// to the loopback interface), ISTIO_TPROXY hands a new connection to the
/// proxy's inbound port.
fn tproxy_chains(b: &mut Builder) {
    let cfg = b.cfg;
    b.append(
        Table::Mangle,
        Chain::IstioDivert,
        "",
        action(format!("MARK --set-mark {}", cfg.tproxy_mark)),
    );
    b.append(Table::Mangle, Chain::IstioDivert, "", action("ACCEPT"));
    let loopback = b.loopback.clone();
    b.append_each(
        Table::Mangle,
        Chain::IstioTproxy,
        |f| format!("! -d {} -p tcp", loopback[f]),
        action(format!(
            "TPROXY --tproxy-mark {}/0xffffffff --on-port {}",
            cfg.tproxy_mark, cfg.inbound_capture_port
        )),
    );
}

/// The rules that hand inbound connections matching `matches` to the proxy.
fn send_inbound_to_proxy(b: &mut Builder, matches: &str) {
    match b.cfg.mode {
        InterceptionMode::Redirect => b.append(
            Table::Nat,
            Chain::IstioInbound,
            matches,
            Target::Chain(Chain::IstioInRedirect),
        ),
        InterceptionMode::Tproxy => {
            // Packets of established connections are only re-routed to the
            // loopback interface; new connections go through TPROXY.
            b.append(
                Table::Mangle,
                Chain::IstioInbound,
                format!("{matches} -m conntrack --ctstate RELATED,ESTABLISHED"),
                Target::Chain(Chain::IstioDivert),
            );
            b.append(
                Table::Mangle,
                Chain::IstioInbound,
                matches,
                Target::Chain(Chain::IstioTproxy),
            );
        }
    }
}

fn capture_outbound(b: &mut Builder) {
    let cfg = b.cfg;
    b.append(
        Table::Nat,
        Chain::Output,
        "",
        Target::Chain(Chain::IstioOutput),
    );
    for port in &cfg.outbound_ports_exclude {
        for protocol in ["tcp", "udp"] {
            b.append(
                Table::Nat,
                Chain::IstioOutput,
                format!("-p {protocol} --dport {port}"),
                Target::Return,
            );
        }
    }
    b.append_each(
        Table::Nat,
        Chain::IstioOutput,
        |f| format!("-o lo -s {}", passthrough_source(f)),
        Target::Return,
    );
    let_proxy_through(b);
    filter_owner_groups(b);
    if cfg.dns != DnsCapture::Off {
        capture_dns(b);
    }
    let loopback = b.loopback.clone();
    b.append_each(
        Table::Nat,
        Chain::IstioOutput,
        |f| format!("-d {}", loopback[f]),
        Target::Return,
    );
    for family in Family::ALL {
        for cidr in &cfg.outbound_ranges_exclude[family] {
            b.append_in(
                family,
                Table::Nat,
                Chain::IstioOutput,
                format!("-d {cidr}"),
                Target::Return,
            );
        }
    }
    for port in &cfg.outbound_ports {
        b.append(
            Table::Nat,
            Chain::IstioOutput,
            format!("-p tcp --dport {port}"),
            Target::Chain(Chain::IstioRedirect),
        );
    }
    capture_outbound_ranges(b);
}

/// The proxy's own traffic (its users and groups) is not captured, except
/// what it sends through the loopback interface to the pod's own address:
/// that is a call of the app to itself through a service address, which
/// comes back in through the proxy's inbound port. The app's own loopback
/// traffic returns too, unless a loopback range is captured explicitly.
fn let_proxy_through(b: &mut Builder) {
    let cfg = b.cfg;
    let dns = cfg.dns != DnsCapture::Off;
    let loopback = b.loopback.clone();
    for (owner, id) in proxy_owners(cfg) {
        // With DNS capture, the proxy's user reaching a local DNS server
        // goes to that server, not through the inbound port.
        let ports = if dns && owner == "--uid-owner" {
            format!("-m multiport ! --dports 53,{}", cfg.inbound_tunnel_port)
        } else {
            format!("! --dport {}", cfg.inbound_tunnel_port)
        };
        b.append_each(
            Table::Nat,
            Chain::IstioOutput,
            |f| {
                format!(
                    "-o lo ! -d {} -p tcp {ports} -m owner {owner} {id}",
                    loopback[f]
                )
            },
            Target::Chain(Chain::IstioInRedirect),
        );
        if !cfg.captures_loopback() {
            // TCP to port 53 on loopback may be for a local DNS server that
            // the agent must see.
            let not_dns = if dns { "-p tcp ! --dport 53 " } else { "" };
            b.append(
                Table::Nat,
                Chain::IstioOutput,
                format!("-o lo {not_dns}-m owner ! {owner} {id}"),
                Target::Return,
            );
        }
        b.append(
            Table::Nat,
            Chain::IstioOutput,
            format!("-m owner {owner} {id}"),
            Target::Return,
        );
    }
}

fn filter_owner_groups(b: &mut Builder) {
    match &b.cfg.owner_groups {
        OwnerGroups::AllExcept(groups) => {
            for group in groups {
                b.append(
                    Table::Nat,
                    Chain::IstioOutput,
                    format!("-m owner --gid-owner {group}"),
                    Target::Return,
                );
            }
        }
        OwnerGroups::Only(groups) => {
            let none_of: Vec<String> = groups
                .iter()
                .map(|group| format!("-m owner ! --gid-owner {group}"))
                .collect();
            b.append(
                Table::Nat,
                Chain::IstioOutput,
                none_of.join(" "),
                Target::Return,
            );
        }
    }
}

/// DNS to the captured servers goes to the agent's resolver; and, since
/// UDP has no connection, conntrack zones keep the agent's own queries
/// (zone 1) apart from the app's (zone 2).
fn capture_dns(b: &mut Builder) {
    let cfg = b.cfg;
    b.append(
        Table::Raw,
        Chain::Output,
        "",
        Target::Chain(Chain::IstioOutputDns),
    );
    let redirect = |singular: bool| {
        let option = if singular { "--to-port" } else { "--to-ports" };
        action(format!("REDIRECT {option} {AGENT_DNS_PORT}"))
    };
    match &cfg.dns {
        DnsCapture::Off => {}
        DnsCapture::AllServers => {
            b.append(
                Table::Nat,
                Chain::IstioOutput,
                "",
                Target::Chain(Chain::IstioOutputDns),
            );
            b.append(
                Table::Nat,
                Chain::IstioOutputDns,
                "-p tcp --dport 53",
                redirect(false),
            );
            b.append(
                Table::Nat,
                Chain::IstioOutputDns,
                "-p udp --dport 53",
                redirect(true),
            );
        }
        DnsCapture::Servers(servers) => {
            for family in Family::ALL {
                let servers = &servers[family];
                if servers.is_empty() {
                    continue;
                }
                let prefix = host_prefix(family);
                b.append_in(
                    family,
                    Table::Nat,
                    Chain::IstioOutput,
                    "",
                    Target::Chain(Chain::IstioOutputDns),
                );
                for (protocol, singular) in [("tcp", false), ("udp", true)] {
                    for server in servers {
                        b.append_in(
                            family,
                            Table::Nat,
                            Chain::IstioOutputDns,
                            format!("-p {protocol} --dport 53 -d {server}/{prefix}"),
                            redirect(singular),
                        );
                    }
                }
            }
        }
    }
    dns_conntrack_zones(b);
}

fn dns_conntrack_zones(b: &mut Builder) {
    let cfg = b.cfg;
    let zone = |n: u8| action(format!("CT --zone {n}"));
    for (owner, id) in proxy_owners(cfg) {
        b.append(
            Table::Raw,
            Chain::IstioOutputDns,
            format!("-p udp --dport 53 -m owner {owner} {id}"),
            zone(1),
        );
        b.append(
            Table::Raw,
            Chain::IstioOutputDns,
            format!("-p udp --sport {AGENT_DNS_PORT} -m owner {owner} {id}"),
            zone(2),
        );
    }
    match &cfg.dns {
        DnsCapture::Off => {}
        DnsCapture::AllServers => {
            b.append(
                Table::Raw,
                Chain::Prerouting,
                "",
                Target::Chain(Chain::IstioInbound),
            );
            b.append(
                Table::Raw,
                Chain::IstioOutputDns,
                "-p udp --dport 53",
                zone(2),
            );
            b.append(
                Table::Raw,
                Chain::IstioInbound,
                "-p udp --sport 53",
                zone(1),
            );
        }
        DnsCapture::Servers(servers) => {
            for family in Family::ALL {
                let servers = &servers[family];
                if servers.is_empty() {
                    continue;
                }
                let prefix = host_prefix(family);
                b.append_in(
                    family,
                    Table::Raw,
                    Chain::Prerouting,
                    "",
                    Target::Chain(Chain::IstioInbound),
                );
                for server in servers {
                    b.append_in(
                        family,
                        Table::Raw,
                        Chain::IstioOutputDns,
                        format!("-p udp --dport 53 -d {server}/{prefix}"),
                        zone(2),
                    );
                    b.append_in(
                        family,
                        Table::Raw,
                        Chain::IstioInbound,
                        format!("-p udp --sport 53 -s {server}/{prefix}"),
                        zone(1),
                    );
                }
            }
        }
    }
}

/// Captured outbound ranges go to the proxy; a VM's traffic to them, on
/// its virtual interfaces, too.
fn capture_outbound_ranges(b: &mut Builder) {
    let cfg = b.cfg;
    for family in Family::ALL {
        match &cfg.outbound_ranges[family] {
            IpRanges::All => {
                b.append_in(
                    family,
                    Table::Nat,
                    Chain::IstioOutput,
                    "",
                    Target::Chain(Chain::IstioRedirect),
                );
                for interface in &cfg.kube_virt_interfaces {
                    b.insert_in(
                        family,
                        Table::Nat,
                        Chain::Prerouting,
                        1,
                        format!("-i {interface}"),
                        Target::Chain(Chain::IstioRedirect),
                    );
                }
            }
            IpRanges::Only(cidrs) => {
                for cidr in cidrs {
                    for interface in &cfg.kube_virt_interfaces {
                        b.insert_in(
                            family,
                            Table::Nat,
                            Chain::Prerouting,
                            1,
                            format!("-i {interface} -d {cidr}"),
                            Target::Chain(Chain::IstioRedirect),
                        );
                    }
                    b.append_in(
                        family,
                        Table::Nat,
                        Chain::IstioOutput,
                        format!("-d {cidr}"),
                        Target::Chain(Chain::IstioRedirect),
                    );
                }
            }
        }
    }
}

/// TPROXY keeps the original source address, so the proxy's answers are
/// routed by marks: a connection's mark is saved on the way in and restored
/// on the way out, and the proxy's packets to the pod itself are marked so
/// ISTIO_INBOUND lets them through.
fn mark_tproxy_connections(b: &mut Builder) {
    let cfg = b.cfg;
    let mark = cfg.tproxy_mark;
    b.append(
        Table::Mangle,
        Chain::Prerouting,
        format!("-p tcp -m mark --mark {mark}"),
        action("CONNMARK --save-mark"),
    );
    b.append(
        Table::Mangle,
        Chain::Output,
        format!("-p tcp -o lo -m mark --mark {mark}"),
        Target::Return,
    );
    let loopback = b.loopback.clone();
    for (owner, id) in proxy_owners(cfg) {
        b.append_each(
            Table::Mangle,
            Chain::Output,
            |f| format!("! -d {} -p tcp -o lo -m owner {owner} {id}", loopback[f]),
            action(format!("MARK --set-mark {OUTBOUND_MARK}")),
        );
    }
    b.append(
        Table::Mangle,
        Chain::Output,
        format!("-p tcp -m connmark --mark {mark}"),
        action("CONNMARK --restore-mark"),
    );
    b.insert(
        Table::Mangle,
        Chain::IstioInbound,
        1,
        format!("-p tcp -m mark --mark {mark}"),
        Target::Return,
    );
    b.insert_each(
        Table::Mangle,
        Chain::IstioInbound,
        2,
        |f| format!("-p tcp -s {} -i lo", passthrough_source(f)),
        Target::Return,
    );
    b.insert(
        Table::Mangle,
        Chain::IstioInbound,
        3,
        format!("-p tcp -i lo -m mark ! --mark {OUTBOUND_MARK}"),
        Target::Return,
    );
}

#[cfg(test)]
mod tests;
