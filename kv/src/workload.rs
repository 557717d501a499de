//! The workload generator (BRIEF §6): what each client does next, and how long it thinks first.
//!
//! Few keys by default, so operations contend. Every written value is unique to its operation
//! (`cK-N` for client K counted from one, appended as `cK-N;`), so a value read pins down which write it came
//! from and the checker stays sharp. A `Cas` expects, half of the time, the value the client last
//! observed for that key (so it often succeeds), otherwise "" (succeeds only on a missing or
//! emptied key). All randomness comes from the caller's generator.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use rand_chacha::rand_core::Rng;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::op::{Op, OpResult};

const MILLISECOND_NS: u64 = 1_000_000;

/// Relative weights of the four operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OpMix {
    pub get: u32,
    pub put: u32,
    pub append: u32,
    pub cas: u32,
}

impl Default for OpMix {
    fn default() -> Self {
        OpMix {
            get: 4,
            put: 2,
            append: 3,
            cas: 1,
        }
    }
}

impl OpMix {
    fn total(&self) -> u64 {
        [self.get, self.put, self.append, self.cas]
            .into_iter()
            .map(u64::from)
            .sum()
    }
}

impl fmt::Display for OpMix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "get={},put={},append={},cas={}",
            self.get, self.put, self.append, self.cas
        )
    }
}

