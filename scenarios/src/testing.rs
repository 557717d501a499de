//! raftsim from a user's `cargo test`: run seeded campaigns against any Raft implementation
//! that implements [`engine::Engine`], and fail the test with the seeds and the commands that
//! replay them.
//!
//! ```no_run
//! # use scenarios::testing::Campaign;
//! # type MyRaft = raft::RawNode<raft::MemStorage>;
//! let report = Campaign::new::<MyRaft>("my-raft").seeds(0..100).run();
//! report.assert_passed();
//! ```
//!
//! The seeds come from the environment when it names them, as madsim's `MADSIM_TEST_SEED`
//! does: `RAFTSIM_SEED=5` runs seed 5 alone (how a failure is replayed), `RAFTSIM_SEEDS=0..1000`
//! a range (a longer hunt in CI). Each seed draws its own configuration and faults (a swarm
//! seed), fitted to what an engine other than ours can express (`swarm::fit_engine`).

use std::ops::Range;

use engine::Engine;

use crate::config::swarm::{Shape, config_for, fit_engine};
use crate::config::{RunConfig, ServiceKind};
use crate::engines::{self, EngineChoice};
use crate::run::{Repro, SeedShape};

/// The environment variable naming one seed to run.
pub const SEED_VAR: &str = "RAFTSIM_SEED";
/// The environment variable naming a range of seeds (`A..B`, or one seed).
pub const SEEDS_VAR: &str = "RAFTSIM_SEEDS";

/// Seeds against one engine. Build it, then [`Campaign::run`].
#[derive(Clone, Debug)]
pub struct Campaign {
    engine: EngineChoice,
    seeds: Range<u64>,
    shape: Shape,
    duration_ms: Option<u64>,
}

impl Campaign {
    /// A campaign against `E`, registered under `name` (how its results and replays name it).
    pub fn new<E: Engine + 'static>(name: &str) -> Campaign {
        engines::register::<E>(name);
        Campaign::of(EngineChoice::Custom(name.to_string()))
    }

    /// A campaign against a built-in engine (ours, or tikv/raft-rs).
    pub fn of(engine: EngineChoice) -> Campaign {
        Campaign {
            engine,
            seeds: 0..100,
            shape: Shape::Swarm,
            duration_ms: None,
        }
    }

    /// The seeds to run unless `RAFTSIM_SEED` or `RAFTSIM_SEEDS` names others.
    pub fn seeds(mut self, seeds: Range<u64>) -> Campaign {
        self.seeds = seeds;
        self
    }

    /// Every seed runs the standard run (5 servers, default faults) instead of its own draw.
    pub fn standard(mut self) -> Campaign {
        self.shape = Shape::Standard;
        self
    }

    /// Shortens (or lengthens) each seed's safety phase, in simulated milliseconds.
    pub fn duration_ms(mut self, duration_ms: u64) -> Campaign {
        self.duration_ms = Some(duration_ms);
        self
    }

    /// The seeds this campaign runs: the environment's, else those given.
    pub fn planned_seeds(&self) -> Result<Range<u64>, String> {
        seeds_from_env(
            std::env::var(SEED_VAR).ok().as_deref(),
            std::env::var(SEEDS_VAR).ok().as_deref(),
        )
        .map(|seeds| seeds.unwrap_or(self.seeds.clone()))
    }

    /// The configuration of `seed`.
    pub fn config(&self, seed: u64) -> RunConfig {
        let mut config = config_for(seed, self.shape, ServiceKind::Kv, &[]);
        if let Some(duration_ms) = self.duration_ms {
            config.duration_ns = duration_ms.saturating_mul(sim::NANOS_PER_MILLI);
        }
        fit_engine(&mut config, &self.engine);
        config
    }

    /// Runs every seed, in order, on this thread.
    pub fn run(&self) -> CampaignReport {
        let seeds = match self.planned_seeds() {
            Ok(seeds) => seeds,
            Err(message) => panic!("{message}"),
        };
        let mut report = CampaignReport {
            engine: self.engine.clone(),
            seeds: seeds.clone(),
            events: 0,
            failures: Vec::new(),
        };
        for seed in seeds {
            let config = self.config(seed);
            let failure = |verdict: String| Failure {
                seed,
                verdict,
                replay: self.replay(seed),
            };
            match crate::run(&config) {
                Ok(outcome) => {
                    report.events += outcome.stats.events;
                    if let Some(violation) = &outcome.violation {
                        report.failures.push(failure(violation.to_string()));
                    }
                }
                Err(error) => report
                    .failures
                    .push(failure(format!("cannot run: {error}"))),
            }
        }
        report
    }

    /// How one seed is run again: under `cargo test` always; with the `raftsim` binary too
    /// when the engine is one it has.
    pub fn replay(&self, seed: u64) -> String {
        let under_test = format!("{SEED_VAR}={seed} cargo test");
        if matches!(self.engine, EngineChoice::Custom(_)) {
            return under_test;
        }
        let shape = SeedShape {
            shape: self.shape,
            service: ServiceKind::Kv,
            mutants: Vec::new(),
            duration_ns: self
                .duration_ms
                .map(|ms| ms.saturating_mul(sim::NANOS_PER_MILLI)),
            engine: self.engine.clone(),
        };
        format!(
            "{under_test}  (or: {})",
            Repro::campaign(seed, &shape).command()
        )
    }
}

