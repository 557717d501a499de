//! Jepsen's cas-register: one register holding an integer or nil (initially nil), with `read`,
//! `write` and `cas`.
//!
//! Unlike Knossos, a read that returned nil is not a wildcard: it asserts the register was nil.
//! Knossos treats nil as "unknown" because its invocations carry nil; here an unknown read is an
//! indefinite operation instead.

use std::borrow::Cow;

use crate::model::{Model, Sets};

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RegisterInput {
    Read,
    Write(i64),
    /// Sets the register to `new` iff it holds `expected`.
    Cas {
        expected: i64,
        new: i64,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RegisterOutput {
    /// Result of `Read`: the value, `None` for nil.
    Value(Option<i64>),
    /// Result of `Write`.
    Written,
    /// Result of `Cas`: whether the swap happened (Jepsen writes a failed cas as `:fail`,
    /// which is a failed operation here; `Cas(false)` is for histories that observed it).
    Cas(bool),
}

#[derive(Clone, Copy, Debug, Default)]
pub struct RegisterModel;

/// The value the register must hold for `input` to return `output`, if there is exactly one.
fn pinned_value(input: &RegisterInput, output: &RegisterOutput) -> Option<Option<i64>> {
    match (input, output) {
        (RegisterInput::Read, RegisterOutput::Value(value)) => Some(*value),
        (RegisterInput::Cas { expected, .. }, RegisterOutput::Cas(true)) => Some(Some(*expected)),
        _ => None,
    }
}

/// nil as one byte, an integer as a tag and eight bytes: no encoding is a prefix of another.
fn encode(value: Option<i64>) -> Vec<u8> {
    match value {
        None => vec![0],
        Some(value) => {
            let mut bytes = vec![1];
            bytes.extend_from_slice(&value.to_be_bytes());
            bytes
        }
    }
}

fn show(value: Option<i64>) -> String {
    value.map_or_else(|| "nil".to_owned(), |value| value.to_string())
}

impl Model for RegisterModel {
    type Input = RegisterInput;
    type Output = RegisterOutput;
    type State = Option<i64>;

    fn init(&self) -> Option<i64> {
        None
    }

    fn step(
        &self,
        state: &Option<i64>,
        input: &RegisterInput,
        output: Option<&RegisterOutput>,
    ) -> Option<Option<i64>> {
        let state = *state;
        match (input, output) {
            (RegisterInput::Read, None) => Some(state),
            (RegisterInput::Read, Some(RegisterOutput::Value(value))) => {
                (*value == state).then_some(state)
            }
            (RegisterInput::Write(value), None | Some(RegisterOutput::Written)) => {
                Some(Some(*value))
            }
            (RegisterInput::Cas { expected, new }, None) => Some(if state == Some(*expected) {
                Some(*new)
            } else {
                state
            }),
            (RegisterInput::Cas { expected, new }, Some(RegisterOutput::Cas(true))) => {
                (state == Some(*expected)).then_some(Some(*new))
            }
            (RegisterInput::Cas { expected, .. }, Some(RegisterOutput::Cas(false))) => {
                (state != Some(*expected)).then_some(state)
            }
            _ => None,
        }
    }

    fn is_read_only(&self, input: &RegisterInput) -> bool {
        matches!(input, RegisterInput::Read)
    }

    // A failed swap saw another value and changed nothing; so does a swap of a value for itself.
    fn keeps_state(&self, input: &RegisterInput, output: &RegisterOutput) -> bool {
        match (input, output) {
            (RegisterInput::Read, _) | (RegisterInput::Cas { .. }, RegisterOutput::Cas(false)) => {
                true
            }
            (RegisterInput::Cas { expected, new }, RegisterOutput::Cas(true)) => expected == new,
            _ => false,
        }
    }

    // Only a write or a swap of the very value a read needs can make it readable again. Values
    // are encoded so that only equal values are prefixes of each other.
    fn pinned_value<'a>(
        &self,
        input: &'a RegisterInput,
        output: &'a RegisterOutput,
    ) -> Option<Cow<'a, [u8]>> {
        pinned_value(input, output).map(|value| Cow::Owned(encode(value)))
    }

    fn sets<'a>(&self, input: &'a RegisterInput) -> Sets<'a> {
        match input {
            RegisterInput::Read => Sets::Nothing,
            RegisterInput::Write(set) | RegisterInput::Cas { new: set, .. } => {
                Sets::Value(Cow::Owned(encode(Some(*set))))
            }
        }
    }

    // Compared in place: the search asks this at every step, and `encode` allocates.
    fn can_reach(&self, state: &Option<i64>, value: &[u8]) -> bool {
        match (state, value.split_first()) {
            (None, Some((0, rest))) => rest.is_empty(),
            (Some(state), Some((1, rest))) => *rest == state.to_be_bytes(),
            _ => false,
        }
    }

    fn validate(&self, input: &RegisterInput, output: &RegisterOutput) -> Result<(), String> {
        let fits = matches!(
            (input, output),
            (RegisterInput::Read, RegisterOutput::Value(_))
                | (RegisterInput::Write(_), RegisterOutput::Written)
                | (RegisterInput::Cas { .. }, RegisterOutput::Cas(_))
        );
        if fits {
            Ok(())
        } else {
            Err(format!(
                "{} cannot return {}",
                self.describe_input(input),
                self.describe_output(output)
            ))
        }
    }

    fn describe_input(&self, input: &RegisterInput) -> String {
        match input {
            RegisterInput::Read => "read".to_owned(),
            RegisterInput::Write(value) => format!("write({value})"),
            RegisterInput::Cas { expected, new } => format!("cas({expected}, {new})"),
        }
    }

    fn describe_output(&self, output: &RegisterOutput) -> String {
        match output {
            RegisterOutput::Value(value) => show(*value),
            RegisterOutput::Written => "ok".to_owned(),
            RegisterOutput::Cas(swapped) => swapped.to_string(),
        }
    }

    fn describe_state(&self, state: &Option<i64>) -> String {
        show(*state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cas_register_semantics() {
        let model = RegisterModel;
        let nil = model.init();
        assert_eq!(
            model.step(
                &nil,
                &RegisterInput::Read,
                Some(&RegisterOutput::Value(None))
            ),
            Some(None)
        );
        assert_eq!(
            model.step(
                &Some(1),
                &RegisterInput::Read,
                Some(&RegisterOutput::Value(None))
            ),
            None
        );
        let cas = RegisterInput::Cas {
            expected: 1,
            new: 2,
        };
        assert_eq!(
            model.step(&nil, &cas, Some(&RegisterOutput::Cas(true))),
            None
        );
        assert_eq!(
            model.step(&Some(1), &cas, Some(&RegisterOutput::Cas(true))),
            Some(Some(2))
        );
        assert_eq!(model.step(&nil, &cas, None), Some(None));
        assert_eq!(
            model.step(&nil, &RegisterInput::Write(4), None),
            Some(Some(4))
        );
    }

    #[test]
    fn a_state_reaches_exactly_its_own_encoding() {
        let model = RegisterModel;
        for state in [None, Some(0), Some(-1), Some(7)] {
            for value in [None, Some(0), Some(-1), Some(7)] {
                assert_eq!(
                    model.can_reach(&state, &encode(value)),
                    state == value,
                    "{state:?} {value:?}"
                );
            }
        }
    }
}