/// Parses `get=4,put=2,append=3,cas=1`; operations left out get weight 0.
impl FromStr for OpMix {
    type Err = WorkloadError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut mix = OpMix {
            get: 0,
            put: 0,
            append: 0,
            cas: 0,
        };
        for part in text
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
        {
            let bad = || WorkloadError::BadMix {
                given: text.to_owned(),
            };
            let (name, weight) = part.split_once('=').ok_or_else(bad)?;
            let weight: u32 = weight.trim().parse().map_err(|_| bad())?;
            match name.trim() {
                "get" => mix.get = weight,
                "put" => mix.put = weight,
                "append" => mix.append = weight,
                "cas" => mix.cas = weight,
                _ => return Err(bad()),
            }
        }
        Ok(mix)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct WorkloadConfig {
    /// Number of clients; clients are numbered `0..clients`.
    pub clients: usize,
    /// Number of keys, named `k0`, `k1`, ...
    pub keys: usize,
    pub mix: OpMix,
    /// Think time between a completion and the next invocation, drawn uniformly, inclusive.
    pub think_time_ns_min: u64,
    pub think_time_ns_max: u64,
    /// Operations per client; `None` runs until the harness stops invoking.
    pub ops_per_client: Option<u64>,
    /// The first this many clients only read (a dashboard, a cache filler): they keep asking
    /// the server that last answered them, so a server that answers reads it should not keeps
    /// being asked.
    pub readers: usize,
}

impl Default for WorkloadConfig {
    fn default() -> Self {
        WorkloadConfig {
            clients: 5,
            keys: 3,
            mix: OpMix::default(),
            think_time_ns_min: 0,
            think_time_ns_max: 20 * MILLISECOND_NS,
            ops_per_client: None,
            readers: 0,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum WorkloadError {
    #[error("workload needs at least one client")]
    NoClients,
    #[error("workload needs at least one key")]
    NoKeys,
    #[error("operation mix {mix} has no operation with a positive weight")]
    EmptyMix { mix: OpMix },
    #[error("think time range is empty: min {min_ns} ns > max {max_ns} ns")]
    ThinkTimeRange { min_ns: u64, max_ns: u64 },
    #[error("ops_per_client is 0: set at least 1, or leave it unbounded")]
    NoOperations,
    #[error("bad operation mix {given:?}: expected e.g. get=4,put=2,append=3,cas=1")]
    BadMix { given: String },
}

impl WorkloadConfig {
    pub fn validate(&self) -> Result<(), WorkloadError> {
        if self.clients == 0 {
            return Err(WorkloadError::NoClients);
        }
        if self.keys == 0 {
            return Err(WorkloadError::NoKeys);
        }
        if self.mix.total() == 0 {
            return Err(WorkloadError::EmptyMix { mix: self.mix });
        }
        if self.think_time_ns_min > self.think_time_ns_max {
            return Err(WorkloadError::ThinkTimeRange {
                min_ns: self.think_time_ns_min,
                max_ns: self.think_time_ns_max,
            });
        }
        if self.ops_per_client == Some(0) {
            return Err(WorkloadError::NoOperations);
        }
        Ok(())
    }
}

/// What the generator remembers about one client.
#[derive(Clone, Debug, Default)]
struct ClientState {
    /// Operations generated so far; also numbers the unique written values.
    issued: u64,
    /// The last value this client observed per key (read, written or swapped in).
    observed: BTreeMap<String, String>,
}

#[derive(Clone, Debug)]
pub struct Workload {
    config: WorkloadConfig,
    clients: Vec<ClientState>,
}

impl Workload {
    pub fn new(config: WorkloadConfig) -> Result<Self, WorkloadError> {
        config.validate()?;
        let clients = vec![ClientState::default(); config.clients];
        Ok(Workload { config, clients })
    }

    pub fn config(&self) -> &WorkloadConfig {
        &self.config
    }

    /// How many operations `client` has been given.
    pub fn issued(&self, client: usize) -> u64 {
        self.clients[client].issued
    }

    /// The next operation of `client` (in `0..clients`), or `None` once its
    /// `ops_per_client` are all issued.
    pub fn next_op<R: Rng + ?Sized>(&mut self, client: usize, rng: &mut R) -> Option<Op> {
        assert!(
            client < self.clients.len(),
            "client {client} of {} clients",
            self.clients.len()
        );
        let config = &self.config;
        let state = &mut self.clients[client];
        if config
            .ops_per_client
            .is_some_and(|limit| state.issued >= limit)
        {
            return None;
        }
        let n = state.issued;
        state.issued += 1;
        let key = format!("k{}", uniform_below(rng, config.keys as u64));
        // Clients are named from one (`c1`), as everywhere people read them.
        let value = format!("c{}-{n}", client + 1);
        let kind = if client < config.readers {
            OpKind::Get
        } else {
            choose_kind(&config.mix, rng)
        };
        let op = match kind {
            OpKind::Get => Op::Get { key },
            OpKind::Put => Op::Put { key, value },
            OpKind::Append => Op::Append {
                key,
                value: value + ";",
            },
            OpKind::Cas => {
                let expected = match uniform_below(rng, 2) {
                    0 => state.observed.get(&key).cloned().unwrap_or_default(),
                    _ => String::new(),
                };
                Op::Cas {
                    key,
                    expected,
                    new: value,
                }
            }
        };
        Some(op)
    }

    /// A think time in the configured range.
    pub fn think_time<R: Rng + ?Sized>(&self, rng: &mut R) -> u64 {
        let span = self.config.think_time_ns_max - self.config.think_time_ns_min;
        match span.checked_add(1) {
            Some(count) => self.config.think_time_ns_min + uniform_below(rng, count),
            // The range is all of u64.
            None => rng.next_u64(),
        }
    }

    /// Tells the generator how `client`'s operation ended, so later `Cas`es can expect the
    /// value it last saw. Writes are remembered too (an `Append` only when the value is known).
    pub fn observe(&mut self, client: usize, op: &Op, result: &OpResult) {
        let observed = &mut self.clients[client].observed;
        match (op, result) {
            (Op::Get { key }, OpResult::Value(value)) => {
                observed.insert(key.clone(), value.clone());
            }
            (Op::Put { key, value }, OpResult::Written)
            | (
                Op::Cas {
                    key, new: value, ..
                },
                OpResult::Cas(true),
            ) => {
                observed.insert(key.clone(), value.clone());
            }
            (Op::Append { key, .. }, OpResult::Written) => {
                observed.remove(key);
            }
            _ => {}
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OpKind {
    Get,
    Put,
    Append,
    Cas,
}

/// Draws an operation kind with probability proportional to its weight in `mix`.
fn choose_kind<R: Rng + ?Sized>(mix: &OpMix, rng: &mut R) -> OpKind {
    let mut pick = uniform_below(rng, mix.total());
    let weighted = [
        (OpKind::Get, mix.get),
        (OpKind::Put, mix.put),
        (OpKind::Append, mix.append),
        (OpKind::Cas, mix.cas),
    ];
    for (kind, weight) in weighted {
        if pick < u64::from(weight) {
            return kind;
        }
        pick -= u64::from(weight);
    }
    unreachable!(
        "a draw below the total weight {} falls in some weight",
        mix.total()
    )
}

/// A uniform draw from `0..bound` by multiply-shift (Lemire's method without the rejection
/// step: the bias is below `bound / 2^64`, irrelevant for workloads, and it is deterministic).
fn uniform_below<R: Rng + ?Sized>(rng: &mut R, bound: u64) -> u64 {
    assert!(bound > 0, "uniform draw from an empty range");
    ((u128::from(rng.next_u64()) * u128::from(bound)) >> 64) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha8Rng;
    use rand_chacha::rand_core::SeedableRng;

    #[test]
    fn mix_parses_and_prints() {
        let mix: OpMix = "get=1, cas=5".parse().unwrap();
        assert_eq!(
            mix,
            OpMix {
                get: 1,
                put: 0,
                append: 0,
                cas: 5
            }
        );
        assert_eq!(mix.to_string().parse::<OpMix>(), Ok(mix));
        assert!(matches!(
            "get=x".parse::<OpMix>(),
            Err(WorkloadError::BadMix { .. })
        ));
        assert!(matches!(
            "read=1".parse::<OpMix>(),
            Err(WorkloadError::BadMix { .. })
        ));
    }

    #[test]
    fn uniform_below_stays_in_range_and_hits_every_value() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut seen = [0u32; 3];
        for _ in 0..300 {
            seen[uniform_below(&mut rng, 3) as usize] += 1;
        }
        assert!(seen.iter().all(|count| *count > 50), "{seen:?}");
    }

    #[test]
    fn append_observation_forgets_the_key() {
        let mut workload = Workload::new(WorkloadConfig::default()).unwrap();
        let put = Op::Put {
            key: "k0".into(),
            value: "v".into(),
        };
        workload.observe(0, &put, &OpResult::Written);
        assert_eq!(
            workload.clients[0].observed.get("k0").map(String::as_str),
            Some("v")
        );
        let append = Op::Append {
            key: "k0".into(),
            value: "w;".into(),
        };
        workload.observe(0, &append, &OpResult::Written);
        assert!(workload.clients[0].observed.is_empty());
    }
}
