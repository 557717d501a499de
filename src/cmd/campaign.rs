//! `raftsim campaign --seeds A..B`: many seeds across cores (BRIEF §10), with a progress bar,
//! `results.jsonl` streamed line by line, then `summary.json` and `junit.xml`. Exit 0 when every
//! seed passes, 1 on any failure (and on `unknown` unless `--allow-unknown`), 130 when
//! interrupted with nothing failed, 2 on bad input.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use scenarios::campaign::output::{CampaignRequest, ResultsFile, Summary, write_reports};
use scenarios::campaign::{
    CampaignConfig, SeedPlan, SeedRange, SeedResult, Shard, Verdict, run_campaign,
};
use scenarios::config::Mutant;
use scenarios::config::swarm::Shape;
use scenarios::config::{EngineChoice, ServiceKind};
use scenarios::run::SeedShape;
use sim::NANOS_PER_MILLI;

use crate::wall::Stopwatch;

#[derive(Debug, Args)]
pub struct CampaignArgs {
    /// Seeds to run: A..B (end exclusive), A..=B or one seed.
    #[arg(long, default_value = "0..100", value_name = "A..B")]
    pub seeds: SeedRange,
    /// Worker threads, each running one seed at a time [default: all cores].
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Planted bug to switch on in every seed (see `raftsim mutants`); repeatable.
    #[arg(long = "mutant", value_name = "M")]
    pub mutants: Vec<Mutant>,
    /// Run the standard run (5 servers, 5 clients, 10 s, default faults; for the sharded
    /// service three groups of three) for every seed instead of drawing a configuration per seed.
    #[arg(long)]
    pub standard: bool,
    /// The service under test: `kv` (one Raft group) or `sharded` (sharded KV on multi-raft).
    #[arg(long, default_value = "kv", value_name = "S")]
    pub service: ServiceKind,
    /// The Raft implementation: `ours` or `raft-rs` (tikv/raft-rs 0.7).
    #[arg(long, default_value = "ours", value_name = "E")]
    pub engine: EngineChoice,
    /// Override the safety phase's length in simulated milliseconds (quick smoke campaigns).
    #[arg(long, value_name = "MS")]
    pub duration_ms: Option<u64>,
    /// Output directory [default: target/campaign, or target/campaign-shard-I-of-N].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Run only shard I of N (0 <= I < N): every N-th seed of the range, starting at A + I.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
    /// Run every seed twice and compare the traces; a difference is a failure.
    #[arg(long)]
    pub check_determinism: bool,
    /// Stop handing out seeds after the first failure.
    #[arg(long)]
    pub fail_fast: bool,
    /// Do not fail the gate on `unknown` linearizability verdicts (checker budget exhausted).
    #[arg(long)]
    pub allow_unknown: bool,
    /// Plain progress lines instead of a progress bar.
    #[arg(long, short)]
    pub quiet: bool,
    /// Write HTML reports for at most this many failing seeds (default: every failing seed;
    /// each is replayed once more with recording on).
    #[arg(long, value_name = "N")]
    pub max_reports: Option<usize>,
}

/// Raised by Ctrl-C or SIGTERM: stop handing out seeds, finish the running ones, write what
/// finished.
static STOP: AtomicBool = AtomicBool::new(false);

pub fn run(args: CampaignArgs) -> anyhow::Result<ExitCode> {
    let config = campaign_config(&args)?;
    let out = args.out.clone().unwrap_or_else(|| default_out(args.shard));
    install_ctrl_c();
    let mut file = ResultsFile::create(&out)?;
    let total = config.plan.len();
    println!(
        "campaign: seeds {}{} ({} seeds, {}{}) jobs={} out={}",
        config.plan.range,
        args.shard.map_or(String::new(), |s| format!(" shard {s}")),
        total,
        match (args.standard, args.service) {
            (true, ServiceKind::Kv) => "standard".to_string(),
            (false, ServiceKind::Kv) => "swarm".to_string(),
            (true, service) => format!("standard {service}"),
            (false, service) => format!("swarm {service}"),
        },
        engine_suffix(&config.shape.engine) + &mutants_suffix(&config.shape.mutants),
        config.jobs,
        out.display()
    );
    let stopwatch = Stopwatch::start();
    let mut progress = Progress::new(total, args.quiet, stopwatch);
    let elapsed = move || stopwatch.elapsed();
    let end = run_campaign(&config, &STOP, &elapsed, &mut |result| {
        file.append(result)?;
        progress.record(result);
        Ok(())
    })
    .map_err(|error| anyhow::anyhow!("cannot write {}: {error}", file.path().display()))?;
    progress.finish();
    let wall_s = stopwatch.elapsed().as_secs_f64();
    let request = CampaignRequest::new(&config.plan, &config.shape, config.check_determinism);
    let ran = end.results.len();
    let incomplete = if end.interrupted {
        vec![format!("interrupted after {ran} of {total} seeds")]
    } else if end.stopped_at_failure {
        vec![format!(
            "stopped at the first failure after {ran} of {total} seeds"
        )]
    } else {
        Vec::new()
    };
    let summary = Summary::new(
        &end.results,
        Some(request),
        Some(wall_s),
        end.interrupted,
        incomplete,
    );
    write_reports(&out, &end.results, &summary)?;
    write_html(
        &out,
        &end.results,
        &config.shape,
        args.max_reports.unwrap_or(usize::MAX),
    )?;
    if end.interrupted {
        println!(
            "interrupted: {} of {total} seeds finished; their results are in {}",
            end.results.len(),
            out.display()
        );
    }
    if end.stopped_at_failure {
        println!("fail-fast: stopped after the first failure");
    }
    print_summary(&summary, &out, config.allow_unknown);
    Ok(exit_code(&summary, config.allow_unknown))
}

