//! The coverage-guided explorer (`raftsim explore`): directed swarm seeds, plus a tenth of runs
//! derived from the ones that reached rare coverage marks, their fault schedules mutated (a
//! fault shifted, dropped, duplicated, two servers' roles swapped) or a Raft knob changed.
//! Each planted bug names the marks of the states it needs (`danger`); of the next few unused
//! seeds, the explorer runs the one whose configuration most resembles those of runs that
//! reached them (`direct`), and mutates runs that reached them most. Like a fuzzer's corpus,
//! the runs that reached the rarest marks are the ones mutated most. Hunting a bug with a
//! `Prior` (an earlier campaign of the correct code; the binary carries one per service,
//! `prior`) it makes no derived runs (measured: directed fresh seeds fail more often than they
//! do) and, when some of the prior's runs reached the bug's danger marks, learns from it first
//! and weighs more candidates.
//!
//! Every derived run is still a configuration and a fault schedule: a replay of it is bit for
//! bit, and a failure is written as a seeded-run script (`raftsim scenario FILE`) that replays
//! it exactly. The explorer's own choices come from its own seeded stream, so an exploration
//! replays too.

pub mod compare;
pub mod danger;
mod direct;
mod prior;

use std::collections::BTreeMap;
use std::sync::Arc;

use sim::{FaultAction, NANOS_PER_MILLI, NodeId, RngStream, SeedRng};

use crate::campaign::SeedRange;
use crate::config::swarm::{self, Shape};
use crate::config::{Mutant, Property, RunConfig, ServiceKind};
use crate::harness::FaultSchedule;
use crate::run::{RunError, RunOptions, catch_panic, run_with};
use crate::script::render_seeded_run;

pub use prior::{Prior, PriorError};

/// What to explore.
#[derive(Clone, Debug)]
pub struct ExploreConfig {
    /// The fresh swarm seeds, taken in order.
    pub seeds: SeedRange,
    pub service: ServiceKind,
    pub mutants: Vec<Mutant>,
    /// Runs at most, fresh and derived together.
    pub runs_max: u64,
    /// An earlier campaign of the correct code to learn from before the first run (none: the
    /// explorer learns only from its own runs).
    pub prior: Option<Arc<Prior>>,
}

/// One run the explorer made.
#[derive(Clone, Debug)]
pub struct Explored {
    /// Runs made so far, this one included.
    pub run: u64,
    /// The swarm seed it descends from.
    pub seed: u64,
    /// How it was made: `seed` for a fresh one, else the mutation.
    pub how: String,
    /// Marks no earlier run reached.
    pub new_marks: Vec<String>,
    /// Marks reached by some run so far.
    pub marks_reached: usize,
    /// The failure it found: its property, message and replay script.
    pub failure: Option<Failure>,
}

#[derive(Clone, Debug)]
pub struct Failure {
    pub property: Property,
    pub message: String,
    /// A seeded-run script that replays the failing run exactly; `None` for a fresh seed that
    /// panicked (its schedule died with it: `replay` reruns it).
    pub script: Option<String>,
    /// The command that reruns a fresh seed (`raftsim replay --seed S ...`).
    pub replay: Option<String>,
}

/// The end of an exploration.
#[derive(Clone, Debug)]
pub struct Exploration {
    pub runs: u64,
    /// Runs that reached each mark.
    pub marks: BTreeMap<String, u64>,
    pub failure: Option<(u64, Failure)>,
}

/// A run kept for mutation: what it was made of and the marks it reached.
struct Entry {
    config: RunConfig,
    faults: FaultSchedule,
    marks: Vec<String>,
    /// It reached one of the bug's danger marks.
    danger: bool,
}

