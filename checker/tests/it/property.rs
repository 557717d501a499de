//! The checker against the brute-force oracle on thousands of small random histories of both
//! models, with failed and indefinite operations. Half the histories come from a real execution
//! (outputs computed at a point inside each interval), some of those with one output changed,
//! so both verdicts are common.

use checker::{
    KvInput, KvOutput, Operation, Options, RegisterInput, RegisterOutput, Verdict, check_kv,
    check_register,
};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};

use crate::brute;

/// One operation's random ingredients; the model builders interpret them.
#[derive(Clone, Debug)]
struct Raw {
    call: u64,
    duration: u64,
    /// Where in the interval the operation takes effect in an execution, 0..=duration.
    effect_offset: u64,
    kind: u8,
    key: u8,
    value: u8,
    other: u8,
    /// 0..=6 returned, 7 failed, 8..=9 indefinite.
    outcome: u8,
    flag: bool,
}

fn raw() -> impl Strategy<Value = Raw> {
    (
        0u64..12,
        0u64..6,
        0u64..6,
        0u8..4,
        0u8..2,
        0u8..3,
        0u8..3,
        0u8..10,
        any::<bool>(),
    )
        .prop_map(
            |(call, duration, effect_offset, kind, key, value, other, outcome, flag)| Raw {
                call,
                duration,
                effect_offset: effect_offset.min(duration),
                kind,
                key,
                value,
                other,
                outcome,
                flag,
            },
        )
}

/// (operations, take outputs from an execution, which output to change if any).
fn case() -> impl Strategy<Value = (Vec<Raw>, bool, Option<usize>)> {
    (
        prop::collection::vec(raw(), 1..=7),
        any::<bool>(),
        prop::option::of(0usize..7),
    )
}

const VALUES: [&str; 3] = ["", "x", "y"];

fn kv_input(raw: &Raw) -> KvInput {
    let key = ["a", "b"][raw.key as usize].to_owned();
    let value = VALUES[raw.value as usize].to_owned();
    match raw.kind {
        0 => KvInput::Get { key },
        1 => KvInput::Put { key, value },
        2 => KvInput::Append { key, value },
        _ => KvInput::Cas {
            key,
            expected: value,
            new: VALUES[raw.other as usize].to_owned(),
        },
    }
}

/// Applies `input` to `current` and returns (next, output): the execution semantics.
fn kv_apply(current: &str, input: &KvInput) -> (String, KvOutput) {
    match input {
        KvInput::Get { .. } => (current.to_owned(), KvOutput::Value(current.to_owned())),
        KvInput::Put { value, .. } => (value.clone(), KvOutput::Written),
        KvInput::Append { value, .. } => (format!("{current}{value}"), KvOutput::Written),
        KvInput::Cas { expected, new, .. } if current == expected => {
            (new.clone(), KvOutput::Cas(true))
        }
        KvInput::Cas { .. } => (current.to_owned(), KvOutput::Cas(false)),
    }
}

fn random_kv_output(raw: &Raw, input: &KvInput) -> KvOutput {
    match input {
        KvInput::Get { .. } => KvOutput::Value(
            ["", "x", "y", "xy"][(raw.other as usize + raw.value as usize) % 4].to_owned(),
        ),
        KvInput::Put { .. } | KvInput::Append { .. } => KvOutput::Written,
        KvInput::Cas { .. } => KvOutput::Cas(raw.flag),
    }
}

/// Builds operations; `outputs` gives the output of operation `index` that returned.
fn assemble<I, O>(raws: &[Raw], inputs: Vec<I>, mut outputs: Vec<O>) -> Vec<Operation<I, O>> {
    let mut operations = Vec::with_capacity(raws.len());
    for ((index, raw), input) in raws.iter().enumerate().zip(inputs).rev() {
        let output = outputs.remove(index);
        let return_time = raw.call + raw.duration;
        operations.push(match raw.outcome {
            0..=6 => Operation::returned(index as u64, input, output, raw.call, return_time),
            7 => Operation::failed(index as u64, input, raw.call, return_time),
            _ => Operation::indefinite(index as u64, input, raw.call),
        });
    }
    operations.reverse();
    operations
}

