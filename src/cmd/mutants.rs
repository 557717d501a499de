//! `raftsim mutants`: lists the planted bugs of BRIEF §9, one per line: name, then description.
//! With `--score`, runs every mutant (and the correct code, as a control) over a range of campaign
//! seeds and prints the detection table: seeds run, failing seeds, first failing seed, kinds.

use std::collections::BTreeMap;
use std::process::ExitCode;

use clap::Args;
use raft::Mutant;
use rayon::prelude::*;
use scenarios::swarm::{self, Shape};

#[derive(Debug, Args)]
pub struct MutantsArgs {
    /// Run each mutant over the seeds and print the detection table.
    #[arg(long)]
    pub score: bool,
    /// Seeds to score, `A..B` (B excluded).
    #[arg(long, default_value = "0..100", value_parser = parse_seed_range)]
    pub seeds: (u64, u64),
    /// Score only these mutants (repeatable); all of them by default.
    #[arg(long = "mutant", value_name = "M")]
    pub mutants: Vec<Mutant>,
    /// Stop a mutant at its first failing seed (first detection only, much faster).
    #[arg(long)]
    pub first_only: bool,
    /// Worker threads; all cores by default.
    #[arg(long)]
    pub jobs: Option<usize>,
}

/// Parses `A..B` with A < B.
pub fn parse_seed_range(text: &str) -> Result<(u64, u64), String> {
    let (start, end) = text
        .split_once("..")
        .ok_or_else(|| format!("seed range {text:?} is not of the form A..B"))?;
    let parse = |part: &str| {
        part.trim()
            .parse::<u64>()
            .map_err(|_| format!("seed range {text:?}: {part:?} is not a seed"))
    };
    let (start, end) = (parse(start)?, parse(end)?);
    if start >= end {
        return Err(format!("seed range {text:?} is empty"));
    }
    Ok((start, end))
}

pub fn run(args: MutantsArgs) -> anyhow::Result<ExitCode> {
    if !args.score {
        list();
        return Ok(ExitCode::SUCCESS);
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.jobs.unwrap_or(0))
        .build()?;
    let mutants: Vec<Option<Mutant>> = if args.mutants.is_empty() {
        std::iter::once(None)
            .chain(Mutant::ALL.iter().copied().map(Some))
            .collect()
    } else {
        args.mutants.iter().copied().map(Some).collect()
    };
    println!(
        "| mutant | seeds run | failing seeds | first failing seed | violation kinds |\n|---|---|---|---|---|"
    );
    let mut firsts = Vec::new();
    for mutant in mutants {
        let row = pool.install(|| score(mutant, args.seeds, args.first_only));
        if mutant.is_some() {
            firsts.push(row.first);
        }
        println!("{}", row.markdown(mutant));
    }
    if !firsts.is_empty() {
        let detected: Vec<u64> = firsts.iter().filter_map(|&f| f).collect();
        let missed = firsts.len() - detected.len();
        println!(
            "\nmutants detected: {}/{}; median seeds to first detection: {}",
            detected.len(),
            firsts.len(),
            median_seeds(&firsts, args.seeds.0)
                .map_or_else(|| "none".to_string(), |m| m.to_string())
        );
        if missed > 0 {
            println!(
                "{missed} mutant(s) not detected in seeds {}..{}",
                args.seeds.0, args.seeds.1
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn list() {
    let width = Mutant::ALL
        .iter()
        .map(|mutant| mutant.name().len())
        .max()
        .unwrap_or(0);
    for mutant in Mutant::ALL {
        println!("{:width$}  {}", mutant.name(), mutant.description());
    }
}

struct Row {
    run: u64,
    failing: u64,
    first: Option<u64>,
    kinds: BTreeMap<&'static str, u64>,
}

impl Row {
    fn markdown(&self, mutant: Option<Mutant>) -> String {
        let name = mutant.map_or("(none: correct code)", Mutant::name);
        let first = self
            .first
            .map_or_else(|| "—".to_string(), |seed| seed.to_string());
        let kinds: Vec<String> = self
            .kinds
            .iter()
            .map(|(kind, count)| format!("{kind} ×{count}"))
            .collect();
        let kinds = if kinds.is_empty() {
            "—".to_string()
        } else {
            kinds.join(", ")
        };
        format!(
            "| {name} | {} | {} | {first} | {kinds} |",
            self.run, self.failing
        )
    }
}

/// Runs `mutant` over the seeds, in chunks so `first_only` can stop early while staying
/// deterministic: the first failing seed is the smallest one, whatever the thread timing.
fn score(mutant: Option<Mutant>, (start, end): (u64, u64), first_only: bool) -> Row {
    let mutants: Vec<Mutant> = mutant.into_iter().collect();
    let mut row = Row {
        run: 0,
        failing: 0,
        first: None,
        kinds: BTreeMap::new(),
    };
    let chunk = 2 * rayon::current_num_threads().max(1) as u64;
    let mut next = start;
    while next < end {
        let upto = (next + chunk).min(end);
        let results: Vec<(u64, Option<&'static str>)> = (next..upto)
            .into_par_iter()
            .map(|seed| {
                let config = swarm::config_for(seed, Shape::Swarm, &mutants);
                let kind = match scenarios::run(&config) {
                    Ok(outcome) => outcome.violation.map(|v| v.property.name()),
                    Err(_) => Some("bad-configuration"),
                };
                (seed, kind)
            })
            .collect();
        for (seed, kind) in results {
            row.run += 1;
            if let Some(kind) = kind {
                row.failing += 1;
                row.first.get_or_insert(seed);
                *row.kinds.entry(kind).or_default() += 1;
            }
        }
        if first_only && row.first.is_some() {
            break;
        }
        next = upto;
    }
    row
}

/// Median of seeds-to-first-detection (counting from the range start, 1-based); an undetected
/// mutant counts as infinitely many seeds.
fn median_seeds(firsts: &[Option<u64>], start: u64) -> Option<u64> {
    let mut counts: Vec<u64> = firsts
        .iter()
        .map(|first| first.map_or(u64::MAX, |seed| seed - start + 1))
        .collect();
    counts.sort_unstable();
    let middle = counts.get(counts.len().saturating_sub(1) / 2).copied()?;
    (middle != u64::MAX).then_some(middle)
}
