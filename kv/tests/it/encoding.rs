//! Binary encodings: commands and snapshots round-trip, the bytes are pinned by a golden, and
//! arbitrary garbage is rejected with an error, never a panic.

use expect_test::expect;
use kv::{Command, DecodeError, KvStateMachine, Op};
use proptest::prelude::*;

fn op_strategy() -> impl Strategy<Value = Op> {
    // Few short keys so that generated command sequences collide on keys and clients.
    let key = prop_oneof![Just("a".to_owned()), Just("b".to_owned()), any::<String>()];
    let value = any::<String>();
    prop_oneof![
        key.clone().prop_map(|key| Op::Get { key }),
        (key.clone(), value).prop_map(|(key, value)| Op::Put { key, value }),
        (key.clone(), value).prop_map(|(key, value)| Op::Append { key, value }),
        (key, value, value).prop_map(|(key, expected, new)| Op::Cas { key, expected, new }),
    ]
}

fn command_strategy() -> impl Strategy<Value = Command> {
    (0u64..4, 0u64..6, op_strategy()).prop_map(|(client_id, seq, op)| Command {
        client_id,
        seq,
        op,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Hex of `bytes` cut into fields of the given lengths (the rest is the last field).
fn fields(bytes: &[u8], lengths: &[usize]) -> String {
    let mut parts = Vec::new();
    let mut offset = 0;
    for length in lengths {
        parts.push(hex(&bytes[offset..offset + length]));
        offset += length;
    }
    parts.push(hex(&bytes[offset..]));
    parts.join(" ")
}

#[test]
fn command_bytes_are_pinned() {
    // version, client id, seq, op tag, key, expected (empty), new ("é" is two bytes).
    let command = Command {
        client_id: 3,
        seq: 258,
        op: Op::Cas {
            key: "k".into(),
            expected: "".into(),
            new: "é".into(),
        },
    };
    expect!["01 0300000000000000 0201000000000000 03 010000006b 00000000 02000000c3a9"]
        .assert_eq(&fields(&command.encode(), &[1, 8, 8, 1, 5, 4]));
}

#[test]
fn snapshot_bytes_are_pinned() {
    // magic+version, applied index, key count, key, value, session count, client id, last seq,
    // reply (1 = written).
    let mut machine = KvStateMachine::new();
    machine.apply(
        1,
        &Command {
            client_id: 2,
            seq: 1,
            op: Op::Put {
                key: "k".into(),
                value: "v".into(),
            },
        },
    );
    expect!["4b56534e01 0100000000000000 0100000000000000 010000006b 0100000076 0100000000000000 0200000000000000 0100000000000000 01"]
        .assert_eq(&fields(&machine.snapshot(), &[5, 8, 8, 5, 5, 8, 8, 8]));
}

#[test]
fn empty_input_is_a_named_error() {
    assert_eq!(
        Command::decode(&[]).unwrap_err().to_string(),
        "truncated input: command version needs 1 bytes at offset 0, 0 left"
    );
    assert_eq!(
        KvStateMachine::restore(b"KVSX\x01").unwrap_err(),
        DecodeError::BadMagic {
            what: "KV snapshot"
        }
    );
}

proptest! {
    #[test]
    fn command_round_trips(command in command_strategy()) {
        let bytes = command.encode();
        prop_assert_eq!(Command::decode(&bytes), Ok(command));
    }

    #[test]
    fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        // Valid inputs re-encode to themselves, so decoding accepts only canonical bytes.
        if let Ok(command) = Command::decode(&bytes) {
            prop_assert_eq!(command.encode(), bytes.clone());
        }
        if let Ok(machine) = KvStateMachine::restore(&bytes) {
            prop_assert_eq!(machine.snapshot(), bytes);
        }
    }

    #[test]
    fn mutated_encodings_never_panic(
        command in command_strategy(),
        position in any::<usize>(),
        byte in any::<u8>(),
    ) {
        let mut bytes = command.encode();
        let position = position % bytes.len();
        bytes[position] = byte;
        if let Ok(decoded) = Command::decode(&bytes) {
            prop_assert_eq!(decoded.encode(), bytes);
        }
    }

    #[test]
    fn snapshot_round_trips_any_applied_sequence(
        commands in proptest::collection::vec(command_strategy(), 0..24),
    ) {
        let mut machine = KvStateMachine::new();
        for (position, command) in commands.iter().enumerate() {
            machine.apply(position as u64 + 1, command);
        }
        let bytes = machine.snapshot();
        let restored = KvStateMachine::restore(&bytes).expect("own snapshot restores");
        prop_assert_eq!(restored.digest(), machine.digest());
        prop_assert_eq!(&restored, &machine);
        // Every truncation of a snapshot is an error, not a panic and not a smaller state.
        for length in [0, bytes.len() / 2, bytes.len() - 1] {
            prop_assert!(KvStateMachine::restore(&bytes[..length]).is_err());
        }
    }

    #[test]
    fn mutated_snapshots_never_panic(
        commands in proptest::collection::vec(command_strategy(), 1..8),
        position in any::<usize>(),
        byte in any::<u8>(),
    ) {
        let mut machine = KvStateMachine::new();
        for (position, command) in commands.iter().enumerate() {
            machine.apply(position as u64 + 1, command);
        }
        let mut bytes = machine.snapshot();
        let position = position % bytes.len();
        bytes[position] = byte;
        if let Ok(restored) = KvStateMachine::restore(&bytes) {
            prop_assert_eq!(restored.snapshot(), bytes);
        }
    }
}
