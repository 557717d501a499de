//! The Wing & Gong search with Lowe's memoization, over one partition.
//!
//! Calls and returns are entries of a doubly linked list sorted by time. The search walks the
//! list: at a call it tries to linearize that operation now (the model accepts it and the pair
//! (set of linearized operations, model state) is new), which lifts the call and its return out
//! of the list and restarts from the head; at a return it has met an operation that had to be
//! linearized already, so it backtracks. Indefinite operations have no return entry: they may be
//! linearized at any point after their call, or never. An optional operation with a return entry
//! that is reached unlinearized is decided "never happened" there (memoized like a
//! linearization). The search succeeds when every operation that is not optional is linearized.
//!
//! Pruning (`Model::pins`): a read of `v` can only run where the state allows `v`. Once every
//! operation that could bring the state back to `v` is linearized and the state cannot reach `v`
//! otherwise (for kv: it is not a prefix of `v`), the read can never be linearized, so the search
//! backtracks right there instead of at the read's return, which may be far ahead: without it,
//! every order of the appends in between is tried first. The deepest point then records the
//! read as the operation that cannot be placed.

use std::hash::{BuildHasherDefault, Hash, Hasher};

use indexmap::{Equivalent, IndexSet};

use crate::model::Model;

/// A small fixed multiplicative hasher (the Fx hash of rustc): fast on short keys and the same
/// in every process, so the memo behaves identically in every run.
#[derive(Clone, Copy, Debug, Default)]
pub struct FxHasher {
    hash: u64,
}

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(FX_SEED);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        for &byte in chunks.remainder() {
            self.add(u64::from(byte));
        }
    }

    fn write_u8(&mut self, value: u8) {
        self.add(u64::from(value));
    }

    fn write_u64(&mut self, value: u64) {
        self.add(value);
    }

    fn write_usize(&mut self, value: usize) {
        self.add(value as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

pub type FxBuildHasher = BuildHasherDefault<FxHasher>;

/// A memo entry: which operations are linearized, and the model state they led to.
#[derive(Debug, PartialEq, Eq)]
struct MemoKey<S> {
    linearized: Box<[u64]>,
    state: S,
}

// Probe and key hash identically, as `Equivalent` requires. The state is hashed too: one bitset
// can meet very many states (the minimizer's optional appends), which must not share a bucket.
impl<S: Hash> Hash for MemoKey<S> {
    fn hash<H: Hasher>(&self, hasher: &mut H) {
        self.linearized.as_ref().hash(hasher);
        self.state.hash(hasher);
    }
}

/// A borrowed view of a memo key, to look one up without allocating.
struct MemoProbe<'a, S> {
    linearized: &'a [u64],
    state: &'a S,
}

impl<S: Hash> Hash for MemoProbe<'_, S> {
    fn hash<H: Hasher>(&self, hasher: &mut H) {
        self.linearized.hash(hasher);
        self.state.hash(hasher);
    }
}

impl<S: Eq> Equivalent<MemoKey<S>> for MemoProbe<'_, S> {
    fn equivalent(&self, key: &MemoKey<S>) -> bool {
        *self.linearized == *key.linearized && *self.state == key.state
    }
}

/// One operation as the search sees it; indices are local to the partition.
pub(crate) struct SearchOperation<'a, M: Model> {
    pub input: &'a M::Input,
    /// `None` for indefinite operations.
    pub output: Option<&'a M::Output>,
    pub call: u64,
    /// `None` (+∞) for indefinite operations.
    pub return_time: Option<u64>,
    /// The operation may also not have happened at all. True for indefinite operations; the
    /// minimizer also uses it for writes it weakens, which keep their return time: such a write
    /// either happened inside its interval or never.
    pub optional: bool,
}

/// Deterministic limits on one search.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SearchBudget {
    pub steps_max: u64,
    pub memo_entries_max: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SearchVerdict {
    /// `order` is a linearization: local operation indices in linearization order.
    Linearizable {
        order: Vec<usize>,
    },
    Illegal,
    OverBudget {
        reason: String,
    },
}

/// The deepest point the search reached: the longest linearizable prefix it found, and the
/// operation whose return it then met without being able to linearize it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Deepest {
    pub prefix: Vec<usize>,
    pub stuck: Option<usize>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SearchOutcome {
    pub verdict: SearchVerdict,
    pub deepest: Deepest,
    pub steps: u64,
    pub memo_entries: usize,
}