/// Explores until the first failure or `runs_max` runs; `on_run` sees every run as it ends.
pub fn explore(
    config: &ExploreConfig,
    on_run: &mut dyn FnMut(&Explored),
) -> Result<Exploration, RunError> {
    let mut rng = SeedRng::new(config.seeds.start).stream("explore");
    let mut corpus: Vec<Entry> = Vec::new();
    let mut reached: BTreeMap<String, u64> = crate::harness::marks::all_names(config.service, true)
        .into_iter()
        .map(|name| (name.to_string(), 0))
        .collect();
    let mut direction = Direction::new(&config.mutants, config.prior.as_deref());
    // Hunting a bug with a prior, every run is a fresh seed (measured: runs derived from runs
    // that passed fail less often), directed when the prior's runs reached the bug's danger
    // marks, else in order. With no bug named there is no danger to steer to, and the explorer
    // derives runs from those that reached rare marks, prior or not.
    let fresh_only = config.prior.is_some() && !config.mutants.is_empty();
    let mut fresh_seeds = direct::Pool::new(config.seeds, direction.learned_from_prior);
    let mut run = 0;
    // Mutations the cluster cannot take are tried again, but not forever.
    let mut attempts = 0;
    while run < config.runs_max && attempts < config.runs_max.saturating_mul(10) {
        attempts += 1;
        // Fresh seeds until a run is kept, then mostly fresh seeds.
        let fresh = corpus.is_empty()
            || (!fresh_seeds.is_empty() && (fresh_only || !rng.chance(DERIVED_SHARE)));
        let (seed, how, run_config, faults) = if fresh {
            let Some((seed, run_config)) = fresh_seeds.take(&direction.model, |seed| {
                swarm::config_for(seed, Shape::Swarm, config.service, &config.mutants)
            }) else {
                break;
            };
            (seed, "seed".to_string(), run_config, None)
        } else {
            let parent = pick_parent(&corpus, &reached, &mut rng);
            let (run_config, faults, how) = mutate(parent, &mut rng);
            (parent.config.seed, how, run_config, faults)
        };
        let outcome = catch_panic(|| run_with(&run_config, faults.clone(), RunOptions::default()));
        run += 1;
        let outcome = match outcome {
            Ok(Ok(outcome)) => outcome,
            // A mutation the cluster cannot take (a schedule no longer valid): not a run.
            Ok(Err(_)) if !fresh => {
                run -= 1;
                continue;
            }
            Ok(Err(error)) => return Err(error),
            Err(panic) => {
                let failure = Failure {
                    property: Property::Panic,
                    message: panic,
                    script: faults.as_ref().map(|faults| {
                        render_seeded_run(
                            &run_config,
                            faults,
                            Some(Property::Panic),
                            &format!("explore: a panic, from seed {seed} ({how})"),
                        )
                    }),
                    replay: fresh.then(|| replay_command(config, seed)),
                };
                return Ok(Exploration {
                    runs: run,
                    marks: reached,
                    failure: Some((run, failure)),
                });
            }
        };
        let mut new_marks = Vec::new();
        for name in outcome.marks.keys() {
            let count = reached.entry(name.clone()).or_insert(0);
            if *count == 0 {
                new_marks.push(name.clone());
            }
            *count += 1;
        }
        let failure = outcome.violation.as_ref().map(|violation| Failure {
            property: violation.property,
            message: violation.message.clone(),
            script: Some(render_seeded_run(
                &run_config,
                &outcome.faults,
                Some(violation.property),
                &format!("explore: found from seed {seed} ({how})"),
            )),
            replay: fresh.then(|| replay_command(config, seed)),
        });
        let marks: Vec<String> = outcome.marks.keys().cloned().collect();
        let danger = direction.is_danger(&marks);
        if !direction.danger_marks.is_empty() {
            direction.model.learn(&run_config, danger);
        }
        // Keep runs that reached a mark few runs reach (below a tenth of the runs so far) or
        // one of the bug's danger states.
        let rare = marks
            .iter()
            .any(|name| reached.get(name).is_some_and(|&count| count * 10 <= run));
        if rare || danger || !new_marks.is_empty() {
            corpus.push(Entry {
                config: run_config,
                faults: outcome.faults,
                marks,
                danger,
            });
        }
        let explored = Explored {
            run,
            seed,
            how,
            new_marks,
            marks_reached: reached.values().filter(|&&count| count > 0).count(),
            failure: failure.clone(),
        };
        on_run(&explored);
        if let Some(failure) = failure {
            return Ok(Exploration {
                runs: run,
                marks: reached,
                failure: Some((run, failure)),
            });
        }
    }
    Ok(Exploration {
        runs: run,
        marks: reached,
        failure: None,
    })
}

/// The share of runs derived from kept ones once the corpus holds one. Measured (issue 16):
/// runs derived from a run that passed fail less often than fresh seeds do, even those derived
/// from runs that reached the bug's danger marks (a passing run is evidence against its
/// configuration and schedule), so most of the budget goes to directed fresh seeds.
const DERIVED_SHARE: f64 = 0.1;

/// Where the explorer steers: the bug's danger marks, and which configurations have reached
/// them (to choose fresh seeds).
struct Direction {
    danger_marks: Vec<&'static str>,
    model: direct::Model,
    /// The model learned from a prior whose runs reached the danger marks.
    learned_from_prior: bool,
}

impl Direction {
    fn new(mutants: &[Mutant], prior: Option<&Prior>) -> Self {
        let mut danger_marks: Vec<&'static str> = mutants
            .iter()
            .flat_map(|&m| danger::danger_marks(m))
            .collect();
        danger_marks.sort_unstable();
        danger_marks.dedup();
        let is_danger = |marks: &[String]| reaches(&danger_marks, marks);
        let prior = prior.filter(|prior| prior.runs().iter().any(|(_, marks)| is_danger(marks)));
        let model = prior.map_or_else(direct::Model::default, |prior| {
            direct::Model::from_prior(prior, is_danger)
        });
        Self {
            learned_from_prior: prior.is_some(),
            danger_marks,
            model,
        }
    }

    /// Whether a run with these marks reached the bug's danger (never for a bug with no danger
    /// marks: its fresh seeds go in order).
    fn is_danger(&self, marks: &[String]) -> bool {
        reaches(&self.danger_marks, marks)
    }
}

