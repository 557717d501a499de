//! A deterministic generator of KV histories, for benchmarks, examples and tests.
//!
//! Clients issue operations with think time and random durations, so intervals overlap; each
//! operation takes effect at a point inside its interval, and outputs come from applying the
//! operations in the order of those points. The result is linearizable by construction;
//! `corrupt_one_read` makes it not. Randomness is a SplitMix64 stream from an explicit seed.

use std::collections::BTreeMap;

use crate::history::{KvOperation, Operation, Outcome};
use crate::kv::{KvInput, KvOutput};

/// SplitMix64: tiny, fixed, and good enough for test data.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..bound` (bound > 0); the modulo bias is irrelevant here.
    pub fn below(&mut self, bound: u64) -> u64 {
        assert!(bound > 0, "empty range");
        self.next_u64() % bound
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KvGenOptions {
    pub seed: u64,
    pub clients: u64,
    pub operations: usize,
    pub keys: u64,
    /// Operations per thousand that time out: they take effect or not (half each) and are
    /// recorded as indefinite.
    pub indefinite_permille: u64,
    /// Longest operation, in time units; think time between a client's operations is 0..=5.
    pub duration_max: u64,
}

impl Default for KvGenOptions {
    fn default() -> Self {
        KvGenOptions {
            seed: 0x5eed,
            clients: 10,
            operations: 400,
            keys: 10,
            indefinite_permille: 0,
            duration_max: 20,
        }
    }
}

/// A planned operation before its output is known.
struct Planned {
    client: u64,
    input: KvInput,
    call: u64,
    return_time: u64,
    /// When it takes effect; `None` for an indefinite operation that never did.
    effect_at: Option<u64>,
    indefinite: bool,
}

/// Generates a linearizable KV history.
pub fn kv_history(options: &KvGenOptions) -> Vec<KvOperation> {
    assert!(
        options.clients > 0 && options.keys > 0 && options.duration_max > 0,
        "empty generator options"
    );
    let mut random = SplitMix64::new(options.seed);
    let mut client_time = vec![0u64; options.clients as usize];
    let mut planned: Vec<Planned> = Vec::with_capacity(options.operations);
    for sequence in 0..options.operations {
        // The client that is free earliest goes next (ties by client id): deterministic.
        let client = (0..options.clients as usize)
            .min_by_key(|&client| (client_time[client], client))
            .unwrap_or(0);
        let call = client_time[client] + random.below(6);
        let return_time = call + 1 + random.below(options.duration_max);
        let effect_at = call + random.below(return_time - call + 1);
        let indefinite = random.below(1000) < options.indefinite_permille;
        let effect_at = if indefinite && random.below(2) == 0 {
            None
        } else {
            Some(effect_at)
        };
        let key = format!("k{}", random.below(options.keys));
        let input = match random.below(10) {
            0..=3 => KvInput::Get { key },
            4 | 5 => KvInput::Put {
                key,
                value: format!("p{sequence}"),
            },
            6..=8 => KvInput::Append {
                key,
                value: format!("a{sequence};"),
            },
            _ => {
                // Expect one of the recent values of the key, so that some swaps succeed.
                let expected = planned
                    .iter()
                    .rev()
                    .take(20)
                    .find_map(|earlier| match &earlier.input {
                        KvInput::Put { key: other, value } if *other == key => Some(value.clone()),
                        _ => None,
                    })
                    .unwrap_or_default();
                KvInput::Cas {
                    key,
                    expected,
                    new: format!("c{sequence}"),
                }
            }
        };
        client_time[client] = return_time;
        planned.push(Planned {
            client: client as u64,
            input,
            call,
            return_time,
            effect_at,
            indefinite,
        });
    }
    outputs(planned)
}

/// Applies the operations in the order of their effect points and records what they returned.
fn outputs(planned: Vec<Planned>) -> Vec<KvOperation> {
    let mut order: Vec<usize> = (0..planned.len())
        .filter(|&index| planned[index].effect_at.is_some())
        .collect();
    order.sort_by_key(|&index| (planned[index].effect_at, planned[index].call, index));
    let mut store: BTreeMap<&str, String> = BTreeMap::new();
    let mut results: Vec<Option<KvOutput>> = vec![None; planned.len()];
    for &index in &order {
        let input = &planned[index].input;
        let current = store.get(input.key()).cloned().unwrap_or_default();
        let (next, output) = match input {
            KvInput::Get { .. } => (current.clone(), KvOutput::Value(current)),
            KvInput::Put { value, .. } => (value.clone(), KvOutput::Written),
            KvInput::Append { value, .. } => (current + value, KvOutput::Written),
            KvInput::Cas { expected, new, .. } => {
                if current == *expected {
                    (new.clone(), KvOutput::Cas(true))
                } else {
                    (current, KvOutput::Cas(false))
                }
            }
        };
        store.insert(input.key(), next);
        results[index] = Some(output);
    }
    planned
        .iter()
        .zip(results)
        .map(|(planned, output)| {
            let outcome = match (planned.indefinite, output) {
                (false, Some(output)) => Outcome::Returned(output),
                _ => Outcome::Indefinite,
            };
            let return_time = (!planned.indefinite).then_some(planned.return_time);
            Operation {
                client: planned.client,
                input: planned.input.clone(),
                outcome,
                call: planned.call,
                return_time,
            }
        })
        .collect()
}

/// Makes one completed read return a value that was never written, so the history is not
/// linearizable. Returns the index of that read, or `None` if there is no completed read.
pub fn corrupt_one_read(operations: &mut [KvOperation], seed: u64) -> Option<usize> {
    let reads: Vec<usize> = (0..operations.len())
        .filter(|&index| {
            matches!(
                operations[index].outcome,
                Outcome::Returned(KvOutput::Value(_))
            )
        })
        .collect();
    if reads.is_empty() {
        return None;
    }
    let chosen = reads[SplitMix64::new(seed).below(reads.len() as u64) as usize];
    operations[chosen].outcome = Outcome::Returned(KvOutput::Value("never-written".to_owned()));
    Some(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_history() {
        let options = KvGenOptions {
            operations: 50,
            ..KvGenOptions::default()
        };
        assert_eq!(kv_history(&options), kv_history(&options));
        let other = KvGenOptions { seed: 1, ..options };
        assert_ne!(kv_history(&options), kv_history(&other));
    }
}
