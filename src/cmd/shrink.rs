//! `raftsim shrink --seed S [--mutant M]`: reduces a failing campaign seed to a small seeded-run
//! scenario script that fails the same way, and prints the sizes before and after.
//! Exit 0 shrunk, 1 the seed does not fail, 2 bad input.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use scenarios::config::Mutant;
use scenarios::config::swarm::{self, Shape};
use scenarios::config::{EngineChoice, ServiceKind};
use scenarios::shrink::{ShrinkError, shrink};

#[derive(Debug, Args)]
pub struct ShrinkArgs {
    /// The failing campaign seed.
    #[arg(long)]
    pub seed: u64,
    /// Planted bug the campaign switched on; repeatable.
    #[arg(long = "mutant", value_name = "M")]
    pub mutants: Vec<Mutant>,
    /// The seed was run with `campaign --standard`.
    #[arg(long)]
    pub standard: bool,
    /// The campaign's `--service`.
    #[arg(long, default_value = "kv", value_name = "S")]
    pub service: ServiceKind,
    /// The campaign's `--engine`.
    #[arg(long, default_value = "ours", value_name = "E")]
    pub engine: EngineChoice,
    /// Where to write the scenario script (default: shrunk-seed-S.scn).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Most candidate runs to try.
    #[arg(long, default_value_t = 400)]
    pub runs_max: u32,
}

pub fn run(args: ShrinkArgs) -> anyhow::Result<ExitCode> {
    let shape = if args.standard {
        Shape::Standard
    } else {
        Shape::Swarm
    };
    let mut config = swarm::config_for(args.seed, shape, args.service, &args.mutants);
    swarm::fit_engine(&mut config, &args.engine);
    config.validate()?;
    let shrunk = match shrink(&config, args.runs_max) {
        Ok(shrunk) => shrunk,
        Err(ShrinkError::Passes) => {
            println!("seed {} passes: nothing to shrink", args.seed);
            return Ok(ExitCode::from(1));
        }
        Err(error @ ShrinkError::Run(_)) => return Err(error.into()),
    };
    let mutants: Vec<&str> = args.mutants.iter().map(|m| m.name()).collect();
    let description = format!(
        "Shrunk from campaign seed {}{} ({} candidate runs).\nFails with {}.\nBefore: {}.\nAfter: {}.",
        args.seed,
        if mutants.is_empty() {
            String::new()
        } else {
            format!(" with mutant {}", mutants.join(","))
        },
        shrunk.runs,
        shrunk.property,
        shrunk.before,
        shrunk.after
    );
    let path = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("shrunk-seed-{}.scn", args.seed)));
    std::fs::write(&path, shrunk.script(&description))
        .with_context(|| format!("cannot write {}", path.display()))?;
    println!("violation: {}", shrunk.property);
    println!("before: {}", shrunk.before);
    println!("after:  {}", shrunk.after);
    println!("candidate runs: {}", shrunk.runs);
    println!("wrote {}", path.display());
    let replay_mutants: String = mutants.iter().map(|m| format!(" --mutant {m}")).collect();
    println!(
        "replay: raftsim scenario run {}{replay_mutants}",
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}