fn campaign_config(args: &CampaignArgs) -> anyhow::Result<CampaignConfig> {
    let duration_ns = match args.duration_ms {
        Some(0) => anyhow::bail!("--duration-ms must be positive"),
        Some(ms) => Some(
            ms.checked_mul(NANOS_PER_MILLI)
                .ok_or_else(|| anyhow::anyhow!("--duration-ms {ms} is too large"))?,
        ),
        None => None,
    };
    let plan = SeedPlan {
        range: args.seeds,
        shard: args.shard.unwrap_or(Shard::WHOLE),
    };
    anyhow::ensure!(
        !plan.is_empty(),
        "shard {} of --seeds {} holds no seed",
        plan.shard,
        plan.range
    );
    // More workers than seeds would only idle.
    let jobs = worker_count(args.jobs)?.min(usize::try_from(plan.len()).unwrap_or(usize::MAX));
    let shape = SeedShape {
        shape: if args.standard {
            Shape::Standard
        } else {
            Shape::Swarm
        },
        service: args.service,
        mutants: args.mutants.clone(),
        duration_ns,
        engine: args.engine.clone(),
    };
    shape.config(plan.nth(0)).validate()?;
    Ok(CampaignConfig {
        plan,
        shape,
        jobs,
        check_determinism: args.check_determinism,
        fail_fast: args.fail_fast,
        allow_unknown: args.allow_unknown,
    })
}

/// Most worker threads a campaign starts.
const JOBS_MAX: usize = 1024;

/// `--jobs`: 1 to 1024; all cores when not given.
pub fn worker_count(jobs: Option<usize>) -> anyhow::Result<usize> {
    match jobs {
        Some(jobs) if !(1..=JOBS_MAX).contains(&jobs) => {
            anyhow::bail!("--jobs {jobs} is outside 1..={JOBS_MAX}")
        }
        Some(jobs) => Ok(jobs),
        None => Ok(std::thread::available_parallelism().map_or(1, usize::from)),
    }
}

fn default_out(shard: Option<Shard>) -> PathBuf {
    match shard {
        Some(shard) if shard.count > 1 => PathBuf::from(format!(
            "target/campaign-shard-{}-of-{}",
            shard.index, shard.count
        )),
        _ => PathBuf::from("target/campaign"),
    }
}

/// `, engine raft-rs`; nothing for ours.
fn engine_suffix(engine: &EngineChoice) -> String {
    if engine.is_ours() {
        return String::new();
    }
    format!(", engine {engine}")
}

fn mutants_suffix(mutants: &[Mutant]) -> String {
    if mutants.is_empty() {
        return String::new();
    }
    let names: Vec<&str> = mutants.iter().map(|m| m.name()).collect();
    format!(", mutants {}", names.join(","))
}

/// First Ctrl-C or SIGTERM (what CI runners and Kubernetes send): stop handing out seeds.
/// Second: leave at once (lines so far are on disk).
fn install_ctrl_c() {
    let installed = ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("\ninterrupt: finishing running seeds; interrupt again to quit at once");
    });
    if let Err(error) = installed {
        eprintln!("warning: Ctrl-C will not stop cleanly: {error}");
    }
}

/// The bar (on a terminal) or plain lines (otherwise, or with `--quiet`); failures always print
/// with their replay command.
struct Progress {
    bar: Option<ProgressBar>,
    total: u64,
    done: u64,
    failures: u64,
    simulated_ns: u64,
    stopwatch: Stopwatch,
    /// Plain mode prints a line every this many seeds.
    every: u64,
}

