//! The `Model` trait: a sequential specification the checker searches against.

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

    /// Pruning, off by default. True when `input` returning `output` can only run in particular
    /// states (a read of a value, a successful compare-and-set). For such an operation `P` the
    /// search keeps count of the operations not yet linearized for which [`Model::may_enable`]
    /// holds; once none is left and [`Model::can_reach`] is false for the current state, `P` can
    /// never be linearized from here and the search backtracks at once instead of at `P`'s
    /// return. Both hooks must then keep this contract: if `can_reach(S, P)` is false, no
    /// sequence of operations `O` with `may_enable(P, O)` false (with any outputs) takes `S` to a
    /// state in which `P` returns its output.
    fn pins(&self, _input: &Self::Input, _output: &Self::Output) -> bool {
        false
    }

    /// See [`Model::pins`]: whether `state` may still lead to one in which `input` returns
    /// `output` through operations that `may_enable` rejects. `true` is always safe.
    fn can_reach(
        &self,
        _state: &Self::State,
        _input: &Self::Input,
        _output: &Self::Output,
    ) -> bool {
        true
    }

    /// See [`Model::pins`]: whether `other` (with any output) may put the state back on a path to
    /// one in which `input` returns `output`. `true` is always safe.
    fn may_enable(
        &self,
        _input: &Self::Input,
        _output: &Self::Output,
        _other: &Self::Input,
    ) -> bool {
        true
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

/// Quotes a string the way Rust's `Debug` does, so that keys and values with spaces, quotes or
/// control characters stay readable and unambiguous.
pub(crate) fn quote(text: &str) -> String {
    format!("{text:?}")
}
