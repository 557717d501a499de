//! `raftsim run --seed S`: one seeded run with online oracles, a liveness phase and the
//! linearizability check. Exit 0 pass, 1 violation, 2 bad input.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use kv::ReadMode;
use scenarios::config::Mutant;
use scenarios::config::{EngineChoice, ServiceKind};
use scenarios::harness::FaultSchedule;
use scenarios::run::{Origin, RunFlags, catch_panic};
use scenarios::{Repro, RunConfig, RunOptions, run_with};
use sim::NANOS_PER_MILLI;

#[derive(Debug, Args, Default)]
pub struct RunArgs {
    /// The seed: decides faults, latencies, workload and election jitter.
    #[arg(long)]
    pub seed: u64,
    #[command(flatten)]
    pub shape: ShapeArgs,
    /// Write the client history as JSON (the format the README describes).
    #[arg(long, value_name = "FILE")]
    pub history: Option<std::path::PathBuf>,
    /// Write the structured event log, one line per record.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<std::path::PathBuf>,
    /// Replay these faults (JSON, as `--save-faults` writes) instead of drawing them.
    #[arg(long, value_name = "FILE")]
    pub faults: Option<std::path::PathBuf>,
    /// Write the fault schedule as JSON.
    #[arg(long, value_name = "FILE")]
    pub save_faults: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub report: ReportArgs,
}

/// What to show of one run beyond the summary (shared with `replay`).
#[derive(Clone, Debug, Args, Default)]
pub struct ReportArgs {
    /// Write a self-contained HTML report of the run (roles, faults, messages, history).
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<std::path::PathBuf>,
    /// Print a compact text timeline of the run.
    #[arg(long)]
    pub timeline: bool,
}

impl ReportArgs {
    pub fn wanted(&self) -> bool {
        self.report.is_some() || self.timeline
    }

    /// Prints the timeline and writes the report the flags ask for.
    pub fn emit(&self, record: Option<&reports::RunRecord>) -> anyhow::Result<()> {
        let Some(record) = record else {
            return Ok(());
        };
        if self.timeline {
            print!("{}", reports::render_timeline(record));
        }
        if let Some(path) = &self.report {
            std::fs::write(path, reports::render_html(record))
                .with_context(|| format!("cannot write {}", path.display()))?;
            println!("report: {}", path.display());
        }
        Ok(())
    }
}

/// The run's shape; defaults are BRIEF §12's standard run.
#[derive(Debug, Args)]
pub struct ShapeArgs {
    /// The service under test: `kv` (one Raft group) or `sharded` (sharded KV on multi-raft).
    #[arg(long, default_value = "kv", value_name = "S")]
    pub service: ServiceKind,
    /// The Raft implementation: `ours` or `raft-rs` (tikv/raft-rs 0.7).
    #[arg(long, default_value = "ours", value_name = "E")]
    pub engine: EngineChoice,
    /// Raft servers (the KV service) [default: 5].
    #[arg(long)]
    pub nodes: Option<usize>,
    /// Replica groups (the sharded service) [default: 3].
    #[arg(long)]
    pub groups: Option<usize>,
    /// Servers per replica group (the sharded service) [default: 3].
    #[arg(long)]
    pub group_size: Option<usize>,
    /// Shards the keys are split into (the sharded service) [default: 10].
    #[arg(long)]
    pub shards: Option<usize>,
    /// KV clients.
    #[arg(long, default_value_t = 5)]
    pub clients: usize,
    /// Length of the safety phase in simulated milliseconds.
    #[arg(long, default_value_t = 10_000)]
    pub duration_ms: u64,
    /// Planted bug to switch on (see `raftsim mutants`); repeatable.
    #[arg(long = "mutant", value_name = "M")]
    pub mutants: Vec<Mutant>,
    /// How clients' Gets are served: log, read-index, lease or follower.
    #[arg(long, default_value = "read-index")]
    pub read_mode: ReadMode,
    /// Faults drawn for the safety phase (0: none, and no membership changes).
    #[arg(long, default_value_t = 8)]
    pub fault_count: u32,
    /// Only the first N servers form the initial configuration; the rest are spares that
    /// membership changes may add.
    #[arg(long, value_name = "N")]
    pub initial_voters: Option<usize>,
    /// Configuration changes take effect when appended (the dissertation's rule), not applied.
    #[arg(long)]
    pub conf_change_on_append: bool,
}

impl Default for ShapeArgs {
    /// The same defaults as the flags: BRIEF §12's standard run.
    fn default() -> Self {
        Self {
            service: ServiceKind::Kv,
            engine: EngineChoice::Ours,
            nodes: None,
            groups: None,
            group_size: None,
            shards: None,
            clients: 5,
            duration_ms: 10_000,
            mutants: Vec::new(),
            read_mode: ReadMode::ReadIndex,
            fault_count: 8,
            initial_voters: None,
            conf_change_on_append: false,
        }
    }
}

