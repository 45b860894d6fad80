//! What of ours is installed, and the lines that remove it. "Ours" is
//! exactly: our chains (ISTIO_INBOUND, ISTIO_OUTPUT, ... in mangle, nat and
//! raw), every rule elsewhere that jumps to one of them, and the rules our
//! settings put in built-in chains without jumping to our chains (an
//! excluded interface's RETURN, TPROXY's marks). Everything else stays.
//!
//! The removal runs at the start of a restore transaction, before the rules
//! are added again: a rerun replaces our rules instead of doubling them,
//! and `--cleanup` is the removal alone.

use crate::restore::Sections;
use crate::rules::{Chain, Rule, Table};
use crate::saved::Saved;

/// Our rules and chains as they are in one family's tables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Installed {
    /// Rules in chains that are not ours jumping to one of ours:
    /// (table, chain, the rule's spec as iptables-save wrote it).
    jumps: Vec<(Table, String, String)>,
    /// Our rules in built-in chains that jump nowhere of ours.
    builtin_rules: Vec<Rule>,
    /// Our chains, per table.
    chains: Vec<(Table, Chain)>,
}

impl Installed {
    /// What `saved` holds of ours. `present` tells whether one of our
    /// built-in chain rules is installed (iptables-save rewrites rules, so
    /// only iptables can compare them); it is asked only about tables that
    /// exist, and once per distinct rule.
    pub fn found(saved: &Saved, rules: &[Rule], present: impl Fn(&Rule) -> bool) -> Installed {
        let mut installed = Installed::default();
        for (name, contents) in &saved.tables {
            let Some(table) = Table::named(name) else {
                continue;
            };
            installed.chains.extend(
                contents
                    .chains
                    .iter()
                    .filter_map(|c| Chain::ours_named(c))
                    .map(|c| (table, c)),
            );
            let jumps = contents.rules.iter().filter(|r| {
                Chain::ours_named(&r.chain).is_none()
                    && r.target.as_deref().and_then(Chain::ours_named).is_some()
            });
            installed
                .jumps
                .extend(jumps.map(|r| (table, r.chain.clone(), r.spec.clone())));
            let mut checked: Vec<&Rule> = Vec::new();
            for rule in builtin_rules(rules).filter(|r| r.table == table) {
                let seen = checked.iter().any(|c| same_rule(c, rule));
                if seen || present(rule) {
                    // A rule the settings ask for twice was added twice.
                    if !seen {
                        checked.push(rule);
                    }
                    installed.builtin_rules.push(rule.clone());
                }
            }
        }
        installed
    }

