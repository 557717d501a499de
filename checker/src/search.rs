//! The Wing & Gong search with Lowe's memoization, over one partition.
//!
//! Calls and returns are entries of a doubly linked list sorted by time. The search walks the
//! list: at a call it tries to linearize that operation now (the model accepts it and the pair
//! (set of linearized operations, model state) is new), which lifts the call and its return out
//! of the list and restarts from the head; at a return it has met an operation that had to be
//! linearized already, so it backtracks. Indefinite operations have no return entry: they may be
//! linearized at any point after their call, or never. An optional operation with a return entry
//! that is reached unlinearized is decided "never happened" there (memoized like a
//! linearization); one that would leave the state as it is is never linearized at that point,
//! since leaving it out is the same linearization. The search succeeds when every operation that
//! is not optional is linearized.
//!
//! States that no operation of the partition can tell apart are merged as the search steps
//! (`Model::state_merge`; for kv, every value that contains a written value nobody read): the
//! merged states accept the same operations, so the verdict stands, while the memo meets more
//! pairs twice and an optional operation that only moves between merged states changes nothing.
//!
//! An operation that never changes the state (`Model::keeps_state`: a read, a failed swap) and
//! that the walk reaches at its call while the state allows it is linearized right there, and
//! no later place is tried for it: if that fails, the whole point fails and the search
//! backtracks past it at once. Sound because any linearization of the rest that places such an
//! operation `R` later is still one with `R` moved first: `R` is allowed in the current state
//! and leaves it as it is, and it also left the state as it was where it stood, so every other
//! operation sees the states it saw; and the walk reaching `R`'s call means every operation that
//! returned before `R` was called is already lifted, so no real-time order is broken. So the
//! point has a linearization iff the one after `R` has, and when that one fails (searched out,
//! met in the memo, or a dead end by pins: each only ever cuts points without a linearization)
//! the search undoes the operation below `R` too, and the one below that while it was greedy as
//! well. On merged states the same holds, the merge being a bisimulation. Only operations that
//! keep *every* state they are allowed in qualify: a put of the value held keeps this state but
//! may be needed later to restore it. Without the rule, each of the dozens of reads and failed
//! swaps in flight at a time is tried at every later place, and the memo meets every such
//! placement as a new set.
//!
//! The memo (`memo`) holds each pair in a few bytes plus the operations in flight, not a bitset
//! over the partition. Pruning (`pins`, `Model::pinned_value`): a read of `v` can only run where
//! the state allows `v`. Once every operation that could bring the state back to `v` is
//! linearized and the state cannot reach `v` otherwise (for kv: it is not a prefix of `v`), the
//! read can never be linearized, so the search backtracks right there instead of at the read's
//! return, which may be far ahead: without it, every order of the appends in between is tried
//! first. The deepest point then records the read as the operation that cannot be placed. The
//! deepest prefix is kept by copying only the part of the stack that changed since it was last
//! saved, so a long history that keeps getting deeper costs no more than its steps.
//!
//! Memory is counted by formula (sizes and capacities of the memo, the stack and the indexes),
//! never asked of the allocator, so a budget in bytes ends a search at the same step in every run.

use std::mem::size_of;

use crate::memo::{LinearizedSet, Memo};
use crate::model::{Model, SearchOperation, StateMerge};
use crate::pins::Pins;

/// Deterministic limits on one search.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SearchBudget {
    pub steps_max: u64,
    /// Bytes the search's own structures may hold (memo, stack, indexes), as counted by
    /// formula from sizes and capacities, so that the limit is reached at the same step in
    /// every run.
    pub memory_bytes_max: usize,
}