impl ShapeArgs {
    /// The flags as the replay command builder knows them; flags of the other service are bad
    /// input.
    pub fn flags(&self, faults: Option<&std::path::Path>) -> anyhow::Result<RunFlags> {
        let standard = RunFlags::default();
        let sharded_flags = [
            ("--groups", self.groups),
            ("--group-size", self.group_size),
            ("--shards", self.shards),
        ];
        match self.service {
            ServiceKind::Kv => {
                if let Some((flag, _)) = sharded_flags.iter().find(|(_, value)| value.is_some()) {
                    anyhow::bail!("{flag} needs --service sharded");
                }
            }
            ServiceKind::Sharded => {
                anyhow::ensure!(
                    self.nodes.is_none(),
                    "--nodes is for the KV service; the sharded one has --groups and --group-size"
                );
            }
        }
        Ok(RunFlags {
            service: self.service,
            nodes: self.nodes.unwrap_or(standard.nodes),
            groups: self.groups.unwrap_or(standard.groups),
            group_size: self.group_size.unwrap_or(standard.group_size),
            shards: self.shards.unwrap_or(standard.shards),
            clients: self.clients,
            duration_ms: self.duration_ms,
            mutants: self.mutants.clone(),
            read_mode: self.read_mode,
            fault_count: self.fault_count,
            initial_voters: self.initial_voters,
            conf_change_on_append: self.conf_change_on_append,
            engine: self.engine.clone(),
            faults: faults.map(std::path::Path::to_path_buf),
        })
    }
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let repro = Repro {
        seed: args.seed,
        origin: Origin::Run(args.shape.flags(args.faults.as_deref())?),
    };
    let config = repro
        .config()
        .expect("a run's flags make its configuration");
    run_and_report(&args, config, &repro).map(|(code, _)| code)
}

/// Runs `config` (with `args`'s fault file and outputs), prints the configuration, counts, trace
/// hash and verdict, and on failure the command that reproduces it. Shared by `run` and
/// `replay`, so both print the same verdict.
pub fn run_and_report(
    args: &RunArgs,
    config: RunConfig,
    repro: &Repro,
) -> anyhow::Result<(ExitCode, Option<scenarios::RunOutcome>)> {
    config.validate()?;
    let faults = match &args.faults {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let schedule =
                FaultSchedule::from_json(&text).with_context(|| format!("{}", path.display()))?;
            scenarios::run::check_schedule(&config, &schedule)
                .with_context(|| format!("{}", path.display()))?;
            Some(schedule)
        }
        None => None,
    };
    println!("seed={}", config.seed);
    println!("config: {config}");
    let options = RunOptions {
        keep_log: args.trace.is_some(),
        record_trace: false,
        record: args.report.wanted(),
        repro: Some(repro.clone()),
    };
    let outcome = match catch_panic(|| run_with(&config, faults, options)) {
        Ok(outcome) => outcome?,
        Err(panic) => {
            // Code under test panicked: a finding like any violation, reported the same way.
            println!("verdict: FAIL panic: {panic}");
            println!("replay: {}", repro.command());
            return Ok((ExitCode::from(1), None));
        }
    };
    println!("faults ({}):", outcome.faults.len());
    print!("{}", outcome.faults);
    let stats = &outcome.stats;
    println!(
        "events={} messages_sent={} delivered={} dropped={} duplicated={} crashes={} restarts={} simulated_ms={}",
        stats.events,
        stats.messages_sent,
        stats.messages_delivered,
        stats.messages_dropped,
        stats.messages_duplicated,
        stats.crashes,
        stats.restarts,
        outcome.simulated_ns / NANOS_PER_MILLI
    );
    println!(
        "operations: completed={} indefinite={}",
        outcome.operations_completed, outcome.operations_indefinite
    );
    if let Some(check) = &outcome.check {
        println!(
            "linearizability: {} ({} partitions, {} search steps)",
            check.verdict, check.partitions, check.steps
        );
    }
    println!("final state: {}", outcome.final_state);
    let marks: Vec<String> = outcome
        .marks
        .iter()
        .map(|(name, count)| format!("{name}x{count}"))
        .collect();
    println!("marks: {}", marks.join(" "));
    println!("trace_hash={:016x}", outcome.trace_hash);
    write_outputs(args, &outcome)?;
    args.report.emit(outcome.record.as_ref())?;
    let code = match &outcome.violation {
        None => {
            println!("verdict: PASS");
            ExitCode::SUCCESS
        }
        Some(violation) => {
            println!("verdict: FAIL {violation}");
            println!("replay: {}", repro.command());
            ExitCode::from(1)
        }
    };
    Ok((code, Some(outcome)))
}

fn write_outputs(args: &RunArgs, outcome: &scenarios::RunOutcome) -> anyhow::Result<()> {
    if let Some(path) = &args.history {
        let json = checker::json::to_json(&outcome.checker_history());
        std::fs::write(path, json).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = &args.trace {
        let lines: String = outcome
            .log
            .iter()
            .map(|record| format!("{record}\n"))
            .collect();
        std::fs::write(path, lines).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = &args.save_faults {
        std::fs::write(path, outcome.faults.to_json())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
