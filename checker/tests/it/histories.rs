//! Hand-written histories of both models, the semantics of indefinite and failed operations,
//! budgets, several failing partitions, and determinism across thread counts.

use checker::generate::{KvGenOptions, corrupt_one_read, kv_history};
use checker::{
    KvInput, KvOutput, Operation, Options, RegisterInput, RegisterOutput, Verdict, check, check_kv,
    check_register,
};

fn put(
    client: u64,
    key: &str,
    value: &str,
    call: u64,
    return_time: u64,
) -> Operation<KvInput, KvOutput> {
    Operation::returned(
        client,
        KvInput::Put {
            key: key.into(),
            value: value.into(),
        },
        KvOutput::Written,
        call,
        return_time,
    )
}

fn get(
    client: u64,
    key: &str,
    value: &str,
    call: u64,
    return_time: u64,
) -> Operation<KvInput, KvOutput> {
    Operation::returned(
        client,
        KvInput::Get { key: key.into() },
        KvOutput::Value(value.into()),
        call,
        return_time,
    )
}

fn write(
    client: u64,
    value: i64,
    call: u64,
    return_time: u64,
) -> Operation<RegisterInput, RegisterOutput> {
    Operation::returned(
        client,
        RegisterInput::Write(value),
        RegisterOutput::Written,
        call,
        return_time,
    )
}

fn read(
    client: u64,
    value: Option<i64>,
    call: u64,
    return_time: u64,
) -> Operation<RegisterInput, RegisterOutput> {
    Operation::returned(
        client,
        RegisterInput::Read,
        RegisterOutput::Value(value),
        call,
        return_time,
    )
}

#[test]
fn kv_concurrent_reads_may_see_either_value() {
    // Both reads overlap the put, and they disagree: legal, one is ordered before the put.
    let operations = vec![
        put(1, "x", "1", 0, 10),
        get(2, "x", "1", 2, 4),
        get(3, "x", "", 5, 12),
    ];
    assert_eq!(
        check_kv(&operations, &Options::default()).verdict,
        Verdict::Illegal,
        "read 1 then read \"\" in real time order"
    );
    let operations = vec![
        put(1, "x", "1", 0, 10),
        get(2, "x", "", 2, 4),
        get(3, "x", "1", 5, 12),
    ];
    assert_eq!(
        check_kv(&operations, &Options::default()).verdict,
        Verdict::Ok
    );
}

#[test]
fn kv_append_cas_and_missing_keys() {
    let append = |client, value: &str, call, return_time| {
        Operation::returned(
            client,
            KvInput::Append {
                key: "k".into(),
                value: value.into(),
            },
            KvOutput::Written,
            call,
            return_time,
        )
    };
    let cas = |client, expected: &str, new: &str, swapped, call, return_time| {
        let input = KvInput::Cas {
            key: "k".into(),
            expected: expected.into(),
            new: new.into(),
        };
        Operation::returned(client, input, KvOutput::Cas(swapped), call, return_time)
    };
    let good = vec![
        get(1, "k", "", 0, 1),
        append(1, "a", 2, 3),
        append(2, "b", 2, 5),
        get(3, "k", "ba", 6, 7),
        cas(1, "ba", "z", true, 8, 9),
        cas(2, "ba", "y", false, 10, 11),
        get(3, "k", "z", 12, 13),
    ];
    assert_eq!(check_kv(&good, &Options::default()).verdict, Verdict::Ok);
    let mut bad = good.clone();
    bad[5] = cas(2, "z", "y", false, 10, 11); // The value was "z": this cas must have swapped.
    assert_eq!(
        check_kv(&bad, &Options::default()).verdict,
        Verdict::Illegal
    );
}

#[test]
fn register_good_and_bad() {
    let cas = |client, expected, new, call, return_time| {
        Operation::returned(
            client,
            RegisterInput::Cas { expected, new },
            RegisterOutput::Cas(true),
            call,
            return_time,
        )
    };
    let good = vec![
        read(1, None, 0, 1),
        write(1, 3, 2, 6),
        cas(2, 3, 4, 3, 8),
        read(3, Some(4), 9, 10),
    ];
    assert_eq!(
        check_register(&good, &Options::default()).verdict,
        Verdict::Ok
    );
    let bad = vec![
        read(1, None, 0, 1),
        write(1, 3, 2, 6),
        cas(2, 3, 4, 3, 8),
        read(3, Some(3), 9, 10),
    ];
    let result = check_register(&bad, &Options::default());
    assert_eq!(result.verdict, Verdict::Illegal);
    let counterexample = result.partitions[0]
        .counterexample
        .as_ref()
        .expect("counterexample");
    assert_eq!(counterexample.stuck, 3);
    assert_eq!(counterexample.prefix, vec![0, 1, 2]);
    assert_eq!(counterexample.state_after_prefix, "4");
}

