//! Directed fresh seeds: of the next few unused seeds of the range, the explorer runs the one
//! whose drawn configuration (fault kinds and motifs, read mode, cluster shape, knobs) looks most
//! like those of the runs that reached the bug's danger marks so far. Drawing a configuration
//! costs nothing next to running it; a seed passed over stays a candidate. With nothing learned
//! yet every candidate scores the same and the seeds go in order, as a campaign takes them.
//!
//! The model can start from a prior (`prior`): an earlier campaign of the correct code, whose
//! runs say which configurations reach which marks.

use std::collections::BTreeMap;

use sim::NANOS_PER_MILLI;

use super::Prior;
use crate::campaign::SeedRange;
use crate::config::RunConfig;

/// Candidate seeds weighed against each other for each fresh run, with only the explorer's
/// own runs to learn from: more would let a model learned from a handful of runs pass over
/// most seeds on chance differences.
const CANDIDATES: usize = 8;

/// Candidate seeds with a prior to learn from: measured on a campaign's results (issue 16),
/// 32 of them took fewer runs to reach the bug than 8 or 16 (and about as few as 64).
const CANDIDATES_WITH_PRIOR: usize = 32;

/// The fresh seeds not yet run: the candidates, then the rest of the range.
pub(super) struct Pool {
    candidates: Vec<(u64, RunConfig)>,
    /// How many candidates are weighed.
    width: usize,
    next_seed: u64,
    end: u64,
}

impl Pool {
    pub(super) fn new(seeds: SeedRange, with_prior: bool) -> Self {
        Self {
            candidates: Vec::new(),
            width: if with_prior {
                CANDIDATES_WITH_PRIOR
            } else {
                CANDIDATES
            },
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
        while self.candidates.len() < self.width && self.next_seed < self.end {
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
        ("double-vote", f.double_vote),
        ("snapshot-tail", f.snapshot_tail),
        ("lost-reply-move", f.lost_reply_move),
        ("snapshot-over-tail", f.snapshot_over_tail),
        ("controller", f.controller),
        ("readers", config.readers > 0),
        ("learners", config.initial_learners > 0),
        ("even-start", config.initial_voters.is_some()),
        ("conf-change-on-append", config.conf_change_on_append),
        ("pre-vote", config.raft.pre_vote),
        ("check-quorum", config.raft.check_quorum),
        ("forwarding-off", config.raft.disable_proposal_forwarding),
        ("link-duplication", config.link.duplicate_probability > 0.0),
        ("link-drops", config.link.drop_probability > 0.0),
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
    features.push(("clients", config.clients.min(4) as u64));
    features.push(("keys", config.keys as u64));
    features.push(("snapshot-threshold", config.snapshot_threshold_entries));
    features.push(("entries-per-message", config.max_entries_per_msg as u64));
    features.push(("inflight-messages", config.raft.max_inflight_msgs as u64));
    if let Some(sharded) = config.service.sharded() {
        features.push(("groups", sharded.group_sizes.len() as u64));
        features.push(("shards", sharded.shards as u64));
        features.push(("initial-groups", sharded.initial_groups as u64));
        features.push(("poll-ticks", sharded.poll_ticks));
    }
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
    /// A model that has learned from every run of `prior`, danger being what `is_danger` says
    /// of its marks.
    pub(super) fn from_prior(prior: &Prior, is_danger: impl Fn(&[String]) -> bool) -> Self {
        let mut model = Self::default();
        for (config, marks) in prior.runs() {
            model.learn(config, is_danger(marks));
        }
        model
    }

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
    use super::super::prior::tests::{draw, result};
    use super::*;
    use crate::campaign::SeedResult;
    use crate::config::ServiceKind;

    #[test]
    fn with_nothing_learned_the_seeds_go_in_order_and_each_once() {
        let mut pool = Pool::new(SeedRange { start: 5, end: 25 }, false);
        let model = Model::default();
        let seeds: Vec<u64> =
            std::iter::from_fn(|| pool.take(&model, draw).map(|(seed, _)| seed)).collect();
        assert_eq!(seeds, (5..25).collect::<Vec<_>>());
        assert!(pool.is_empty());
    }

    /// Seed 0's configuration with the Figure 8 motif, and without.
    fn with_and_without_figure8() -> (RunConfig, RunConfig) {
        let mut with = draw(0);
        with.faults.figure8 = true;
        let mut without = with.clone();
        without.faults.figure8 = false;
        (with, without)
    }

    #[test]
    fn a_prior_directs_the_first_choice_and_widens_the_pool() {
        let (like, unlike) = with_and_without_figure8();
        // Twenty runs, each its own seed, of the two configurations in turn.
        let runs: Vec<SeedResult> = (0..20)
            .map(|i| {
                let (config, marks) = if i % 2 == 0 {
                    (&like, "figure8-danger")
                } else {
                    (&unlike, "late-delivery")
                };
                result(
                    RunConfig {
                        seed: i,
                        ..config.clone()
                    },
                    &[marks],
                )
            })
            .collect();
        let prior = Prior::from_results(&runs, ServiceKind::Kv).expect("a prior");
        assert_eq!(prior.len(), 20);
        let model = Model::from_prior(&prior, |marks| marks.iter().any(|m| m == "figure8-danger"));
        // Seed 31 is the only one like the danger runs, the last of 32 candidates.
        let mut pool = Pool::new(SeedRange { start: 0, end: 40 }, true);
        let draw_like_at_31 = |seed| {
            if seed == 31 {
                like.clone()
            } else {
                unlike.clone()
            }
        };
        let (seed, _) = pool.take(&model, draw_like_at_31).expect("a candidate");
        assert_eq!(seed, 31);
        // Without a prior only eight are weighed.
        let mut narrow = Pool::new(SeedRange { start: 0, end: 40 }, false);
        let (seed, _) = narrow.take(&model, draw_like_at_31).expect("a candidate");
        assert_eq!(seed, 0);
    }

    #[test]
    fn a_configuration_like_those_that_reached_danger_scores_higher() {
        let (like, unlike) = with_and_without_figure8();
        let mut model = Model::default();
        for _ in 0..3 {
            model.learn(&like, true);
            model.learn(&unlike, false);
        }
        assert!(model.score(&like) > 1.0, "{}", model.score(&like));
        assert!(model.score(&unlike) < 1.0, "{}", model.score(&unlike));
        // Picked first though a later seed of the pool.
        let mut pool = Pool::new(SeedRange { start: 0, end: 2 }, false);
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
