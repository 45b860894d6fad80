//! Running iptables: choosing the binaries of a family (legacy or nft), and
//! the three commands this program needs: `-save` to read the state,
//! `-restore` to change it in one transaction, and `-C` to find a rule.

use std::io::Write;
use std::process::{Command, Stdio};
use std::str::FromStr;

use crate::family::Family;
use crate::rules::Rule;

/// `--force-iptables-binary`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BinaryChoice {
    /// Legacy if the pod already has legacy rules, else nft, else whatever
    /// plain `iptables` is.
    #[default]
    Auto,
    Legacy,
    Nft,
}

impl FromStr for BinaryChoice {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "" => Ok(BinaryChoice::Auto),
            "legacy" => Ok(BinaryChoice::Legacy),
            "nft" => Ok(BinaryChoice::Nft),
            _ => Err(format!("{text:?} is neither legacy nor nft")),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The I/O error is part of the message: detection reports each
    /// candidate's failure as text.
    #[error("cannot run {command}: {error}")]
    Spawn {
        command: String,
        error: std::io::Error,
    },
    #[error("{command} failed: {message}")]
    Failed { command: String, message: String },
    #[error("no usable iptables for {0}: {1}")]
    NoBinary(Family, String),
}

/// How an iptables-restore input is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restore {
    /// Parsed and checked, not committed.
    Test,
    /// Added to the tables as they are.
    Update,
    /// The tables named in the input are replaced by it.
    Replace,
}

/// The iptables binaries of one family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Iptables {
    /// `iptables-nft`, `ip6tables-legacy`, ...; `-save` and `-restore` are
    /// this name with a suffix.
    binary: String,
    /// Legacy iptables serialises writers with a lock file: writers wait.
    legacy: bool,
}

impl Iptables {
    /// Picks the binaries as istio-iptables does: with no choice forced,
    /// legacy iptables if the pod's legacy tables are in use (they come
    /// first in the kernel's path, so rules must go where the others are),
    /// else nft, else plain `iptables`.
    pub fn detect(family: Family, choice: BinaryChoice) -> Result<Iptables, CommandError> {
        let base = match family {
            Family::V4 => "iptables",
            Family::V6 => "ip6tables",
        };
        let legacy = Iptables {
            binary: format!("{base}-legacy"),
            legacy: true,
        };
        let nft = Iptables {
            binary: format!("{base}-nft"),
            legacy: false,
        };
        let candidates = match choice {
            BinaryChoice::Legacy => vec![legacy],
            BinaryChoice::Nft => vec![nft],
            BinaryChoice::Auto => {
                if legacy
                    .save()
                    .is_ok_and(|state| state.lines().any(|l| l.starts_with('*')))
                {
                    return Ok(legacy);
                }
                let plain = Iptables {
                    binary: base.to_string(),
                    legacy: false,
                };
                vec![nft, plain]
            }
        };
        let mut failures = Vec::new();
        for candidate in candidates {
            match candidate.save() {
                Ok(_) => return Ok(candidate),
                Err(e) => failures.push(e.to_string()),
            }
        }
        Err(CommandError::NoBinary(family, failures.join("; ")))
    }

    pub fn name(&self) -> &str {
        &self.binary
    }

    /// The family's current rules, in iptables-save format.
    pub fn save(&self) -> Result<String, CommandError> {
        run(&format!("{}-save", self.binary), &[], None)
    }

    /// Applies an iptables-restore input in one transaction: all of it, or
    /// (when iptables-restore fails) none of it.
    pub fn restore(&self, input: &str, how: Restore) -> Result<(), CommandError> {
        let mut args = Vec::new();
        if self.legacy {
            args.push("--wait");
        }
        match how {
            Restore::Test => args.extend(["--noflush", "--test"]),
            Restore::Update => args.push("--noflush"),
            Restore::Replace => {}
        }
        run(&format!("{}-restore", self.binary), &args, Some(input)).map(drop)
    }

    /// Whether the rule is in its chain, by iptables' own comparison (which
    /// sees through the way iptables-save rewrites a rule).
    pub fn has_rule(&self, rule: &Rule) -> bool {
        let spec = rule.spec();
        let mut args = vec!["-t", rule.table.name(), "-C", rule.chain.name()];
        if self.legacy {
            args.insert(0, "--wait");
        }
        args.extend(spec.split_whitespace());
        run(&self.binary, &args, None).is_ok()
    }
}

/// Runs a command, feeding it `stdin`; its output, or what it said on
/// failure.
fn run(program: &str, args: &[&str], stdin: Option<&str>) -> Result<String, CommandError> {
    let command = std::iter::once(program)
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ");
    let spawn_error = |error| CommandError::Spawn {
        command: command.clone(),
        error,
    };
    let mut child = Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(spawn_error)?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // A command that exits early closes the pipe; its status says why.
        let _ = pipe.write_all(input.as_bytes());
    }
    let output = child.wait_with_output().map_err(spawn_error)?;
    if output.status.success() {
        return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
    }
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
    Err(CommandError::Failed {
        command,
        message: if stderr.is_empty() {
            output.status.to_string()
        } else {
            stderr
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_choices() {
        assert_eq!("".parse(), Ok(BinaryChoice::Auto));
        assert_eq!("legacy".parse(), Ok(BinaryChoice::Legacy));
        assert_eq!("nft".parse(), Ok(BinaryChoice::Nft));
        assert!("iptables".parse::<BinaryChoice>().is_err());
    }

    #[test]
    fn a_failing_command_reports_what_it_said() {
        let err = run("sh", &["-c", "echo broken >&2; exit 3"], None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "sh -c echo broken >&2; exit 3 failed: broken"
        );
        let err = run("/nonexistent/iptables", &[], None).unwrap_err();
        assert!(matches!(err, CommandError::Spawn { .. }), "{err}");
    }

    #[test]
    fn stdin_reaches_the_command() {
        assert_eq!(
            run("cat", &[], Some("* nat\nCOMMIT\n")).unwrap(),
            "* nat\nCOMMIT\n"
        );
    }
}
