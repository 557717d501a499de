//! The 6.824 semantics of each operation, as a golden table: each case runs a few operations on
//! an empty state machine (one client, fresh sequence numbers) and prints every result.

use expect_test::{Expect, expect};
use kv::{ApplyOutcome, Command, KvStateMachine, Op};

fn get(key: &str) -> Op {
    Op::Get { key: key.into() }
}

fn put(key: &str, value: &str) -> Op {
    Op::Put {
        key: key.into(),
        value: value.into(),
    }
}

fn append(key: &str, value: &str) -> Op {
    Op::Append {
        key: key.into(),
        value: value.into(),
    }
}

fn cas(key: &str, expected: &str, new: &str) -> Op {
    Op::Cas {
        key: key.into(),
        expected: expected.into(),
        new: new.into(),
    }
}

fn check(ops: &[Op], expected: Expect) {
    let mut machine = KvStateMachine::new();
    let mut lines = Vec::new();
    for (position, op) in ops.iter().enumerate() {
        let index = position as u64 + 1;
        let command = Command {
            client_id: 1,
            seq: index,
            op: op.clone(),
        };
        let ApplyOutcome::Applied(result) = machine.apply(index, &command) else {
            panic!("fresh seq {index} was not applied");
        };
        lines.push(format!("{op} -> {result}"));
    }
    lines.push(format!("data {:?}", machine.data()));
    expected.assert_eq(&(lines.join("\n") + "\n"));
}

#[test]
fn get_of_missing_key_is_empty() {
    check(
        &[get("x"), put("x", "1"), get("x"), get("y")],
        expect![[r#"
            get("x") -> ""
            put("x", "1") -> ok
            get("x") -> "1"
            get("y") -> ""
            data {"x": "1"}
        "#]],
    );
}

#[test]
fn put_overwrites() {
    check(
        &[put("x", "1"), put("x", "2"), get("x")],
        expect![[r#"
            put("x", "1") -> ok
            put("x", "2") -> ok
            get("x") -> "2"
            data {"x": "2"}
        "#]],
    );
}

#[test]
fn append_to_missing_key_acts_as_put_then_appends() {
    check(
        &[append("x", "a;"), get("x"), append("x", "b;"), get("x")],
        expect![[r#"
            append("x", "a;") -> ok
            get("x") -> "a;"
            append("x", "b;") -> ok
            get("x") -> "a;b;"
            data {"x": "a;b;"}
        "#]],
    );
}

#[test]
fn cas_matches_and_mismatches() {
    check(
        &[
            cas("x", "1", "2"),
            cas("x", "", "1"),
            cas("x", "", "9"),
            cas("x", "1", "2"),
            get("x"),
            cas("x", "2", ""),
            cas("x", "", "3"),
        ],
        expect![[r#"
            cas("x", "1", "2") -> false
            cas("x", "", "1") -> true
            cas("x", "", "9") -> false
            cas("x", "1", "2") -> true
            get("x") -> "2"
            cas("x", "2", "") -> true
            cas("x", "", "3") -> true
            data {"x": "3"}
        "#]],
    );
}
