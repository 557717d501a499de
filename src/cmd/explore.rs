//! `raftsim explore --seeds A..B [--mutant M]`: coverage-guided exploration. Runs the swarm
//! seeds and, between them, runs derived from those that reached rare coverage marks (a fault
//! shifted, dropped or duplicated, two servers swapped, a knob changed); prints the marks
//! reached as it goes and stops at the first failure, written as a scenario script with its
//! replay command. Exit 0 nothing found, 1 a failure found, 2 bad input.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use scenarios::campaign::SeedRange;
use scenarios::config::{Mutant, ServiceKind};
use scenarios::explore::{ExploreConfig, Explored, explore};

#[derive(Debug, Args)]
pub struct ExploreArgs {
    /// Fresh swarm seeds: A..B (end exclusive), A..=B or one seed.
    #[arg(long, value_name = "A..B")]
    pub seeds: SeedRange,
    /// Planted bug to switch on; repeatable.
    #[arg(long = "mutant", value_name = "M")]
    pub mutants: Vec<Mutant>,
    /// The service under test.
    #[arg(long, default_value = "kv", value_name = "S")]
    pub service: ServiceKind,
    /// Most runs, fresh and derived [default: twice the seeds].
    #[arg(long, value_name = "N")]
    pub runs_max: Option<u64>,
    /// Where to write the failing run's script (default: explore-failure.scn).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Print only the end.
    #[arg(long)]
    pub quiet: bool,
}

pub fn run(args: ExploreArgs) -> anyhow::Result<ExitCode> {
    if let Some(mutant) = args.mutants.iter().find(|m| m.service() != args.service) {
        anyhow::bail!("mutant {mutant} needs --service {}", mutant.service());
    }
    let seeds = args.seeds.end - args.seeds.start;
    let config = ExploreConfig {
        seeds: args.seeds,
        service: args.service,
        mutants: args.mutants.clone(),
        runs_max: args.runs_max.unwrap_or(seeds.saturating_mul(2)),
    };
    let quiet = args.quiet;
    let mut on_run = |explored: &Explored| {
        if !quiet && (!explored.new_marks.is_empty() || explored.run.is_multiple_of(100)) {
            println!(
                "run {:>5}: seed {} ({}), {} marks reached{}",
                explored.run,
                explored.seed,
                explored.how,
                explored.marks_reached,
                if explored.new_marks.is_empty() {
                    String::new()
                } else {
                    format!(", new: {}", explored.new_marks.join(", "))
                }
            );
        }
    };
    let end = explore(&config, &mut on_run)?;
    let unreached: Vec<&str> = end
        .marks
        .iter()
        .filter(|&(_, &count)| count == 0)
        .map(|(name, _)| name.as_str())
        .collect();
    println!(
        "explored {} runs; marks reached {} of {}{}",
        end.runs,
        end.marks.len() - unreached.len(),
        end.marks.len(),
        if unreached.is_empty() {
            String::new()
        } else {
            format!("; none reached {}", unreached.join(", "))
        }
    );
    let Some((run, failure)) = end.failure else {
        println!("no failure found");
        return Ok(ExitCode::SUCCESS);
    };
    println!(
        "failure at run {run}: {}: {}",
        failure.property, failure.message
    );
    if let Some(script) = &failure.script {
        let path = args
            .out
            .unwrap_or_else(|| PathBuf::from("explore-failure.scn"));
        std::fs::write(&path, script)
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("wrote {}", path.display());
        // The script's `run-config` line carries the mutants.
        println!("replay: raftsim scenario run {}", path.display());
    }
    if let Some(replay) = &failure.replay {
        println!("replay: {replay}");
    }
    Ok(ExitCode::from(1))
}
