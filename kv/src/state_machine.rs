//! The replicated KV state machine with client sessions (BRIEF §6).
//!
//! Every replica applies the same committed commands in log order. A client session keeps, per
//! client, the highest sequence number applied and its reply, so a retried command (same client
//! id and sequence, committed twice because the clerk re-sent it to another leader) takes effect
//! at most once. One entry per client bounds the sessions by the number of clients.
//!
//! Snapshot encoding (integers little-endian, strings `u32` length + UTF-8; maps in `BTreeMap`
//! order, so the bytes are a pure function of the state):
//!
//! ```text
//! 4 bytes magic "KVSN", u8 format version (1)
//! u64 applied_index
//! u64 key count,     then per key (ascending):       str key, str value
//! u64 session count, then per client (ascending id): u64 client_id, u64 last_seq, result
//! result: u8 tag 0 value (+ str), 1 written, 2 cas failed, 3 cas swapped
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::codec::{
    DecodeError, Fnv64, Reader, Sink, put_header, put_result, read_header, read_result,
};
use crate::command::{Command, CommandView};
use crate::op::{self, OpResult};

const SNAPSHOT_MAGIC: &[u8; 4] = b"KVSN";
const SNAPSHOT_VERSION: u8 = 1;

/// Runtime switches of the state machine. Not part of the replicated state or the snapshot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StateMachineConfig {
    /// Mutant `no-dedup` (BRIEF §9), off by default: ignore sessions and apply every committed
    /// command, so a write retried by a clerk is applied twice. Bug class: a service without
    /// at-most-once semantics (a lost reply plus a retry doubles an `Append` or re-runs a `Put`
    /// after a later write, which the linearizability checker sees as an impossible value).
    pub no_dedup: bool,
}

/// What a client's session remembers: its last applied sequence number and that reply.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Session {
    pub last_seq: u64,
    pub reply: OpResult,
}

/// What applying one command did.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ApplyOutcome {
    /// A new sequence number: the operation took effect (or was read) now.
    Applied(OpResult),
    /// The session's last sequence number again: a retry of an operation already applied. Not
    /// re-applied; the stored reply is returned, so the retrying clerk sees the original result.
    Duplicate(OpResult),
    /// A sequence number below the session's last: a stale copy of an operation the clerk has
    /// already finished with (completed or given up as indefinite) before issuing a newer one.
    /// Never applied, and there is no reply to give, because sessions keep only the last one.
    /// No clerk waits for it: clerks ignore replies for sequence numbers they left behind.
    Stale { last_seq: u64 },
}

impl ApplyOutcome {
    /// The reply to send to a waiting client, if there is one.
    pub fn result(&self) -> Option<&OpResult> {
        match self {
            ApplyOutcome::Applied(result) | ApplyOutcome::Duplicate(result) => Some(result),
            ApplyOutcome::Stale { .. } => None,
        }
    }
}

/// The index of the last log entry a state machine applied. Entries apply in log order, each
/// once: anything else is a bug of the caller, so it panics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct AppliedIndex(u64);

impl AppliedIndex {
    pub fn new(index: u64) -> Self {
        AppliedIndex(index)
    }

    pub fn get(self) -> u64 {
        self.0
    }

    /// Marks `index` applied; it must directly follow the last one (`what` names the state
    /// machine in the panic).
    pub fn advance_to(&mut self, index: u64, what: impl FnOnce() -> String) {
        if index != self.0 + 1 {
            panic!(
                "{}: log index {index} applied out of order: last applied index is {}",
                what(),
                self.0
            );
        }
        self.0 = index;
    }
}

/// Client sessions: per client, the highest sequence number applied and its reply (BRIEF §6).
/// One entry per client bounds them by the number of clients. Shared by every replicated
/// service of the project: the KV store, each shard of the sharded KV (where a shard's sessions
/// migrate with its data) and the shard controller.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Sessions {
    sessions: BTreeMap<u64, Session>,
}

