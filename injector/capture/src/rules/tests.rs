//! The rules, checked against what the flags mean: for the cases of Istio's
//! capture test that are not in the shared golden files (empty,
//! inbound-ports-include, inbound-ports-wildcard, kube-virt-interfaces,
//! ipnets-with-kube-virt-interfaces, ip-range, outbound-owner-groups,
//! outbound-ports-include, dns-uid-gid, ipv6-empty-inbound-ports,
//! ipv6-ipnets, ipv6-uid-gid, ipv6-dns-outbound-owner-groups-exclude) and
//! for the rules' behaviour in general.

use std::net::IpAddr;

use super::*;
use crate::config::{EnvSettings, HostFacts};

fn build_with(line: &[&str], env: EnvSettings, facts: HostFacts) -> RuleSet {
    let args = crate::cli::parse(std::iter::once("capture").chain(line.iter().copied())).unwrap();
    build(&Config::new(&args, &env, &facts).unwrap())
}

/// The rules for a command line, with `-u 1337` as Istio's tests have it.
fn build_for(line: &[&str]) -> RuleSet {
    let mut full = vec!["-u", "1337"];
    full.extend(line);
    build_with(&full, EnvSettings::default(), HostFacts::default())
}

fn ipv6() -> HostFacts {
    HostFacts {
        ipv6: true,
        ..HostFacts::default()
    }
}

fn in_table(rules: &[Rule], table: Table) -> Vec<String> {
    rules
        .iter()
        .filter(|r| r.table == table)
        .map(ToString::to_string)
        .collect()
}

/// A chain's rules in the order the kernel ends up with them, `-I N`
/// inserting before the rule at N.
fn chain_order(rules: &[Rule], table: Table, chain: Chain) -> Vec<String> {
    let mut order: Vec<String> = Vec::new();
    for rule in rules
        .iter()
        .filter(|r| r.table == table && r.chain == chain)
    {
        match rule.position {
            None => order.push(rule.spec()),
            Some(p) => order.insert(p as usize - 1, rule.spec()),
        }
    }
    order
}

/// Whether `wanted` appear in `lines` in this order (not necessarily adjacent).
fn in_order(lines: &[String], wanted: &[&str]) -> bool {
    let mut rest = lines.iter();
    wanted.iter().all(|w| rest.any(|l| l == w))
}

fn position(lines: &[String], wanted: &str) -> usize {
    lines
        .iter()
        .position(|l| l == wanted)
        .unwrap_or_else(|| panic!("{wanted:?} not in {lines:#?}"))
}

#[test]
fn by_default_only_outbound_hooks_exist_and_nothing_is_redirected() {
    let set = build_for(&[]);
    assert!(set.v6.is_none());
    assert!(set.v4.iter().all(|r| r.table == Table::Nat));
    let output = chain_order(&set.v4, Table::Nat, Chain::IstioOutput);
    assert_eq!(
        output.last().map(String::as_str),
        Some("-d 127.0.0.1/32 -j RETURN")
    );
    assert!(!output.iter().any(|r| r.ends_with("-j ISTIO_REDIRECT")));
    assert!(chain_order(&set.v4, Table::Nat, Chain::Prerouting).is_empty());
    assert_eq!(
        chain_order(&set.v4, Table::Nat, Chain::Output),
        ["-j ISTIO_OUTPUT"]
    );
    // The redirect chains exist, ready for what the flags add.
    let nat = crate::restore::sections(&set.v4)[&Table::Nat].clone();
    assert!(in_order(
        &nat,
        &[
            "-N ISTIO_INBOUND",
            "-N ISTIO_REDIRECT",
            "-N ISTIO_IN_REDIRECT",
            "-N ISTIO_OUTPUT"
        ]
    ));
}

#[test]
fn listed_inbound_ports_are_redirected_in_order_after_the_tunnel_port() {
    let set = build_for(&["-b", "32000,31000"]);
    assert_eq!(
        chain_order(&set.v4, Table::Nat, Chain::IstioInbound),
        [
            "-p tcp --dport 15008 -j RETURN",
            "-p tcp --dport 32000 -j ISTIO_IN_REDIRECT",
            "-p tcp --dport 31000 -j ISTIO_IN_REDIRECT",
        ]
    );
    assert_eq!(
        chain_order(&set.v4, Table::Nat, Chain::Prerouting),
        ["-p tcp -j ISTIO_INBOUND"]
    );
    assert!(in_table(&set.v4, Table::Mangle).is_empty());
}