/// Whether `marks` holds one of `danger_marks`.
fn reaches(danger_marks: &[&str], marks: &[String]) -> bool {
    marks
        .iter()
        .any(|mark| danger_marks.contains(&mark.as_str()))
}

/// The command that reruns fresh seed `seed` of the exploration.
fn replay_command(config: &ExploreConfig, seed: u64) -> String {
    let shape = crate::run::SeedShape {
        service: config.service,
        mutants: config.mutants.clone(),
        ..crate::run::SeedShape::default()
    };
    crate::run::Repro::campaign(seed, &shape).command()
}

/// A kept run, chosen with weight by how rare its rarest mark is, eight times more for one
/// that reached the bug's danger.
fn pick_parent<'a>(
    corpus: &'a [Entry],
    reached: &BTreeMap<String, u64>,
    rng: &mut RngStream,
) -> &'a Entry {
    let weight = |entry: &Entry| {
        let rarest = entry
            .marks
            .iter()
            .filter_map(|name| reached.get(name))
            .min()
            .copied()
            .unwrap_or(u64::MAX / 2)
            .max(1);
        (1_000_000 / rarest).max(1) * if entry.danger { 8 } else { 1 }
    };
    let total: u64 = corpus.iter().map(weight).sum();
    let mut pick = rng.below(total);
    for entry in corpus {
        let w = weight(entry);
        if pick < w {
            return entry;
        }
        pick -= w;
    }
    corpus.last().expect("the corpus is not empty")
}

/// One mutation of a kept run. Half the time it is reseeded: the same configuration (cluster,
/// knobs, fault mix and motifs, which are what made its marks reachable) with new randomness,
/// the nemesis planning anew. Otherwise its schedule is replayed with a fault shifted, dropped
/// or duplicated, two servers swapped in every fault, or one knob drawn again. Returns the run
/// (`None`: the nemesis plans its faults) and the mutation's name.
fn mutate(parent: &Entry, rng: &mut RngStream) -> (RunConfig, Option<FaultSchedule>, String) {
    let mut config = parent.config.clone();
    if rng.chance(0.5) {
        // Far above any swarm range, so it names no campaign seed.
        config.seed = (1 << 40) + rng.below(1 << 40);
        let how = format!("reseeded as {}", config.seed);
        return (config, None, how);
    }
    let faults = parent.faults.faults();
    let end_ns = config.duration_ns;
    let shift = |rng: &mut RngStream, at: u64| {
        let delta = rng.range_inclusive(1, 500) * NANOS_PER_MILLI;
        if rng.chance(0.5) {
            at.saturating_sub(delta)
        } else {
            (at + delta).min(end_ns)
        }
    };
    let servers = config.servers as NodeId;
    let choice = if faults.is_empty() { 4 } else { rng.below(5) };
    let mut list: Vec<(u64, FaultAction<_>)> =
        faults.iter().map(|f| (f.at_ns, f.action.clone())).collect();
    let how = match choice {
        0 => {
            let i = rng.below(list.len() as u64) as usize;
            list[i].0 = shift(rng, list[i].0);
            format!("fault {} shifted", i + 1)
        }
        1 => {
            let i = rng.below(list.len() as u64) as usize;
            list.remove(i);
            format!("fault {} dropped", i + 1)
        }
        2 => {
            let i = rng.below(list.len() as u64) as usize;
            let copy = (shift(rng, list[i].0), list[i].1.clone());
            list.push(copy);
            format!("fault {} duplicated", i + 1)
        }
        3 if servers >= 2 => {
            let a = rng.below(u64::from(servers)) as NodeId;
            let b = (a + 1 + rng.below(u64::from(servers) - 1) as NodeId) % servers;
            for (_, action) in &mut list {
                swap_servers(action, a, b);
            }
            format!(
                "{} and {} swapped",
                sim::names::server(a),
                sim::names::server(b)
            )
        }
        _ => {
            let knobs = &mut config.raft;
            match rng.below(4) {
                0 => knobs.max_inflight_msgs = *rng.pick(&[1, 4, 256]),
                1 => knobs.max_size_per_msg = *rng.pick(&[0, 256, 4096, u64::MAX]),
                2 => config.max_entries_per_msg = *rng.pick(&[1, 4, 64, 1024]),
                _ => config.snapshot_threshold_entries = *rng.pick(&[10, 30, 100, 1_000]),
            }
            "a knob drawn again".to_string()
        }
    };
    let mut schedule = FaultSchedule::default();
    for (at, action) in list {
        schedule.push(at, action);
    }
    (config, Some(schedule), how)
}

/// Exchanges servers `a` and `b` wherever the action names them.
fn swap_servers<A: sim::AdminCommand>(action: &mut FaultAction<A>, a: NodeId, b: NodeId) {
    action.for_each_node_mut(|node| {
        if *node == a {
            *node = b;
        } else if *node == b {
            *node = a;
        }
    });
}
