//! `raftsim explore --seeds A..B [--mutant M]`: coverage-guided exploration. Runs the swarm
//! seeds and, between them, runs derived from those that reached rare coverage marks (a fault
//! shifted, dropped or duplicated, two servers swapped, a knob changed); prints the marks
//! reached as it goes and stops at the first failure, written as a scenario script with its
//! replay command. Exit 0 nothing found, 1 a failure found, 2 bad input. It learns first from a
//! prior, a campaign of the correct code: the one built in for the service, `--prior FILE`, or
//! none with `--no-prior`; `--prior RESULTS --write-prior FILE` writes a campaign in the
//! prior's compact text form (the form the built-in ones are in) and exits.
//!
//! `--compare --windows W`: cuts the seeds into W windows and searches each mutant (each on its
//! own) from the start of every window, by plain swarm and by the explorer, and prints the runs
//! to first detection of both, mean and median over the windows. With `--gate` it exits 1 when
//! the explorer misses a mutant in some window.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;
use scenarios::campaign::SeedRange;
use scenarios::config::{Mutant, ServiceKind};
use scenarios::explore::compare::{CompareConfig, CompareRow, compare};
use scenarios::explore::{ExploreConfig, Explored, Prior, explore};

#[derive(Debug, Args)]
pub struct ExploreArgs {
    /// Fresh swarm seeds: A..B (end exclusive), A..=B or one seed.
    #[arg(long, value_name = "A..B", required_unless_present = "write_prior")]
    pub seeds: Option<SeedRange>,
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
    /// Compare runs to first detection with plain swarm, each mutant on its own (all of the
    /// service's by default), from the start of every window of the seeds.
    #[arg(long)]
    pub compare: bool,
    /// With --compare: equal windows the seeds are cut into; each window's seed count is both
    /// searches' budget.
    #[arg(long, default_value_t = 20, value_name = "W", requires = "compare")]
    pub windows: u64,
    /// With --compare: worker threads; all cores by default.
    #[arg(long, requires = "compare")]
    pub jobs: Option<usize>,
    /// A campaign of the correct code (its results.jsonl, or a prior's text form) to learn from
    /// before the first run: which configurations reached the bug's danger marks [default: the
    /// prior built into raftsim for the service].
    #[arg(long, value_name = "FILE")]
    pub prior: Option<PathBuf>,
    /// Learn from nothing but the exploration's own runs.
    #[arg(long, conflicts_with = "prior")]
    pub no_prior: bool,
    /// Write the --prior campaign in the compact text form raftsim embeds, and exit.
    #[arg(
        long,
        value_name = "FILE",
        requires = "prior",
        conflicts_with_all = ["seeds", "mutants", "runs_max", "out", "compare", "windows", "jobs", "gate"]
    )]
    pub write_prior: Option<PathBuf>,
    /// With --compare: exit 1 when the explorer misses a mutant in some window (CI's guard).
    #[arg(long, requires = "compare")]
    pub gate: bool,
}

