//! `raftsim bench ...`: throughput measurements that print one parseable line. Wall-clock time
//! is read here, outside every simulated path, and only to report speed.

use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, Subcommand};
use scenarios::config::ServiceKind;
use sim::echo::{EchoConfig, run_echo};

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// The simulator echo benchmark: 5 nodes, each an echo server and a client doing
    /// 20,000 sequential exchanges round-robin with its peers, latency uniform 1-10 ms.
    Echo(EchoArgs),
    /// The standard full run: 5 servers, 5 clients, 10 simulated seconds, default
    /// faults, oracles and the linearizability check, over consecutive seeds on one core
    /// (`--service sharded`: the sharded service's standard run, three groups of three).
    Run(RunBenchArgs),
}

#[derive(Debug, Args)]
pub struct RunBenchArgs {
    /// Seeds to run, starting at `--first-seed`.
    #[arg(long, default_value_t = 20)]
    seeds: u64,
    #[arg(long, default_value_t = 0)]
    first_seed: u64,
    /// The service under test: `kv` or `sharded`.
    #[arg(long, default_value = "kv", value_name = "S")]
    service: ServiceKind,
}

#[derive(Debug, Args)]
pub struct EchoArgs {
    /// Exchanges per node.
    #[arg(long, default_value_t = 20_000)]
    exchanges: u64,
    /// Number of nodes.
    #[arg(long, default_value_t = 5)]
    nodes: usize,
    /// Repetitions; the line reports the median.
    #[arg(long, default_value_t = 5)]
    repeat: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

pub fn run(command: BenchCommand) -> anyhow::Result<ExitCode> {
    match command {
        BenchCommand::Echo(args) => echo(&args),
        BenchCommand::Run(args) => full_runs(&args),
    }
}

/// Most runs, exchanges and repetitions one benchmark command takes.
const BENCH_SEEDS_MAX: u64 = 100_000;
const BENCH_EXCHANGES_MAX: u64 = 100_000_000;
const BENCH_REPEAT_MAX: usize = 1_000;

fn full_runs(args: &RunBenchArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        (1..=BENCH_SEEDS_MAX).contains(&args.seeds),
        "--seeds {} is outside 1..={BENCH_SEEDS_MAX}",
        args.seeds
    );
    anyhow::ensure!(
        args.first_seed.checked_add(args.seeds).is_some(),
        "--first-seed {} leaves no room for {} seeds",
        args.first_seed,
        args.seeds
    );
    let mut walls = Vec::new();
    let mut simulated_s = 0.0;
    let mut events = 0;
    let mut failures = 0;
    for seed in args.first_seed..args.first_seed + args.seeds {
        let config = scenarios::RunConfig::standard_of(args.service, seed);
        #[allow(clippy::disallowed_methods)] // benchmark timing, not a simulated path
        let started = Instant::now();
        let outcome = scenarios::run(&config)?;
        walls.push(started.elapsed().as_secs_f64());
        simulated_s += outcome.simulated_ns as f64 / 1e9;
        events += outcome.stats.events;
        failures += u64::from(!outcome.passed());
    }
    let total_wall: f64 = walls.iter().sum();
    walls.sort_by(f64::total_cmp);
    let median = walls[walls.len() / 2];
    println!(
        "bench run service={} seeds={} failures={failures} median_wall_ms={:.1} total_wall_s={total_wall:.3} \
         simulated_s={simulated_s:.1} events={events} sim_speedup={:.0}x runs_per_wall_s={:.1}",
        args.service,
        args.seeds,
        median * 1e3,
        simulated_s / total_wall,
        args.seeds as f64 / total_wall,
    );
    Ok(ExitCode::SUCCESS)
}

fn echo(args: &EchoArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.nodes >= 2,
        "--nodes must be at least 2 (every node needs a peer)"
    );
    anyhow::ensure!(
        (1..=BENCH_REPEAT_MAX).contains(&args.repeat),
        "--repeat {} is outside 1..={BENCH_REPEAT_MAX}",
        args.repeat
    );
    anyhow::ensure!(
        args.exchanges <= BENCH_EXCHANGES_MAX,
        "--exchanges {} is outside 0..={BENCH_EXCHANGES_MAX}",
        args.exchanges
    );
    let config = EchoConfig {
        node_count: args.nodes,
        exchanges_per_node: args.exchanges,
        seed: args.seed,
        ..EchoConfig::default()
    };
    let mut samples = Vec::with_capacity(args.repeat);
    let mut report = None;
    for _ in 0..args.repeat {
        #[allow(clippy::disallowed_methods)] // benchmark timing, not a simulated path
        let started = Instant::now();
        let run = run_echo(config)?;
        samples.push(started.elapsed().as_secs_f64());
        report = Some(run);
    }
    let report = report.expect("at least one repetition");
    samples.sort_by(f64::total_cmp);
    let wall_s = samples[samples.len() / 2];
    let msgs_per_wall_s = report.messages_delivered as f64 / wall_s;
    let sim_speedup = report.simulated_ns as f64 / 1e9 / wall_s;
    println!(
        "bench echo nodes={} exchanges_per_node={} messages={} events={} sim_s={:.3} \
         wall_s={wall_s:.6} msgs_per_wall_s={msgs_per_wall_s:.0} sim_speedup={sim_speedup:.0}x \
         trace_hash={:016x} runs={}",
        args.nodes,
        args.exchanges,
        report.messages_delivered,
        report.events,
        report.simulated_ns as f64 / 1e9,
        report.trace_hash,
        args.repeat,
    );
    Ok(ExitCode::SUCCESS)
}
