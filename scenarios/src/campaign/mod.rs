//! Campaigns (BRIEF §10, §11), the fourth layer: many seeds on worker threads (each run
//! single-threaded), one result line per seed.
//!
//! Result lines are handed to the caller in seed order whatever the number of jobs, so
//! `results.jsonl` of `--jobs 1` and `--jobs 2` are identical apart from the `wall_*` fields.
//! The library never reads the wall clock itself: the caller passes a stopwatch.
//!
//! - `output`: the files a campaign writes (results, summary with its request, JUnit).
//! - `merge`: joining shards, and checking they cover the campaign they were part of.

pub mod merge;
pub mod output;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sim::{Names, NodeId, first_divergence};

use crate::config::{Property, RunConfig};
use crate::run::{Repro, RunOptions, SeedShape, catch_panic, run_with};

/// Errors a user can cause: malformed ranges and shards, unreadable or malformed result files.
#[derive(Debug, thiserror::Error)]
pub enum CampaignError {
    #[error("--seeds `{0}`: expected A..B, A..=B or a single seed")]
    BadRange(String),
    #[error("--seeds {0}..{1} is empty (the end is exclusive and must exceed the start)")]
    EmptyRange(u64, u64),
    #[error("--shard `{0}`: expected I/N with 0 <= I < N, e.g. 0/4")]
    BadShard(String),
    #[error("cannot read {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path}:{line}: not what raftsim writes: {error}")]
    Parse {
        path: PathBuf,
        line: usize,
        error: String,
    },
    #[error("seed {0} appears twice with different outcomes")]
    Conflict(u64),
    #[error("cannot write {path}: {error}")]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
}

/// A half-open range of seeds, `start..end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeedRange {
    pub start: u64,
    pub end: u64,
}

impl FromStr for SeedRange {
    type Err = CampaignError;

    fn from_str(text: &str) -> Result<Self, CampaignError> {
        let bad = || CampaignError::BadRange(text.to_string());
        let number = |part: &str| part.trim().parse::<u64>().map_err(|_| bad());
        let (start, end) = if let Some((a, b)) = text.split_once("..=") {
            (number(a)?, number(b)?.checked_add(1).ok_or_else(bad)?)
        } else if let Some((a, b)) = text.split_once("..") {
            (number(a)?, number(b)?)
        } else {
            let seed = number(text)?;
            (seed, seed.checked_add(1).ok_or_else(bad)?)
        };
        if end <= start {
            return Err(CampaignError::EmptyRange(start, end));
        }
        Ok(SeedRange { start, end })
    }
}

impl fmt::Display for SeedRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

/// Shard `index` of `count`: the seeds `start + index`, `start + index + count`, ...
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };
}

impl FromStr for Shard {
    type Err = CampaignError;

