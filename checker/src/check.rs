//! Checking a whole history: validation, partitions in parallel, verdicts and counterexamples.

use rayon::prelude::*;

use crate::history::{History, Operation};
use crate::kv::KvModel;
use crate::minimize::minimize;
use crate::model::SearchOperation;
use crate::model::{Model, Partition};
use crate::register::RegisterModel;
use crate::search::{Limit, SearchBudget, SearchVerdict, search};

/// Deterministic limits. Steps are counted per partition; the memory budget is split among the
/// partitions by their sizes before any runs, so a partition's result does not depend on the
/// others' progress or on the thread count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Search steps (list entries visited) per partition before giving up with `Unknown`.
    pub steps_max: u64,
    /// Bytes that the searches of all partitions may hold at once (memo, stack, indexes;
    /// not the history itself). Each partition gets a share in proportion to its operations;
    /// a partition that runs out of its share is checked again afterwards, alone, with all of
    /// it. Reaching it gives `Unknown` with the reason.
    pub memory_bytes_max: usize,
    /// Whether to minimize the illegal sub-history of a failing partition (ddmin: many
    /// searches, often far more steps than the verdict). Off by default; the counterexample
    /// still names the longest linearizable prefix and the operation that cannot be placed.
    pub minimize: bool,
    /// Search steps the minimizer may spend per failing partition, over all its candidates.
    pub minimize_steps_max: u64,
    /// Search steps per candidate sub-history; a candidate over it counts as "not shown
    /// illegal", and the result is then marked not minimal.
    pub minimize_candidate_steps_max: u64,
}

/// Histories shorter than this are checked on the calling thread.
const PARALLEL_OPERATIONS_MIN: usize = 10_000;

/// 2 GiB: well under the memory of a developer machine or a CI runner.
pub const MEMORY_BYTES_MAX_DEFAULT: usize = 2 << 30;