#[test]
fn all_inbound_ports_but_the_excluded_ones() {
    let set = build_for(&["-b", "*", "-d", "15090,15021"]);
    assert_eq!(
        chain_order(&set.v4, Table::Nat, Chain::IstioInbound),
        [
            "-p tcp --dport 15008 -j RETURN",
            "-p tcp --dport 15090 -j RETURN",
            "-p tcp --dport 15021 -j RETURN",
            "-p tcp -j ISTIO_IN_REDIRECT",
        ]
    );
    // Exclusions only carve out of "all".
    let listed = build_for(&["-b", "80", "-d", "15090"]);
    assert!(
        !in_table(&listed.v4, Table::Nat)
            .iter()
            .any(|r| r.contains("15090"))
    );
}

#[test]
fn a_vms_traffic_to_captured_ranges_goes_to_the_proxy_before_it_is_let_through() {
    let set = build_for(&["-k", "eth1,eth2", "-i", "*"]);
    assert_eq!(
        chain_order(&set.v4, Table::Nat, Chain::Prerouting),
        [
            "-i eth2 -j ISTIO_REDIRECT",
            "-i eth1 -j ISTIO_REDIRECT",
            "-i eth2 -j RETURN",
            "-i eth1 -j RETURN",
        ]
    );
    let output = chain_order(&set.v4, Table::Nat, Chain::IstioOutput);
    assert_eq!(output.last().map(String::as_str), Some("-j ISTIO_REDIRECT"));

    let set = build_for(&["-k", "eth1,eth2", "-i", "10.0.0.0/8"]);
    assert_eq!(
        chain_order(&set.v4, Table::Nat, Chain::Prerouting),
        [
            "-i eth2 -d 10.0.0.0/8 -j ISTIO_REDIRECT",
            "-i eth1 -d 10.0.0.0/8 -j ISTIO_REDIRECT",
            "-i eth2 -j RETURN",
            "-i eth1 -j RETURN",
        ]
    );
}

#[test]
fn dns_capture_with_several_proxy_ids_and_ranges() {
    // Istio's ip-range case: the servers are resolv.conf's.
    let facts = HostFacts {
        ipv6: false,
        nameservers: ByFamily {
            v4: vec!["127.0.0.53".parse().unwrap()],
            v6: vec![],
        },
    };
    let line = [
        "-u",
        "3,4",
        "-g",
        "1,2",
        "--redirect-dns",
        "-i",
        "9.9.0.0/16",
        "-x",
        "1.1.0.0/16",
    ];
    let set = build_with(&line, EnvSettings::default(), facts);
    let output = chain_order(&set.v4, Table::Nat, Chain::IstioOutput);
    let uid = "-o lo ! -d 127.0.0.1/32 -p tcp -m multiport ! --dports 53,15008 -m owner --uid-owner 3 -j ISTIO_IN_REDIRECT";
    let gid = "-o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 1 -j ISTIO_IN_REDIRECT";
    assert!(in_order(
        &output,
        &[
            "-o lo -s 127.0.0.6/32 -j RETURN",
            uid,
            "-o lo -p tcp ! --dport 53 -m owner ! --uid-owner 3 -j RETURN",
            "-m owner --uid-owner 3 -j RETURN",
            "-m owner --uid-owner 4 -j RETURN",
            gid,
            "-o lo -p tcp ! --dport 53 -m owner ! --gid-owner 1 -j RETURN",
            "-m owner --gid-owner 2 -j RETURN",
            "-j ISTIO_OUTPUT_DNS",
            "-d 127.0.0.1/32 -j RETURN",
            "-d 1.1.0.0/16 -j RETURN",
            "-d 9.9.0.0/16 -j ISTIO_REDIRECT",
        ]
    ));
    assert_eq!(
        chain_order(&set.v4, Table::Nat, Chain::IstioOutputDns),
        [
            "-p tcp --dport 53 -d 127.0.0.53/32 -j REDIRECT --to-ports 15053",
            "-p udp --dport 53 -d 127.0.0.53/32 -j REDIRECT --to-port 15053",
        ]
    );
    let zones = chain_order(&set.v4, Table::Raw, Chain::IstioOutputDns);
    for id in [
        "--uid-owner 3",
        "--uid-owner 4",
        "--gid-owner 1",
        "--gid-owner 2",
    ] {
        assert!(zones.contains(&format!("-p udp --dport 53 -m owner {id} -j CT --zone 1")));
        assert!(zones.contains(&format!(
            "-p udp --sport 15053 -m owner {id} -j CT --zone 2"
        )));
    }
    assert_eq!(
        zones.last().map(String::as_str),
        Some("-p udp --dport 53 -d 127.0.0.53/32 -j CT --zone 2")
    );
    assert_eq!(
        chain_order(&set.v4, Table::Raw, Chain::IstioInbound),
        ["-p udp --sport 53 -s 127.0.0.53/32 -j CT --zone 1"]
    );
}

