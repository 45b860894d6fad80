//! What istio-iptables sets up besides iptables rules, with iproute2's `ip`:
//! for IPv6 pods, the address `::6` on the loopback interface (the proxy's
//! passthrough source, which IPv4 has without asking since all of
//! 127.0.0.0/8 is local); for TPROXY, the policy route that delivers marked
//! packets locally. Both steps can be repeated without effect.

use std::process::Command;

use crate::config::Config;
use crate::family::Family;
use crate::values::InterceptionMode;

#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error("cannot run ip {0}")]
    Spawn(String, #[source] std::io::Error),
    #[error("ip {0} failed: {1}")]
    Failed(String, String),
}

/// Adds the `::6` address and the TPROXY routes `cfg` needs.
pub fn set_up(cfg: &Config) -> Result<(), RouteError> {
    if cfg.ipv6 {
        ip(&["-6", "addr", "replace", "::6/128", "dev", "lo"])?;
    }
    for family in tproxy_families(cfg) {
        if tproxy_rule(cfg, family, "show")?.trim().is_empty() {
            tproxy_rule(cfg, family, "add")?;
        }
        tproxy_route(cfg, family, "replace")?;
    }
    Ok(())
}

/// Removes the TPROXY routes (the `::6` address stays: it may serve others,
/// and it captures nothing).
pub fn remove(cfg: &Config) -> Result<(), RouteError> {
    for family in tproxy_families(cfg) {
        let copies = tproxy_rule(cfg, family, "show")?.lines().count();
        for _ in 0..copies {
            tproxy_rule(cfg, family, "del")?;
        }
        let table = cfg.tproxy_route_table.to_string();
        let routes = ip(&[family_flag(family), "route", "show", "table", &table])?;
        if routes.lines().any(|l| l.starts_with("local default")) {
            tproxy_route(cfg, family, "del")?;
        }
    }
    Ok(())
}

/// The families that route TPROXY-marked packets: none unless inbound
/// traffic is captured with TPROXY.
fn tproxy_families(cfg: &Config) -> Vec<Family> {
    if cfg.mode != InterceptionMode::Tproxy || cfg.inbound_ports.is_empty() {
        return Vec::new();
    }
    Family::ALL
        .into_iter()
        .filter(|f| *f == Family::V4 || cfg.ipv6)
        .collect()
}

fn family_flag(family: Family) -> &'static str {
    match family {
        Family::V4 => "-4",
        Family::V6 => "-6",
    }
}

/// `ip rule COMMAND` on the rule that sends packets with the TPROXY mark to
/// its routing table.
fn tproxy_rule(cfg: &Config, family: Family, command: &str) -> Result<String, RouteError> {
    let mark = cfg.tproxy_mark.to_string();
    let table = cfg.tproxy_route_table.to_string();
    ip(&[
        family_flag(family),
        "rule",
        command,
        "fwmark",
        &mark,
        "lookup",
        &table,
    ])
}

/// `ip route COMMAND` on the route of that table: every destination is local.
fn tproxy_route(cfg: &Config, family: Family, command: &str) -> Result<String, RouteError> {
    let everything = match family {
        Family::V4 => "0.0.0.0/0",
        Family::V6 => "::/0",
    };
    let table = cfg.tproxy_route_table.to_string();
    ip(&[
        family_flag(family),
        "route",
        command,
        "local",
        everything,
        "dev",
        "lo",
        "table",
        &table,
    ])
}

fn ip(args: &[&str]) -> Result<String, RouteError> {
    let line = args.join(" ");
    let output = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| RouteError::Spawn(line.clone(), e))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
        return Err(RouteError::Failed(line, stderr));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