impl Progress {
    fn new(total: u64, quiet: bool, stopwatch: Stopwatch) -> Progress {
        let bar = (!quiet && std::io::stdout().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stdout());
            bar.set_style(
                ProgressStyle::with_template("{bar:30.cyan/blue} {pos}/{len} seeds {msg}")
                    .expect("a valid template")
                    .progress_chars("=> "),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Progress {
            bar,
            total,
            done: 0,
            failures: 0,
            simulated_ns: 0,
            stopwatch,
            every: total.div_ceil(10).max(1),
        }
    }

    fn record(&mut self, result: &SeedResult) {
        self.done += 1;
        self.simulated_ns += result.simulated_ns;
        if result.verdict != Verdict::Pass {
            self.failures += 1;
            self.println(&result.failure_report());
        }
        let wall_s = self.stopwatch.elapsed().as_secs_f64().max(1e-9);
        let message = format!(
            "{} failed  {:.1} seeds/s  {:.0}x real time",
            self.failures,
            self.done as f64 / wall_s,
            self.simulated_ns as f64 / 1e9 / wall_s
        );
        match &self.bar {
            Some(bar) => {
                bar.set_position(self.done);
                bar.set_message(message);
            }
            None if self.done.is_multiple_of(self.every) || self.done == self.total => {
                println!("progress: {}/{} seeds, {message}", self.done, self.total);
            }
            None => {}
        }
    }

    fn println(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => println!("{line}"),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// The closing lines shared by `campaign` and `merge`.
pub fn print_summary(summary: &Summary, out: &Path, allow_unknown: bool) {
    println!(
        "result: {} seeds: {} passed, {} failed, {} unknown in {:.1} s wall ({:.1} seeds/s, {:.0}x real time)",
        summary.seeds,
        summary.passed,
        summary.failed,
        summary.unknown,
        summary.wall_s,
        summary.wall_seeds_per_s,
        summary.wall_speedup
    );
    for (kind, count) in &summary.failures_by_kind {
        println!("  {kind}: {count}");
    }
    for reason in &summary.incomplete {
        println!("  incomplete: {reason}");
    }
    let unreached = summary.unreached_marks();
    if summary.seeds > 0 {
        println!(
            "marks: {} of {} reached; no seed reached: {}",
            summary.marks.len() - unreached.len(),
            summary.marks.len(),
            if unreached.is_empty() {
                "(none)".to_string()
            } else {
                unreached.join(", ")
            }
        );
    }
    const SHOWN: usize = 20;
    for failing in summary.failing.iter().take(SHOWN) {
        println!(
            "  seed {} {}: replay: {}",
            failing.seed,
            failing.property.map_or("?", scenarios::Property::name),
            failing.replay
        );
    }
    if summary.failing.len() > SHOWN {
        println!(
            "  ... {} more in {}",
            summary.failing.len() - SHOWN,
            out.join("summary.json").display()
        );
    }
    println!(
        "gate: {}; wrote {}/{{results.jsonl,summary.json,junit.xml,index.html}}",
        if summary.interrupted {
            "INTERRUPTED"
        } else if summary.gate_passes(allow_unknown) {
            "PASS"
        } else {
            "FAIL"
        },
        out.display()
    );
}

/// 130 when interrupted (whatever had failed by then), else 0 when the gate passes, else 1.
pub fn exit_code(summary: &Summary, allow_unknown: bool) -> ExitCode {
    if summary.interrupted {
        ExitCode::from(130)
    } else if summary.gate_passes(allow_unknown) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Writes `reports/seed-S.html` for the failing seeds (the first `max_reports`) and an
/// `index.html` listing every seed with its verdict, linking to those reports.
pub fn write_html(
    out: &Path,
    results: &[SeedResult],
    shape: &SeedShape,
    max_reports: usize,
) -> anyhow::Result<()> {
    let dir = out.join("reports");
    let mut rows = Vec::with_capacity(results.len());
    let mut written = 0;
    for result in results {
        let failed = result.verdict != scenarios::campaign::Verdict::Pass;
        let mut report = None;
        if failed && written < max_reports {
            let options = scenarios::RunOptions {
                record: true,
                repro: Some(scenarios::Repro::campaign(result.seed, shape)),
                ..scenarios::RunOptions::default()
            };
            if let Ok(Ok(outcome)) =
                scenarios::run::catch_panic(|| scenarios::run_with(&result.config, None, options))
                && let Some(record) = &outcome.record
            {
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                let name = format!("seed-{}.html", result.seed);
                let path = dir.join(&name);
                std::fs::write(&path, reports::render_html(record))
                    .with_context(|| format!("cannot write {}", path.display()))?;
                report = Some(format!("reports/{name}"));
                written += 1;
            }
        }
        rows.push(reports::IndexRow {
            seed: result.seed,
            verdict: format!("{:?}", result.verdict).to_lowercase(),
            kind: result.property.map_or(String::new(), |p| p.to_string()),
            summary: result
                .message
                .clone()
                .unwrap_or_else(|| result.config.to_string()),
            report,
        });
    }
    let path = out.join("index.html");
    std::fs::write(&path, reports::render_index("raftsim campaign", &rows))
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