#[test]
fn dns_servers_of_each_family_are_captured_by_their_family() {
    // Istio's dns-uid-gid case, with the IPv6 server as resolv.conf gives
    // it (an address read from text prints canonically).
    let facts = HostFacts {
        ipv6: true,
        nameservers: ByFamily {
            v4: vec!["127.0.0.53".parse().unwrap()],
            v6: vec!["::127.0.0.53".parse::<IpAddr>().unwrap()],
        },
    };
    let set = build_with(
        &["-u", "3,4", "-g", "1,2", "--redirect-dns"],
        EnvSettings::default(),
        facts,
    );
    let v6 = set.v6.unwrap();
    assert_eq!(
        chain_order(&v6, Table::Nat, Chain::IstioOutputDns),
        [
            "-p tcp --dport 53 -d ::7f00:35/128 -j REDIRECT --to-ports 15053",
            "-p udp --dport 53 -d ::7f00:35/128 -j REDIRECT --to-port 15053",
        ]
    );
    assert!(
        chain_order(&v6, Table::Nat, Chain::IstioOutput)
            .contains(&"-j ISTIO_OUTPUT_DNS".to_string())
    );
    assert_eq!(
        chain_order(&v6, Table::Raw, Chain::Prerouting),
        ["-j ISTIO_INBOUND"]
    );
    assert!(
        !in_table(&set.v4, Table::Nat)
            .iter()
            .any(|r| r.contains("::"))
    );
}

#[test]
fn capture_all_dns_needs_no_server() {
    let set = build_with(
        &["-u", "1337", "--redirect-dns", "--capture-all-dns"],
        EnvSettings::default(),
        ipv6(),
    );
    for rules in [&set.v4, set.v6.as_ref().unwrap()] {
        assert_eq!(
            chain_order(rules, Table::Nat, Chain::IstioOutputDns),
            [
                "-p tcp --dport 53 -j REDIRECT --to-ports 15053",
                "-p udp --dport 53 -j REDIRECT --to-port 15053",
            ]
        );
        assert_eq!(
            chain_order(rules, Table::Raw, Chain::IstioInbound),
            ["-p udp --sport 53 -j CT --zone 1"]
        );
    }
}

#[test]
fn dns_capture_without_servers_changes_nothing() {
    // Istio's ipv6-dns-outbound-owner-groups-exclude case.
    let env = EnvSettings {
        owner_groups_exclude: "888,ftp".into(),
        ..EnvSettings::default()
    };
    let with_dns = build_with(&["-u", "1337", "--redirect-dns"], env.clone(), ipv6());
    let without = build_with(&["-u", "1337"], env, ipv6());
    assert_eq!(with_dns, without);
    for rules in [&without.v4, without.v6.as_ref().unwrap()] {
        let output = chain_order(rules, Table::Nat, Chain::IstioOutput);
        let excluded = position(&output, "-m owner --gid-owner 888 -j RETURN");
        assert_eq!(output[excluded + 1], "-m owner --gid-owner ftp -j RETURN");
        assert!(excluded > position(&output, "-m owner --gid-owner 1337 -j RETURN"));
    }
}

#[test]
fn included_owner_groups_make_one_rule_returning_all_other_groups() {
    let env = EnvSettings {
        owner_groups_include: "java,202".into(),
        ..EnvSettings::default()
    };
    let set = build_with(&["-u", "1337"], env, HostFacts::default());
    let output = chain_order(&set.v4, Table::Nat, Chain::IstioOutput);
    let filter = position(
        &output,
        "-m owner ! --gid-owner java -m owner ! --gid-owner 202 -j RETURN",
    );
    assert_eq!(output[filter + 1], "-d 127.0.0.1/32 -j RETURN");
    assert_eq!(output[filter - 1], "-m owner --gid-owner 1337 -j RETURN");
}

#[test]
fn included_outbound_ports_are_captured_whatever_the_destination() {
    let set = build_for(&["-q", "32000,31000"]);
    let output = chain_order(&set.v4, Table::Nat, Chain::IstioOutput);
    assert_eq!(
        output[output.len() - 3..],
        [
            "-d 127.0.0.1/32 -j RETURN",
            "-p tcp --dport 32000 -j ISTIO_REDIRECT",
            "-p tcp --dport 31000 -j ISTIO_REDIRECT",
        ]
    );
}

#[test]
fn excluded_outbound_ports_return_before_anything_else() {
    let set = build_for(&["-o", "9090", "-i", "*"]);
    let output = chain_order(&set.v4, Table::Nat, Chain::IstioOutput);
    assert_eq!(
        output[..3],
        [
            "-p tcp --dport 9090 -j RETURN",
            "-p udp --dport 9090 -j RETURN",
            "-o lo -s 127.0.0.6/32 -j RETURN",
        ]
    );
}

