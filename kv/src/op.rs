//! Operations of the KV service and their results, with the 6.824 lab-3 semantics (BRIEF §6).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// One client operation. Keys and values are strings.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "f", rename_all = "snake_case")]
pub enum Op {
    /// Read a key; a missing key reads as the empty string.
    Get { key: String },
    /// Replace the value of a key.
    Put { key: String, value: String },
    /// Append to the value of a key; on a missing key it acts as `Put`.
    Append { key: String, value: String },
    /// Compare-and-set: if the current value (a missing key counts as "") equals `expected`, set
    /// it to `new`. So `Cas { expected: "" }` on a missing key succeeds and creates the key.
    Cas {
        key: String,
        expected: String,
        new: String,
    },
}

/// The result of an operation that took effect.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum OpResult {
    /// Result of a `Get`: the value read ("" for a missing key).
    Value(String),
    /// Result of a `Put` or an `Append`: the write was applied.
    Written,
    /// Result of a `Cas`: whether the swap happened.
    Cas(bool),
}

impl Op {
    /// The key the operation touches (every operation touches exactly one).
    pub fn key(&self) -> &str {
        match self {
            Op::Get { key }
            | Op::Put { key, .. }
            | Op::Append { key, .. }
            | Op::Cas { key, .. } => key,
        }
    }

    /// True for operations that never change the state (only `Get`).
    pub fn is_read_only(&self) -> bool {
        self.view().is_read_only()
    }

    /// Whether `result` is of the kind this operation produces (a `Get` yields a value, and so on).
    pub fn accepts(&self, result: &OpResult) -> bool {
        self.view().accepts(result)
    }

    /// Applies the operation to `data` and returns its result (see [`OpView::apply_to`]).
    pub fn apply_to(&self, data: &mut BTreeMap<String, String>) -> OpResult {
        self.view().apply_to(data)
    }

    /// The operation with its strings borrowed.
    pub fn view(&self) -> OpView<'_> {
        match self {
            Op::Get { key } => OpView::Get { key },
            Op::Put { key, value } => OpView::Put { key, value },
            Op::Append { key, value } => OpView::Append { key, value },
            Op::Cas { key, expected, new } => OpView::Cas { key, expected, new },
        }
    }
}

/// An [`Op`] whose strings are borrowed: what a command decoded in place from a log entry holds,
/// so that applying it allocates only for a key or value the store has no room for yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpView<'a> {
    Get {
        key: &'a str,
    },
    Put {
        key: &'a str,
        value: &'a str,
    },
    Append {
        key: &'a str,
        value: &'a str,
    },
    Cas {
        key: &'a str,
        expected: &'a str,
        new: &'a str,
    },
}

impl OpView<'_> {
    pub fn to_owned(self) -> Op {
        match self {
            OpView::Get { key } => Op::Get { key: key.into() },
            OpView::Put { key, value } => Op::Put {
                key: key.into(),
                value: value.into(),
            },
            OpView::Append { key, value } => Op::Append {
                key: key.into(),
                value: value.into(),
            },
            OpView::Cas { key, expected, new } => Op::Cas {
                key: key.into(),
                expected: expected.into(),
                new: new.into(),
            },
        }
    }

    /// True for operations that never change the state (only `Get`).
    pub fn is_read_only(self) -> bool {
        matches!(self, OpView::Get { .. })
    }

    /// Whether `result` is of the kind this operation produces (a `Get` yields a value, and so on).
    pub fn accepts(self, result: &OpResult) -> bool {
        matches!(
            (self, result),
            (OpView::Get { .. }, OpResult::Value(_))
                | (
                    OpView::Put { .. } | OpView::Append { .. },
                    OpResult::Written
                )
                | (OpView::Cas { .. }, OpResult::Cas(_))
        )
    }

    /// Whether applying the operation to `data` would change what any read returns.
    pub fn would_change(self, data: &BTreeMap<String, String>) -> bool {
        match self {
            OpView::Get { .. } => false,
            OpView::Put { key, value } => read(data, key) != value,
            OpView::Append { value, .. } => !value.is_empty(),
            OpView::Cas { key, expected, new } => read(data, key) == expected && expected != new,
        }
    }

    /// Applies the operation to `data` and returns its result. This is the whole semantics of the
    /// service; sessions and deduplication are layered on top by the state machine.
    pub fn apply_to(self, data: &mut BTreeMap<String, String>) -> OpResult {
        match self {
            OpView::Get { key } => OpResult::Value(read(data, key).to_owned()),
            OpView::Put { key, value } => {
                set(data, key, value);
                OpResult::Written
            }
            OpView::Append { key, value } => {
                match data.get_mut(key) {
                    Some(current) => current.push_str(value),
                    None => set(data, key, value),
                }
                OpResult::Written
            }
            OpView::Cas { key, expected, new } => {
                let swapped = read(data, key) == expected;
                if swapped {
                    set(data, key, new);
                }
                OpResult::Cas(swapped)
            }
        }
    }
}

