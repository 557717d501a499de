//! The `Model` trait: a sequential specification the checker searches against.

use std::borrow::Cow;
use std::fmt::Debug;
use std::hash::Hash;

use crate::history::{Operation, Outcome};

/// A group of operations that can be checked on its own (P-compositionality): the history is
/// linearizable iff every partition is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    /// Shown to users, e.g. `key "x"`.
    pub label: String,
    /// Indices into the history's operations, in history order.
    pub operations: Vec<usize>,
}

/// What an operation may do to the state, for the pruning of [`Model::pinned_value`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sets<'a> {
    /// It never puts the state back on a path to a pinned value (a read; for kv, an append).
    Nothing,
    /// It may set the state to this value, and so enable the operations pinned on a value that
    /// starts with it.
    Value(Cow<'a, [u8]>),
    /// It may enable any pinned operation.
    Anything,
}

/// A sequential specification.
///
/// States are compared with `Eq` and hashed for the memo, so two states that behave the same
/// should be equal (a canonical form), otherwise the search only gets slower, never wrong.
pub trait Model: Sync {
    type Input: Debug + Sync;
    type Output: Debug + Sync;
    /// The memo hashes states (with a fixed hasher) and compares them with `Eq`; make both cheap.
    type State: Clone + Eq + Hash + Debug + Send;

    /// The state before any operation.
    fn init(&self) -> Self::State;

    /// Applies `input` to `state`. `output` is `None` for an indefinite operation, whose output
    /// is unknown (any output is acceptable). Returns the next state, or `None` when the
    /// operation cannot return `output` from `state`.
    fn step(
        &self,
        state: &Self::State,
        input: &Self::Input,
        output: Option<&Self::Output>,
    ) -> Option<Self::State>;

    /// Splits a history into independent parts. The default keeps everything together.
    fn partition(&self, operations: &[Operation<Self::Input, Self::Output>]) -> Vec<Partition> {
        vec![Partition {
            label: "history".to_owned(),
            operations: (0..operations.len()).collect(),
        }]
    }

    /// True when the operation never changes the state whatever it returns. Lets the checker
    /// drop indefinite reads and delete reads while minimizing. Defaults to `false` (always safe).
    fn is_read_only(&self, _input: &Self::Input) -> bool {
        false
    }

    /// True when `input`, returning `output`, leaves every state it can return that from as
    /// it is (a read; a compare-and-set that failed). The search then linearizes such an
    /// operation as soon as it may, and tries no later place for it: see `search`. `false` is
    /// always safe; the default, `is_read_only`, is right for any model.
    fn keeps_state(&self, input: &Self::Input, _output: &Self::Output) -> bool {
        self.is_read_only(input)
    }