#[test]
fn ipv6_rules_mirror_ipv4_with_ipv6_addresses() {
    // Istio's ipv6-empty-inbound-ports case.
    let set = build_with(&["-u", "1337", "-b", ""], EnvSettings::default(), ipv6());
    let v6 = set.v6.clone().unwrap();
    assert_eq!(v6.len(), set.v4.len());
    let as_v6 = |rule: &Rule| {
        rule.to_string()
            .replace("127.0.0.6/32", "::6/128")
            .replace("127.0.0.1/32", "::1/128")
    };
    assert_eq!(
        set.v4.iter().map(as_v6).collect::<Vec<_>>(),
        v6.iter().map(ToString::to_string).collect::<Vec<_>>()
    );
}

#[test]
fn ipv6_ranges_only_reach_ip6tables() {
    // Istio's ipv6-ipnets and ipv6-uid-gid cases.
    let line = [
        "-u",
        "3,4",
        "-g",
        "1,2",
        "-b",
        "4000,5000",
        "-d",
        "6000,7000,",
        "-k",
        "eth0,eth1",
        "-i",
        "2001:db8::/32",
        "-x",
        "2001:db8::/32",
    ];
    let set = build_with(&line, EnvSettings::default(), ipv6());
    let v6 = set.v6.unwrap();
    let output = chain_order(&v6, Table::Nat, Chain::IstioOutput);
    let excluded = position(&output, "-d 2001:db8::/32 -j RETURN");
    assert_eq!(output[excluded + 1], "-d 2001:db8::/32 -j ISTIO_REDIRECT");
    assert_eq!(
        chain_order(&v6, Table::Nat, Chain::Prerouting)[..2],
        [
            "-i eth1 -d 2001:db8::/32 -j ISTIO_REDIRECT",
            "-i eth0 -d 2001:db8::/32 -j ISTIO_REDIRECT"
        ]
    );
    let v4 = in_table(&set.v4, Table::Nat);
    assert!(!v4.iter().any(|r| r.contains("2001:db8")
        || r.ends_with("-j ISTIO_REDIRECT") && r.starts_with("-A ISTIO_OUTPUT")));
    assert!(
        !v4.iter()
            .chain(&in_table(&v6, Table::Nat))
            .any(|r| r.contains("6000"))
    );
}

#[test]
fn a_captured_loopback_range_is_not_let_through_early() {
    let set = build_for(&["-i", "127.1.2.3/32"]);
    let output = chain_order(&set.v4, Table::Nat, Chain::IstioOutput);
    assert!(!output.iter().any(|r| r.starts_with("-o lo -m owner !")));
    assert_eq!(
        output.last().map(String::as_str),
        Some("-d 127.1.2.3/32 -j ISTIO_REDIRECT")
    );
}

#[test]
fn tproxy_marks_connections_even_without_inbound_ports() {
    let set = build_for(&["-m", "TPROXY", "-b", ""]);
    let mangle = in_table(&set.v4, Table::Mangle);
    assert!(
        mangle.contains(
            &"-A PREROUTING -p tcp -m mark --mark 1337 -j CONNMARK --save-mark".to_string()
        )
    );
    assert!(!mangle.contains(&"-A PREROUTING -p tcp -j ISTIO_INBOUND".to_string()));
    assert_eq!(
        chain_order(&set.v4, Table::Mangle, Chain::IstioInbound),
        [
            "-p tcp -m mark --mark 1337 -j RETURN",
            "-p tcp -s 127.0.0.6/32 -i lo -j RETURN",
            "-p tcp -i lo -m mark ! --mark 1338 -j RETURN",
        ]
    );
}

#[test]
fn tproxy_options_reach_the_rules() {
    let set = build_for(&["-m", "TPROXY", "-b", "80", "-t", "7", "-z", "16006"]);
    assert_eq!(
        chain_order(&set.v4, Table::Mangle, Chain::IstioTproxy),
        ["! -d 127.0.0.1/32 -p tcp -j TPROXY --tproxy-mark 7/0xffffffff --on-port 16006"]
    );
    assert_eq!(
        chain_order(&set.v4, Table::Mangle, Chain::IstioDivert),
        ["-j MARK --set-mark 7", "-j ACCEPT"]
    );
}

#[test]
fn ports_and_the_loopback_range_reach_the_rules() {
    let env = EnvSettings {
        loopback_cidr: "127.0.0.1/8".into(),
        ..EnvSettings::default()
    };
    let set = build_with(
        &["-u", "1337", "-p", "16001", "-z", "16006", "-e", "16008"],
        env,
        HostFacts::default(),
    );
    let nat = in_table(&set.v4, Table::Nat);
    for expected in [
        "-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 16001",
        "-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 16006",
        "-A ISTIO_INBOUND -p tcp --dport 16008 -j RETURN",
        "-A ISTIO_OUTPUT -d 127.0.0.1/8 -j RETURN",
    ] {
        assert!(nat.contains(&expected.to_string()), "{expected}");
    }
}