pub fn run(args: ExploreArgs) -> anyhow::Result<ExitCode> {
    if let Some(mutant) = args.mutants.iter().find(|m| m.service() != args.service) {
        anyhow::bail!("mutant {mutant} needs --service {}", mutant.service());
    }
    if let Some(out) = &args.write_prior {
        return write_prior(&args, out);
    }
    let Some(seeds) = args.seeds else {
        anyhow::bail!("--seeds A..B is required");
    };
    if args.compare {
        return run_compare(&args, seeds);
    }
    let prior = read_prior(&args)?;
    if !args.quiet {
        println!("{}", describe_prior(&args, prior.as_deref()));
    }
    let config = ExploreConfig {
        seeds,
        service: args.service,
        mutants: args.mutants.clone(),
        runs_max: args
            .runs_max
            .unwrap_or((seeds.end - seeds.start).saturating_mul(2)),
        prior,
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

fn run_compare(args: &ExploreArgs, seeds: SeedRange) -> anyhow::Result<ExitCode> {
    if args.runs_max.is_some() || args.out.is_some() {
        anyhow::bail!(
            "--compare takes each window's seed count as the budget and writes no script: drop --runs-max and --out"
        );
    }
    let mutants: Vec<Mutant> = if args.mutants.is_empty() {
        Mutant::all()
            .filter(|m| m.service() == args.service)
            .collect()
    } else {
        args.mutants.clone()
    };
    let prior = read_prior(args)?;
    println!("{}", describe_prior(args, prior.as_deref()));
    let config = CompareConfig {
        seeds,
        windows: args.windows,
        service: args.service,
        mutants,
        jobs: super::campaign::worker_count(args.jobs)?,
        prior,
    };
    let window_count = scenarios::explore::compare::windows(config.seeds, config.windows).len();
    println!(
        "runs to first detection from the start of {window_count} window{} of seeds {} (a miss counts as the whole window)",
        if window_count == 1 { "" } else { "s" },
        config.seeds
    );
    println!(
        "| mutant | swarm: mean | swarm: median | explorer: mean | explorer: median | explorer fewer / equal / more runs (windows) |\n|---|---|---|---|---|---|"
    );
    let mut on_row = |row: &CompareRow| {
        let (fewer, equal, more) = row.explorer_fewer_equal_more();
        println!(
            "| {} | {} | {} | {} | {} | {fewer} / {equal} / {more} |",
            row.mutant,
            with_misses(row.mean(&row.swarm), &row.swarm),
            row.median(&row.swarm),
            with_misses(row.mean(&row.explorer), &row.explorer),
            row.median(&row.explorer),
        );
    };
    let rows = compare(&config, &mut on_row)?;
    let fewer = rows
        .iter()
        .filter(|row| row.mean(&row.explorer) < row.mean(&row.swarm))
        .count();
    let more = rows
        .iter()
        .filter(|row| row.mean(&row.explorer) > row.mean(&row.swarm))
        .count();
    println!(
        "\nexplorer's mean runs to detection: fewer than swarm's for {fewer} of {} mutants, more for {more}",
        rows.len()
    );
    let missed: Vec<String> = rows
        .iter()
        .filter(|row| row.explorer.iter().any(Option::is_none))
        .map(|row| row.mutant.to_string())
        .collect();
    if !missed.is_empty() {
        println!("the explorer missed in some window: {}", missed.join(", "));
        if args.gate {
            return Ok(ExitCode::FAILURE);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The prior to learn from: the `--prior` file, none with `--no-prior`, else the built-in one.
fn read_prior(args: &ExploreArgs) -> anyhow::Result<Option<Arc<Prior>>> {
    if args.no_prior {
        return Ok(None);
    }
    let Some(path) = &args.prior else {
        return Ok(Some(Arc::new(Prior::builtin(args.service))));
    };
    let context = || format!("--prior {}", path.display());
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let prior = if Prior::is_text_form(&text) {
        Prior::parse(&text, args.service).with_context(context)?
    } else {
        let results =
            scenarios::campaign::output::parse_results(&text, path).with_context(context)?;
        Prior::from_results(&results, args.service).with_context(context)?
    };
    Ok(Some(Arc::new(prior)))
}

/// One line saying what the explorer learns from first.
fn describe_prior(args: &ExploreArgs, prior: Option<&Prior>) -> String {
    match (prior, &args.prior) {
        (None, _) => "prior: none (--no-prior)".to_string(),
        (Some(prior), Some(path)) => format!("prior: {} runs of {}", prior.len(), path.display()),
        (Some(prior), None) => format!(
            "prior: built in, {} runs of the correct {} service (--prior FILE for another, --no-prior for none)",
            prior.len(),
            args.service
        ),
    }
}

/// `--write-prior`: the `--prior` campaign in the text form.
fn write_prior(args: &ExploreArgs, out: &std::path::Path) -> anyhow::Result<ExitCode> {
    let (Some(path), Some(prior)) = (&args.prior, read_prior(args)?) else {
        anyhow::bail!("--write-prior needs --prior RESULTS");
    };
    let same_file = |a: &std::path::Path, b: &std::path::Path| matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b);
    if same_file(path, out) {
        anyhow::bail!("--write-prior {} would overwrite --prior", out.display());
    }
    let text = prior
        .to_text(args.service)
        .with_context(|| format!("--prior {}", path.display()))?;
    std::fs::write(out, text).with_context(|| format!("cannot write {}", out.display()))?;
    println!("wrote {} ({} runs)", out.display(), prior.len());
    Ok(ExitCode::SUCCESS)
}

/// A mean, marked as a lower bound with the number of windows that found nothing.
fn with_misses(mean: f64, searches: &[Option<u64>]) -> String {
    let missed = searches.iter().filter(|d| d.is_none()).count();
    if missed == 0 {
        format!("{mean:.2}")
    } else {
        format!("≥{mean:.2} ({missed} missed)")
    }
}
