//! Runs to first detection, plain swarm against the explorer, measured honestly: one starting
//! point is noise (swarm catches many mutants at its first seed or two), so the seed range is cut
//! into windows and each mutant is searched for from the start of every window, once by the swarm
//! (the window's seeds in order, as `raftsim campaign` runs them) and once by the explorer (the
//! window as its fresh seeds, the same number of runs at most). Both count every run they make.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};

use crate::campaign::{SeedRange, Verdict, evaluate};
use crate::config::{Mutant, ServiceKind};
use crate::run::{RunError, SeedShape};

use super::{ExploreConfig, Prior, explore};

/// What to compare.
#[derive(Clone, Debug)]
pub struct CompareConfig {
    /// Cut into `windows` equal windows; each is one search from its start.
    pub seeds: SeedRange,
    pub windows: u64,
    pub service: ServiceKind,
    /// Each compared on its own (one row per mutant).
    pub mutants: Vec<Mutant>,
    /// Threads; the searches are independent.
    pub jobs: usize,
    /// The explorer's prior: a campaign of the correct code on seeds outside the windows.
    pub prior: Option<Arc<Prior>>,
}

/// How a search ended: the runs it made to its first failure, or `None` when the window's
/// budget ran out first.
pub type Detection = Option<u64>;

/// One mutant's searches, window by window.
#[derive(Clone, Debug, PartialEq)]
pub struct CompareRow {
    pub mutant: Mutant,
    /// Runs to detection per window: plain swarm.
    pub swarm: Vec<Detection>,
    /// Runs to detection per window: the explorer.
    pub explorer: Vec<Detection>,
    /// Runs each window allows (its seed count), counted for a search that found nothing.
    pub budget: u64,
}

impl CompareRow {
    /// Mean runs to detection, a window with none counted as its whole budget (so a mean with
    /// misses is a lower bound).
    pub fn mean(&self, searches: &[Detection]) -> f64 {
        let total: u64 = searches.iter().map(|d| d.unwrap_or(self.budget)).sum();
        total as f64 / searches.len().max(1) as f64
    }

    /// Median runs to detection (misses counted as the budget, as in `mean`).
    pub fn median(&self, searches: &[Detection]) -> f64 {
        let mut runs: Vec<u64> = searches.iter().map(|d| d.unwrap_or(self.budget)).collect();
        runs.sort_unstable();
        match runs.len() {
            0 => 0.0,
            n if n % 2 == 1 => runs[n / 2] as f64,
            n => (runs[n / 2 - 1] + runs[n / 2]) as f64 / 2.0,
        }
    }

    /// Windows where the explorer needed fewer runs, as many, more.
    pub fn explorer_fewer_equal_more(&self) -> (usize, usize, usize) {
        let mut tally = (0, 0, 0);
        for (swarm, explorer) in self.swarm.iter().zip(&self.explorer) {
            let swarm = swarm.unwrap_or(self.budget + 1);
            let explorer = explorer.unwrap_or(self.budget + 1);
            match explorer.cmp(&swarm) {
                std::cmp::Ordering::Less => tally.0 += 1,
                std::cmp::Ordering::Equal => tally.1 += 1,
                std::cmp::Ordering::Greater => tally.2 += 1,
            }
        }
        tally
    }
}

/// The windows of `seeds`, in order, all of one size (a remainder that does not divide evenly
/// is left out, so every search has the same budget).
pub fn windows(seeds: SeedRange, count: u64) -> Vec<SeedRange> {
    let count = count.clamp(1, (seeds.end - seeds.start).max(1));
    let size = (seeds.end - seeds.start) / count;
    (0..count)
        .map(|w| SeedRange {
            start: seeds.start + w * size,
            end: seeds.start + (w + 1) * size,
        })
        .collect()
}

/// Plain swarm: the window's seeds in order until one fails.
pub fn swarm_search(window: SeedRange, service: ServiceKind, mutant: Mutant) -> Detection {
    let shape = SeedShape {
        service,
        mutants: vec![mutant],
        ..SeedShape::default()
    };
    (window.start..window.end)
        .find(|&seed| evaluate(seed, &shape, false).verdict == Verdict::Fail)
        .map(|seed| seed - window.start + 1)
}

