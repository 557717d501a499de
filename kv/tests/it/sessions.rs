//! Client sessions: a retried command takes effect at most once, unless the `no-dedup` mutant is
//! on; stale sequence numbers are never applied; snapshots carry data and sessions.

use kv::{ApplyOutcome, Command, KvStateMachine, Op, OpResult, Session, StateMachineConfig};

fn command(client_id: u64, seq: u64, op: Op) -> Command {
    Command { client_id, seq, op }
}

fn append(value: &str) -> Op {
    Op::Append {
        key: "x".into(),
        value: value.into(),
    }
}

#[test]
fn retried_append_is_applied_once_and_answered_with_the_stored_reply() {
    let mut machine = KvStateMachine::new();
    assert_eq!(
        machine.apply(1, &command(1, 1, append("a;"))),
        ApplyOutcome::Applied(OpResult::Written)
    );
    assert_eq!(
        machine.apply(2, &command(1, 1, append("a;"))),
        ApplyOutcome::Duplicate(OpResult::Written)
    );
    assert_eq!(machine.get("x"), "a;");
    assert_eq!(machine.applied_index(), 2);
}

#[test]
fn retried_cas_returns_its_original_result_not_a_new_one() {
    // Re-running the cas would fail (the value is now "1"); the stored reply says it succeeded.
    let mut machine = KvStateMachine::new();
    let swap = command(
        1,
        1,
        Op::Cas {
            key: "x".into(),
            expected: "".into(),
            new: "1".into(),
        },
    );
    assert_eq!(
        machine.apply(1, &swap),
        ApplyOutcome::Applied(OpResult::Cas(true))
    );
    assert_eq!(
        machine.apply(2, &swap),
        ApplyOutcome::Duplicate(OpResult::Cas(true))
    );
}

#[test]
fn no_dedup_mutant_applies_a_retried_append_twice() {
    let mut machine = KvStateMachine::with_config(StateMachineConfig { no_dedup: true });
    machine.apply(1, &command(1, 1, append("a;")));
    assert_eq!(
        machine.apply(2, &command(1, 1, append("a;"))),
        ApplyOutcome::Applied(OpResult::Written)
    );
    assert_eq!(machine.get("x"), "a;a;");
}

#[test]
fn stale_sequence_is_never_applied() {
    let mut machine = KvStateMachine::new();
    machine.apply(1, &command(1, 3, append("c;")));
    machine.apply(2, &command(1, 5, append("e;")));
    let outcome = machine.apply(3, &command(1, 4, append("d;")));
    assert_eq!(outcome, ApplyOutcome::Stale { last_seq: 5 });
    assert_eq!(outcome.result(), None);
    assert_eq!(machine.get("x"), "c;e;");
    assert_eq!(
        machine.session(1),
        Some(&Session {
            last_seq: 5,
            reply: OpResult::Written
        })
    );
}

#[test]
fn sessions_are_per_client_and_one_entry_each() {
    let mut machine = KvStateMachine::new();
    machine.apply(1, &command(1, 1, append("a;")));
    machine.apply(2, &command(2, 1, append("b;")));
    machine.apply(3, &command(1, 2, Op::Get { key: "x".into() }));
    machine.apply(4, &command(1, 3, append("c;")));
    assert_eq!(machine.get("x"), "a;b;c;");
    assert_eq!(machine.sessions().len(), 2);
    assert_eq!(machine.session(1).map(|session| session.last_seq), Some(3));
    assert_eq!(machine.session(2).map(|session| session.last_seq), Some(1));
}

#[test]
fn snapshot_round_trip_keeps_data_sessions_and_dedup() {
    let mut machine = KvStateMachine::new();
    machine.apply(1, &command(1, 1, append("a;")));
    machine.apply_empty(2);
    machine.apply(3, &command(2, 7, Op::Get { key: "x".into() }));
    let bytes = machine.snapshot();

    let mut restored = KvStateMachine::restore(&bytes).expect("own snapshot restores");
    assert_eq!(restored, machine);
    assert_eq!(restored.digest(), machine.digest());
    assert_eq!(restored.applied_index(), 3);
    assert_eq!(restored.snapshot(), bytes, "the encoding is canonical");

    // The retry of client 1's append arrives after the restart: still deduplicated.
    assert_eq!(
        restored.apply(4, &command(1, 1, append("a;"))),
        ApplyOutcome::Duplicate(OpResult::Written)
    );
    assert_eq!(
        restored.apply(5, &command(2, 7, Op::Get { key: "x".into() })),
        ApplyOutcome::Duplicate(OpResult::Value("a;".into()))
    );
    assert_eq!(restored.get("x"), "a;");
}

#[test]
fn restore_with_config_keeps_the_mutant_switch() {
    let mut machine = KvStateMachine::new();
    machine.apply(1, &command(1, 1, append("a;")));
    let config = StateMachineConfig { no_dedup: true };
    let mut restored = KvStateMachine::restore_with_config(&machine.snapshot(), config).unwrap();
    assert_eq!(restored.config(), config);
    restored.apply(2, &command(1, 1, append("a;")));
    assert_eq!(restored.get("x"), "a;a;");
}

#[test]
fn digest_tells_states_apart() {
    let mut left = KvStateMachine::new();
    let mut right = KvStateMachine::new();
    assert_eq!(left.digest(), right.digest());
    left.apply(1, &command(1, 1, append("a;")));
    right.apply(1, &command(2, 1, append("a;")));
    assert_eq!(left.data(), right.data());
    assert_ne!(
        left.digest(),
        right.digest(),
        "same data, different sessions"
    );
}