/// Which budget ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Limit {
    Steps,
    Memory,
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
        limit: Limit,
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
    /// The largest byte count the budget saw.
    pub memory_bytes: usize,
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

    /// Each operation's rank for the memo: the position of its return entry among the return
    /// entries; operations without one (indefinite) come after all others, by index.
    fn ranks(&self, count: usize) -> Vec<u32> {
        let mut rank = vec![u32::MAX; count];
        let mut next = 0u32;
        for entry in 0..self.operation.len() {
            if !self.is_call[entry] {
                rank[self.operation[entry]] = next;
                next += 1;
            }
        }
        for slot in rank.iter_mut().filter(|slot| **slot == u32::MAX) {
            *slot = next;
            next += 1;
        }
        rank
    }

    /// Bytes held, for the memory budget.
    fn bytes(&self) -> usize {
        self.operation.len()
            * (4 * size_of::<usize>() + size_of::<Option<usize>>() + size_of::<bool>())
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

/// What became of an attempt to lift one more operation out of the list.
enum Advance {
    /// (linearized set, state) is new and may lead somewhere: the operation is lifted.
    Taken,
    /// The search was here before.
    Seen,
    /// A pinned operation (its local index) can never be linearized from here.
    DeadEnd(usize),
}

/// The deepest point so far, kept without copying the stack each time it grows: `prefix[..valid]`
/// still equals the bottom of the stack, so saving a deeper point copies only what changed.
#[derive(Default)]
struct DeepestTracker {
    prefix: Vec<usize>,
    /// An operation linearizable after `prefix` (a dead end met when placing it).
    extra: Option<usize>,
    stuck: Option<usize>,
    valid: usize,
}

impl DeepestTracker {
    fn len(&self) -> usize {
        self.prefix.len() + usize::from(self.extra.is_some())
    }

    /// Whether a point `depth` deep is worth saving.
    fn is_deeper(&self, depth: usize) -> bool {
        self.stuck.is_none() || depth > self.len()
    }

    fn popped(&mut self, stack_len: usize) {
        self.valid = self.valid.min(stack_len);
    }

    /// Saves the stack's operations as the deepest prefix, with `stuck` unplaceable after it
    /// (and after `extra`, if given).
    fn save<S>(
        &mut self,
        stack: &[(usize, S)],
        operation_of: &[usize],
        extra: Option<usize>,
        stuck: usize,
    ) {
        self.prefix.truncate(self.valid);
        self.prefix.extend(
            stack[self.valid..]
                .iter()
                .map(|(call, _)| operation_of[*call]),
        );
        self.valid = stack.len();
        self.extra = extra;
        self.stuck = Some(stuck);
    }

    fn into_deepest(self) -> Deepest {
        let mut prefix = self.prefix;
        prefix.extend(self.extra);
        Deepest {
            prefix,
            stuck: self.stuck,
        }
    }
}

/// Bytes as mebibytes, for messages.
pub(crate) fn mebibytes(bytes: usize) -> String {
    format!("{:.1} MB", bytes as f64 / (1u64 << 20) as f64)
}

/// One search over one partition: the entry list, the path (stack) and what it has seen.
struct Search<'o, 'a, M: Model> {
    model: &'o M,
    operations: &'o [SearchOperation<'a, M>],
    budget: SearchBudget,
    list: EntryList,
    pins: Pins<'a>,
    /// States no operation of the partition can tell apart, merged (`Model::state_merge`).
    merge: Option<Box<dyn StateMerge<M::State>>>,
    linearized: LinearizedSet,
    memo: Memo<M::State>,
    state: M::State,
    /// The model's initial state (see `Pins::dead_end`).
    initial: M::State,
    /// Call entries linearized so far, each with the state before it.
    stack: Vec<(usize, M::State)>,
    /// Per operation: it is linearized greedily (`Model::keeps_state`, not optional), so once
    /// it is undone the point below it has failed as a whole (see the module comment).
    keeps_state: Vec<bool>,
    deepest: DeepestTracker,
    remaining_definite: usize,
    steps: u64,
    /// Bytes held whatever the search does: list, indexes, stack.
    fixed_bytes: usize,
    memory_bytes: usize,
}

