//! Applying a rule set to the pod, and removing it.
//!
//! Each family gets one iptables-restore transaction (`--noflush`, all
//! tables): it first removes what a previous run left of ours, then adds
//! the rules. iptables-restore commits a transaction whole or not at all,
//! so a family is never half-written, and a second run leaves the same
//! rules as one run. Across families: every transaction is checked
//! (`--test`) before any is committed, and if IPv6's fails after IPv4's was
//! committed, IPv4's tables are put back as they were.

use std::collections::BTreeSet;

use tracing::{debug, info, warn};

use crate::cleanup::Installed;
use crate::family::{ByFamily, Family};
use crate::iptables::{CommandError, Iptables, Restore};
use crate::restore::{self, Sections};
use crate::rules::{Rule, RuleSet, Table};
use crate::saved::Saved;

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("cannot read the current {0} rules")]
    Read(Family, #[source] CommandError),
    #[error("the {0} rules were refused; no rule was changed")]
    Refused(Family, #[source] CommandError),
    #[error("cannot put the {0} rules back as they were, after a later step failed")]
    RollBack(Family, #[source] CommandError),
}

/// One family's transaction, ready to commit, with what it replaces.
#[derive(Debug)]
struct Transaction<'a> {
    family: Family,
    iptables: &'a Iptables,
    before: Saved,
    input: String,
    tables: BTreeSet<Table>,
}

impl<'a> Transaction<'a> {
    /// Reads the family's state and writes the transaction that takes it
    /// to: what it was, without anything of ours, plus `adding`.
    fn prepare(
        family: Family,
        iptables: &'a Iptables,
        ours: &[Rule],
        adding: &[Rule],
    ) -> Result<Self, ApplyError> {
        let state = iptables.save().map_err(|e| ApplyError::Read(family, e))?;
        let before = Saved::parse(&state);
        let installed = Installed::found(&before, ours, |rule| iptables.has_rule(rule));
        let mut sections: Sections = installed.removal();
        for (table, lines) in restore::sections(adding) {
            sections.entry(table).or_default().extend(lines);
        }
        let input = restore::render(&sections);
        debug!(%family, binary = iptables.name(), "iptables-restore input:\n{input}");
        Ok(Transaction {
            family,
            iptables,
            before,
            input,
            tables: sections.into_keys().collect(),
        })
    }

    fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    fn check(&self) -> Result<(), ApplyError> {
        self.iptables
            .restore(&self.input, Restore::Test)
            .map_err(|e| ApplyError::Refused(self.family, e))
    }

    fn commit(&self) -> Result<(), ApplyError> {
        self.iptables
            .restore(&self.input, Restore::Update)
            .map_err(|e| ApplyError::Refused(self.family, e))
    }

    /// Replaces the tables the transaction touched with their content from
    /// before it; a table that did not exist then is emptied.
    fn roll_back(&self) -> Result<(), ApplyError> {
        let mut input = String::new();
        for table in &self.tables {
            match self.before.tables.get(table.name()) {
                Some(saved) => input.push_str(&saved.text),
                None => input.push_str(&format!("*{}\nCOMMIT\n", table.name())),
            }
        }
        self.iptables
            .restore(&input, Restore::Replace)
            .map_err(|e| ApplyError::RollBack(self.family, e))
    }
}

/// The rule set as committed, which can still be taken back (when a step
/// after the rules, such as the routes, fails).
#[derive(Debug)]
pub struct Applied<'a> {
    committed: Vec<Transaction<'a>>,
}

impl Applied<'_> {
    /// Puts every family back as it was before [`apply`], last first.
    pub fn roll_back(&self) -> Result<(), ApplyError> {
        self.committed
            .iter()
            .rev()
            .try_for_each(Transaction::roll_back)
    }
}

/// Replaces our rules with `set`, in every family it has rules for.
pub fn apply<'a>(
    set: &RuleSet,
    iptables: &'a ByFamily<Option<Iptables>>,
) -> Result<Applied<'a>, ApplyError> {
    let mut transactions = Vec::new();
    for (family, rules) in set.families() {
        let Some(binaries) = &iptables[family] else {
            continue;
        };
        transactions.push(Transaction::prepare(family, binaries, rules, rules)?);
    }
    transactions.iter().try_for_each(Transaction::check)?;
    let mut applied = Applied {
        committed: Vec::new(),
    };
    for transaction in transactions {
        if let Err(failure) = transaction.commit() {
            if !applied.committed.is_empty() {
                warn!(error = %failure, "taking back the rules already applied");
            }
            applied.roll_back()?;
            return Err(failure);
        }
        info!(family = %transaction.family, binary = transaction.iptables.name(), "rules applied");
        applied.committed.push(transaction);
    }
    Ok(applied)
}

/// Removes our chains, the jumps to them, and those of `set`'s rules that
/// sit in built-in chains, from every family with iptables.
pub fn remove(set: &RuleSet, iptables: &ByFamily<Option<Iptables>>) -> Result<(), ApplyError> {
    for (family, rules) in set.families() {
        let Some(binaries) = &iptables[family] else {
            continue;
        };
        let transaction = Transaction::prepare(family, binaries, rules, &[])?;
        if transaction.is_empty() {
            info!(%family, "nothing of ours to remove");
            continue;
        }
        transaction.commit()?;
        info!(%family, "our rules and chains removed");
    }
    Ok(())
}