#[test]
fn linearizable_only_if_the_indefinite_write_took_effect() {
    let mut operations = vec![
        Operation::indefinite(1, RegisterInput::Write(1), 0),
        read(2, Some(1), 10, 11),
    ];
    assert_eq!(
        check_register(&operations, &Options::default()).verdict,
        Verdict::Ok
    );
    // Control: had it failed, nothing could have written 1.
    operations[0] = Operation::failed(1, RegisterInput::Write(1), 0, 1);
    assert_eq!(
        check_register(&operations, &Options::default()).verdict,
        Verdict::Illegal
    );
}

#[test]
fn linearizable_only_if_the_indefinite_write_did_not_take_effect_before_the_read() {
    let mut operations = vec![
        Operation::indefinite(1, RegisterInput::Write(1), 0),
        read(2, None, 10, 11),
    ];
    assert_eq!(
        check_register(&operations, &Options::default()).verdict,
        Verdict::Ok
    );
    // Control: a write that returned before the read must be seen.
    operations[0] = write(1, 1, 0, 5);
    assert_eq!(
        check_register(&operations, &Options::default()).verdict,
        Verdict::Illegal
    );
}

#[test]
fn a_failed_write_never_took_effect() {
    let operations = vec![
        put(1, "x", "1", 0, 1),
        Operation::failed(
            2,
            KvInput::Put {
                key: "x".into(),
                value: "2".into(),
            },
            2,
            3,
        ),
        get(3, "x", "2", 4, 5),
    ];
    assert_eq!(
        check_kv(&operations, &Options::default()).verdict,
        Verdict::Illegal
    );
}

#[test]
fn an_invalid_history_is_unknown_not_a_panic() {
    let operations = vec![put(1, "x", "1", 5, 4)];
    let result = check_kv(&operations, &Options::default());
    assert_eq!(
        result.verdict,
        Verdict::Unknown {
            reason: "operation 0 returns at 4, before its call at 5".into()
        }
    );
    let wrong_kind = vec![Operation::returned(
        1,
        KvInput::Get { key: "x".into() },
        KvOutput::Written,
        0,
        1,
    )];
    assert!(matches!(
        check_kv(&wrong_kind, &Options::default()).verdict,
        Verdict::Unknown { .. }
    ));
}

fn minimizing() -> Options {
    Options {
        minimize: true,
        ..Options::default()
    }
}

fn generated(clients: u64, operations: usize, seed: u64) -> Vec<Operation<KvInput, KvOutput>> {
    kv_history(&KvGenOptions {
        seed,
        clients,
        operations,
        keys: 10,
        indefinite_permille: 20,
        ..KvGenOptions::default()
    })
}

#[test]
fn generated_histories_are_linearizable_and_a_corrupted_read_is_not() {
    for seed in 0..5 {
        let mut operations = generated(10, 400, seed);
        assert_eq!(
            check_kv(&operations, &Options::default()).verdict,
            Verdict::Ok,
            "seed {seed}"
        );
        let corrupted = corrupt_one_read(&mut operations, seed).expect("a read");
        let result = check_kv(&operations, &minimizing());
        assert_eq!(result.verdict, Verdict::Illegal, "seed {seed}");
        let failing: Vec<_> = result.failing().collect();
        assert_eq!(failing.len(), 1);
        let counterexample = failing[0].counterexample.as_ref().expect("counterexample");
        assert!(
            counterexample.minimized.contains(&corrupted),
            "seed {seed}: the witness has the corrupted read"
        );
        let witness: Vec<_> = counterexample
            .minimized
            .iter()
            .map(|&index| operations[index].clone())
            .collect();
        assert_eq!(
            check_kv(&witness, &Options::default()).verdict,
            Verdict::Illegal,
            "seed {seed}: witness alone"
        );
    }
}

