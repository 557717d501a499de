//! `raftsim replay --seed S`: reruns one campaign seed with the configuration the campaign drew
//! (from the seed and the flags, or from a `results.jsonl` line), prints what `run` prints and,
//! given the results file, checks the trace hash against the recorded one. Exit as `run`; a hash
//! mismatch is a failure (exit 1).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use scenarios::Repro;
use scenarios::campaign::output::read_results;
use scenarios::config::Mutant;
use scenarios::config::swarm::Shape;
use scenarios::config::{EngineChoice, ServiceKind};
use scenarios::run::{Origin, SeedShape};
use sim::NANOS_PER_MILLI;

use super::run::{ReportArgs, RunArgs, run_and_report};

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The campaign seed.
    #[arg(long)]
    pub seed: u64,
    /// The seed was run with `campaign --standard`.
    #[arg(long, conflicts_with = "results")]
    pub standard: bool,
    /// The campaign's `--service`.
    #[arg(
        long,
        default_value = "kv",
        value_name = "S",
        conflicts_with = "results"
    )]
    pub service: ServiceKind,
    /// The campaign's `--engine`.
    #[arg(
        long,
        default_value = "ours",
        value_name = "E",
        conflicts_with = "results"
    )]
    pub engine: EngineChoice,
    /// Planted bug the campaign switched on; repeatable.
    #[arg(long = "mutant", value_name = "M", conflicts_with = "results")]
    pub mutants: Vec<Mutant>,
    /// The campaign's `--duration-ms`.
    #[arg(long, value_name = "MS", conflicts_with = "results")]
    pub duration_ms: Option<u64>,
    /// A campaign's results.jsonl: replay the seed's recorded configuration and verify its
    /// trace hash.
    #[arg(long, value_name = "FILE")]
    pub results: Option<PathBuf>,
    /// Write the client history as JSON (the format the README describes).
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,
    /// Write the structured event log, one line per record.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Write the fault schedule as JSON.
    #[arg(long, value_name = "FILE")]
    pub save_faults: Option<PathBuf>,
    #[command(flatten)]
    pub report: ReportArgs,
}

pub fn run(args: ReplayArgs) -> anyhow::Result<ExitCode> {
    let run_args = RunArgs {
        seed: args.seed,
        history: args.history.clone(),
        trace: args.trace.clone(),
        save_faults: args.save_faults.clone(),
        report: args.report.clone(),
        ..RunArgs::default()
    };
    let Some(path) = &args.results else {
        let repro = Repro::campaign(args.seed, &seed_shape(&args)?);
        let config = repro
            .config()
            .expect("a campaign shape makes its configuration");
        let (code, _) = run_and_report(&run_args, config, &repro)?;
        return Ok(code);
    };
    let results = read_results(path)?;
    let recorded = results
        .iter()
        .find(|result| result.seed == args.seed)
        .with_context(|| format!("{} has no line for seed {}", path.display(), args.seed))?;
    let repro = Repro {
        seed: args.seed,
        origin: Origin::Results(path.clone()),
    };
    let (code, outcome) = run_and_report(&run_args, recorded.config.clone(), &repro)?;
    let Some(outcome) = outcome else {
        return Ok(code);
    };
    let replayed = format!("{:016x}", outcome.trace_hash);
    println!(
        "recorded: verdict={:?} trace_hash={}",
        recorded.verdict, recorded.trace_hash
    );
    if replayed == recorded.trace_hash {
        println!("replay: trace hash matches the recorded one");
        Ok(code)
    } else {
        println!(
            "replay: trace hash MISMATCH: recorded {}, replayed {replayed} (the run is not \
             deterministic, or the code changed since the campaign)",
            recorded.trace_hash
        );
        Ok(ExitCode::from(1))
    }
}

fn seed_shape(args: &ReplayArgs) -> anyhow::Result<SeedShape> {
    let duration_ns = match args.duration_ms {
        Some(0) => anyhow::bail!("--duration-ms must be positive"),
        Some(ms) => Some(
            ms.checked_mul(NANOS_PER_MILLI)
                .with_context(|| format!("--duration-ms {ms} is too large"))?,
        ),
        None => None,
    };
    Ok(SeedShape {
        shape: if args.standard {
            Shape::Standard
        } else {
            Shape::Swarm
        },
        service: args.service,
        mutants: args.mutants.clone(),
        duration_ns,
        engine: args.engine.clone(),
    })
}