    /// What `rules` install on tables that had none of ours: what a dry
    /// run of the cleanup shows.
    pub fn planned(rules: &[Rule]) -> Installed {
        let mut chains: Vec<(Table, Chain)> = Vec::new();
        for rule in rules {
            for chain in std::iter::once(rule.chain).chain(rule.jump()) {
                if chain.is_ours() && !chains.contains(&(rule.table, chain)) {
                    chains.push((rule.table, chain));
                }
            }
        }
        Installed {
            jumps: rules
                .iter()
                .filter(|r| !r.chain.is_ours() && r.jump().is_some())
                .map(|r| (r.table, r.chain.name().to_string(), r.spec()))
                .collect(),
            builtin_rules: builtin_rules(rules).cloned().collect(),
            chains,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.jumps.is_empty() && self.builtin_rules.is_empty() && self.chains.is_empty()
    }

    /// The lines that remove all of it, per table: first the rules that
    /// lead into our chains or sit in built-in ones, then our chains'
    /// rules, then the chains, which are empty and unreferenced by then.
    pub fn removal(&self) -> Sections {
        let mut sections = Sections::new();
        for (table, chain, spec) in &self.jumps {
            sections
                .entry(*table)
                .or_default()
                .push(format!("-D {chain} {spec}"));
        }
        for rule in &self.builtin_rules {
            sections.entry(rule.table).or_default().push(format!(
                "-D {} {}",
                rule.chain.name(),
                rule.spec()
            ));
        }
        for (command, (table, chain)) in self
            .chains
            .iter()
            .map(|c| ("-F", c))
            .chain(self.chains.iter().map(|c| ("-X", c)))
        {
            sections
                .entry(*table)
                .or_default()
                .push(format!("{command} {}", chain.name()));
        }
        sections
    }
}

/// Our rules in built-in chains that do not jump to our chains.
fn builtin_rules(rules: &[Rule]) -> impl Iterator<Item = &Rule> {
    rules
        .iter()
        .filter(|r| !r.chain.is_ours() && r.jump().is_none())
}

fn same_rule(a: &Rule, b: &Rule) -> bool {
    a.table == b.table && a.chain == b.chain && a.spec() == b.spec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::restore::render;
    use crate::rules::Target;

    fn rule(table: Table, chain: Chain, matches: &str, target: Target) -> Rule {
        Rule {
            table,
            chain,
            position: None,
            matches: matches.into(),
            target,
        }
    }

    fn plan() -> Vec<Rule> {
        vec![
            rule(Table::Nat, Chain::Prerouting, "-i eth9", Target::Return),
            rule(
                Table::Nat,
                Chain::Output,
                "",
                Target::Chain(Chain::IstioOutput),
            ),
            rule(
                Table::Nat,
                Chain::IstioOutput,
                "-o lo -s 127.0.0.6/32",
                Target::Return,
            ),
            rule(
                Table::Nat,
                Chain::IstioOutput,
                "",
                Target::Chain(Chain::IstioRedirect),
            ),
            rule(
                Table::Nat,
                Chain::IstioRedirect,
                "-p tcp",
                Target::Action("REDIRECT --to-ports 15001".into()),
            ),
        ]
    }

    const SAVED: &str = "\
*nat
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:ISTIO_OUTPUT - [0:0]
:ISTIO_REDIRECT - [0:0]
:ISTIO_OLD - [0:0]
:APP - [0:0]
-A PREROUTING -i eth9 -j RETURN
-A OUTPUT -p tcp -m tcp --dport 9 -j ACCEPT
-A OUTPUT -j ISTIO_OUTPUT
-A OUTPUT -j ISTIO_OUTPUT
-A APP -j ISTIO_REDIRECT
-A ISTIO_OUTPUT -s 127.0.0.6/32 -o lo -j RETURN
-A ISTIO_OUTPUT -j ISTIO_REDIRECT
COMMIT
*filter
:INPUT ACCEPT [0:0]
:ISTIO_OUTPUT - [0:0]
COMMIT
";

    #[test]
    fn removal_takes_every_way_into_our_chains_then_the_chains() {
        let installed = Installed::found(&Saved::parse(SAVED), &plan(), |_| true);
        assert_eq!(
            render(&installed.removal()),
            "* nat\n\
             -D OUTPUT -j ISTIO_OUTPUT\n\
             -D OUTPUT -j ISTIO_OUTPUT\n\
             -D APP -j ISTIO_REDIRECT\n\
             -D PREROUTING -i eth9 -j RETURN\n\
             -F ISTIO_OUTPUT\n\
             -F ISTIO_REDIRECT\n\
             -X ISTIO_OUTPUT\n\
             -X ISTIO_REDIRECT\n\
             COMMIT\n"
        );
    }

    #[test]
    fn builtin_rules_are_removed_only_when_present() {
        let installed = Installed::found(&Saved::parse(SAVED), &plan(), |_| false);
        assert!(!render(&installed.removal()).contains("eth9"));
    }

    #[test]
    fn a_rule_asked_for_twice_is_removed_twice_but_checked_once() {
        let mut rules = plan();
        rules.push(rules[0].clone());
        let checks = std::cell::Cell::new(0);
        let installed = Installed::found(&Saved::parse(SAVED), &rules, |_| {
            checks.set(checks.get() + 1);
            true
        });
        assert_eq!(checks.get(), 1);
        assert_eq!(
            render(&installed.removal())
                .matches("-D PREROUTING -i eth9 -j RETURN")
                .count(),
            2
        );
    }

    #[test]
    fn tables_without_our_chains_and_empty_states_need_nothing() {
        let saved = Saved::parse("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT\nCOMMIT\n");
        assert!(Installed::found(&saved, &plan(), |_| true).is_empty());
        assert!(Installed::found(&Saved::default(), &plan(), |_| true).is_empty());
    }

    #[test]
    fn the_planned_state_removes_what_the_plan_adds() {
        assert_eq!(
            render(&Installed::planned(&plan()).removal()),
            "* nat\n\
             -D OUTPUT -j ISTIO_OUTPUT\n\
             -D PREROUTING -i eth9 -j RETURN\n\
             -F ISTIO_OUTPUT\n\
             -F ISTIO_REDIRECT\n\
             -X ISTIO_OUTPUT\n\
             -X ISTIO_REDIRECT\n\
             COMMIT\n"
        );
    }
}