impl Sessions {
    /// The outcome of a command that must not take effect again: a retry of the session's last
    /// sequence number (its stored reply) or an older one (stale). `None`: a new command.
    pub fn seen(&self, client_id: u64, seq: u64) -> Option<ApplyOutcome> {
        let session = self.sessions.get(&client_id)?;
        if seq == session.last_seq {
            return Some(ApplyOutcome::Duplicate(session.reply.clone()));
        }
        if seq < session.last_seq {
            return Some(ApplyOutcome::Stale {
                last_seq: session.last_seq,
            });
        }
        None
    }

    /// Remembers `reply` as the answer to `seq`; a sequence number older than the session's last
    /// (applied anyway by the `no-dedup` mutant) never moves the session backwards.
    pub fn record(&mut self, client_id: u64, seq: u64, reply: &OpResult) {
        let Some(session) = self.sessions.get_mut(&client_id) else {
            let session = Session {
                last_seq: seq,
                reply: reply.clone(),
            };
            self.sessions.insert(client_id, session);
            return;
        };
        if seq >= session.last_seq {
            session.last_seq = seq;
            session.reply.clone_from(reply);
        }
    }

    pub fn get(&self, client_id: u64) -> Option<&Session> {
        self.sessions.get(&client_id)
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&u64, &Session)> {
        self.sessions.iter()
    }

    /// `u64 count`, then per client (ascending id): `u64 client_id, u64 last_seq, result`.
    pub fn encode_into(&self, sink: &mut impl Sink) {
        sink.put_u64(self.sessions.len() as u64);
        for (client_id, session) in &self.sessions {
            sink.put_u64(*client_id);
            sink.put_u64(session.last_seq);
            put_result(sink, &session.reply);
        }
    }

    /// Reads what [`Sessions::encode_into`] wrote; rejects anything but canonical encodings.
    pub fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        // A session is two u64 and a one-byte result tag at least.
        let count = reader.count("sessions", 17)?;
        let mut sessions = BTreeMap::new();
        for _ in 0..count {
            let offset = reader.offset();
            let client_id = reader.u64("client id")?;
            let last_seq = reader.u64("last sequence number")?;
            let reply = read_result(reader)?;
            if sessions
                .last_key_value()
                .is_some_and(|(last, _)| *last >= client_id)
            {
                return Err(DecodeError::NotCanonical {
                    what: "session",
                    offset,
                });
            }
            sessions.insert(client_id, Session { last_seq, reply });
        }
        Ok(Sessions { sessions })
    }
}

/// Key/value data with the sessions of the clients that wrote it: what a KV replica holds, and
/// what one shard of the sharded KV holds (and hands over whole when it migrates).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Store {
    pub data: BTreeMap<String, String>,
    pub sessions: Sessions,
}

impl Store {
    /// Executes `command` at most once per (client, sequence number) unless `dedup` is off (the
    /// `no-dedup` mutant).
    pub fn execute(&mut self, command: &Command, dedup: bool) -> ApplyOutcome {
        self.execute_view(command.view(), dedup)
    }

    /// [`Store::execute`] of a command decoded in place.
    pub fn execute_view(&mut self, command: CommandView<'_>, dedup: bool) -> ApplyOutcome {
        if dedup && let Some(seen) = self.sessions.seen(command.client_id, command.seq) {
            return seen;
        }
        let result = command.op.apply_to(&mut self.data);
        debug_assert!(
            command.op.accepts(&result),
            "{:?} gave {result}",
            command.op
        );
        self.sessions
            .record(command.client_id, command.seq, &result);
        ApplyOutcome::Applied(result)
    }

    /// The value of `key` as a `Get` would read it ("" when missing).
    pub fn get(&self, key: &str) -> &str {
        op::read(&self.data, key)
    }

    /// `u64 key count`, then per key (ascending) `str key, str value`; then the sessions.
    pub fn encode_into(&self, sink: &mut impl Sink) {
        sink.put_u64(self.data.len() as u64);
        for (key, value) in &self.data {
            sink.put_str(key);
            sink.put_str(value);
        }
        self.sessions.encode_into(sink);
    }

    /// Reads what [`Store::encode_into`] wrote; rejects anything but canonical encodings.
    pub fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let data = read_data(reader)?;
        let sessions = Sessions::decode(reader)?;
        Ok(Store { data, sessions })
    }
}

/// The key/value data, the client sessions and the index of the last applied log entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KvStateMachine {
    store: Store,
    applied_index: AppliedIndex,
    config: StateMachineConfig,
}

