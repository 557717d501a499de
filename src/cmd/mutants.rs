//! `raftsim mutants`: lists the planted bugs of BRIEF §9 and of the sharded KV (issue 20), one
//! per line: name, service, description. With `--score`, runs every mutant (and the correct code
//! of each service, as a control) over a range of campaign seeds of its service and prints the
//! detection table: seeds run, failing seeds, first failing seed, kinds.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use clap::Args;
use scenarios::campaign::{CampaignConfig, SeedPlan, SeedRange, Shard, run_campaign};
use scenarios::config::Mutant;
use scenarios::config::ServiceKind;
use scenarios::config::swarm::Shape;
use scenarios::run::SeedShape;

#[derive(Debug, Args)]
pub struct MutantsArgs {
    /// Run each mutant over the seeds and print the detection table.
    #[arg(long)]
    pub score: bool,
    /// Seeds to score: A..B (end exclusive), A..=B or one seed.
    #[arg(long, default_value = "0..100", value_name = "A..B")]
    pub seeds: SeedRange,
    /// Score only these mutants (repeatable); all of them by default.
    #[arg(long = "mutant", value_name = "M")]
    pub mutants: Vec<Mutant>,
    /// Score only this service's mutants and control [default: both services].
    #[arg(long, value_name = "S")]
    pub service: Option<ServiceKind>,
    /// Stop a mutant at its first failing seed (first detection only, much faster).
    #[arg(long)]
    pub first_only: bool,
    /// Worker threads; all cores by default.
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Fail (exit 1) when a mutant escapes every seed or the correct code fails one: the
    /// detection table kept honest by CI.
    #[arg(long)]
    pub gate: bool,
}

pub fn run(args: MutantsArgs) -> anyhow::Result<ExitCode> {
    if !args.score {
        list();
        return Ok(ExitCode::SUCCESS);
    }
    let jobs = super::campaign::worker_count(args.jobs)?;
    // Each service's control row (the correct code), then its mutants.
    let rows: Vec<(ServiceKind, Option<Mutant>)> = if args.mutants.is_empty() {
        [ServiceKind::Kv, ServiceKind::Sharded]
            .into_iter()
            .filter(|service| args.service.is_none_or(|s| s == *service))
            .flat_map(|service| {
                let mutants = Mutant::all().filter(move |m| m.service() == service);
                std::iter::once((service, None)).chain(mutants.map(move |m| (service, Some(m))))
            })
            .collect()
    } else {
        let service = |m: &Mutant| args.service.unwrap_or(m.service());
        args.mutants
            .iter()
            .map(|m| (service(m), Some(*m)))
            .collect()
    };
    println!(
        "| mutant | seeds run | failing seeds | first failing seed | violation kinds |\n|---|---|---|---|---|"
    );
    let mut firsts = Vec::new();
    // What fails the gate: a mutant no seed caught, a seed the correct code failed.
    let mut gate_failures = Vec::new();
    for (service, mutant) in rows {
        let row = score(service, mutant, args.seeds, jobs, args.first_only)?;
        match mutant {
            Some(mutant) => {
                firsts.push(row.first);
                if row.first.is_none() {
                    gate_failures.push(format!("mutant {mutant} escaped seeds {}", args.seeds));
                }
            }
            None if row.failing > 0 => gate_failures.push(format!(
                "the correct {service} service failed {} seed(s) of {}",
                row.failing, args.seeds
            )),
            None => {}
        }
        println!("{}", row.markdown(service, mutant));
    }
    if !firsts.is_empty() {
        let detected = firsts.iter().flatten().count();
        let missed = firsts.len() - detected;
        println!(
            "\nmutants detected: {detected}/{}; median seeds to first detection: {}",
            firsts.len(),
            median_seeds(&firsts, args.seeds.start)
                .map_or_else(|| "none".to_string(), |m| m.to_string())
        );
        if missed > 0 {
            println!("{missed} mutant(s) not detected in seeds {}", args.seeds);
        }
    }
    if args.gate && !gate_failures.is_empty() {
        for failure in &gate_failures {
            eprintln!("gate: {failure}");
        }
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn list() {
    let width = Mutant::all()
        .map(|mutant| mutant.name().len())
        .max()
        .unwrap_or(0);
    for mutant in Mutant::all() {
        println!(
            "{:width$}  {:7}  {}",
            mutant.name(),
            mutant.service().name(),
            mutant.description()
        );
    }
}

struct Row {
    run: u64,
    failing: u64,
    first: Option<u64>,
    kinds: BTreeMap<String, u64>,
}

impl Row {
    fn markdown(&self, service: ServiceKind, mutant: Option<Mutant>) -> String {
        let name = match (mutant, service) {
            (Some(mutant), _) => mutant.name().to_string(),
            (None, ServiceKind::Kv) => "(none: correct code)".to_string(),
            (None, service) => format!("(none: correct code, {service})"),
        };
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

/// Runs `mutant` over the seeds as a swarm campaign of `service`; `first_only` stops at the
/// first failure. Results come in seed order, so the first failing seed is the smallest
/// whatever the threads.
fn score(
    service: ServiceKind,
    mutant: Option<Mutant>,
    seeds: SeedRange,
    jobs: usize,
    first_only: bool,
) -> anyhow::Result<Row> {
    let config = CampaignConfig {
        plan: SeedPlan {
            range: seeds,
            shard: Shard::WHOLE,
        },
        shape: SeedShape {
            shape: Shape::Swarm,
            service,
            mutants: mutant.into_iter().collect(),
            duration_ns: None,
            engine: Default::default(),
        },
        jobs,
        check_determinism: false,
        fail_fast: first_only,
        allow_unknown: false,
    };
    // The table has no wall-clock fields.
    let end = run_campaign(
        &config,
        &AtomicBool::new(false),
        &|| Duration::ZERO,
        &mut |_| Ok(()),
    )?;
    let mut row = Row {
        run: end.results.len() as u64,
        failing: 0,
        first: None,
        kinds: BTreeMap::new(),
    };
    for result in end.results.iter().filter(|r| r.fails_gate(false)) {
        row.failing += 1;
        row.first.get_or_insert(result.seed);
        let kind = result.property.map_or(String::new(), |p| p.to_string());
        *row.kinds.entry(kind).or_default() += 1;
    }
    Ok(row)
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
