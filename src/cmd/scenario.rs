//! `raftsim scenario list` and `raftsim scenario run NAME|FILE [--mutant M]` (BRIEF §2, §8):
//! the scripted scenarios. `run` prints the step trace and the outcome; exit 0 when the expected
//! outcome held and nothing was violated, 1 otherwise; a script that does not parse is bad input
//! (exit 2).

use std::path::Path;
use std::process::ExitCode;
use std::str::FromStr;

use anyhow::Context;
use clap::{Args, Subcommand};
use scenarios::config::Mutant;
use scenarios::script::{self, LIBRARY, ScriptOptions};

#[derive(Debug, Subcommand)]
pub enum ScenarioCommand {
    /// Lists the scenario library: name, then description.
    List,
    /// Runs a library scenario by name, or a script file.
    Run(RunScenarioArgs),
}

#[derive(Debug, Args)]
pub struct RunScenarioArgs {
    /// A library scenario name (see `scenario list`) or a path to a script file.
    target: String,
    /// Switch on a planted bug (repeatable); see `raftsim mutants`.
    #[arg(long = "mutant", value_name = "M", value_parser = parse_mutant)]
    mutants: Vec<Mutant>,
}

fn parse_mutant(name: &str) -> Result<Mutant, String> {
    Mutant::from_str(name).map_err(|error| error.to_string())
}

const EXIT_FAILED: u8 = 1;

pub fn run(command: ScenarioCommand) -> anyhow::Result<ExitCode> {
    match command {
        ScenarioCommand::List => {
            let width = LIBRARY.iter().map(|s| s.name.len()).max().unwrap_or(0);
            for scenario in LIBRARY {
                println!("{:width$}  {}", scenario.name, scenario.description());
            }
            Ok(ExitCode::SUCCESS)
        }
        ScenarioCommand::Run(args) => run_one(args),
    }
}

fn run_one(args: RunScenarioArgs) -> anyhow::Result<ExitCode> {
    let (label, text) = match script::find_in_library(&args.target) {
        Some(scenario) => (scenario.name.to_string(), scenario.text.to_string()),
        None => {
            let path = Path::new(&args.target);
            if !path.exists() {
                anyhow::bail!(
                    "`{}` is neither a library scenario (see `raftsim scenario list`) nor a file",
                    args.target
                );
            }
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            (path.display().to_string(), text)
        }
    };
    let options = ScriptOptions {
        mutants: args.mutants.clone(),
    };
    let parsed = script::parse(&text).with_context(|| label.clone())?;
    let outcome = script::run_script(&parsed, &options).with_context(|| label.clone())?;
    let mutants: Vec<&str> = args.mutants.iter().map(|m| m.name()).collect();
    println!(
        "scenario {label}{}",
        if mutants.is_empty() {
            String::new()
        } else {
            format!(" --mutant {}", mutants.join(","))
        }
    );
    print!("{}", outcome.transcript(&parsed, &args.mutants));
    for failure in &outcome.failures {
        println!("expectation failed: {failure}");
    }
    // Exit 0 when the script's expectations held, whatever it found: a mutant form that finds
    // its expected violation has done its job.
    let verdict = match (outcome.expected_held(), outcome.violations.is_empty()) {
        (true, true) => "expected outcome held: no violation",
        (true, false) => "expected outcome held: the expected violations were found",
        (false, _) => "expected outcome did NOT hold",
    };
    println!("{verdict}");
    Ok(if outcome.expected_held() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILED)
    })
}