impl<'o, 'a, M: Model> Search<'o, 'a, M> {
    fn new(model: &'o M, operations: &'o [SearchOperation<'a, M>], budget: SearchBudget) -> Self {
        let list = EntryList::new(operations);
        let pins = Pins::new(model, operations);
        let linearized = LinearizedSet::new(list.ranks(operations.len()));
        let count = operations.len();
        let pairs: Vec<(&M::Input, Option<&M::Output>)> = operations
            .iter()
            .map(|operation| (operation.input, operation.output))
            .collect();
        let merge = model.state_merge(&pairs);
        let keeps_state: Vec<bool> = operations
            .iter()
            .map(|operation| {
                !operation.optional
                    && operation
                        .output
                        .is_some_and(|output| model.keeps_state(operation.input, output))
            })
            .collect();
        let fixed_bytes = list.bytes()
            + pins.bytes()
            + merge.as_ref().map_or(0, |merge| merge.heap_bytes())
            + count * (size_of::<bool>() + size_of::<u32>())
            + count * (size_of::<(usize, M::State)>() + size_of::<bool>())
            + count * size_of::<usize>();
        Search {
            model,
            operations,
            budget,
            list,
            pins,
            merge,
            linearized,
            memo: Memo::new(),
            state: model.init(),
            initial: model.init(),
            stack: Vec::with_capacity(count),
            keeps_state,
            deepest: DeepestTracker::default(),
            remaining_definite: operations.iter().filter(|op| !op.optional).count(),
            steps: 0,
            fixed_bytes,
            memory_bytes: fixed_bytes,
        }
    }

    fn stack_operations(&self) -> impl Iterator<Item = usize> + '_ {
        self.stack
            .iter()
            .map(|(call, _)| self.list.operation[*call])
    }

    /// Tries to add `index` to the linearized set, leading to `state`: checks the memo, then the
    /// pinned operations, then records the pair in the memo. On anything but `Taken` the set and
    /// the pins are as they were.
    fn advance(&mut self, index: usize, state: &M::State) -> Result<Advance, SearchVerdict> {
        if self.memo.contains(&self.linearized.with_one(index), state) {
            return Ok(Advance::Seen);
        }
        self.linearized.insert(index);
        self.pins.take(index, &self.linearized);
        let initial = *state == self.initial;
        if let Some(stranded) = self.pins.dead_end(self.model, state, initial) {
            self.pins.give_back(index, &self.linearized);
            self.linearized.remove(index);
            self.pins.restore(index);
            return Ok(Advance::DeadEnd(stranded));
        }
        let state_bytes = self.model.state_heap_bytes(state);
        let bytes = self.fixed_bytes + self.memo.bytes_after_insert(&self.linearized, state_bytes);
        if bytes > self.budget.memory_bytes_max
            || !self
                .memo
                .insert(&self.linearized, state.clone(), state_bytes)
        {
            return Err(SearchVerdict::OverBudget {
                reason: format!(
                    "memory budget of {} reached after {} memo entries",
                    mebibytes(self.budget.memory_bytes_max),
                    self.memo.len()
                ),
                limit: Limit::Memory,
            });
        }
        self.memory_bytes = self.memory_bytes.max(bytes);
        Ok(Advance::Taken)
    }

    /// At a call entry: linearize its operation now if the model and the memo allow it.
    /// Returns the next entry to visit, or `None` when there is nothing left to backtrack.
    fn at_call(&mut self, entry: usize) -> Result<Option<usize>, SearchVerdict> {
        let index = self.list.operation[entry];
        let operation = &self.operations[index];
        let Some(next_state) = self
            .model
            .step(&self.state, operation.input, operation.output)
        else {
            return Ok(Some(self.list.next[entry]));
        };
        let next_state = match &self.merge {
            Some(merge) => merge.canonical(&self.state, next_state),
            None => next_state,
        };
        if operation.optional && next_state == self.state {
            // An optional operation that changes nothing here (an indefinite compare-and-set
            // that fails, a put of the value already held, an unread append to a merged state)
            // may as well not have happened: any linearization with it here is one without it.
            // Taking it would only multiply the memo's sets by every subset of such operations.
            return Ok(Some(self.list.next[entry]));
        }
        // Allowed here and keeping the state: here or nowhere (see the module comment).
        let greedy = self.keeps_state[index];
        match self.advance(index, &next_state)? {
            Advance::Taken => {
                let previous = std::mem::replace(&mut self.state, next_state);
                self.stack.push((entry, previous));
                self.list.lift(entry);
                if !operation.optional {
                    self.remaining_definite -= 1;
                }
                return Ok(Some(self.list.first));
            }
            Advance::Seen => {}
            Advance::DeadEnd(stranded) => {
                // Linearizable up to this operation, but `stranded` can never follow.
                if self.deepest.is_deeper(self.stack.len() + 1) {
                    let operation_of = &self.list.operation;
                    self.deepest
                        .save(&self.stack, operation_of, Some(index), stranded);
                }
            }
        }
        if greedy {
            return Ok(self.backtrack());
        }
        Ok(Some(self.list.next[entry]))
    }