/// The explorer: the window as its fresh seeds, as many runs at most as the window has seeds.
pub fn explorer_search(
    window: SeedRange,
    service: ServiceKind,
    mutant: Mutant,
    prior: Option<Arc<Prior>>,
) -> Result<Detection, RunError> {
    let config = ExploreConfig {
        seeds: window,
        service,
        mutants: vec![mutant],
        runs_max: window.end - window.start,
        prior,
    };
    let end = explore(&config, &mut |_| {})?;
    Ok(end.failure.map(|(run, _)| run))
}

/// One search: which mutant, which window, which searcher.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Task {
    mutant: usize,
    window: usize,
    explorer: bool,
}

/// Every mutant's searches from every window, on `config.jobs` threads; `on_row` sees each row
/// as soon as it and every row before it are complete, in the order of `config.mutants`.
pub fn compare(
    config: &CompareConfig,
    on_row: &mut dyn FnMut(&CompareRow),
) -> Result<Vec<CompareRow>, RunError> {
    let windows = windows(config.seeds, config.windows);
    let budget = windows.first().map_or(0, |w| w.end - w.start);
    let tasks: Vec<Task> = (0..config.mutants.len())
        .flat_map(|mutant| {
            (0..windows.len()).flat_map(move |window| {
                [false, true].map(|explorer| Task {
                    mutant,
                    window,
                    explorer,
                })
            })
        })
        .collect();
    let next = AtomicUsize::new(0);
    let (sender, receiver) = mpsc::channel::<(Task, Result<Detection, RunError>)>();
    let mut rows = Vec::new();
    let mut error = None;
    std::thread::scope(|scope| {
        for _ in 0..config.jobs.max(1) {
            let sender = sender.clone();
            let (next, tasks, windows) = (&next, &tasks, &windows);
            scope.spawn(move || {
                while let Some(&task) = tasks.get(next.fetch_add(1, Ordering::SeqCst)) {
                    let mutant = config.mutants[task.mutant];
                    let window = windows[task.window];
                    let detection = if task.explorer {
                        explorer_search(window, config.service, mutant, config.prior.clone())
                    } else {
                        Ok(swarm_search(window, config.service, mutant))
                    };
                    if sender.send((task, detection)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);
        let mut done: BTreeMap<Task, Detection> = BTreeMap::new();
        for (task, detection) in receiver {
            match detection {
                Ok(detection) => {
                    done.insert(task, detection);
                }
                Err(e) => {
                    error.get_or_insert(e);
                }
            }
            // Emit every row now complete, in order.
            while rows.len() < config.mutants.len() {
                let mutant = rows.len();
                let searches = |explorer: bool| -> Option<Vec<Detection>> {
                    (0..windows.len())
                        .map(|window| {
                            done.get(&Task {
                                mutant,
                                window,
                                explorer,
                            })
                            .copied()
                        })
                        .collect()
                };
                let (Some(swarm), Some(explorer)) = (searches(false), searches(true)) else {
                    break;
                };
                let row = CompareRow {
                    mutant: config.mutants[mutant],
                    swarm,
                    explorer,
                    budget,
                };
                on_row(&row);
                rows.push(row);
            }
        }
    });
    match error {
        Some(error) => Err(error),
        None => Ok(rows),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_equal_in_order_and_drop_the_remainder() {
        let seeds = SeedRange { start: 10, end: 41 };
        let cut: Vec<(u64, u64)> = windows(seeds, 3)
            .into_iter()
            .map(|w| (w.start, w.end))
            .collect();
        assert_eq!(cut, [(10, 20), (20, 30), (30, 40)]);
        assert_eq!(windows(SeedRange { start: 0, end: 2 }, 5).len(), 2);
    }

    #[test]
    fn a_miss_counts_as_the_whole_budget_and_ties_are_equal() {
        let row = CompareRow {
            mutant: Mutant::Raft(raft::Mutant::NoDedup),
            swarm: vec![Some(1), Some(4), None],
            explorer: vec![Some(1), Some(2), Some(9)],
            budget: 10,
        };
        assert_eq!(row.mean(&row.swarm), 5.0);
        assert_eq!(row.median(&row.swarm), 4.0);
        assert_eq!(row.mean(&row.explorer), 4.0);
        assert_eq!(row.explorer_fewer_equal_more(), (2, 1, 0));
    }
}
