//! iptables-restore input: the text a family's rules are applied with, in
//! istio-iptables' layout, and what `--dry-run` prints.

use std::collections::BTreeMap;

use crate::rules::{Rule, RuleSet, Table};

/// A transaction's lines, per table, in the order tables are written.
pub type Sections = BTreeMap<Table, Vec<String>>;

/// For each table the rules use: a `-N` for each of our chains, in the
/// order they first hold a rule and then in the order they are first jumped
/// to, then the rules in order.
pub fn sections(rules: &[Rule]) -> Sections {
    let mut sections = Sections::new();
    for table in Table::ALL {
        let in_table: Vec<&Rule> = rules.iter().filter(|r| r.table == table).collect();
        if in_table.is_empty() {
            continue;
        }
        let mut chains = Vec::new();
        let holders = in_table.iter().map(|r| r.chain);
        let targets = in_table.iter().filter_map(|r| r.jump());
        for chain in holders.chain(targets) {
            if chain.is_ours() && !chains.contains(&chain) {
                chains.push(chain);
            }
        }
        let new_chains = chains.iter().map(|c| format!("-N {}", c.name()));
        let rule_lines = in_table.iter().map(|r| r.to_string());
        sections.insert(table, new_chains.chain(rule_lines).collect());
    }
    sections
}

/// The iptables-restore input of `sections`: for each table `* TABLE`, its
/// lines and `COMMIT`.
pub fn render(sections: &Sections) -> String {
    let mut text = String::new();
    for (table, lines) in sections {
        text.push_str(&format!("* {}\n", table.name()));
        for line in lines {
            text.push_str(line);
            text.push('\n');
        }
        text.push_str("COMMIT\n");
    }
    text
}

/// What a dry run prints: the commands istio-iptables runs on a pod that
/// has no rules yet, as its capture tests record them. It reads both
/// families' state (`iptables-save`, `ip6tables-save`), feeds each family's
/// rules to iptables-restore (the input is recorded, not the command), and
/// reads the final state of the families it wrote.
pub fn dry_run(set: &RuleSet) -> String {
    let mut text = String::from("iptables-save\nip6tables-save\n");
    for (_, rules) in set.families() {
        text.push_str(&render(&sections(rules)));
    }
    text.push_str("iptables-save\n");
    if set.v6.is_some() {
        text.push_str("ip6tables-save\n");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{Chain, Target};

    fn rule(table: Table, chain: Chain, target: Target) -> Rule {
        Rule {
            table,
            chain,
            position: None,
            matches: String::new(),
            target,
        }
    }

    #[test]
    fn chains_are_created_in_order_of_use_then_of_jumps_per_table() {
        let rules = [
            rule(
                Table::Raw,
                Chain::Output,
                Target::Chain(Chain::IstioOutputDns),
            ),
            rule(Table::Nat, Chain::Output, Target::Chain(Chain::IstioOutput)),
            rule(
                Table::Nat,
                Chain::IstioOutput,
                Target::Chain(Chain::IstioRedirect),
            ),
            rule(Table::Nat, Chain::IstioRedirect, Target::Return),
            rule(Table::Raw, Chain::IstioOutputDns, Target::Return),
        ];
        assert_eq!(
            render(&sections(&rules)),
            "* nat\n\
             -N ISTIO_OUTPUT\n\
             -N ISTIO_REDIRECT\n\
             -A OUTPUT -j ISTIO_OUTPUT\n\
             -A ISTIO_OUTPUT -j ISTIO_REDIRECT\n\
             -A ISTIO_REDIRECT -j RETURN\n\
             COMMIT\n\
             * raw\n\
             -N ISTIO_OUTPUT_DNS\n\
             -A OUTPUT -j ISTIO_OUTPUT_DNS\n\
             -A ISTIO_OUTPUT_DNS -j RETURN\n\
             COMMIT\n"
        );
    }

    #[test]
    fn a_chain_only_jumped_to_is_created_after_those_holding_rules() {
        let rules = [
            rule(
                Table::Nat,
                Chain::Prerouting,
                Target::Chain(Chain::IstioInbound),
            ),
            rule(Table::Nat, Chain::IstioOutput, Target::Return),
        ];
        assert_eq!(
            sections(&rules)[&Table::Nat][..2],
            ["-N ISTIO_OUTPUT", "-N ISTIO_INBOUND"]
        );
    }

    #[test]
    fn the_dry_run_reads_both_families_and_writes_only_ipv4_without_ipv6() {
        let v4 = vec![rule(Table::Nat, Chain::Output, Target::Return)];
        let ipv4_only = dry_run(&RuleSet {
            v4: v4.clone(),
            v6: None,
        });
        assert_eq!(
            ipv4_only,
            "iptables-save\nip6tables-save\n* nat\n-A OUTPUT -j RETURN\nCOMMIT\niptables-save\n"
        );
        let both = dry_run(&RuleSet {
            v4: v4.clone(),
            v6: Some(v4),
        });
        assert!(both.ends_with(
            "COMMIT\n* nat\n-A OUTPUT -j RETURN\nCOMMIT\niptables-save\nip6tables-save\n"
        ));
    }
}