/// Indices in order of effect points; failed operations and half of the indefinite ones never
/// take effect.
fn execution_order(raws: &[Raw]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..raws.len())
        .filter(|&index| raws[index].outcome <= 6 || (raws[index].outcome >= 8 && raws[index].flag))
        .collect();
    order.sort_by_key(|&index| {
        (
            raws[index].call + raws[index].effect_offset,
            raws[index].call,
            index,
        )
    });
    order
}

fn kv_history(
    raws: &[Raw],
    from_execution: bool,
    changed: Option<usize>,
) -> Vec<Operation<KvInput, KvOutput>> {
    let inputs: Vec<KvInput> = raws.iter().map(kv_input).collect();
    let mut outputs: Vec<KvOutput> = raws
        .iter()
        .zip(&inputs)
        .map(|(raw, input)| random_kv_output(raw, input))
        .collect();
    if from_execution {
        let mut store = std::collections::BTreeMap::<String, String>::new();
        for index in execution_order(raws) {
            let key = match &inputs[index] {
                KvInput::Get { key }
                | KvInput::Put { key, .. }
                | KvInput::Append { key, .. }
                | KvInput::Cas { key, .. } => key.clone(),
            };
            let (next, output) =
                kv_apply(store.get(&key).map_or("", String::as_str), &inputs[index]);
            store.insert(key, next);
            outputs[index] = output;
        }
        if let Some(changed) = changed.filter(|&changed| changed < raws.len()) {
            outputs[changed] = random_kv_output(&raws[changed], &inputs[changed]);
        }
    }
    assemble(raws, inputs, outputs)
}

fn register_input(raw: &Raw) -> RegisterInput {
    match raw.kind {
        0 | 1 => RegisterInput::Read,
        2 => RegisterInput::Write(i64::from(raw.value)),
        _ => RegisterInput::Cas {
            expected: i64::from(raw.value),
            new: i64::from(raw.other),
        },
    }
}

fn random_register_output(raw: &Raw, input: &RegisterInput) -> RegisterOutput {
    match input {
        RegisterInput::Read => {
            RegisterOutput::Value((raw.other < 2).then_some(i64::from(raw.value)))
        }
        RegisterInput::Write(_) => RegisterOutput::Written,
        RegisterInput::Cas { .. } => RegisterOutput::Cas(raw.flag),
    }
}

fn register_history(
    raws: &[Raw],
    from_execution: bool,
    changed: Option<usize>,
) -> Vec<Operation<RegisterInput, RegisterOutput>> {
    let inputs: Vec<RegisterInput> = raws.iter().map(register_input).collect();
    let mut outputs: Vec<RegisterOutput> = raws
        .iter()
        .zip(&inputs)
        .map(|(raw, input)| random_register_output(raw, input))
        .collect();
    if from_execution {
        let mut value: Option<i64> = None;
        for index in execution_order(raws) {
            outputs[index] = match inputs[index] {
                RegisterInput::Read => RegisterOutput::Value(value),
                RegisterInput::Write(new) => {
                    value = Some(new);
                    RegisterOutput::Written
                }
                RegisterInput::Cas { expected, new } => {
                    let swaps = value == Some(expected);
                    if swaps {
                        value = Some(new);
                    }
                    RegisterOutput::Cas(swaps)
                }
            };
        }
        if let Some(changed) = changed.filter(|&changed| changed < raws.len()) {
            outputs[changed] = random_register_output(&raws[changed], &inputs[changed]);
        }
    }
    assemble(raws, inputs, outputs)
}