/// Sets `key` to `value`, reusing the existing value's buffer when the key is there.
fn set(data: &mut BTreeMap<String, String>, key: &str, value: &str) {
    match data.get_mut(key) {
        Some(current) => value.clone_into(current),
        None => {
            data.insert(key.to_owned(), value.to_owned());
        }
    }
}

/// Reads a key with the "missing reads as empty" rule.
pub(crate) fn read<'a>(data: &'a BTreeMap<String, String>, key: &str) -> &'a str {
    data.get(key).map_or("", String::as_str)
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Get { key } => write!(f, "get({key:?})"),
            Op::Put { key, value } => write!(f, "put({key:?}, {value:?})"),
            Op::Append { key, value } => write!(f, "append({key:?}, {value:?})"),
            Op::Cas { key, expected, new } => write!(f, "cas({key:?}, {expected:?}, {new:?})"),
        }
    }
}

impl fmt::Display for OpResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpResult::Value(value) => write!(f, "{value:?}"),
            OpResult::Written => f.write_str("ok"),
            OpResult::Cas(swapped) => write!(f, "{swapped}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(ops: &[Op]) -> (Vec<OpResult>, BTreeMap<String, String>) {
        let mut data = BTreeMap::new();
        let results = ops.iter().map(|op| op.apply_to(&mut data)).collect();
        (results, data)
    }

    fn get(key: &str) -> Op {
        Op::Get { key: key.into() }
    }

    #[test]
    fn get_missing_key_reads_empty_and_creates_nothing() {
        let (results, data) = run(&[get("x")]);
        assert_eq!(results, vec![OpResult::Value(String::new())]);
        assert!(data.is_empty());
    }

    #[test]
    fn append_to_missing_key_acts_as_put() {
        let append = Op::Append {
            key: "x".into(),
            value: "a;".into(),
        };
        let (results, data) = run(&[append.clone(), append, get("x")]);
        assert_eq!(results[2], OpResult::Value("a;a;".into()));
        assert_eq!(data.len(), 1);
    }

    #[test]
    fn cas_with_empty_expected_creates_a_missing_key() {
        let cas = Op::Cas {
            key: "x".into(),
            expected: String::new(),
            new: "1".into(),
        };
        let (results, _) = run(&[cas.clone(), cas, get("x")]);
        assert_eq!(
            results,
            vec![
                OpResult::Cas(true),
                OpResult::Cas(false),
                OpResult::Value("1".into())
            ]
        );
    }

    #[test]
    fn accepts_only_the_matching_result_kind() {
        let put = Op::Put {
            key: "x".into(),
            value: "1".into(),
        };
        assert!(put.accepts(&OpResult::Written));
        assert!(!put.accepts(&OpResult::Cas(true)));
        assert!(get("x").accepts(&OpResult::Value(String::new())));
        assert!(!get("x").accepts(&OpResult::Written));
    }
}