impl KvStateMachine {
    /// An empty state machine at applied index 0, with default (correct) behaviour.
    pub fn new() -> Self {
        Self::with_config(StateMachineConfig::default())
    }

    pub fn with_config(config: StateMachineConfig) -> Self {
        KvStateMachine {
            config,
            ..Default::default()
        }
    }

    pub fn config(&self) -> StateMachineConfig {
        self.config
    }

    /// The index of the last log entry applied (or covered by the restored snapshot).
    pub fn applied_index(&self) -> u64 {
        self.applied_index.get()
    }

    /// Applies the committed command at log `index`, which must directly follow the last
    /// applied index: applying out of order or twice is a bug of the caller, so it panics.
    pub fn apply(&mut self, index: u64, command: &Command) -> ApplyOutcome {
        self.advance_to(index);
        self.store.execute(command, !self.config.no_dedup)
    }

    /// [`KvStateMachine::apply`] of a command decoded in place.
    pub fn apply_view(&mut self, index: u64, command: CommandView<'_>) -> ApplyOutcome {
        self.advance_to(index);
        self.store.execute_view(command, !self.config.no_dedup)
    }

    /// Marks log `index` applied for an entry that carries no KV command (Raft's empty entry of
    /// a new term, a configuration change). Same ordering rule as [`KvStateMachine::apply`].
    pub fn apply_empty(&mut self, index: u64) {
        self.advance_to(index);
    }

    fn advance_to(&mut self, index: u64) {
        self.applied_index.advance_to(index, || "KV".into());
    }

    /// The value of `key` as a `Get` would read it locally ("" when missing). For reads served
    /// outside the log (read-index, lease, follower): the caller is responsible for having
    /// established that this replica is recent enough.
    pub fn get(&self, key: &str) -> &str {
        self.store.get(key)
    }

    pub fn data(&self) -> &BTreeMap<String, String> {
        &self.store.data
    }

    pub fn session(&self, client_id: u64) -> Option<&Session> {
        self.store.sessions.get(client_id)
    }

    pub fn sessions(&self) -> &Sessions {
        &self.store.sessions
    }

    /// The state (applied index, data, sessions) as canonical bytes, for Raft snapshots.
    pub fn snapshot(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        self.encode_into(&mut bytes);
        bytes
    }

    /// A 64-bit FNV-1a digest of exactly the bytes [`KvStateMachine::snapshot`] would produce,
    /// computed without building them. Equal states have equal digests on every platform.
    pub fn digest(&self) -> u64 {
        let mut hash = Fnv64::new();
        self.encode_into(&mut hash);
        hash.finish()
    }

    fn encode_into(&self, sink: &mut impl Sink) {
        put_header(sink, SNAPSHOT_MAGIC, SNAPSHOT_VERSION);
        sink.put_u64(self.applied_index.get());
        self.store.encode_into(sink);
    }

    /// Rebuilds a state machine from [`KvStateMachine::snapshot`] bytes, with the default config.
    pub fn restore(bytes: &[u8]) -> Result<Self, DecodeError> {
        Self::restore_with_config(bytes, StateMachineConfig::default())
    }

    /// Rebuilds a state machine from snapshot bytes; rejects anything but canonical encodings.
    pub fn restore_with_config(
        bytes: &[u8],
        config: StateMachineConfig,
    ) -> Result<Self, DecodeError> {
        let mut reader = Reader::new(bytes);
        let names = ("KV snapshot", "snapshot");
        read_header(&mut reader, SNAPSHOT_MAGIC, SNAPSHOT_VERSION, names)?;
        let applied_index = AppliedIndex::new(reader.u64("applied index")?);
        let store = Store::decode(&mut reader)?;
        reader.finish("snapshot")?;
        Ok(KvStateMachine {
            store,
            applied_index,
            config,
        })
    }
}

impl crate::server::StateMachine for KvStateMachine {
    type Op = crate::Op;
    type Output = OpResult;
    type Options = StateMachineConfig;

    fn create(options: StateMachineConfig) -> Self {
        Self::with_config(options)
    }

    fn restore_snapshot(bytes: &[u8], options: StateMachineConfig) -> Result<Self, DecodeError> {
        Self::restore_with_config(bytes, options)
    }