fn verdict(linearizable: bool) -> Verdict {
    if linearizable {
        Verdict::Ok
    } else {
        Verdict::Illegal
    }
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 4000,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn kv_agrees_with_brute_force((raws, from_execution, changed) in case()) {
        let operations = kv_history(&raws, from_execution, changed);
        let result = check_kv(&operations, &minimizing());
        prop_assert_eq!(&result.verdict, &verdict(brute::kv(&operations)), "{:#?}", operations);
        // Every reported linearization must replay (checked by the oracle's own semantics).
        if result.verdict == Verdict::Ok {
            let ordered = in_order(&operations, result.partitions.iter().flat_map(|p| &p.linearization));
            prop_assert!(brute::kv(&ordered), "linearization does not replay: {:?}", result);
        }
        // Every minimized witness is illegal on its own, by the oracle.
        for partition in result.failing() {
            let counterexample = partition.counterexample.as_ref().expect("illegal partitions have one");
            prop_assert!(counterexample.minimized_complete);
            let witness: Vec<_> = counterexample.minimized.iter().map(|&index| operations[index].clone()).collect();
            prop_assert!(!witness.is_empty() && !brute::kv(&witness), "witness {:?} of {:#?}", witness, operations);
        }
        // Without minimization: the same verdict, prefix and stuck operation, no witness.
        let plain = check_kv(&operations, &Options::default());
        prop_assert_eq!(&plain.verdict, &result.verdict);
        for (with, without) in result.partitions.iter().zip(&plain.partitions) {
            prop_assert_eq!(&with.linearization, &without.linearization);
            let (Some(with), Some(without)) = (&with.counterexample, &without.counterexample) else {
                prop_assert!(with.counterexample.is_none() && without.counterexample.is_none());
                continue;
            };
            prop_assert_eq!(&with.prefix, &without.prefix);
            prop_assert_eq!(with.stuck, without.stuck);
            prop_assert!(without.minimized.is_empty() && !without.minimized_complete);
            // The prefix replays, and the stuck operation is not in it.
            prop_assert!(brute::kv(&in_order(&operations, &without.prefix)), "prefix {:?}", without.prefix);
            prop_assert!(!without.prefix.contains(&without.stuck));
        }
        // Any memory budget gives the oracle's verdict or says it ran out; never a guess.
        let small = Options { memory_bytes_max: 1 << (10 + raws.len() % 4), ..Options::default() };
        let tight = check_kv(&operations, &small);
        if let Verdict::Unknown { reason } = &tight.verdict {
            prop_assert!(reason.contains("memory budget of"), "{}", reason);
        } else {
            prop_assert_eq!(&tight.verdict, &result.verdict);
        }
    }

    #[test]
    fn register_agrees_with_brute_force((raws, from_execution, changed) in case()) {
        let operations = register_history(&raws, from_execution, changed);
        let result = check_register(&operations, &minimizing());
        prop_assert_eq!(&result.verdict, &verdict(brute::register(&operations)), "{:#?}", operations);
        for partition in result.failing() {
            let counterexample = partition.counterexample.as_ref().expect("illegal partitions have one");
            let witness: Vec<_> = counterexample.minimized.iter().map(|&index| operations[index].clone()).collect();
            prop_assert!(!witness.is_empty() && !brute::register(&witness), "witness {:?} of {:#?}", witness, operations);
        }
    }
}

fn minimizing() -> Options {
    Options {
        minimize: true,
        ..Options::default()
    }
}

/// The operations `order` names as a sequential history (each operation in its own time slot),
/// which the oracle can only accept in exactly that order.
fn in_order<'i>(
    operations: &[Operation<KvInput, KvOutput>],
    order: impl IntoIterator<Item = &'i usize>,
) -> Vec<Operation<KvInput, KvOutput>> {
    let mut sequential = Vec::new();
    let mut slot = 0;
    for &index in order {
        let mut operation = operations[index].clone();
        operation.call = slot;
        operation.return_time = Some(slot + 1);
        slot += 2;
        sequential.push(operation);
    }
    sequential
}

/// The random histories are not all one verdict: both are common.
#[test]
fn property_histories_are_mixed() {
    let mut runner = TestRunner::new(Config {
        rng_seed: proptest::test_runner::RngSeed::Fixed(7),
        ..Config::default()
    });
    let (mut kv_ok, mut register_ok, mut with_indefinite, mut with_failed) = (0, 0, 0, 0);
    let total = 1000;
    for _ in 0..total {
        let (raws, from_execution, changed) =
            case().new_tree(&mut runner).expect("strategy").current();
        kv_ok += usize::from(brute::kv(&kv_history(&raws, from_execution, changed)));
        register_ok += usize::from(brute::register(&register_history(
            &raws,
            from_execution,
            changed,
        )));
        with_indefinite += usize::from(raws.iter().any(|raw| raw.outcome >= 8));
        with_failed += usize::from(raws.iter().any(|raw| raw.outcome == 7));
    }
    for (what, count) in [
        ("kv linearizable", kv_ok),
        ("register linearizable", register_ok),
    ] {
        assert!(
            count > total / 5 && count < total * 4 / 5,
            "{what}: {count} of {total}"
        );
    }
    assert!(with_indefinite > total / 3, "indefinite: {with_indefinite}");
    assert!(with_failed > total / 5, "failed: {with_failed}");
}
