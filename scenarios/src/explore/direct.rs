//! Directed fresh seeds: of the next few unused seeds of the range, the explorer runs the one
//! whose drawn configuration (fault kinds and motifs, read mode, cluster shape, knobs) looks most
//! like those of the runs that reached the bug's danger marks so far. Drawing a configuration
//! costs nothing next to running it; a seed passed over stays a candidate. With nothing learned
//! yet every candidate scores the same and the seeds go in order, as a campaign takes them.

use std::collections::BTreeMap;

use sim::NANOS_PER_MILLI;

use crate::campaign::SeedRange;
use crate::config::RunConfig;

/// Candidate seeds weighed against each other for each fresh run.
const CANDIDATES: usize = 8;

/// The fresh seeds not yet run: the candidates, then the rest of the range.
pub(super) struct Pool {
    candidates: Vec<(u64, RunConfig)>,
    next_seed: u64,
    end: u64,
}

impl Pool {
    pub(super) fn new(seeds: SeedRange) -> Self {
        Self {
            candidates: Vec::new(),
            next_seed: seeds.start,
            end: seeds.end,
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.candidates.is_empty() && self.next_seed >= self.end
    }

    /// The candidate the model scores highest (the earliest seed of equals), drawn with `draw`.
    pub(super) fn take(
        &mut self,
        model: &Model,
        draw: impl Fn(u64) -> RunConfig,
    ) -> Option<(u64, RunConfig)> {
        while self.candidates.len() < CANDIDATES && self.next_seed < self.end {
            self.candidates.push((self.next_seed, draw(self.next_seed)));
            self.next_seed += 1;
        }
        let mut best: Option<(usize, f64)> = None;
        for (i, (_, config)) in self.candidates.iter().enumerate() {
            let score = model.score(config);
            if best.is_none_or(|(_, top)| score > top) {
                best = Some((i, score));
            }
        }
        let (i, _) = best?;
        Some(self.candidates.remove(i))
    }
}

/// A configuration's features, each a name and a value.
fn features(config: &RunConfig) -> Vec<(&'static str, u64)> {
    let f = &config.faults;
    let flags = [
        ("partitions", f.partitions),
        ("one-way-cuts", f.one_way_cuts),
        ("crashes", f.crashes),
        ("pauses", f.pauses),
        ("clock-drift", f.clock_drift),
        ("link-loss", f.link_loss),
        ("bounces", f.bounces),
        ("power-loss", f.power_loss),
        ("duplication", f.duplication),
        ("membership", f.membership),
        ("figure8", f.figure8),
        ("stale-leader", f.stale_leader),
        ("crash-after-commit", f.crash_after_commit),
        ("split-vote", f.split_vote),
        ("single-change", f.single_change),
        ("multi-change", f.multi_change),
        ("controller", f.controller),
        ("readers", config.readers > 0),
        ("learners", config.initial_learners > 0),
        ("even-start", config.initial_voters.is_some()),
        ("conf-change-on-append", config.conf_change_on_append),
        ("pre-vote", config.raft.pre_vote),
        ("check-quorum", config.raft.check_quorum),
        ("forwarding-off", config.raft.disable_proposal_forwarding),
        ("link-duplication", config.link.duplicate_probability > 0.0),
        (
            "slow-sync",
            config.disk.sync_latency_ns_max > 2 * NANOS_PER_MILLI,
        ),
        ("torn-writes", config.disk.torn_write_probability > 0.0),
        ("many-faults", f.count >= 8),
        ("aimed-at-leader", f.aim_at_leader_percent >= 50),
        ("reactive", f.reactive_percent >= 50),
    ];
    let mut features: Vec<(&'static str, u64)> = flags
        .into_iter()
        .map(|(name, on)| (name, u64::from(on)))
        .collect();
    features.push(("servers", config.servers as u64));
    features.push(("read-mode", config.read_mode as u64));
    features
}

/// How often runs with each feature reached danger: a naive Bayes estimate, smoothed so that a
/// feature seen in few runs says little.
#[derive(Default)]
pub(super) struct Model {
    /// Runs and danger reached, per feature value.
    counts: BTreeMap<(&'static str, u64), (u64, u64)>,
    runs: u64,
    hits: u64,
}

impl Model {
    pub(super) fn learn(&mut self, config: &RunConfig, danger: bool) {
        self.runs += 1;
        self.hits += u64::from(danger);
        for feature in features(config) {
            let (runs, hits) = self.counts.entry(feature).or_insert((0, 0));
            *runs += 1;
            *hits += u64::from(danger);
        }
    }

    /// The odds this configuration reaches danger against a run's odds: the product of each
    /// feature value's rate over the overall rate. Only multiplications and divisions, so the
    /// same on every platform.
    pub(super) fn score(&self, config: &RunConfig) -> f64 {
        let base = (self.hits as f64 + 1.0) / (self.runs as f64 + 2.0);
        features(config)
            .into_iter()
            .map(|feature| {
                let (runs, hits) = self.counts.get(&feature).copied().unwrap_or((0, 0));
                (hits as f64 + 2.0 * base) / (runs as f64 + 2.0) / base
            })
            .product()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ServiceKind;
    use crate::config::swarm::{self, Shape};

    fn draw(seed: u64) -> RunConfig {
        swarm::config_for(seed, Shape::Swarm, ServiceKind::Kv, &[])
    }

    #[test]
    fn with_nothing_learned_the_seeds_go_in_order_and_each_once() {
        let mut pool = Pool::new(SeedRange { start: 5, end: 25 });
        let model = Model::default();
        let seeds: Vec<u64> =
            std::iter::from_fn(|| pool.take(&model, draw).map(|(seed, _)| seed)).collect();
        assert_eq!(seeds, (5..25).collect::<Vec<_>>());
        assert!(pool.is_empty());
    }

    #[test]
    fn a_configuration_like_those_that_reached_danger_scores_higher() {
        let mut like = draw(0);
        like.faults.figure8 = true;
        let mut unlike = like.clone();
        unlike.faults.figure8 = false;
        let mut model = Model::default();
        for _ in 0..3 {
            model.learn(&like, true);
            model.learn(&unlike, false);
        }
        assert!(model.score(&like) > 1.0, "{}", model.score(&like));
        assert!(model.score(&unlike) < 1.0, "{}", model.score(&unlike));
        // Picked first though a later seed of the pool.
        let mut pool = Pool::new(SeedRange { start: 0, end: 2 });
        let (seed, _) = pool
            .take(&model, |seed| {
                if seed == 0 {
                    unlike.clone()
                } else {
                    like.clone()
                }
            })
            .expect("a candidate");
        assert_eq!(seed, 1);
    }
}
