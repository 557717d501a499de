//! Scripted scenarios (BRIEF §8), the top layer: a readable text format, its parser, two
//! runners, and expected output written inline in the etcd-raft datadriven manner.
//!
//! A script is one command per line (`#` starts a comment; the first comment block is the
//! description). Any line may start with a condition, `[mutant]` or `[!mutant]`, so one script
//! holds the correct form and the mutant forms of a scenario. Under a command, a `----` block
//! holds what the command printed in the correct form, and a `---- [mutant]` block what it
//! printed in that mutant's form where that differs; a block ends at a blank line. A script's
//! test runs every form and compares; `UPDATE_EXPECT=1` rewrites the blocks.
//!
//! - **Cluster scripts** (`cluster ...` first) drive the harness's cluster step by step: logs
//!   and hard states loaded before boot, messages held and delivered or dropped by filter,
//!   faults, proposals, client operations, configuration changes and assertions. The same
//!   observe step and oracles as campaign runs, and the checker, judge them.
//! - **Seeded-run scripts** (`run-config ...` first) replay one whole seeded run: a `RunConfig`
//!   as key=value, timed fault lines (`at 1200ms crash n2`) and `expect pass` or
//!   `expect violation KIND`; they call `run::run_with` with that exact schedule, and the
//!   verdict and trace hash are the `expect` line's output.
//!
//! Servers are `n1..nN` and clients `c1..cM`, named as everywhere (`sim::names`).
//!
//! - `syntax`: node names and lists, comparisons, message filters.
//! - `parse`: lines to `Command`s (and their expected blocks), with line numbers in errors.
//! - `cluster`: the cluster-script runner.
//! - `seeded`: the seeded-run header, its rendering from a configuration and schedule, and
//!   its runner.
//! - `expected`: running every form, comparing with the blocks, rewriting them.
//! - `library`: every script under `scenarios/scripts/`, embedded in the binary.

mod cluster;
mod expected;
mod library;
mod parse;
mod seeded;
mod syntax;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::config::Mutant;

pub use expected::{Form, check_file, run_forms};
pub use library::{LIBRARY, LibraryScript, find as find_in_library};
pub use parse::{Block, Command, Condition, Expectation, Line, parse};
pub use seeded::{render_seeded_run, seeded_parts};

use crate::config::{Property, Violation};

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
    /// What each line printed, by line number (its expected block).
    pub outputs: BTreeMap<usize, String>,
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

    pub fn found(&self, property: Property) -> bool {
        self.violations.iter().any(|(_, v)| v.property == property)
    }

    /// Adds a line to what line `line` printed.
    pub(crate) fn push_output(&mut self, line: usize, text: String) {
        let output = self.outputs.entry(line).or_default();
        if !output.is_empty() {
            output.push('\n');
        }
        output.push_str(&text);
    }

    /// The transcript for a terminal: each line that ran, what it printed, and the verdict.
    pub fn transcript(&self, script: &Script, mutants: &[Mutant]) -> String {
        let mut out = String::new();
        for line in &script.lines {
            if line.condition.is_some_and(|c| !c.holds(mutants)) {
                continue;
            }
            let _ = writeln!(out, "{:>4}  {}", line.number, line.text);
            if let Some(output) = self.outputs.get(&line.number) {
                for text in output.lines() {
                    let _ = writeln!(out, "      {text}");
                }
            }
        }
        let found: Vec<String> = self
            .violations
            .iter()
            .map(|(line, v)| format!("{} (line {line})", v.property))
            .collect();
        let _ = writeln!(
            out,
            "end   {}; {}",
            if found.is_empty() {
                "no violation".to_string()
            } else {
                format!("found {}", found.join(", "))
            },
            if self.expected_held() {
                "every expectation held"
            } else {
                "an expectation did NOT hold"
            }
        );
        out
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
