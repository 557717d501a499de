//! An independent oracle: tries every order of the operations that respects real time, with
//! indefinite operations optional and failed ones absent, over the whole history (no partitions),
//! with the models' semantics written out again here.

use std::collections::BTreeMap;

use checker::{KvInput, KvOutput, Operation, Outcome, RegisterInput, RegisterOutput};

/// `a` must come before `b`: `a` returned (at or) before `b` was called.
fn before<I, O>(a: &Operation<I, O>, b: &Operation<I, O>) -> bool {
    match (&a.outcome, a.return_time) {
        (Outcome::Returned(_), Some(a_return)) => {
            a_return < b.call || (a_return == b.call && a.call < a_return)
        }
        _ => false,
    }
}

fn search<S: Clone, I, O>(
    operations: &[Operation<I, O>],
    placed: &mut Vec<bool>,
    state: &S,
    apply: &impl Fn(&S, &I, Option<&O>) -> Option<S>,
) -> bool {
    let done = operations
        .iter()
        .zip(placed.iter())
        .all(|(operation, &placed)| placed || !matches!(operation.outcome, Outcome::Returned(_)));
    if done {
        return true;
    }
    for next in 0..operations.len() {
        if placed[next] || matches!(operations[next].outcome, Outcome::Failed) {
            continue;
        }
        let blocked = (0..operations.len()).any(|other| {
            other != next
                && !placed[other]
                && !matches!(operations[other].outcome, Outcome::Failed)
                && before(&operations[other], &operations[next])
        });
        if blocked {
            continue;
        }
        let output = match &operations[next].outcome {
            Outcome::Returned(output) => Some(output),
            _ => None,
        };
        if let Some(after) = apply(state, &operations[next].input, output) {
            placed[next] = true;
            if search(operations, placed, &after, apply) {
                return true;
            }
            placed[next] = false;
        }
    }
    false
}

fn linearizable<S: Clone, I, O>(
    operations: &[Operation<I, O>],
    init: S,
    apply: impl Fn(&S, &I, Option<&O>) -> Option<S>,
) -> bool {
    let mut placed = vec![false; operations.len()];
    search(operations, &mut placed, &init, &apply)
}

pub fn kv(operations: &[Operation<KvInput, KvOutput>]) -> bool {
    linearizable(
        operations,
        BTreeMap::<String, String>::new(),
        |store, input, output| {
            let mut store = store.clone();
            let (key, current) = match input {
                KvInput::Get { key }
                | KvInput::Put { key, .. }
                | KvInput::Append { key, .. }
                | KvInput::Cas { key, .. } => {
                    (key.clone(), store.get(key).cloned().unwrap_or_default())
                }
            };
            match input {
                KvInput::Get { .. } => match output {
                    None => Some(store),
                    Some(KvOutput::Value(value)) if *value == current => Some(store),
                    Some(_) => None,
                },
                KvInput::Put { value, .. } => {
                    store.insert(key, value.clone());
                    Some(store)
                }
                KvInput::Append { value, .. } => {
                    store.insert(key, format!("{current}{value}"));
                    Some(store)
                }
                KvInput::Cas { expected, new, .. } => {
                    let swaps = current == *expected;
                    match output {
                        Some(KvOutput::Cas(claimed)) if *claimed != swaps => return None,
                        Some(KvOutput::Cas(_)) | None => {}
                        Some(_) => return None,
                    }
                    if swaps {
                        store.insert(key, new.clone());
                    }
                    Some(store)
                }
            }
        },
    )
}

pub fn register(operations: &[Operation<RegisterInput, RegisterOutput>]) -> bool {
    linearizable(
        operations,
        None::<i64>,
        |&value, input, output| match input {
            RegisterInput::Read => match output {
                None => Some(value),
                Some(RegisterOutput::Value(read)) if *read == value => Some(value),
                Some(_) => None,
            },
            RegisterInput::Write(new) => Some(Some(*new)),
            RegisterInput::Cas { expected, new } => {
                let swaps = value == Some(*expected);
                match output {
                    Some(RegisterOutput::Cas(claimed)) if *claimed != swaps => None,
                    Some(RegisterOutput::Cas(_)) | None => {
                        Some(if swaps { Some(*new) } else { value })
                    }
                    Some(_) => None,
                }
            }
        },
    )
}
