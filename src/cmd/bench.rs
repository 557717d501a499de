//! `raftsim bench ...`: throughput measurements that print parseable lines. Wall-clock and CPU
//! time are read here, outside every simulated path, and only to report speed.

use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, Subcommand};
use scenarios::config::{EngineChoice, ServiceKind};
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
    /// The checker's scaling: generated KV histories of each size at each client count, each
    /// checked in its own process (so peak memory is the row's own) with default options; or
    /// one history file with `--file`.
    Check(CheckBenchArgs),
}

#[derive(Debug, Args)]
pub struct CheckBenchArgs {
    /// History sizes, in operations.
    #[arg(long, value_delimiter = ',', default_values_t = [1_000, 10_000, 100_000, 1_000_000])]
    operations: Vec<usize>,
    /// Client counts (1 is a sequential history).
    #[arg(long, value_delimiter = ',', default_values_t = [1, 5, 20, 50])]
    clients: Vec<u64>,
    /// Keys, each a partition.
    #[arg(long, default_value_t = 10)]
    keys: u64,
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Measure one history file instead: parse and check CPU time, steps, peak memory.
    #[arg(long, value_name = "FILE")]
    file: Option<std::path::PathBuf>,
    /// With `--file`: check this many times and report the median check time.
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// Check also for minimization, as `raftsim check --minimize` does.
    #[arg(long)]
    minimize: bool,
    /// Internal: measure exactly one generated row in this process.
    #[arg(long, hide = true)]
    row: bool,
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
    /// Raft servers instead of the standard run's (the KV service).
    #[arg(long)]
    nodes: Option<usize>,
    /// KV clients instead of the standard run's.
    #[arg(long)]
    clients: Option<usize>,
    /// Length of the safety phase in simulated milliseconds instead of the standard run's.
    #[arg(long)]
    duration_ms: Option<u64>,
    /// The Raft implementation: `ours` or `raft-rs`.
    #[arg(long, default_value = "ours", value_name = "E")]
    engine: EngineChoice,
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
        BenchCommand::Check(args) => check_bench(&args),
    }
}

/// Most runs, exchanges and repetitions one benchmark command takes.
const BENCH_SEEDS_MAX: u64 = 100_000;
const BENCH_EXCHANGES_MAX: u64 = 100_000_000;
const BENCH_REPEAT_MAX: usize = 1_000;

/// CPU time of this process (all threads, user and system) and its peak resident memory.
fn resources() -> (f64, f64) {
    // SAFETY: getrusage only writes the struct it is given, which is a zeroed plain-old-data
    // `rusage` owned by this frame.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let seconds = |time: libc::timeval| time.tv_sec as f64 + time.tv_usec as f64 / 1e6;
    let cpu_s = seconds(usage.ru_utime) + seconds(usage.ru_stime);
    (cpu_s, usage.ru_maxrss as f64 / 1024.0)
}

fn check_options(args: &CheckBenchArgs) -> checker::Options {
    checker::Options {
        minimize: args.minimize,
        ..checker::Options::default()
    }
}

/// Steps, and the bytes the search counted, over all partitions.
fn totals(result: &checker::CheckResult) -> (u64, f64) {
    let steps = result.partitions.iter().map(|p| p.steps).sum();
    let bytes: usize = result.partitions.iter().map(|p| p.memory_bytes).sum();
    (steps, bytes as f64 / (1u64 << 20) as f64)
}

fn check_bench(args: &CheckBenchArgs) -> anyhow::Result<ExitCode> {
    if let Some(file) = &args.file {
        return check_file(args, file);
    }
    anyhow::ensure!(args.keys >= 1, "--keys must be at least 1");
    anyhow::ensure!(
        args.clients.iter().all(|&clients| clients >= 1),
        "--clients must be at least 1"
    );
    if args.row {
        anyhow::ensure!(
            args.operations.len() == 1 && args.clients.len() == 1,
            "--row measures one size and one client count"
        );
        return check_row(args, args.operations[0], args.clients[0]);
    }
    let mut rows = Vec::new();
    for &clients in &args.clients {
        for &operations in &args.operations {
            let line = run_row(args, operations, clients)?;
            println!("{line}");
            rows.push((clients, operations, line));
        }
    }
    println!();
    print!("{}", scaling_table(&rows));
    Ok(ExitCode::SUCCESS)
}