/// Reads `RAFTSIM_SEED` (one seed) or `RAFTSIM_SEEDS` (`A..B` or one seed); `None` when
/// neither is set. `RAFTSIM_SEED` wins when both are.
pub fn seeds_from_env(
    seed: Option<&str>,
    seeds: Option<&str>,
) -> Result<Option<Range<u64>>, String> {
    let number = |var: &str, text: &str| {
        text.trim()
            .parse::<u64>()
            .map_err(|_| format!("{var}={text} is not a seed (a whole number)"))
    };
    if let Some(text) = seed {
        let seed = number(SEED_VAR, text)?;
        return Ok(Some(seed..seed.saturating_add(1)));
    }
    let Some(text) = seeds else {
        return Ok(None);
    };
    let Some((start, end)) = text.split_once("..") else {
        let seed = number(SEEDS_VAR, text)?;
        return Ok(Some(seed..seed.saturating_add(1)));
    };
    let (start, end) = (number(SEEDS_VAR, start)?, number(SEEDS_VAR, end)?);
    if start >= end {
        return Err(format!("{SEEDS_VAR}={text} holds no seed"));
    }
    Ok(Some(start..end))
}

/// One failing seed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub seed: u64,
    /// The violation (property, nodes, term, index, what happened).
    pub verdict: String,
    /// The command that runs this seed again.
    pub replay: String,
}

/// What a campaign found.
#[derive(Clone, Debug)]
pub struct CampaignReport {
    pub engine: EngineChoice,
    pub seeds: Range<u64>,
    /// Simulated events over every seed.
    pub events: u64,
    pub failures: Vec<Failure>,
}

impl CampaignReport {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    /// Panics (failing the test) naming every failing seed, its violation and its replay.
    pub fn assert_passed(&self) {
        assert!(self.passed(), "{self}");
    }
}

/// `engine my-raft: seeds 0..100: 2 failed` and a line per failure.
impl std::fmt::Display for CampaignReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = self.seeds.end - self.seeds.start;
        write!(
            f,
            "engine {}: seeds {}..{} ({count}): {} failed",
            self.engine,
            self.seeds.start,
            self.seeds.end,
            self.failures.len()
        )?;
        for failure in &self.failures {
            write!(
                f,
                "\nseed {}: {}\n  replay: {}",
                failure.seed, failure.verdict, failure.replay
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_come_from_the_environment_when_it_names_them() {
        assert_eq!(seeds_from_env(None, None), Ok(None));
        assert_eq!(seeds_from_env(Some("5"), Some("0..9")), Ok(Some(5..6)));
        assert_eq!(seeds_from_env(None, Some("3..7")), Ok(Some(3..7)));
        assert_eq!(seeds_from_env(None, Some("4")), Ok(Some(4..5)));
        assert!(seeds_from_env(Some("x"), None).is_err());
        assert!(seeds_from_env(None, Some("7..3")).is_err());
    }

    #[test]
    fn a_custom_engine_replays_under_cargo_test() {
        let campaign = Campaign::new::<raft::RawNode<raft::MemStorage>>("test-ours");
        assert_eq!(campaign.replay(12), "RAFTSIM_SEED=12 cargo test");
        let raft_rs = Campaign::of(EngineChoice::RaftRs);
        assert_eq!(
            raft_rs.replay(3),
            "RAFTSIM_SEED=3 cargo test  (or: raftsim replay --seed 3 --engine raft-rs)"
        );
    }
}
