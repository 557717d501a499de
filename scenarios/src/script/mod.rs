//! Scripted scenarios (BRIEF §8): a readable text format, its parser and two runners.
//!
//! A script is one command per line (`#` starts a comment; the first comment block is the
//! description). Any line may start with a condition, `[mutant]` or `[!mutant]`, so one script
//! holds the correct form and the mutant form of a scenario. Two kinds of script:
//!
//! - **Cluster scripts** (`cluster ...` first) drive a `Simulation<ClusterNode>` of real
//!   `kv::Server`s step by step: logs and hard states loaded before boot, messages held and
//!   delivered or dropped by filter, faults, proposals, client operations, configuration changes
//!   and assertions. The online oracles and the linearizability checker judge them.
//! - **Seeded-run scripts** (`run-config ...` first) replay one whole seeded run: a `RunConfig`
//!   as key=value, timed fault lines (`at 1200ms crash n2`) and `expect pass` or
//!   `expect violation KIND`; they call `run::run_with` with that exact schedule.
//!
//! Nodes are named as in the Raft paper and BRIEF §8: servers `n1..nN` (Raft ids; simulator
//! address = id − 1), clients `c1..cM`.
//!
//! - `syntax`: tokens, durations, node lists, message filters.
//! - `parse`: lines to `Command`s, with line numbers in every error.
//! - `cluster`: the cluster-script runner and its compact per-step trace.
//! - `seeded`: the seeded-run header, its rendering from a `RunConfig` + `FaultSchedule`, and
//!   its runner.
//! - `library`: the scripts shipped in `scenarios/scripts/`, embedded in the binary.

mod cluster;
mod library;
mod parse;
mod seeded;
mod syntax;

use std::fmt;

use raft::Mutant;

pub use library::{LIBRARY, LibraryScript, find as find_in_library};
pub use parse::{Command, Condition, Expectation, Line, parse};
pub use seeded::{render_fault, render_seeded_run, seeded_parts};

use crate::oracle::{Property, Violation};

/// A script that does not parse or cannot run: names the line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ScriptError {
    pub line: usize,
    pub message: String,
}

impl ScriptError {
    pub fn new(line: usize, message: impl Into<String>) -> Self {
        Self {
            line,
            message: message.into(),
        }
    }
}

/// A parsed script.
#[derive(Clone, Debug)]
pub struct Script {
    /// The first comment block, joined into one line.
    pub description: String,
    pub lines: Vec<Line>,
}

impl Script {
    /// The mutants the script's conditions name: the mutant forms it describes.
    pub fn mutant_forms(&self) -> Vec<Mutant> {
        let mut mutants: Vec<Mutant> = self
            .lines
            .iter()
            .filter_map(|line| line.condition.map(|c| c.mutant))
            .collect();
        mutants.sort();
        mutants.dedup();
        mutants
    }

    pub fn is_seeded_run(&self) -> bool {
        self.lines
            .iter()
            .any(|line| matches!(line.command, Command::RunConfig(_)))
    }
}

/// What a run of a script found.
#[derive(Clone, Debug, Default)]
pub struct ScriptOutcome {
    /// The compact per-step trace (the golden output).
    pub trace: String,
    /// Every property violated, with the script line of the step that detected it first.
    pub violations: Vec<(usize, Violation)>,
    /// Expectations that did not hold, as "line N: ...".
    pub failures: Vec<String>,
}

impl ScriptOutcome {
    /// The script's expected outcome held: every expectation, and no unexpected violation.
    pub fn expected_held(&self) -> bool {
        self.failures.is_empty()
    }

    /// BRIEF §2's exit 0: the expected outcome held and nothing was violated.
    pub fn passed(&self) -> bool {
        self.expected_held() && self.violations.is_empty()
    }

    pub fn found(&self, property: Property) -> bool {
        self.violations.iter().any(|(_, v)| v.property == property)
    }
}

/// How to run a script.
#[derive(Clone, Debug, Default)]
pub struct ScriptOptions {
    /// Mutants switched on for this run, besides those the script names.
    pub mutants: Vec<Mutant>,
}

/// Parses and runs a script's text.
pub fn run_text(text: &str, options: &ScriptOptions) -> Result<ScriptOutcome, ScriptError> {
    let script = parse(text)?;
    run_script(&script, options)
}

/// Runs a parsed script with the runner its kind needs.
pub fn run_script(script: &Script, options: &ScriptOptions) -> Result<ScriptOutcome, ScriptError> {
    if script.is_seeded_run() {
        seeded::run(script, options)
    } else {
        cluster::run(script, options)
    }
}

/// Every property, for parsing names.
pub const PROPERTIES: [Property; 9] = [
    Property::ElectionSafety,
    Property::LogMatching,
    Property::LeaderCompleteness,
    Property::StateMachineSafety,
    Property::CommitMonotonic,
    Property::Durability,
    Property::Liveness,
    Property::Linearizability,
    Property::CheckerUnknown,
];

pub fn parse_property(name: &str) -> Option<Property> {
    PROPERTIES.into_iter().find(|p| p.name() == name)
}

/// A violation for the trace, with simulator addresses in the oracle's message renamed to the
/// script's server names (address a is `n{a+1}`).
pub(crate) struct ScriptViolation<'a>(pub &'a Violation);

impl fmt::Display for ScriptViolation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let violation = self.0;
        write!(
            f,
            "{} at {}: {}",
            violation.property,
            syntax::format_time(violation.time_ns),
            rename_nodes(&violation.message)
        )
    }
}

/// Rewrites `n{address}` to `n{address + 1}` in an oracle message.
pub(crate) fn rename_nodes(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let bytes = message.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let starts_word = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        if bytes[i] == b'n' && starts_word {
            let digits = bytes[i + 1..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            let ends_word = bytes
                .get(i + 1 + digits)
                .is_none_or(|b| !b.is_ascii_alphanumeric());
            if digits > 0 && ends_word {
                let number: u64 = message[i + 1..i + 1 + digits].parse().unwrap_or(0);
                out.push_str(&format!("n{}", number + 1));
                i += 1 + digits;
                continue;
            }
        }
        let c = message[i..]
            .chars()
            .next()
            .expect("i is on a char boundary");
        out.push(c);
        i += c.len_utf8();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oracle_messages_use_script_names() {
        assert_eq!(
            rename_nodes("n0 and n4 both leaders of term 2; nodes n10x"),
            "n1 and n5 both leaders of term 2; nodes n10x"
        );
    }
}