impl Default for Options {
    fn default() -> Self {
        Options {
            steps_max: 20_000_000,
            memory_bytes_max: MEMORY_BYTES_MAX_DEFAULT,
            minimize: false,
            minimize_steps_max: 2_000_000,
            minimize_candidate_steps_max: 100_000,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Linearizable.
    Ok,
    /// Not linearizable.
    Illegal,
    /// The budget ran out before an answer; never a guess.
    Unknown { reason: String },
}

impl Verdict {
    pub fn name(&self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Illegal => "illegal",
            Verdict::Unknown { .. } => "unknown",
        }
    }
}

/// Why one partition is not linearizable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counterexample {
    /// The longest linearizable prefix found: operation indices in linearization order.
    pub prefix: Vec<usize>,
    /// The model state after `prefix`, described by the model.
    pub state_after_prefix: String,
    /// The operation that had to be linearized next but could not be.
    pub stuck: usize,
    /// A small set of operations that is not linearizable even when every other write of the
    /// partition is kept as "happened inside its interval or not at all" (reads are dropped): a witness of the
    /// violation, in history order. Empty if minimization was off.
    pub minimized: Vec<usize>,
    /// True when the set is 1-minimal: leaving out any one of its operations makes it
    /// linearizable. False when the minimizer ran out of budget: the set is still illegal.
    pub minimized_complete: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionResult {
    pub label: String,
    /// Operations in the partition, including failed and indefinite ones.
    pub operation_count: usize,
    pub failed_count: usize,
    pub indefinite_count: usize,
    pub verdict: Verdict,
    /// A linearization (operation indices in order) when `Ok`; otherwise the longest
    /// linearizable prefix the search found.
    pub linearization: Vec<usize>,
    pub counterexample: Option<Counterexample>,
    pub steps: u64,
    pub memo_entries: usize,
    /// The most bytes the search held, as its budget counts them.
    pub memory_bytes: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckResult {
    /// `Illegal` if any partition is illegal, else `Unknown` if any is unknown, else `Ok`.
    pub verdict: Verdict,
    /// In the model's partition order.
    pub partitions: Vec<PartitionResult>,
}

impl CheckResult {
    pub fn is_linearizable(&self) -> bool {
        self.verdict == Verdict::Ok
    }

    /// The partitions that are not linearizable: every one, not only the first.
    pub fn failing(&self) -> impl Iterator<Item = &PartitionResult> {
        self.partitions
            .iter()
            .filter(|partition| partition.verdict == Verdict::Illegal)
    }
}

/// Checks a history of a built-in model.
pub fn check(history: &History, options: &Options) -> CheckResult {
    match history {
        History::Kv(operations) => check_kv(operations, options),
        History::Register(operations) => check_register(operations, options),
    }
}

pub fn check_kv(operations: &[crate::KvOperation], options: &Options) -> CheckResult {
    check_model(&KvModel, operations, options)
}

pub fn check_register(operations: &[crate::RegisterOperation], options: &Options) -> CheckResult {
    check_model(&RegisterModel, operations, options)
}

/// Checks operations against any model. An invalid history (a return before its call, an output
/// of the wrong kind) gives `Unknown` naming the operation, never a panic.
pub fn check_model<M: Model>(
    model: &M,
    operations: &[Operation<M::Input, M::Output>],
    options: &Options,
) -> CheckResult {
    if let Err(reason) = validate(model, operations) {
        return CheckResult {
            verdict: Verdict::Unknown { reason },
            partitions: Vec::new(),
        };
    }
    let partitions = model.partition(operations);
    let mut seen = vec![false; operations.len()];
    for partition in &partitions {
        for &index in &partition.operations {
            assert!(
                index < operations.len(),
                "partition {:?} names operation {index}",
                partition.label
            );
            assert!(!seen[index], "operation {index} is in two partitions");
            seen[index] = true;
        }
    }
    assert!(
        seen.iter().all(|&seen| seen),
        "the model's partitions leave out operations"
    );
    let shares = memory_shares(model, operations, &partitions, options.memory_bytes_max);
    let check_one = |(partition, &share): (&Partition, &usize)| {
        check_partition(model, operations, partition, options, share)
    };
    // `collect` on an indexed parallel iterator keeps partition order, whatever the scheduling.
    // A small history is checked on this thread: waking rayon's workers (which spin while they
    // wait) would cost more CPU than its partitions do.
    let mut results: Vec<(PartitionResult, Option<Limit>)> =
        if operations.len() < PARALLEL_OPERATIONS_MIN {
            partitions.iter().zip(&shares).map(check_one).collect()
        } else {
            partitions.par_iter().zip(&shares).map(check_one).collect()
        };
    // A partition that needed more than its share gets the whole budget, one at a time, in
    // partition order: which ones do depends only on the first pass, never on timing.
    for (index, partition) in partitions.iter().enumerate() {
        let short =
            results[index].1 == Some(Limit::Memory) && shares[index] < options.memory_bytes_max;
        if short {
            results[index] = check_partition(
                model,
                operations,
                partition,
                options,
                options.memory_bytes_max,
            );
        }
    }
    let results: Vec<PartitionResult> = results.into_iter().map(|(result, _)| result).collect();
    CheckResult {
        verdict: overall_verdict(&results),
        partitions: results,
    }
}

/// Each partition's share of the memory budget, in proportion to the operations it searches.
fn memory_shares<M: Model>(
    model: &M,
    operations: &[Operation<M::Input, M::Output>],
    partitions: &[Partition],
    memory_bytes_max: usize,
) -> Vec<usize> {
    let sizes: Vec<u128> = partitions
        .iter()
        .map(|partition| {
            searched_operations(model, operations, &partition.operations).len() as u128 + 1
        })
        .collect();
    let total: u128 = sizes.iter().sum();
    sizes
        .iter()
        .map(|&size| (memory_bytes_max as u128 * size / total.max(1)) as usize)
        .collect()
}

/// Checks that every operation is well formed, naming the first that is not.
pub fn validate<M: Model>(
    model: &M,
    operations: &[Operation<M::Input, M::Output>],
) -> Result<(), String> {
    for (index, operation) in operations.iter().enumerate() {
        if let Some(output) = operation.output() {
            let Some(return_time) = operation.return_time else {
                return Err(format!(
                    "operation {index} returned an output but has no return time"
                ));
            };
            if return_time < operation.call {
                return Err(format!(
                    "operation {index} returns at {return_time}, before its call at {}",
                    operation.call
                ));
            }
            model
                .validate(&operation.input, output)
                .map_err(|problem| format!("operation {index}: {problem}"))?;
        }
    }
    Ok(())
}

fn overall_verdict(results: &[PartitionResult]) -> Verdict {
    if results
        .iter()
        .any(|result| result.verdict == Verdict::Illegal)
    {
        return Verdict::Illegal;
    }
    let reasons: Vec<String> = results
        .iter()
        .filter_map(|result| match &result.verdict {
            Verdict::Unknown { reason } => Some(format!("{}: {reason}", result.label)),
            _ => None,
        })
        .collect();
    if reasons.is_empty() {
        Verdict::Ok
    } else {
        Verdict::Unknown {
            reason: reasons.join("; "),
        }
    }
}

/// The operations the search sees: failed ones dropped (they never took effect) and indefinite
/// reads dropped (they change nothing and returned nothing).
pub(crate) fn searched_operations<M: Model>(
    model: &M,
    operations: &[Operation<M::Input, M::Output>],
    partition: &[usize],
) -> Vec<usize> {
    partition
        .iter()
        .copied()
        .filter(|&index| {
            let operation = &operations[index];
            let dropped = operation.is_failed()
                || (operation.is_indefinite() && model.is_read_only(&operation.input));
            !dropped
        })
        .collect()
}

pub(crate) fn search_operation<M: Model>(
    operation: &Operation<M::Input, M::Output>,
) -> SearchOperation<'_, M> {
    SearchOperation {
        input: &operation.input,
        output: operation.output(),
        call: operation.call,
        return_time: operation.effective_return(),
        optional: operation.is_indefinite(),
    }
}

/// Checks one partition with `memory_bytes_max` bytes; also says which budget ran out, if one did.
fn check_partition<M: Model>(
    model: &M,
    operations: &[Operation<M::Input, M::Output>],
    partition: &Partition,
    options: &Options,
    memory_bytes_max: usize,
) -> (PartitionResult, Option<Limit>) {
    let searched = searched_operations(model, operations, &partition.operations);
    let search_operations: Vec<SearchOperation<'_, M>> = searched
        .iter()
        .map(|&index| search_operation(&operations[index]))
        .collect();
    let budget = SearchBudget {
        steps_max: options.steps_max,
        memory_bytes_max,
    };
    let outcome = search(model, &search_operations, budget);
    let global =
        |local: &[usize]| -> Vec<usize> { local.iter().map(|&local| searched[local]).collect() };
    let limit = match &outcome.verdict {
        SearchVerdict::OverBudget { limit, .. } => Some(*limit),
        _ => None,
    };
    let (verdict, linearization, counterexample) = match outcome.verdict {
        SearchVerdict::Linearizable { order } => (Verdict::Ok, global(&order), None),
        SearchVerdict::OverBudget { reason, .. } => (
            Verdict::Unknown { reason },
            global(&outcome.deepest.prefix),
            None,
        ),
        SearchVerdict::Illegal => {
            let prefix = global(&outcome.deepest.prefix);
            let stuck_local = outcome
                .deepest
                .stuck
                .expect("an illegal search met at least one return");
            let (minimized, minimized_complete) = if options.minimize {
                let (local, complete) =
                    minimize(model, &search_operations, options, memory_bytes_max);
                (global(&local), complete)
            } else {
                (Vec::new(), false)
            };
            let counterexample = Counterexample {
                state_after_prefix: state_after(model, operations, &prefix),
                prefix: prefix.clone(),
                stuck: searched[stuck_local],
                minimized,
                minimized_complete,
            };
            (Verdict::Illegal, prefix, Some(counterexample))
        }
    };
    let result = PartitionResult {
        label: partition.label.clone(),
        operation_count: partition.operations.len(),
        failed_count: partition
            .operations
            .iter()
            .filter(|&&index| operations[index].is_failed())
            .count(),
        indefinite_count: partition
            .operations
            .iter()
            .filter(|&&index| operations[index].is_indefinite())
            .count(),
        verdict,
        linearization,
        counterexample,
        steps: outcome.steps,
        memo_entries: outcome.memo_entries,
        memory_bytes: outcome.memory_bytes,
    };
    (result, limit)
}

/// Replays a linearization found by the search; each step was accepted by the search already.
fn state_after<M: Model>(
    model: &M,
    operations: &[Operation<M::Input, M::Output>],
    order: &[usize],
) -> String {
    let mut state = model.init();
    for &index in order {
        let operation = &operations[index];
        state = model
            .step(&state, &operation.input, operation.output())
            .unwrap_or_else(|| {
                panic!("operation {index} of a found linearization is rejected on replay")
            });
    }
    model.describe_state(&state)
}