/// Runs one row in a child process, so that its peak memory is its own.
fn run_row(args: &CheckBenchArgs, operations: usize, clients: u64) -> anyhow::Result<String> {
    let mut command = std::process::Command::new(std::env::current_exe()?);
    command.args(["bench", "check", "--row"]);
    command.args(["--operations", &operations.to_string()]);
    command.args(["--clients", &clients.to_string()]);
    command.args([
        "--keys",
        &args.keys.to_string(),
        "--seed",
        &args.seed.to_string(),
    ]);
    if args.minimize {
        command.arg("--minimize");
    }
    let output = command.output()?;
    anyhow::ensure!(
        output.status.success(),
        "the row of {operations} operations at {clients} clients failed: {}",
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn check_row(args: &CheckBenchArgs, operations: usize, clients: u64) -> anyhow::Result<ExitCode> {
    let generator = checker::generate::KvGenOptions {
        seed: args.seed,
        clients,
        operations,
        keys: args.keys,
        ..checker::generate::KvGenOptions::default()
    };
    let history = checker::generate::kv_history(&generator);
    let (cpu_before_s, _) = resources();
    #[allow(clippy::disallowed_methods)] // benchmark timing, not a simulated path
    let started = Instant::now();
    let result = checker::check_kv(&history, &check_options(args));
    let wall_s = started.elapsed().as_secs_f64();
    let (cpu_after_s, peak_rss_mb) = resources();
    let (steps, search_mb) = totals(&result);
    println!(
        "bench check operations={operations} clients={clients} keys={} verdict={} steps={steps} \
         check_cpu_ms={:.1} check_wall_ms={:.1} search_mb={search_mb:.1} peak_rss_mb={peak_rss_mb:.1}",
        args.keys,
        result.verdict.name(),
        (cpu_after_s - cpu_before_s) * 1e3,
        wall_s * 1e3,
    );
    Ok(ExitCode::SUCCESS)
}

fn check_file(args: &CheckBenchArgs, file: &std::path::Path) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.repeat >= 1, "--repeat must be at least 1");
    let format = checker::Format::from_path(file)
        .ok_or_else(|| anyhow::anyhow!("{}: expected a .json or .edn file", file.display()))?;
    let (cpu_start_s, _) = resources();
    let text = std::fs::read_to_string(file)?;
    let history = checker::parse(&text, format, None)
        .map_err(|error| anyhow::anyhow!("{}: {error}", file.display()))?;
    drop(text);
    let (cpu_parsed_s, _) = resources();
    let mut samples = Vec::with_capacity(args.repeat);
    let mut result = None;
    for _ in 0..args.repeat {
        let (before_s, _) = resources();
        result = Some(checker::check(&history, &check_options(args)));
        samples.push(resources().0 - before_s);
    }
    let result = result.expect("at least one repetition");
    samples.sort_by(f64::total_cmp);
    let (steps, search_mb) = totals(&result);
    println!(
        "bench check file={} operations={} verdict={} steps={steps} parse_cpu_ms={:.2} \
         check_cpu_ms={:.3} search_mb={search_mb:.1} peak_rss_mb={:.1} runs={}",
        file.display(),
        history.len(),
        result.verdict.name(),
        (cpu_parsed_s - cpu_start_s) * 1e3,
        samples[samples.len() / 2] * 1e3,
        resources().1,
        args.repeat,
    );
    Ok(ExitCode::SUCCESS)
}

/// A field `name=value` of a row line.
fn field(line: &str, name: &str) -> Option<f64> {
    line.split_whitespace()
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))?
        .parse()
        .ok()
}

/// The rows as a Markdown table, with the growth exponent of check CPU time against size per
/// client count (least squares of log time on log size over rows of at least 1 ms).
fn scaling_table(rows: &[(u64, usize, String)]) -> String {
    let mut table = String::from(
        "| clients | operations | check CPU ms | steps | search MB | peak RSS MB |\n\
         |---|---|---|---|---|---|\n",
    );
    let mut clients_seen: Vec<u64> = Vec::new();
    for (clients, operations, line) in rows {
        let value = |name: &str| field(line, name).unwrap_or(f64::NAN);
        table.push_str(&format!(
            "| {clients} | {operations} | {:.1} | {:.0} | {:.1} | {:.1} |\n",
            value("check_cpu_ms"),
            value("steps"),
            value("search_mb"),
            value("peak_rss_mb"),
        ));
        if !clients_seen.contains(clients) {
            clients_seen.push(*clients);
        }
    }
    for clients in clients_seen {
        let points: Vec<(f64, f64)> = rows
            .iter()
            .filter(|(row_clients, _, _)| *row_clients == clients)
            .filter_map(|(_, operations, line)| {
                let time_ms = field(line, "check_cpu_ms")?;
                (time_ms >= 1.0).then(|| ((*operations as f64).ln(), time_ms.ln()))
            })
            .collect();
        if let Some(exponent) = slope(&points) {
            table.push_str(&format!(
                "\n{clients} clients: check CPU time grows as n^{exponent:.2}"
            ));
        }
    }
    table.push('\n');
    table
}

/// Least-squares slope of y on x; `None` with fewer than two distinct x.
fn slope(points: &[(f64, f64)]) -> Option<f64> {
    let count = points.len() as f64;
    let mean_x = points.iter().map(|point| point.0).sum::<f64>() / count;
    let mean_y = points.iter().map(|point| point.1).sum::<f64>() / count;
    let spread: f64 = points.iter().map(|point| (point.0 - mean_x).powi(2)).sum();
    if points.len() < 2 || spread == 0.0 {
        return None;
    }
    let covariance: f64 = points
        .iter()
        .map(|point| (point.0 - mean_x) * (point.1 - mean_y))
        .sum();
    Some(covariance / spread)
}