    /// Pruning, off by default: the value the state must hold for `input` to return `output`,
    /// when there is exactly one (a read of a value, a successful compare-and-set), as bytes.
    /// For such a *pinned* operation `P` the search keeps count of the operations not yet
    /// linearized that may put the state back on a path to that value ([`Model::sets`]); once
    /// none is left and [`Model::can_reach`] is false for the current state, `P` can never be
    /// linearized from here and the search backtracks at once instead of at `P`'s return. The
    /// three hooks must keep this contract: if `can_reach(S, v)` is false, no sequence of
    /// operations whose `sets` is `Nothing` or a value that is not a prefix of `v` (with any
    /// outputs) takes `S` to a state in which an operation pinned on `v` returns its output.
    fn pinned_value<'a>(
        &self,
        _input: &'a Self::Input,
        _output: &'a Self::Output,
    ) -> Option<Cow<'a, [u8]>> {
        None
    }

    /// See [`Model::pinned_value`]: which pinned operations `input` (with any output) may enable:
    /// those whose pinned value starts with the value it sets. `Anything` is always safe.
    fn sets<'a>(&self, _input: &'a Self::Input) -> Sets<'a> {
        Sets::Anything
    }

    /// See [`Model::pinned_value`]: whether `state` may still lead to one that holds `value`
    /// through operations that cannot enable it. `true` is always safe. For every state, the
    /// values for which this is true must form one range in byte order (as "starts with the
    /// state" and "equals the state" do): the search checks only the smallest and the largest
    /// value of the operations it has to rule out.
    fn can_reach(&self, _state: &Self::State, _value: &[u8]) -> bool {
        true
    }

    /// See [`Model::pinned_value`]: true when `input` changes the state only if it holds the
    /// initial state (a compare-and-set that expects the initial value). When no operation of
    /// the partition can bring the state back to the initial one ([`Model::restores_initial`]),
    /// such operations enable nothing once the state has left it. `false` is always safe.
    fn only_from_initial(&self, _input: &Self::Input) -> bool {
        false
    }

    /// See [`Model::only_from_initial`]: whether `input` may take a state that is not the
    /// initial one back to it. `true` is always safe.
    fn restores_initial(&self, _input: &Self::Input) -> bool {
        true
    }

    /// Merging of states, off by default: a [`StateMerge`] for one partition, given each of its
    /// searched operations as (input, output; `None` when indefinite). The merge may only map a
    /// state to one that every operation of the partition treats alike (see [`StateMerge`]).
    fn state_merge(
        &self,
        _operations: &[(&Self::Input, Option<&Self::Output>)],
    ) -> Option<Box<dyn StateMerge<Self::State>>> {
        None
    }

    /// Heap bytes that `state` holds and no other live state shares, for the memory budget.
    fn state_heap_bytes(&self, _state: &Self::State) -> usize {
        0
    }

    /// Rejects an output of the wrong kind for its input (a read that returned "ok").
    fn validate(&self, _input: &Self::Input, _output: &Self::Output) -> Result<(), String> {
        Ok(())
    }

    fn describe_input(&self, input: &Self::Input) -> String {
        format!("{input:?}")
    }

    fn describe_output(&self, output: &Self::Output) -> String {
        format!("{output:?}")
    }

    fn describe_state(&self, state: &Self::State) -> String {
        format!("{state:?}")
    }

    /// One line such as `put("x", "1") -> ok`.
    fn describe_operation(&self, operation: &Operation<Self::Input, Self::Output>) -> String {
        let input = self.describe_input(&operation.input);
        match &operation.outcome {
            Outcome::Returned(output) => format!("{input} -> {}", self.describe_output(output)),
            Outcome::Failed => format!("{input} -> failed"),
            Outcome::Indefinite => format!("{input} -> ?"),
        }
    }
}

/// States of one partition that none of its operations can tell apart, mapped to one of them.
///
/// Contract: `canonical(before, after)` returns `after` or a state *equivalent* to it, where
/// equivalence is a bisimulation over the partition's operations: for every operation and every
/// output (or none, when indefinite), stepping from two equivalent states is `None` from both,
/// or leads to equivalent states. Then the operations that can still be linearized in some order
/// from a state are the same from any state equivalent to it, so searching over the states
/// `canonical` returns gives the verdict the plain search would: every path of the one has a
/// path of the other through equivalent states. What changes is that the memo meets more pairs
/// twice, and an optional operation that leads to the state it started from (as merged) is not
/// taken. A merge may leave equivalent states apart (it is then only slower). `before` is the
/// state `after` was stepped from, as `canonical` returned it, a hint for an incremental check.
pub trait StateMerge<S>: Send + Sync {
    fn canonical(&self, before: &S, after: S) -> S;

    /// Heap bytes held, for the memory budget.
    fn heap_bytes(&self) -> usize;
}

/// Quotes a string the way Rust's `Debug` does, so that keys and values with spaces, quotes or
/// control characters stay readable and unambiguous.
pub(crate) fn quote(text: &str) -> String {
    format!("{text:?}")
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