    fn from_str(text: &str) -> Result<Self, CampaignError> {
        let bad = || CampaignError::BadShard(text.to_string());
        let (index, count) = text.split_once('/').ok_or_else(bad)?;
        let index: u64 = index.trim().parse().map_err(|_| bad())?;
        let count: u64 = count.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The seeds one campaign (or one shard of it) runs, in increasing order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeedPlan {
    pub range: SeedRange,
    pub shard: Shard,
}

impl SeedPlan {
    pub fn len(&self) -> u64 {
        let span = self.range.end - self.range.start;
        span.saturating_sub(self.shard.index)
            .div_ceil(self.shard.count)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `k`-th seed of the plan; `k < len()`.
    pub fn nth(&self, k: u64) -> u64 {
        assert!(k < self.len(), "seed {k} of a plan of {}", self.len());
        self.range.start + self.shard.index + k * self.shard.count
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
    /// The linearizability checker ran out of budget.
    Unknown,
}

/// One line of `results.jsonl` (BRIEF §11). Wall-clock fields are named `wall_*`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeedResult {
    pub seed: u64,
    pub verdict: Verdict,
    /// The violated property.
    pub property: Option<Property>,
    pub message: Option<String>,
    /// The trace hash as 16 hex digits.
    pub trace_hash: String,
    pub simulated_ns: u64,
    pub events: u64,
    pub messages: u64,
    pub wall_ms: f64,
    pub replay: String,
    pub mutants: Vec<String>,
    pub config: RunConfig,
    /// The coverage marks the run reached, with how often.
    #[serde(default)]
    pub marks: BTreeMap<String, u64>,
}

impl SeedResult {
    /// The line of a run not yet made: a pass, with nothing counted and no marks.
    pub fn before_run(config: RunConfig, replay: String, mutants: Vec<String>) -> SeedResult {
        SeedResult {
            seed: config.seed,
            verdict: Verdict::Pass,
            property: None,
            message: None,
            trace_hash: String::new(),
            simulated_ns: 0,
            events: 0,
            messages: 0,
            wall_ms: 0.0,
            replay,
            mutants,
            config,
            marks: BTreeMap::new(),
        }
    }

    /// Whether this seed fails the CI gate.
    pub fn fails_gate(&self, allow_unknown: bool) -> bool {
        match self.verdict {
            Verdict::Pass => false,
            Verdict::Fail => true,
            Verdict::Unknown => !allow_unknown,
        }
    }

    /// The line with its wall-clock fields zeroed, for comparisons.
    pub fn without_wall(&self) -> SeedResult {
        SeedResult {
            wall_ms: 0.0,
            ..self.clone()
        }
    }

    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).expect("a result line serialises")
    }

    /// `FAIL seed=7 linearizability: ...` and the replay command, for terminals and logs.
    pub fn failure_report(&self) -> String {
        format!(
            "{} seed={} {}: {}\n  replay: {}",
            if self.verdict == Verdict::Unknown {
                "UNKNOWN"
            } else {
                "FAIL"
            },
            self.seed,
            self.property.map_or("?", Property::name),
            self.message.as_deref().unwrap_or(""),
            self.replay
        )
    }
}

/// Runs one seed of `shape` (twice, comparing traces, with `check_determinism`).
/// `wall_ms` is left at zero for the caller to fill. A panic in the run is that seed's finding.
pub fn evaluate(seed: u64, shape: &SeedShape, check_determinism: bool) -> SeedResult {
    let config = shape.config(seed);
    let repro = Repro::campaign(seed, shape);
    let mutants = shape.mutants.iter().map(|m| m.name().to_string()).collect();
    let mut result = SeedResult {
        seed,
        ..SeedResult::before_run(config.clone(), repro.command(), mutants)
    };
    let options = RunOptions {
        record_trace: check_determinism,
        ..RunOptions::default()
    };
    let fail = |result: &mut SeedResult, property: Property, message: String| {
        result.verdict = Verdict::Fail;
        result.property = Some(property);
        result.message = Some(message);
    };
    let outcome = match catch_panic(|| run_with(&config, None, options.clone())) {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(error)) => {
            fail(&mut result, Property::RunError, error.to_string());
            return result;
        }
        Err(panic) => {
            fail(&mut result, Property::Panic, panic);
            return result;
        }
    };
    result.trace_hash = format!("{:016x}", outcome.trace_hash);
    result.simulated_ns = outcome.simulated_ns;
    result.events = outcome.stats.events;
    result.messages = outcome.stats.messages_sent;
    result.marks = outcome.marks.clone();
    if let Some(violation) = &outcome.violation {
        result.verdict = if violation.property == Property::CheckerUnknown {
            Verdict::Unknown
        } else {
            Verdict::Fail
        };
        result.property = Some(violation.property);
        result.message = Some(violation.to_string());
    }
    if check_determinism {
        // The second run replays the schedule the first executed: the same events prove the
        // run deterministic and its recorded schedule an exact replay of it.
        let executed = outcome.faults.clone();
        let second = match catch_panic(|| run_with(&config, Some(executed), options.clone())) {
            Ok(Ok(second)) => second,
            Ok(Err(error)) => {
                fail(&mut result, Property::Nondeterminism, error.to_string());
                return result;
            }
            Err(panic) => {
                let message = format!("only the second run panicked: {panic}");
                fail(&mut result, Property::Nondeterminism, message);
                return result;
            }
        };
        let divergence = first_divergence(&outcome.trace, &second.trace);
        if divergence.is_some() || second.trace_hash != outcome.trace_hash {
            let names = Names::new(config.servers as NodeId);
            let message = match divergence {
                Some(divergence) => divergence.describe(names),
                None => format!(
                    "trace hashes differ ({:016x} vs {:016x}) over identical events",
                    outcome.trace_hash, second.trace_hash
                ),
            };
            fail(&mut result, Property::Nondeterminism, message);
        }
    }
    result
}

/// What a campaign runs.
#[derive(Clone, Debug)]
pub struct CampaignConfig {
    pub plan: SeedPlan,
    pub shape: SeedShape,
    /// Worker threads; each runs one seed at a time.
    pub jobs: usize,
    pub check_determinism: bool,
    /// Stop handing out seeds after the first gate failure.
    pub fail_fast: bool,
    pub allow_unknown: bool,
}

/// How a campaign ended.
#[derive(Debug)]
pub struct CampaignEnd {
    /// Every finished seed, in seed order.
    pub results: Vec<SeedResult>,
    /// Stopped by the caller's flag (Ctrl-C) before every seed ran.
    pub interrupted: bool,
    /// Stopped by `fail_fast`.
    pub stopped_at_failure: bool,
}