    fn encode_snapshot(&self, sink: &mut impl Sink) {
        self.encode_into(sink);
    }

    fn applied_index(&self) -> u64 {
        self.applied_index.get()
    }

    fn apply_empty(&mut self, index: u64) {
        KvStateMachine::apply_empty(self, index);
    }

    fn apply_command(
        &mut self,
        index: u64,
        data: &[u8],
    ) -> Option<crate::server::Answer<OpResult>> {
        let command = CommandView::decode(data).expect("entries carry commands this crate encoded");
        let outcome = self.apply_view(index, command);
        let mut answer = crate::server::Answer::of_view(command, outcome)?;
        // A retry answered from its session is a danger only where applying it again would
        // change the data (the store is as it was: a duplicate changes nothing).
        answer.retried = answer.retried && command.op.would_change(&self.store.data);
        Some(answer)
    }

    fn encode_command(client_id: u64, seq: u64, op: &crate::Op) -> Vec<u8> {
        let command = CommandView {
            client_id,
            seq,
            op: op.view(),
        };
        command.encode()
    }

    fn is_read_only(op: &crate::Op) -> bool {
        op.is_read_only()
    }

    fn read(&self, op: &crate::Op) -> crate::ReplyOutcome<OpResult> {
        let crate::Op::Get { key } = op else {
            unreachable!("only Gets are served outside the log")
        };
        crate::ReplyOutcome::Ok(OpResult::Value(self.get(key).to_string()))
    }
}

fn read_data(reader: &mut Reader<'_>) -> Result<BTreeMap<String, String>, DecodeError> {
    // A key/value pair is at least two 4-byte lengths.
    let count = reader.count("keys", 8)?;
    let mut data = BTreeMap::new();
    for _ in 0..count {
        let offset = reader.offset();
        let key = reader.string("key")?;
        let value = reader.string("value")?;
        if data.last_key_value().is_some_and(|(last, _)| *last >= key) {
            return Err(DecodeError::NotCanonical {
                what: "key",
                offset,
            });
        }
        data.insert(key, value);
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::Op;

    fn append(client_id: u64, seq: u64, value: &str) -> Command {
        Command {
            client_id,
            seq,
            op: Op::Append {
                key: "x".into(),
                value: value.into(),
            },
        }
    }

    #[test]
    fn apply_out_of_order_is_refused_by_apply_empty_too() {
        let mut machine = KvStateMachine::new();
        machine.apply_empty(1);
        machine.apply(2, &append(1, 1, "a"));
        assert_eq!(machine.applied_index(), 2);
        let result = std::panic::catch_unwind(move || machine.apply_empty(4));
        assert!(result.is_err(), "skipping index 3 must be refused");
    }

    #[test]
    fn no_dedup_never_moves_a_session_backwards() {
        let mut machine = KvStateMachine::with_config(StateMachineConfig { no_dedup: true });
        machine.apply(1, &append(1, 5, "a"));
        let outcome = machine.apply(2, &append(1, 4, "b"));
        assert_eq!(outcome, ApplyOutcome::Applied(OpResult::Written));
        assert_eq!(machine.get("x"), "ab");
        assert_eq!(machine.session(1).map(|s| s.last_seq), Some(5));
    }

    #[test]
    fn non_canonical_snapshot_is_rejected() {
        let mut machine = KvStateMachine::new();
        machine.apply(1, &append(1, 1, "a"));
        machine.apply(
            2,
            &Command {
                client_id: 2,
                seq: 1,
                op: Op::Put {
                    key: "y".into(),
                    value: "b".into(),
                },
            },
        );
        let bytes = machine.snapshot();
        // Swap the two keys "x" and "y" (both one byte long) to break the ascending order.
        let first = 4 + 1 + 8 + 8 + 4;
        let mut swapped = bytes.clone();
        swapped[first] = b'y';
        swapped[first + 4 + 1 + 4 + 1] = b'x';
        assert!(matches!(
            KvStateMachine::restore(&swapped),
            Err(DecodeError::NotCanonical { what: "key", .. })
        ));
        assert_eq!(KvStateMachine::restore(&bytes), Ok(machine));
    }
}