#[test]
fn budget_exhaustion_gives_unknown_never_a_guess() {
    let operations = generated(50, 2000, 3);
    let tight = Options {
        steps_max: 50,
        ..Options::default()
    };
    let result = check_kv(&operations, &tight);
    let Verdict::Unknown { reason } = &result.verdict else {
        panic!("expected unknown, got {:?}", result.verdict)
    };
    assert!(
        reason.contains("search budget of 50 steps exhausted"),
        "{reason}"
    );
    // A budget too small even to set up the search, then one the memo outgrows: half of what
    // the hungriest partition needs when it has the whole budget.
    let needed = check_kv(&operations, &Options::default())
        .partitions
        .iter()
        .map(|partition| partition.memory_bytes)
        .max()
        .expect("partitions");
    for (memory_bytes_max, expected) in [(1_000, "is below the"), (needed / 2, "reached after")] {
        let small = Options {
            memory_bytes_max,
            ..Options::default()
        };
        let Verdict::Unknown { reason } = check_kv(&operations, &small).verdict else {
            panic!("expected unknown with {memory_bytes_max} bytes")
        };
        assert!(reason.contains("memory budget of"), "{reason}");
        assert!(reason.contains(expected), "{reason}");
    }
    // With enough budget the same history is linearizable.
    assert_eq!(
        check_kv(&operations, &Options::default()).verdict,
        Verdict::Ok
    );
}

#[test]
fn a_partition_short_of_its_memory_share_gets_the_whole_budget() {
    // Key "k0" needs a memo; the nine small keys take most of the budget by their operation
    // count, so "k0" runs out of its share and then passes alone with all of it.
    let mut operations = Vec::new();
    for key in 0..9 {
        for step in 0..40 {
            let key = format!("small{key}");
            operations.push(put(step, &key, "v", 2 * step, 2 * step + 1));
        }
    }
    let concurrent = kv_history(&KvGenOptions {
        seed: 5,
        clients: 20,
        operations: 150,
        keys: 1,
        indefinite_permille: 20,
        ..KvGenOptions::default()
    });
    let alone = check_kv(&concurrent, &Options::default());
    let needed = alone.partitions[0].memory_bytes;
    operations.extend(concurrent);
    let options = Options {
        memory_bytes_max: needed * 3 / 2,
        ..Options::default()
    };
    let result = check_kv(&operations, &options);
    let big = &result.partitions[0];
    assert_eq!(big.label, "key \"k0\"");
    assert_eq!(big.verdict, alone.partitions[0].verdict);
    // Its share was under a third of what it needs: it was searched again with everything.
    assert_eq!(big.memory_bytes, needed);
}

#[test]
fn an_illegal_partition_wins_over_an_unknown_one() {
    // Key "a" is illegal at once; key "b" needs more than the budget.
    let mut operations = vec![get(1, "a", "nope", 0, 1)];
    for step in 0..20 {
        operations.push(put(2 + step, "b", &step.to_string(), 0, 100));
    }
    operations.push(get(30, "b", "0", 101, 102));
    let result = check_kv(
        &operations,
        &Options {
            steps_max: 30,
            ..Options::default()
        },
    );
    assert_eq!(result.verdict, Verdict::Illegal);
    assert!(matches!(
        result.partitions[1].verdict,
        Verdict::Unknown { .. }
    ));
}

#[test]
fn every_failing_partition_is_reported() {
    let operations = vec![
        put(1, "a", "1", 0, 1),
        get(2, "a", "", 2, 3),
        put(1, "b", "1", 0, 1),
        get(2, "b", "2", 2, 3),
        put(1, "c", "1", 0, 1),
        get(2, "c", "1", 2, 3),
    ];
    let result = check_kv(&operations, &Options::default());
    let failing: Vec<&str> = result
        .failing()
        .map(|partition| partition.label.as_str())
        .collect();
    assert_eq!(failing, vec!["key \"a\"", "key \"b\""]);
    for partition in result.failing() {
        assert!(partition.counterexample.is_some(), "{}", partition.label);
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    // Over 10,000 operations, so that partitions do run on rayon's threads; once with the
    // default budget and once with a memory budget that some partitions' shares cannot meet,
    // so that they are searched again with all of it.
    let mut operations = generated(50, 12_000, 11);
    for seed in 0..3 {
        corrupt_one_read(&mut operations, seed);
    }
    let history = checker::History::Kv(operations);
    let run = |threads: usize, options: &Options| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("thread pool");
        pool.install(|| check(&history, options))
    };
    let one = run(1, &Options::default());
    assert_eq!(one.verdict, Verdict::Illegal);
    assert!(
        one.failing().count() >= 2,
        "corrupted reads in several keys"
    );
    let hungriest = one
        .partitions
        .iter()
        .map(|partition| partition.memory_bytes)
        .max()
        .expect("partitions");
    let tight = Options {
        memory_bytes_max: hungriest * 2,
        ..Options::default()
    };
    let one_tight = run(1, &tight);
    for threads in [2, 4] {
        assert_eq!(run(threads, &Options::default()), one, "{threads} threads");
        assert_eq!(run(threads, &tight), one_tight, "{threads} threads, tight");
    }
}
