//! `capture`: the pod's traffic capture, istio-iptables' job. From
//! istio-iptables' command line it builds the rules that send the pod's
//! inbound TCP to the proxy's inbound port (15006) and its outbound TCP to
//! the outbound port (15001), letting the proxy's own traffic (uid 1337)
//! and loopback through, and applies them atomically with iptables-restore.
//!
//! [`run`] goes: settings ([`config`], from [`cli`] and [`host`]) -> rules
//! ([`rules`], pure) -> iptables-restore input ([`restore`]) -> printed
//! (dry run) or applied ([`apply`], [`routes`]); or removed (`--cleanup`);
//! then, if asked, [`validation`].

pub mod apply;
pub mod cleanup;
pub mod cli;
pub mod config;
pub mod family;
pub mod host;
pub mod iptables;
pub mod log;
pub mod restore;
pub mod routes;
pub mod rules;
pub mod saved;
pub mod validation;
pub mod values;

use std::io::Write;

use tracing::{info, warn};

use crate::apply::ApplyError;
use crate::cleanup::Installed;
use crate::cli::Args;
use crate::config::{Config, ConfigError, EnvSettings, HostFacts};
use crate::family::{ByFamily, Family};
use crate::host::HostError;
use crate::iptables::{CommandError, Iptables};
use crate::routes::RouteError;
use crate::rules::RuleSet;
use crate::validation::{Probe, ValidationError};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Host(#[from] HostError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Iptables(#[from] CommandError),
    #[error(transparent)]
    Apply(#[from] ApplyError),
    #[error("the rules were applied, then taken back: setting up the routes failed")]
    Routes(#[source] RouteError),
    #[error("removing the TPROXY routes failed")]
    RemoveRoutes(#[source] RouteError),
    #[error(transparent)]
    Validation(#[from] ValidationError),
    #[error("cannot print the rules")]
    Print(#[source] std::io::Error),
}

impl Error {
    /// The process exit code: istio-validation's 126 for a failed
    /// validation, which Istio's CNI repair controller looks for; else 1.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Validation(_) => 126,
            _ => 1,
        }
    }
}

/// Does what the command line asks.
pub fn run(args: &Args) -> Result<(), Error> {
    if args.native_nftables {
        warn!(
            "--native-nftables: rules are written with iptables (its nft variant where nftables is in use)"
        );
    }
    let facts = HostFacts::gather(args)?;
    let cfg = Config::new(args, &EnvSettings::from_process(), &facts)?;
    info!(?cfg, "settings");
    if args.cleanup {
        return clean_up(args, &cfg);
    }
    if !args.skip_rule_apply {
        let rules = rules::build(&cfg);
        if args.dry_run {
            print(&restore::dry_run(&rules))?;
        } else {
            capture(args, &cfg, &rules)?;
        }
    }
    if args.run_validation {
        validation::run(&Probe {
            listen_ports: vec![cfg.proxy_port, cfg.inbound_capture_port],
            probe_port: args.iptables_probe_port,
            ipv6: cfg.ipv6,
            timeout: args.probe_timeout,
        })?;
    }
    Ok(())
}

/// Applies the rules, then the routes; if the routes fail, the rules are
/// taken back, so that the pod is left as it was.
fn capture(args: &Args, cfg: &Config, rules: &RuleSet) -> Result<(), Error> {
    let iptables = ByFamily {
        v4: Some(Iptables::detect(Family::V4, args.force_iptables_binary)?),
        v6: cfg
            .ipv6
            .then(|| Iptables::detect(Family::V6, args.force_iptables_binary))
            .transpose()?,
    };
    let applied = apply::apply(rules, &iptables)?;
    if let Err(e) = routes::set_up(cfg) {
        applied.roll_back()?;
        return Err(Error::Routes(e));
    }
    Ok(())
}

/// Removes our rules from both families, whatever the pod's addresses:
/// IPv6's wherever ip6tables runs, looking for the rules these settings
/// would add there. A dry run prints what would be removed from each
/// family were those rules installed.
fn clean_up(args: &Args, cfg: &Config) -> Result<(), Error> {
    let v6 = if args.dry_run {
        None
    } else {
        Iptables::detect(Family::V6, args.force_iptables_binary).ok()
    };
    let cfg = Config {
        ipv6: args.dry_run || v6.is_some(),
        ..cfg.clone()
    };
    let rules = rules::build(&cfg);
    if args.dry_run {
        let text: String = rules
            .families()
            .map(|(_, rules)| restore::render(&Installed::planned(rules).removal()))
            .collect();
        return print(&text);
    }
    let iptables = ByFamily {
        v4: Some(Iptables::detect(Family::V4, args.force_iptables_binary)?),
        v6,
    };
    apply::remove(&rules, &iptables)?;
    routes::remove(&cfg).map_err(Error::RemoveRoutes)
}

fn print(text: &str) -> Result<(), Error> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(Error::Print)
}
