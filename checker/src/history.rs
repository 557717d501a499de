//! Histories as the checker sees them: operations with an input, an outcome and a real-time
//! interval. Built by the parsers (`json`, `edn`) or directly by callers such as the simulator.

use std::fmt;

use crate::kv::{KvInput, KvOutput};
use crate::register::{RegisterInput, RegisterOutput};

/// What a client learned about an operation.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Outcome<O> {
    /// The operation took effect and returned this output.
    Returned(O),
    /// The operation certainly never took effect (Jepsen `:fail`). Dropped before the search.
    Failed,
    /// The operation may or may not have taken effect (Jepsen `:info`, a timeout); its return is
    /// at +∞ and its output is unknown.
    Indefinite,
}

/// One client operation.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Operation<I, O> {
    /// The client (Jepsen process) that issued it; used for display only.
    pub client: u64,
    pub input: I,
    pub outcome: Outcome<O>,
    /// Time of the invocation, in any unit as long as it is the same for every operation.
    pub call: u64,
    /// Time of the return. Required for `Returned`; ignored by the search for `Indefinite`
    /// (which returns at +∞) and `Failed` (which is dropped), but kept for display.
    pub return_time: Option<u64>,
}

impl<I, O> Operation<I, O> {
    /// An operation that returned `output` at `return_time`.
    pub fn returned(client: u64, input: I, output: O, call: u64, return_time: u64) -> Self {
        Operation {
            client,
            input,
            outcome: Outcome::Returned(output),
            call,
            return_time: Some(return_time),
        }
    }

    /// An operation whose effect is unknown (it may or may not have happened).
    pub fn indefinite(client: u64, input: I, call: u64) -> Self {
        Operation {
            client,
            input,
            outcome: Outcome::Indefinite,
            call,
            return_time: None,
        }
    }

    /// An operation that certainly did not take effect.
    pub fn failed(client: u64, input: I, call: u64, return_time: u64) -> Self {
        Operation {
            client,
            input,
            outcome: Outcome::Failed,
            call,
            return_time: Some(return_time),
        }
    }

    pub fn output(&self) -> Option<&O> {
        match &self.outcome {
            Outcome::Returned(output) => Some(output),
            Outcome::Failed | Outcome::Indefinite => None,
        }
    }

    pub fn is_failed(&self) -> bool {
        matches!(self.outcome, Outcome::Failed)
    }

    pub fn is_indefinite(&self) -> bool {
        matches!(self.outcome, Outcome::Indefinite)
    }

    /// The return time the search uses: `None` means +∞ (indefinite operations).
    pub(crate) fn effective_return(&self) -> Option<u64> {
        match self.outcome {
            Outcome::Returned(_) => self.return_time,
            Outcome::Failed | Outcome::Indefinite => None,
        }
    }
}

/// Real-time order between two completed operations: `a` precedes `b` when `a` returned before
/// `b` was called. At equal times a return counts as before a call (a client that gets a reply at
/// `t` and issues its next request at `t` is sequential), except for a zero-length operation
/// (`call == return`), which is concurrent with operations called at that same instant; without
/// that exception two zero-length operations at one instant would each precede the other.
pub fn precedes(a_call: u64, a_return: Option<u64>, b_call: u64) -> bool {
    match a_return {
        None => false,
        Some(a_return) => a_return < b_call || (a_return == b_call && a_call < a_return),
    }
}

pub type KvOperation = Operation<KvInput, KvOutput>;
pub type RegisterOperation = Operation<RegisterInput, RegisterOutput>;

/// A history of one of the built-in models.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum History {
    Kv(Vec<KvOperation>),
    Register(Vec<RegisterOperation>),
}

impl History {
    pub fn model(&self) -> ModelKind {
        match self {
            History::Kv(_) => ModelKind::Kv,
            History::Register(_) => ModelKind::Register,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            History::Kv(operations) => operations.len(),
            History::Register(operations) => operations.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The built-in models, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ModelKind {
    Kv,
    Register,
}

impl ModelKind {
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Kv => "kv",
            ModelKind::Register => "register",
        }
    }

    pub fn from_name(name: &str) -> Option<ModelKind> {
        match name {
            "kv" => Some(ModelKind::Kv),
            "register" => Some(ModelKind::Register),
            _ => None,
        }
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_at_equal_times() {
        // Return then call at the same instant: sequential.
        assert!(precedes(0, Some(5), 5));
        // Zero-length operations at one instant are concurrent with calls at that instant.
        assert!(!precedes(5, Some(5), 5));
        assert!(precedes(5, Some(5), 6));
        // Indefinite operations return at +∞ and precede nothing.
        assert!(!precedes(0, None, u64::MAX));
        assert!(!precedes(0, Some(6), 5));
    }
}