/// Reads elapsed wall time since the campaign began; supplied by the binary.
pub type Stopwatch = dyn Fn() -> Duration + Sync;

/// Runs the campaign on `config.jobs` threads. Seeds are handed out in order from a shared
/// counter; `sink` sees each result on the calling thread, in seed order, as soon as every
/// earlier seed has finished. Setting `stop` stops handing out seeds; seeds already running
/// finish and are reported, so the reported seeds are always a prefix of the plan.
pub fn run_campaign(
    config: &CampaignConfig,
    stop: &AtomicBool,
    stopwatch: &Stopwatch,
    sink: &mut dyn FnMut(&SeedResult) -> std::io::Result<()>,
) -> std::io::Result<CampaignEnd> {
    assert!(config.jobs >= 1, "a campaign needs at least one job");
    let total = config.plan.len();
    let next = AtomicU64::new(0);
    let halt = AtomicBool::new(false);
    let (sender, receiver) = mpsc::channel::<(u64, SeedResult)>();
    let mut results = Vec::new();
    let mut sink_error = None;
    let mut stopped_at_failure = false;
    std::thread::scope(|scope| {
        for _ in 0..config.jobs {
            let sender = sender.clone();
            let (next, halt) = (&next, &halt);
            scope.spawn(move || {
                while !stop.load(Ordering::SeqCst) && !halt.load(Ordering::SeqCst) {
                    let k = next.fetch_add(1, Ordering::SeqCst);
                    if k >= total {
                        break;
                    }
                    let started = stopwatch();
                    let seed = config.plan.nth(k);
                    let mut result = evaluate(seed, &config.shape, config.check_determinism);
                    let wall = stopwatch().saturating_sub(started);
                    result.wall_ms = (wall.as_secs_f64() * 1e6).round() / 1e3;
                    if sender.send((k, result)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);
        // Results arrive in completion order; hold each until all earlier seeds are in.
        let mut pending: BTreeMap<u64, SeedResult> = BTreeMap::new();
        for (k, result) in receiver {
            pending.insert(k, result);
            while let Some(result) = pending.remove(&(results.len() as u64)) {
                if sink_error.is_none()
                    && let Err(error) = sink(&result)
                {
                    sink_error = Some(error);
                    halt.store(true, Ordering::SeqCst);
                }
                if config.fail_fast && result.fails_gate(config.allow_unknown) {
                    stopped_at_failure = true;
                    halt.store(true, Ordering::SeqCst);
                }
                results.push(result);
            }
        }
        assert!(pending.is_empty(), "every handed-out seed was reported");
    });
    if let Some(error) = sink_error {
        return Err(error);
    }
    let interrupted = (results.len() as u64) < total && !stopped_at_failure;
    Ok(CampaignEnd {
        results,
        interrupted,
        stopped_at_failure,
    })
}

/// serde_json's message, first line only and bounded: it may quote a whole input value.
fn short_json_error(error: &serde_json::Error) -> String {
    let text = error.to_string();
    sim::text::shorten_to(text.lines().next().unwrap_or(""), 160)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_ranges_parse_and_reject_empty_ones() {
        let range: SeedRange = "0..100".parse().unwrap();
        assert_eq!((range.start, range.end), (0, 100));
        let range: SeedRange = "3..=5".parse().unwrap();
        assert_eq!((range.start, range.end), (3, 6));
        let range: SeedRange = "7".parse().unwrap();
        assert_eq!((range.start, range.end), (7, 8));
        assert!(matches!(
            "5..2".parse::<SeedRange>(),
            Err(CampaignError::EmptyRange(5, 2))
        ));
        assert!("5..5".parse::<SeedRange>().is_err());
        assert!("a..b".parse::<SeedRange>().is_err());
        assert!("1..2..3".parse::<SeedRange>().is_err());
    }

    #[test]
    fn shards_partition_the_range() {
        assert!("3/2".parse::<Shard>().is_err());
        assert!("0/0".parse::<Shard>().is_err());
        assert!("1".parse::<Shard>().is_err());
        let range = SeedRange { start: 10, end: 21 };
        let mut seen = Vec::new();
        for index in 0..3 {
            let plan = SeedPlan {
                range,
                shard: format!("{index}/3").parse().unwrap(),
            };
            seen.extend((0..plan.len()).map(|k| plan.nth(k)));
        }
        seen.sort_unstable();
        assert_eq!(seen, (10..21).collect::<Vec<_>>());
        let tiny = SeedPlan {
            range: SeedRange { start: 0, end: 2 },
            shard: Shard { index: 3, count: 4 },
        };
        assert!(tiny.is_empty());
    }
}
