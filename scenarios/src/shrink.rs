//! Shrinking a failing run (BRIEF §10): remove faults, clients, operations and time while the
//! failure keeps its kind (the same violated property), then write the result as a seeded-run
//! scenario script that replays it.
//!
//! Every candidate is one deterministic run with a fixed fault schedule, and candidates are tried
//! in a fixed order, so shrinking the same failure twice gives the same result.

use std::fmt;

use sim::NANOS_PER_MILLI;

use crate::config::{Property, RunConfig};
use crate::harness::FaultSchedule;
use crate::run::{RunError, RunOptions, run_with};
use crate::script::render_seeded_run;

/// How big a failing run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size {
    pub faults: usize,
    pub clients: usize,
    pub operations: usize,
    pub duration_ns: u64,
}

impl Size {
    /// One number to compare sizes by: (fault actions + 1) x (operations + 1) x milliseconds.
    pub fn weight(&self) -> u64 {
        (self.faults as u64 + 1)
            * (self.operations as u64 + 1)
            * (self.duration_ns / NANOS_PER_MILLI)
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} fault actions, {} clients, {} operations, {}ms",
            self.faults,
            self.clients,
            self.operations,
            self.duration_ns / NANOS_PER_MILLI
        )
    }
}

pub struct Shrunk {
    pub property: Property,
    pub before: Size,
    pub after: Size,
    pub config: RunConfig,
    pub faults: FaultSchedule,
    /// Candidate runs tried.
    pub runs: u32,
}

impl Shrunk {
    /// The minimal failure as a seeded-run scenario script.
    pub fn script(&self, description: &str) -> String {
        render_seeded_run(&self.config, &self.faults, Some(self.property), description)
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShrinkError {
    /// The run cannot start.
    #[error("{0}")]
    Run(#[from] RunError),
    /// The run passes: there is nothing to shrink.
    #[error("the run passes: there is nothing to shrink")]
    Passes,
}

struct Shrinker {
    property: Property,
    runs: u32,
    runs_max: u32,
}

impl Shrinker {
    /// Runs the candidate; its size when it fails with the same property and weighs no more
    /// than `current` (fewer faults can let more operations complete: a smaller schedule is not
    /// always a smaller run).
    fn fails(
        &mut self,
        config: &RunConfig,
        faults: &FaultSchedule,
        current: &Size,
    ) -> Option<Size> {
        if self.runs >= self.runs_max {
            return None;
        }
        self.runs += 1;
        let outcome = run_with(config, Some(faults.clone()), RunOptions::default()).ok()?;
        let same = outcome
            .violation
            .as_ref()
            .is_some_and(|v| v.property == self.property);
        same.then(|| size_of(config, faults, outcome.history.len()))
            .filter(|found| found.weight() <= current.weight())
    }
}

fn size_of(config: &RunConfig, faults: &FaultSchedule, operations: usize) -> Size {
    Size {
        faults: faults.len(),
        clients: config.clients,
        operations,
        duration_ns: config.duration_ns,
    }
}

/// Shrinks the failing run of `config` (its faults drawn by the nemesis), trying at most
/// `runs_max` candidate runs.
pub fn shrink(config: &RunConfig, runs_max: u32) -> Result<Shrunk, ShrinkError> {
    shrink_with(config, None, runs_max)
}

/// Shrinks the failing run of `config` under `faults` (the nemesis's when `None`).
pub fn shrink_with(
    config: &RunConfig,
    faults: Option<FaultSchedule>,
    runs_max: u32,
) -> Result<Shrunk, ShrinkError> {
    let outcome = run_with(config, faults, RunOptions::default())?;
    let property = outcome
        .violation
        .as_ref()
        .map(|v| v.property)
        .ok_or(ShrinkError::Passes)?;
    let before = size_of(config, &outcome.faults, outcome.history.len());
    let mut shrinker = Shrinker {
        property,
        runs: 0,
        runs_max,
    };
    let mut config = config.clone();
    let mut faults = outcome.faults;
    let mut size = before;
    loop {
        let start = size;
        shrink_faults(&mut shrinker, &config, &mut faults, &mut size);
        shrink_clients(&mut shrinker, &mut config, &faults, &mut size);
        shrink_operations(&mut shrinker, &mut config, &faults, &mut size);
        shrink_duration(&mut shrinker, &mut config, &mut faults, &mut size);
        if size == start || shrinker.runs >= runs_max {
            break;
        }
    }
    Ok(Shrunk {
        property,
        before,
        after: size,
        config,
        faults,
        runs: shrinker.runs,
    })
}

/// Removes chunks of fault actions (halves, quarters, ... single actions) while the run still
/// fails the same way.
fn shrink_faults(
    shrinker: &mut Shrinker,
    config: &RunConfig,
    faults: &mut FaultSchedule,
    size: &mut Size,
) {
    let mut chunk = faults.len().div_ceil(2).max(1);
    while !faults.is_empty() {
        let mut start = 0;
        while start < faults.len() {
            let end = (start + chunk).min(faults.len());
            let positions: Vec<usize> = (start..end).collect();
            let candidate = faults.without(&positions);
            if let Some(found) = shrinker.fails(config, &candidate, size) {
                *faults = candidate;
                *size = found;
            } else {
                start = end;
            }
        }
        if chunk == 1 {
            break;
        }
        chunk = chunk.div_ceil(2);
    }
}

/// Fewer clients, one at a time from one upwards: the fewest that still fail.
fn shrink_clients(
    shrinker: &mut Shrinker,
    config: &mut RunConfig,
    faults: &FaultSchedule,
    size: &mut Size,
) {
    for clients in 1..config.clients {
        let candidate = RunConfig {
            clients,
            ..config.clone()
        };
        if let Some(found) = shrinker.fails(&candidate, faults, size) {
            *config = candidate;
            *size = found;
            return;
        }
    }
}

/// A cap on operations per client, halved while the run still fails.
fn shrink_operations(
    shrinker: &mut Shrinker,
    config: &mut RunConfig,
    faults: &FaultSchedule,
    size: &mut Size,
) {
    let per_client = (size.operations / config.clients.max(1)).max(1) as u64;
    let mut cap = config.ops_per_client.unwrap_or(per_client).min(per_client);
    while cap > 1 {
        let next = cap / 2;
        let candidate = RunConfig {
            ops_per_client: Some(next),
            ..config.clone()
        };
        match shrinker.fails(&candidate, faults, size) {
            Some(found) => {
                *config = candidate;
                *size = found;
                cap = next;
            }
            None => return,
        }
    }
}

/// A shorter safety phase (faults after it dropped), halving the time cut while it fails.
fn shrink_duration(
    shrinker: &mut Shrinker,
    config: &mut RunConfig,
    faults: &mut FaultSchedule,
    size: &mut Size,
) {
    let mut cut = config.duration_ns / 2;
    while cut >= 100 * NANOS_PER_MILLI {
        let duration_ns = config.duration_ns - cut;
        let late: Vec<usize> = faults
            .faults()
            .iter()
            .enumerate()
            .filter(|(_, f)| f.at_ns > duration_ns)
            .map(|(i, _)| i)
            .collect();
        let candidate_faults = faults.without(&late);
        let candidate = RunConfig {
            duration_ns,
            ..config.clone()
        };
        if let Some(found) = shrinker.fails(&candidate, &candidate_faults, size) {
            *config = candidate;
            *faults = candidate_faults;
            *size = found;
        } else {
            cut /= 2;
        }
    }
}