const HEAD: usize = usize::MAX;

/// The entry list, with links as indices so that lifting and unlifting are O(1).
struct EntryList {
    /// Local operation index of each entry.
    operation: Vec<usize>,
    /// For a call entry, the index of its return entry, if any; `None` for return entries too.
    return_entry: Vec<Option<usize>>,
    /// For a return entry, the index of its call entry; `HEAD` for call entries.
    call_entry: Vec<usize>,
    is_call: Vec<bool>,
    next: Vec<usize>,
    previous: Vec<usize>,
    first: usize,
}

impl EntryList {
    fn new<M: Model>(operations: &[SearchOperation<'_, M>]) -> EntryList {
        // (time, rank, operation, is_call): see `history::precedes` for the ranks.
        let mut keys: Vec<(u64, u8, usize, bool)> = Vec::with_capacity(operations.len() * 2);
        for (index, operation) in operations.iter().enumerate() {
            keys.push((operation.call, 1, index, true));
            if let Some(return_time) = operation.return_time {
                assert!(
                    return_time >= operation.call,
                    "operation {index} returns before its call"
                );
                let rank = if return_time == operation.call { 2 } else { 0 };
                keys.push((return_time, rank, index, false));
            }
        }
        keys.sort_unstable();
        let count = keys.len();
        let mut list = EntryList {
            operation: keys.iter().map(|key| key.2).collect(),
            return_entry: vec![None; count],
            call_entry: vec![HEAD; count],
            is_call: keys.iter().map(|key| key.3).collect(),
            next: (1..=count)
                .map(|next| if next == count { HEAD } else { next })
                .collect(),
            previous: (0..count)
                .map(|entry| if entry == 0 { HEAD } else { entry - 1 })
                .collect(),
            first: if count == 0 { HEAD } else { 0 },
        };
        let mut call_entry = vec![HEAD; operations.len()];
        for (entry, key) in keys.iter().enumerate() {
            if key.3 {
                call_entry[key.2] = entry;
            } else {
                assert_ne!(
                    call_entry[key.2], HEAD,
                    "return of operation {} before its call",
                    key.2
                );
                list.return_entry[call_entry[key.2]] = Some(entry);
                list.call_entry[entry] = call_entry[key.2];
            }
        }
        list
    }

    fn unlink(&mut self, entry: usize) {
        let (previous, next) = (self.previous[entry], self.next[entry]);
        if previous == HEAD {
            self.first = next;
        } else {
            self.next[previous] = next;
        }
        if next != HEAD {
            self.previous[next] = previous;
        }
    }

    fn relink(&mut self, entry: usize) {
        let (previous, next) = (self.previous[entry], self.next[entry]);
        if previous == HEAD {
            self.first = entry;
        } else {
            self.next[previous] = entry;
        }
        if next != HEAD {
            self.previous[next] = entry;
        }
    }

    /// Removes a call entry and its return entry.
    fn lift(&mut self, call: usize) {
        self.unlink(call);
        if let Some(return_entry) = self.return_entry[call] {
            self.unlink(return_entry);
        }
    }

    /// Undoes `lift`, in reverse order (dancing links).
    fn unlift(&mut self, call: usize) {
        if let Some(return_entry) = self.return_entry[call] {
            self.relink(return_entry);
        }
        self.relink(call);
    }
}

fn set_bit(bits: &mut [u64], index: usize) {
    bits[index / 64] |= 1 << (index % 64);
}

fn clear_bit(bits: &mut [u64], index: usize) {
    bits[index / 64] &= !(1 << (index % 64));
}

fn has_bit(bits: &[u64], index: usize) -> bool {
    bits[index / 64] & (1 << (index % 64)) != 0
}

const ABSENT: usize = usize::MAX;

/// The pruning of `Model::pins`: for each pinned operation, how many operations that may enable
/// it are still unlinearized, and the set of unlinearized pinned operations with none left
/// ("stranded"), which the current state must be able to reach (`Model::can_reach`).
struct Pins {
    /// For each operation, the pinned operations it may enable.
    enables: Vec<Vec<usize>>,
    /// For each pinned operation, its unlinearized enablers; unused for the others.
    enablers_left: Vec<u32>,
    pinned: Vec<bool>,
    stranded: Vec<usize>,
    /// Position of each operation in `stranded`, or `ABSENT`.
    position: Vec<usize>,
}

impl Pins {
    fn new<M: Model>(model: &M, operations: &[SearchOperation<'_, M>]) -> Pins {
        let count = operations.len();
        let pinned: Vec<bool> = operations
            .iter()
            .map(|operation| {
                operation
                    .output
                    .is_some_and(|output| model.pins(operation.input, output))
            })
            .collect();
        let mut pins = Pins {
            enables: vec![Vec::new(); count],
            enablers_left: vec![0; count],
            pinned,
            stranded: Vec::new(),
            position: vec![ABSENT; count],
        };
        // Only operations that may change the state can enable anything; by call time, so that
        // the scan for each pinned operation stops at the first one called after it returned.
        let mut writers: Vec<usize> = (0..count)
            .filter(|&index| !model.is_read_only(operations[index].input))
            .collect();
        writers.sort_by_key(|&index| operations[index].call);
        for (index, operation) in operations.iter().enumerate() {
            let Some(output) = operation.output.filter(|_| pins.pinned[index]) else {
                continue;
            };
            for &writer in &writers {
                // Operations called after the pinned one returned come after it.
                if crate::history::precedes(
                    operation.call,
                    operation.return_time,
                    operations[writer].call,
                ) {
                    break;
                }
                if writer != index
                    && model.may_enable(operation.input, output, operations[writer].input)
                {
                    pins.enables[writer].push(index);
                    pins.enablers_left[index] += 1;
                }
            }
            if pins.enablers_left[index] == 0 {
                pins.insert(index);
            }
        }
        pins
    }

    fn insert(&mut self, index: usize) {
        self.position[index] = self.stranded.len();
        self.stranded.push(index);
    }

    fn remove(&mut self, index: usize) {
        let position = self.position[index];
        self.position[index] = ABSENT;
        let last = self.stranded.pop().expect("a stranded operation to remove");
        if last != index {
            self.stranded[position] = last;
            self.position[last] = position;
        }
    }

    /// `index` was linearized (or decided never to happen); its bit is already set.
    fn take(&mut self, index: usize, linearized: &[u64]) {
        if self.position[index] != ABSENT {
            self.remove(index);
        }
        for position in 0..self.enables[index].len() {
            let pinned = self.enables[index][position];
            self.enablers_left[pinned] -= 1;
            if self.enablers_left[pinned] == 0 && !has_bit(linearized, pinned) {
                self.insert(pinned);
            }
        }
    }

    /// Undoes `take`; the bit of `index` is already cleared.
    fn give_back(&mut self, index: usize, linearized: &[u64]) {
        for position in (0..self.enables[index].len()).rev() {
            let pinned = self.enables[index][position];
            if self.enablers_left[pinned] == 0 && !has_bit(linearized, pinned) {
                self.remove(pinned);
            }
            self.enablers_left[pinned] += 1;
        }
        if self.pinned[index] && self.enablers_left[index] == 0 {
            self.insert(index);
        }
    }

    /// A stranded operation that `state` cannot lead to, if any.
    fn dead_end<M: Model>(
        &self,
        model: &M,
        operations: &[SearchOperation<'_, M>],
        state: &M::State,
    ) -> Option<usize> {
        self.stranded.iter().copied().find(|&index| {
            let operation = &operations[index];
            let output = operation.output.expect("pinned operations have an output");
            !model.can_reach(state, operation.input, output)
        })
    }
}

/// Searches for a linearization of `operations` (failed operations already removed).
/// What became of an attempt to lift one more operation out of the list.
enum Advance {
    /// (linearized set, state) is new and may lead somewhere: the operation is lifted.
    Taken,
    /// The search was here before.
    Seen,
    /// A pinned operation (its local index) can never be linearized from here.
    DeadEnd(usize),
}

/// Tries to add `index` to the linearized set, leading to `state`: checks the memo, then the
/// pinned operations, then records the pair in the memo. On anything but `Taken` the set and the
/// pins are as they were. Over budget when the memo is full.
#[allow(clippy::too_many_arguments)]
fn advance<M: Model>(
    model: &M,
    operations: &[SearchOperation<'_, M>],
    memo: &mut IndexSet<MemoKey<M::State>, FxBuildHasher>,
    pins: &mut Pins,
    linearized: &mut [u64],
    index: usize,
    state: &M::State,
    memo_entries_max: usize,
) -> Result<Advance, SearchVerdict> {
    set_bit(linearized, index);
    if memo.contains(&MemoProbe { linearized, state }) {
        clear_bit(linearized, index);
        return Ok(Advance::Seen);
    }
    pins.take(index, linearized);
    if let Some(stranded) = pins.dead_end(model, operations, state) {
        clear_bit(linearized, index);
        pins.give_back(index, linearized);
        return Ok(Advance::DeadEnd(stranded));
    }
    if memo.len() >= memo_entries_max {
        return Err(SearchVerdict::OverBudget {
            reason: format!("memo limit of {memo_entries_max} entries reached"),
        });
    }
    memo.insert(MemoKey {
        linearized: linearized.to_vec().into_boxed_slice(),
        state: state.clone(),
    });
    Ok(Advance::Taken)
}

pub(crate) fn search<M: Model>(
    model: &M,
    operations: &[SearchOperation<'_, M>],
    budget: SearchBudget,
) -> SearchOutcome {
    let mut list = EntryList::new(operations);
    let mut pins = Pins::new(model, operations);
    let definite_count = operations
        .iter()
        .filter(|operation| !operation.optional)
        .count();
    let mut remaining_definite = definite_count;
    let mut linearized = vec![0u64; operations.len().div_ceil(64)];
    let mut memo: IndexSet<MemoKey<M::State>, FxBuildHasher> = IndexSet::default();
    let mut state = model.init();
    // Call entries linearized so far, each with the state before it.
    let mut stack: Vec<(usize, M::State)> = Vec::with_capacity(operations.len());
    let mut deepest = Deepest::default();
    let mut entry = list.first;
    let mut steps: u64 = 0;
    let order_of = |stack: &[(usize, M::State)], list: &EntryList| -> Vec<usize> {
        stack
            .iter()
            .map(|(call, _)| list.operation[*call])
            .collect()
    };
    let verdict = loop {
        if remaining_definite == 0 {
            break SearchVerdict::Linearizable {
                order: order_of(&stack, &list),
            };
        }
        if steps >= budget.steps_max {
            break SearchVerdict::OverBudget {
                reason: format!("search budget of {} steps exhausted", budget.steps_max),
            };
        }
        steps += 1;
        assert_ne!(
            entry, HEAD,
            "walked past the last return with {remaining_definite} operations left"
        );
        let operation_index = list.operation[entry];
        if list.is_call[entry] {
            let operation = &operations[operation_index];
            if let Some(next_state) = model.step(&state, operation.input, operation.output) {
                match advance(
                    model,
                    operations,
                    &mut memo,
                    &mut pins,
                    &mut linearized,
                    operation_index,
                    &next_state,
                    budget.memo_entries_max,
                ) {
                    Err(verdict) => break verdict,
                    Ok(Advance::Taken) => {
                        stack.push((entry, std::mem::replace(&mut state, next_state)));
                        list.lift(entry);
                        if !operation.optional {
                            remaining_definite -= 1;
                        }
                        entry = list.first;
                        continue;
                    }
                    Ok(Advance::Seen) => {}
                    Ok(Advance::DeadEnd(stranded)) => {
                        // Linearizable up to this operation, but `stranded` can never follow.
                        if deepest.stuck.is_none() || stack.len() + 1 > deepest.prefix.len() {
                            let mut prefix = order_of(&stack, &list);
                            prefix.push(operation_index);
                            deepest = Deepest {
                                prefix,
                                stuck: Some(stranded),
                            };
                        }
                    }
                }
            }
            entry = list.next[entry];
        } else {
            if operations[operation_index].optional {
                // Not linearized by its return: it never happened. Memoized like a step, so that
                // coming back here after backtracking falls through to the backtrack below.
                let call = list.call_entry[entry];
                match advance(
                    model,
                    operations,
                    &mut memo,
                    &mut pins,
                    &mut linearized,
                    operation_index,
                    &state,
                    budget.memo_entries_max,
                ) {
                    Err(verdict) => break verdict,
                    Ok(Advance::Taken) => {
                        stack.push((call, state.clone()));
                        list.lift(call);
                        entry = list.first;
                        continue;
                    }
                    Ok(Advance::Seen | Advance::DeadEnd(_)) => {}
                }
            }
            if deepest.stuck.is_none() || stack.len() > deepest.prefix.len() {
                deepest = Deepest {
                    prefix: order_of(&stack, &list),
                    stuck: Some(operation_index),
                };
            }
            let Some((call, previous_state)) = stack.pop() else {
                break SearchVerdict::Illegal;
            };
            let undone = list.operation[call];
            clear_bit(&mut linearized, undone);
            pins.give_back(undone, &linearized);
            state = previous_state;
            list.unlift(call);
            if !operations[undone].optional {
                remaining_definite += 1;
            }
            entry = list.next[call];
        }
    };
    assert!(
        remaining_definite <= definite_count,
        "more operations left than exist"
    );
    SearchOutcome {
        verdict,
        deepest,
        steps,
        memo_entries: memo.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::register::{RegisterInput, RegisterModel, RegisterOutput};

    fn operation(
        input: &RegisterInput,
        output: Option<&RegisterOutput>,
        call: u64,
        return_time: Option<u64>,
    ) -> SearchOperation<'static, RegisterModel> {
        // Leak tiny test values so the borrowed shape of `SearchOperation` stays simple.
        SearchOperation {
            input: Box::leak(Box::new(input.clone())),
            output: output.map(|output| &*Box::leak(Box::new(output.clone()))),
            call,
            return_time,
            optional: return_time.is_none(),
        }
    }

    const BUDGET: SearchBudget = SearchBudget {
        steps_max: 10_000,
        memo_entries_max: 10_000,
    };

    #[test]
    fn concurrent_write_and_read_can_be_reordered() {
        // The read overlaps the write, so it may see either nil or 1.
        let write = operation(
            &RegisterInput::Write(1),
            Some(&RegisterOutput::Written),
            0,
            Some(10),
        );
        let read = operation(
            &RegisterInput::Read,
            Some(&RegisterOutput::Value(None)),
            5,
            Some(15),
        );
        let outcome = search(&RegisterModel, &[write, read], BUDGET);
        assert_eq!(
            outcome.verdict,
            SearchVerdict::Linearizable { order: vec![1, 0] }
        );
    }

    #[test]
    fn stale_read_is_illegal_and_reports_the_read() {
        let write = operation(
            &RegisterInput::Write(1),
            Some(&RegisterOutput::Written),
            0,
            Some(10),
        );
        let read = operation(
            &RegisterInput::Read,
            Some(&RegisterOutput::Value(None)),
            11,
            Some(15),
        );
        let outcome = search(&RegisterModel, &[write, read], BUDGET);
        assert_eq!(outcome.verdict, SearchVerdict::Illegal);
        assert_eq!(
            outcome.deepest,
            Deepest {
                prefix: vec![0],
                stuck: Some(1)
            }
        );
    }

    #[test]
    fn a_read_no_write_can_serve_is_a_dead_end_before_its_return() {
        // write(1) then write(2), both before the read is even called: once 2 is written, no
        // write of 1 is left, so the search gives up without waiting for the read's return.
        let first = operation(
            &RegisterInput::Write(1),
            Some(&RegisterOutput::Written),
            0,
            Some(1),
        );
        let second = operation(
            &RegisterInput::Write(2),
            Some(&RegisterOutput::Written),
            2,
            Some(3),
        );
        let read = operation(
            &RegisterInput::Read,
            Some(&RegisterOutput::Value(Some(1))),
            10,
            Some(11),
        );
        let outcome = search(&RegisterModel, &[first, second, read], BUDGET);
        assert_eq!(outcome.verdict, SearchVerdict::Illegal);
        assert_eq!(
            outcome.deepest,
            Deepest {
                prefix: vec![0, 1],
                stuck: Some(2)
            }
        );
        assert_eq!(outcome.steps, 4);
    }

    #[test]
    fn budget_of_one_step_is_over_budget() {
        let write = operation(
            &RegisterInput::Write(1),
            Some(&RegisterOutput::Written),
            0,
            Some(10),
        );
        let outcome = search(
            &RegisterModel,
            &[write],
            SearchBudget {
                steps_max: 0,
                memo_entries_max: 10,
            },
        );
        assert!(matches!(outcome.verdict, SearchVerdict::OverBudget { .. }));
    }

    #[test]
    fn fx_hasher_is_fixed() {
        let mut hasher = FxHasher::default();
        "key".hash(&mut hasher);
        let first = hasher.finish();
        let mut again = FxHasher::default();
        "key".hash(&mut again);
        assert_eq!(first, again.finish());
        assert_ne!(first, 0);
    }
}