    /// Undoes the last linearized operation, and the one below it for as long as the undone one
    /// was greedy (its failure is that of the point it was taken at). Returns the entry after
    /// the last one undone, or `None` when there is nothing left to undo.
    fn backtrack(&mut self) -> Option<usize> {
        loop {
            let (call, previous_state) = self.stack.pop()?;
            self.deepest.popped(self.stack.len());
            let undone = self.list.operation[call];
            self.pins.give_back(undone, &self.linearized);
            self.linearized.remove(undone);
            self.pins.restore(undone);
            self.state = previous_state;
            self.list.unlift(call);
            if !self.operations[undone].optional {
                self.remaining_definite += 1;
            }
            if !self.keeps_state[undone] {
                return Some(self.list.next[call]);
            }
        }
    }

    /// At a return entry: an optional operation is decided never to have happened; any other
    /// one had to be linearized already, so the search backtracks. Returns the next entry, or
    /// `None` when there is nothing left to backtrack: the partition is illegal.
    fn at_return(&mut self, entry: usize) -> Result<Option<usize>, SearchVerdict> {
        let index = self.list.operation[entry];
        if self.operations[index].optional {
            // Not linearized by its return: it never happened. Memoized like a step, so that
            // coming back here after backtracking falls through to the backtrack below.
            let call = self.list.call_entry[entry];
            let state = self.state.clone();
            if let Advance::Taken = self.advance(index, &state)? {
                self.stack.push((call, state));
                self.list.lift(call);
                return Ok(Some(self.list.first));
            }
        }
        if self.deepest.is_deeper(self.stack.len()) {
            self.deepest
                .save(&self.stack, &self.list.operation, None, index);
        }
        Ok(self.backtrack())
    }

    fn run(&mut self) -> SearchVerdict {
        if self.fixed_bytes > self.budget.memory_bytes_max {
            return SearchVerdict::OverBudget {
                reason: format!(
                    "memory budget of {} is below the {} needed to set up the search of {} operations",
                    mebibytes(self.budget.memory_bytes_max),
                    mebibytes(self.fixed_bytes),
                    self.operations.len()
                ),
                limit: Limit::Memory,
            };
        }
        let mut entry = self.list.first;
        loop {
            if self.remaining_definite == 0 {
                let order = self.stack_operations().collect();
                return SearchVerdict::Linearizable { order };
            }
            if self.steps >= self.budget.steps_max {
                return SearchVerdict::OverBudget {
                    reason: format!("search budget of {} steps exhausted", self.budget.steps_max),
                    limit: Limit::Steps,
                };
            }
            self.steps += 1;
            assert_ne!(
                entry, HEAD,
                "walked past the last return with {} operations left",
                self.remaining_definite
            );
            let next = if self.list.is_call[entry] {
                self.at_call(entry)
            } else {
                self.at_return(entry)
            };
            match next {
                Err(verdict) => return verdict,
                Ok(None) => return SearchVerdict::Illegal,
                Ok(Some(next)) => entry = next,
            }
        }
    }
}

/// Searches for a linearization of `operations` (failed operations already removed).
pub(crate) fn search<M: Model>(
    model: &M,
    operations: &[SearchOperation<'_, M>],
    budget: SearchBudget,
) -> SearchOutcome {
    let mut search = Search::new(model, operations, budget);
    let verdict = search.run();
    let definite_count = operations.iter().filter(|op| !op.optional).count();
    assert!(
        search.remaining_definite <= definite_count,
        "more operations left than exist"
    );
    SearchOutcome {
        verdict,
        steps: search.steps,
        memo_entries: search.memo.len(),
        memory_bytes: search.memory_bytes,
        deepest: search.deepest.into_deepest(),
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
        memory_bytes_max: 1 << 20,
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
                memory_bytes_max: 1 << 20,
            },
        );
        assert!(matches!(outcome.verdict, SearchVerdict::OverBudget { .. }));
    }
}