/// CPU time of this process so far, in seconds: precise (not sampled at timer ticks), and
/// a run is single-threaded, so it is the run's own time on one core.
fn process_cpu_s() -> f64 {
    // SAFETY: clock_gettime only writes the zeroed plain-old-data `timespec` owned by this frame.
    let time = unsafe {
        let mut time: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut time);
        time
    };
    time.tv_sec as f64 + time.tv_nsec as f64 / 1e9
}

/// The configuration `bench run` measures: the standard run, with what the flags change.
fn bench_config(args: &RunBenchArgs, seed: u64) -> scenarios::RunConfig {
    let mut config = scenarios::RunConfig::standard_of(args.service, seed);
    config.engine = args.engine.clone();
    if let Some(nodes) = args.nodes {
        config.servers = nodes;
    }
    if let Some(clients) = args.clients {
        config.clients = clients;
    }
    if let Some(duration_ms) = args.duration_ms {
        config.duration_ns = duration_ms.saturating_mul(sim::NANOS_PER_MILLI);
    }
    config
}

/// What `bench run` adds up over its seeds.
#[derive(Default)]
struct RunTotals {
    walls_s: Vec<f64>,
    cpu_s: f64,
    /// CPU time of checking the histories again, alone: the checker's share of `cpu_s`.
    check_cpu_s: f64,
    simulated_s: f64,
    events: u64,
    messages: u64,
    failures: u64,
}

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
    let mut totals = RunTotals::default();
    for seed in args.first_seed..args.first_seed + args.seeds {
        let config = bench_config(args, seed);
        config.validate()?;
        let cpu_before_s = process_cpu_s();
        #[allow(clippy::disallowed_methods)] // benchmark timing, not a simulated path
        let started = Instant::now();
        let outcome = scenarios::run(&config)?;
        totals.walls_s.push(started.elapsed().as_secs_f64());
        let cpu_run_s = process_cpu_s();
        totals.cpu_s += cpu_run_s - cpu_before_s;
        // The run checked its history once; checking it again alone measures that share.
        let options = checker::Options {
            steps_max: config.checker_steps_max,
            ..checker::Options::default()
        };
        std::hint::black_box(checker::check(&outcome.checker_history(), &options));
        totals.check_cpu_s += process_cpu_s() - cpu_run_s;
        totals.simulated_s += outcome.simulated_ns as f64 / 1e9;
        totals.events += outcome.stats.events;
        totals.messages += outcome.stats.messages_sent;
        totals.failures += u64::from(!outcome.passed());
    }
    let config = bench_config(args, args.first_seed);
    println!("{}", run_line(args, &config, &mut totals));
    Ok(ExitCode::SUCCESS)
}

/// The line `bench run` prints: speed against real time per core (CPU time), per event and
/// per run, and how a run's CPU time splits between the simulation (events, Raft, KV, oracles)
/// and the linearizability check at its end.
fn run_line(args: &RunBenchArgs, config: &scenarios::RunConfig, totals: &mut RunTotals) -> String {
    let total_wall: f64 = totals.walls_s.iter().sum();
    totals.walls_s.sort_by(f64::total_cmp);
    let median_wall = totals.walls_s[totals.walls_s.len() / 2];
    let events = totals.events.max(1) as f64;
    let simulation_cpu_s = (totals.cpu_s - totals.check_cpu_s).max(0.0);
    format!(
        "bench run service={} engine={} seeds={} servers={} clients={} duration_ms={} failures={} \
         events={} messages={} simulated_s={:.1} cpu_s={:.3} cpu_ms_per_run={:.2} \
         cpu_ns_per_event={:.0} simulation_ns_per_event={:.0} check_share={:.1}% \
         speedup_per_core={:.0}x median_wall_ms={:.1} total_wall_s={total_wall:.3} \
         sim_speedup={:.0}x runs_per_wall_s={:.1} peak_rss_mb={:.1}",
        args.service,
        args.engine,
        args.seeds,
        config.servers,
        config.clients,
        config.duration_ns / sim::NANOS_PER_MILLI,
        totals.failures,
        totals.events,
        totals.messages,
        totals.simulated_s,
        totals.cpu_s,
        totals.cpu_s * 1e3 / args.seeds as f64,
        totals.cpu_s * 1e9 / events,
        simulation_cpu_s * 1e9 / events,
        100.0 * totals.check_cpu_s / totals.cpu_s.max(f64::MIN_POSITIVE),
        totals.simulated_s / totals.cpu_s.max(f64::MIN_POSITIVE),
        median_wall * 1e3,
        totals.simulated_s / total_wall,
        args.seeds as f64 / total_wall,
        resources().1,
    )
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
