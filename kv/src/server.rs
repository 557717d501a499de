//! The KV server: a Raft node, a replicated state machine and the node's durable state, wired
//! together. It is driven through [`Server::on_start`], [`Server::on_message`],
//! [`Server::on_tick`] and [`Server::on_sync`], and acts only through an [`Env`], so this crate
//! stays independent of the simulator that provides one.
//!
//! The state machine is a type parameter ([`StateMachine`]): the KV store by default; the
//! sharded KV runs its replica groups' shard state machine and its controller on the same
//! server, so durability, snapshots, reads and client sessions work the same for all of them.
//!
//! Durability: a `Ready`'s entries, snapshot and hard state are written, then synced, and only
//! once the sync completes are its `persisted_messages` sent (votes, acknowledgements) and its
//! committed entries applied. Messages Raft marks as safe to send at once go out immediately.
//!
//! Addresses: the server at network address `a` is Raft node `a + 1` (Raft reserves id 0).

use std::collections::BTreeMap;

use engine::{Durable, Engine};
use raft::{
    ConfState, Entry, EntryKind, JitterSource, MemStorage, Message, MessageKind, Mutant, RawNode,
    Ready, Role, Snapshot, SnapshotStatus,
};

use crate::codec::{DecodeError, Fnv64, Sink};
use crate::command::CommandView;
use crate::persist::{self, HARDSTATE_FILE, LOG_FILE, SNAPSHOT_FILE};
use crate::{
    ApplyOutcome, ClientReply, ClientRequest, Command, KvStateMachine, Op, OpResult, ReadMode,
    ReplyOutcome, StateMachineConfig,
};

/// What travels between servers and clerks; `O` and `R` are the service's operation and
/// result (KV's by default).
// Raft messages are most of the traffic and the largest variant: boxing them would cost an
// allocation per message to save space on the rarer client messages.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Wire<O = Op, R = OpResult> {
    Raft(Message),
    Request(ClientRequest<O>),
    Reply(ClientReply<R>),
}

/// What a service replicates through a [`Server`]'s log: the state its committed commands
/// build, the client operations it takes, how it reads outside the log, and its snapshots.
pub trait StateMachine: Sized {
    /// A client operation.
    type Op: Clone + std::fmt::Debug + std::fmt::Display;
    /// An operation's result.
    type Output: Clone + std::fmt::Debug + std::fmt::Display;
    /// Runtime switches (planted bugs), not part of the replicated state.
    type Options: Clone + std::fmt::Debug;

    /// The empty state at applied index 0.
    fn create(options: Self::Options) -> Self;
    fn restore_snapshot(bytes: &[u8], options: Self::Options) -> Result<Self, DecodeError>;
    /// The state as canonical bytes, what `restore_snapshot` reads.
    fn encode_snapshot(&self, sink: &mut impl Sink);
    fn snapshot(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        self.encode_snapshot(&mut bytes);
        bytes
    }
    fn applied_index(&self) -> u64;
    /// Log `index` carries no command of the service (Raft's empty entry, a membership change).
    fn apply_empty(&mut self, index: u64);
    /// Applies the committed entry `data` at log `index` (the next one): the answer a waiting
    /// client gets, if the entry is a client's command that has one.
    fn apply_command(&mut self, index: u64, data: &[u8]) -> Option<Answer<Self::Output>>;
    /// The log entry of a client's operation.
    fn encode_command(client_id: u64, seq: u64, op: &Self::Op) -> Vec<u8>;
    /// Served by [`StateMachine::read`] outside the log (unless the read mode is `log`).
    fn is_read_only(op: &Self::Op) -> bool;
    /// Whether this replica takes `op` at all now: `Some(refusal)` answers the client at once
    /// (a replica group of the sharded KV refusing a key it does not serve). KV takes all.
    fn refuse(&self, op: &Self::Op) -> Option<ReplyOutcome<Self::Output>> {
        let _ = op;
        None
    }
    /// Answers a read-only `op` from the applied state (once it is recent enough).
    fn read(&self, op: &Self::Op) -> ReplyOutcome<Self::Output>;
}

/// What applying a client's command answers that client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer<R> {
    pub client_id: u64,
    pub seq: u64,
    /// A write (recorded for the durability oracle when acknowledged).
    pub is_write: bool,
    pub outcome: ReplyOutcome<R>,
    /// A write that reached the state machine again after it was applied (a client's retry,
    /// answered from its session): without the sessions (`no-dedup`) it would apply twice. The
    /// KV state machine keeps it only where applying it again would change the data.
    pub retried: bool,
}

impl Answer<OpResult> {
    /// The answer to a KV command the store applied with `outcome` (none for a stale one).
    pub fn of(command: &Command, outcome: ApplyOutcome) -> Option<Self> {
        Self::of_view(command.view(), outcome)
    }

    /// [`Answer::of`] a command decoded in place.
    pub fn of_view(command: CommandView<'_>, outcome: ApplyOutcome) -> Option<Self> {
        let (result, duplicate) = match outcome {
            ApplyOutcome::Applied(result) => (result, false),
            ApplyOutcome::Duplicate(result) => (result, true),
            ApplyOutcome::Stale { .. } => return None,
        };
        let is_write = !command.op.is_read_only();
        Some(Answer {
            client_id: command.client_id,
            seq: command.seq,
            is_write,
            outcome: ReplyOutcome::Ok(result),
            retried: duplicate && is_write,
        })
    }
}

/// `app t4 prev=1@1 commit=1 [2@2 "x"]`, `request seq=3 put("x", "1")`, `reply seq=3 ok "1"`,
/// `reply seq=3 wrong-leader hint=n2`: the one text of a message, for scripts, reports and
/// logs (the route is the caller's to add).
impl<O: std::fmt::Display, R: std::fmt::Display> std::fmt::Display for Wire<O, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Wire::Raft(message) => write!(f, "{message}"),
            Wire::Request(request) => write!(f, "request seq={} {}", request.seq, request.op),
            Wire::Reply(reply) => {
                write!(f, "reply seq={} ", reply.seq)?;
                match &reply.outcome {
                    ReplyOutcome::Ok(result) => write!(f, "ok {result}"),
                    ReplyOutcome::WrongLeader {
                        leader_hint: Some(leader),
                    } => write!(f, "wrong-leader hint=n{}", raft_id(*leader)),
                    ReplyOutcome::WrongLeader { leader_hint: None } => f.write_str("wrong-leader"),
                    ReplyOutcome::NotReady => f.write_str("not-ready"),
                    ReplyOutcome::WrongGroup => f.write_str("wrong-group"),
                }
            }
        }
    }
}

/// The world as a server sees it: a network, a disk with asynchronous sync, a tick timer and
/// its own clock. `W` is what the server sends (KV's [`Wire`] by default).
pub trait Env<W = Wire> {
    fn send(&mut self, to: u64, wire: W);
    fn append(&mut self, file: &'static str, bytes: Vec<u8>);
    fn replace(&mut self, file: &'static str, bytes: Vec<u8>);
    fn truncate(&mut self, file: &'static str, len: u64);
    fn read(&self, file: &'static str) -> Vec<u8>;
    /// Starts a sync of every write so far; the driver calls [`Server::on_sync`] with `token`
    /// once it is durable.
    fn sync(&mut self, token: u64);
    /// Arms the tick timer to fire after `delay_ns` of local time.
    fn set_tick_timer(&mut self, delay_ns: u64);
    fn local_time_ns(&self) -> u64;
}

pub fn raft_id(address: u64) -> u64 {
    address + 1
}

pub fn address(raft_id: u64) -> u64 {
    raft_id - 1
}

#[derive(Clone, Debug)]
pub struct ServerConfig<O = StateMachineConfig> {
    /// This server's network address.
    pub address: u64,
    /// Addresses of the initial voters.
    pub voters: Vec<u64>,
    /// Addresses of the initial learners.
    pub learners: Vec<u64>,
    /// Raft settings; `id` is overwritten with this server's Raft id.
    pub raft: raft::Config,
    pub tick_ns: u64,
    pub read_mode: ReadMode,
    /// Compact the log once it holds more than this many applied entries.
    pub snapshot_threshold_entries: u64,
    /// The state machine's switches (KV's: the `no-dedup` mutant).
    pub state_machine: O,
}

/// An entry this server applied, for the state-machine-safety oracle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppliedEntry {
    pub index: u64,
    pub term: u64,
    pub digest: u64,
}

/// An entry this server wrote to its log, for the log-matching oracle: `prev_term` is the term
/// of the entry before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppendedEntry {
    pub index: u64,
    pub term: u64,
    pub prev_term: u64,
    pub digest: u64,
}

/// A write this server acknowledged to a client, for the durability oracle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AckedWrite {
    pub index: u64,
    pub term: u64,
    pub client_id: u64,
    pub seq: u64,
}

/// A client request waiting for its entry to apply.
#[derive(Clone, Copy, Debug)]
struct PendingWrite {
    seq: u64,
}

/// A read waiting for its read point, then for the state machine to reach it.
#[derive(Clone, Debug)]
struct PendingRead<O> {
    client_id: u64,
    seq: u64,
    op: O,
    read_index: Option<u64>,
}

/// Bound on reads waiting at one server; the oldest are forgotten past it (their clerks retry).
const PENDING_READS_MAX: usize = 4096;

/// `E` is the Raft implementation (the consensus-engine boundary, `engine::Engine`): our own
/// `raft::RawNode` unless a harness picks another.
pub struct Server<S: StateMachine = KvStateMachine, E: Engine = RawNode<MemStorage>> {
    config: ServerConfig<S::Options>,
    node: E,
    state_machine: S,
    /// A `Ready` whose writes are syncing; finished by `on_sync(sync_token)`.
    syncing: Option<(u64, Ready)>,
    next_sync_token: u64,
    /// Byte offset of each record of the log file, and the index of its first entry.
    log_offsets: Vec<u64>,
    log_first_index: u64,
    log_len: u64,
    pending_writes: BTreeMap<u64, PendingWrite>,
    /// Writes applied again since the marks were last taken (`take_retries_applied`).
    retries_applied: u64,
    pending_reads: BTreeMap<Vec<u8>, PendingRead<S::Op>>,
    /// Read contexts are unique across restarts: the start's local time, then a counter.
    read_context_prefix: u64,
    next_read_context: u64,
    applied: Vec<AppliedEntry>,
    appended: Vec<AppendedEntry>,
    acked: Vec<AckedWrite>,
    role: Role,
    /// The leader this server last knew (to notice a change, see `notice_role_change`).
    leader: Option<u64>,
}

type ServerWire<S> = Wire<<S as StateMachine>::Op, <S as StateMachine>::Output>;

impl<S: StateMachine, E: Engine> Server<S, E> {
    /// Restores the server from what survived on its disk (nothing, for a fresh node).
    pub fn on_start(
        config: ServerConfig<S::Options>,
        jitter: JitterSource,
        env: &mut impl Env<ServerWire<S>>,
    ) -> Result<Server<S, E>, raft::Error> {
        Self::on_start_with(config, jitter, env, E::restore)
    }

    /// [`Server::on_start`] with the engine built by `start` (a harness choosing one at run
    /// time) instead of `E::restore`.
    pub fn on_start_with(
        config: ServerConfig<S::Options>,
        jitter: JitterSource,
        env: &mut impl Env<ServerWire<S>>,
        start: impl FnOnce(raft::Config, Durable<'_>, JitterSource) -> Result<E, raft::Error>,
    ) -> Result<Server<S, E>, raft::Error> {
        let hard_state = persist::decode_hard_state(&env.read(HARDSTATE_FILE));
        let snapshot = persist::decode_snapshot(&env.read(SNAPSHOT_FILE));
        let log_bytes = env.read(LOG_FILE);
        let scan = persist::scan_log(&log_bytes);
        if scan.valid_len < log_bytes.len() as u64 {
            env.truncate(LOG_FILE, scan.valid_len);
        }
        let mut voters = ConfState::with_voters(config.voters.iter().map(|&a| raft_id(a)));
        voters.learners = config.learners.iter().map(|&a| raft_id(a)).collect();
        let mut state_machine = S::create(config.state_machine.clone());
        let mut snapshot_index = 0;
        if let Some(snapshot) = &snapshot {
            snapshot_index = snapshot.metadata.index;
            state_machine = S::restore_snapshot(&snapshot.data, config.state_machine.clone())
                .expect("a snapshot this server wrote decodes");
            skip_entry_after_snapshot(&mut state_machine, &config.raft);
        }
        let first_kept = scan
            .entries
            .iter()
            .position(|entry| entry.index > snapshot_index);
        let kept = first_kept.map_or(&[][..], |position| &scan.entries[position..]);
        let durable = Durable {
            voters,
            snapshot,
            entries: kept,
            hard_state,
        };
        let mut raft_config = config.raft.clone();
        raft_config.id = raft_id(config.address);
        // etcd's server shuts down a member removed from the configuration; ours keeps running
        // (it may be added back), so a removed leader must at least stop leading, or its
        // heartbeats would keep the remaining voters from electing a leader among themselves.
        raft_config.step_down_on_removal = true;
        let node = start(raft_config, durable, jitter)?;
        let mut server = Server {
            log_offsets: first_kept.map_or(Vec::new(), |p| scan.offsets[p..].to_vec()),
            log_first_index: kept.first().map_or(snapshot_index + 1, |entry| entry.index),
            log_len: scan.valid_len,
            read_context_prefix: env.local_time_ns(),
            config,
            node,
            state_machine,
            syncing: None,
            next_sync_token: 0,
            pending_writes: BTreeMap::new(),
            retries_applied: 0,
            pending_reads: BTreeMap::new(),
            next_read_context: 0,
            applied: Vec::new(),
            appended: Vec::new(),
            acked: Vec::new(),
            role: Role::Follower,
            leader: None,
        };
        if first_kept.is_some_and(|position| position > 0) {
            // Entries the snapshot already covers: rewrite the log without them.
            server.rewrite_log(env);
        }
        env.set_tick_timer(server.config.tick_ns);
        Ok(server)
    }

    pub fn raft(&self) -> &E {
        &self.node
    }

    pub fn config(&self) -> &ServerConfig<S::Options> {
        &self.config
    }

    pub fn state_machine(&self) -> &S {
        &self.state_machine
    }

    /// The Raft node's coverage marks hit since the last call.
    pub fn take_marks(&mut self) -> raft::MarkCounts {
        self.node.take_marks()
    }

    /// Writes applied again since the last call (see [`Answer::retried`]): the harness's
    /// `retry-already-applied` mark.
    pub fn take_retries_applied(&mut self) -> u64 {
        std::mem::take(&mut self.retries_applied)
    }

    /// Entries applied since the last call.
    pub fn drain_applied(&mut self) -> std::vec::Drain<'_, AppliedEntry> {
        self.applied.drain(..)
    }

    /// Entries written to the log since the last call.
    pub fn drain_appended(&mut self) -> std::vec::Drain<'_, AppendedEntry> {
        self.appended.drain(..)
    }

    /// Writes acknowledged since the last call.
    pub fn drain_acked(&mut self) -> std::vec::Drain<'_, AckedWrite> {
        self.acked.drain(..)
    }

    /// Acts on the Raft node from outside the event loop (a script campaigning, proposing or
    /// changing the configuration), then handles what it produced like any other input.
    pub fn with_raft<R>(
        &mut self,
        env: &mut impl Env<ServerWire<S>>,
        act: impl FnOnce(&mut E) -> R,
    ) -> R {
        let result = act(&mut self.node);
        self.drive(env);
        result
    }

    /// Whether a `Ready`'s writes are waiting for their sync (nothing more is handed out until
    /// it completes).
    pub fn is_syncing(&self) -> bool {
        self.syncing.is_some()
    }

    /// Whether this replica leads its Raft group now.
    pub fn is_leader(&self) -> bool {
        self.node.role() == Role::Leader
    }

    /// This replica's current Raft term: a leader's own proposal can be dropped only by the
    /// leader of a later term.
    pub fn term(&self) -> u64 {
        self.node.term()
    }

    /// Proposes a command of the service's own (not a client's: nobody waits for its answer),
    /// at the leader only (a follower refuses rather than forward it); returns its log index.
    pub fn propose(
        &mut self,
        env: &mut impl Env<ServerWire<S>>,
        data: Vec<u8>,
    ) -> Result<u64, raft::Error> {
        if !self.is_leader() {
            let leader = self.node.leader();
            return Err(raft::Error::NotLeader { leader });
        }
        let proposal = self.node.propose(data);
        self.drive(env);
        let index = proposal?.index();
        Ok(index.expect("a leader appends its own proposals"))
    }

    pub fn on_tick(&mut self, env: &mut impl Env<ServerWire<S>>) {
        self.node.tick();
        env.set_tick_timer(self.config.tick_ns);
        self.drive(env);
    }

    pub fn on_message(
        &mut self,
        env: &mut impl Env<ServerWire<S>>,
        from: u64,
        wire: ServerWire<S>,
    ) {
        match wire {
            Wire::Raft(message) => {
                // Errors here are messages for another node or from an unknown one: drop them.
                let _ = self.node.step(message);
            }
            Wire::Request(request) => self.on_request(env, from, request),
            Wire::Reply(_) => {}
        }
        self.drive(env);
    }

    pub fn on_sync(&mut self, env: &mut impl Env<ServerWire<S>>, token: u64) {
        let Some((syncing_token, _)) = &self.syncing else {
            return;
        };
        if *syncing_token != token {
            return;
        }
        let (_, ready) = self.syncing.take().expect("checked above");
        self.finish_ready(env, ready);
        self.drive(env);
    }

    fn leader_hint(&self) -> Option<u64> {
        self.node.leader().map(address)
    }

    fn reply(
        &self,
        env: &mut impl Env<ServerWire<S>>,
        client_id: u64,
        seq: u64,
        outcome: ReplyOutcome<S::Output>,
    ) {
        env.send(
            client_id,
            Wire::Reply(ClientReply {
                client_id,
                seq,
                outcome,
            }),
        );
    }

    fn wrong_leader(&self, env: &mut impl Env<ServerWire<S>>, request: &ClientRequest<S::Op>) {
        let outcome = ReplyOutcome::WrongLeader {
            leader_hint: self.leader_hint(),
        };
        self.reply(env, request.client_id, request.seq, outcome);
    }

    /// A client's request. Writes (and reads through the log) are proposed; at a follower,
    /// Raft forwards the proposal to the leader unless `disable_proposal_forwarding` is set, as
    /// etcd's server does, and this server answers once it applies the entry.
    fn on_request(
        &mut self,
        env: &mut impl Env<ServerWire<S>>,
        _from: u64,
        request: ClientRequest<S::Op>,
    ) {
        if let Some(refusal) = self.state_machine.refuse(&request.op) {
            return self.reply(env, request.client_id, request.seq, refusal);
        }
        let is_read = S::is_read_only(&request.op);
        let read_through_log = self.config.read_mode == ReadMode::Log;
        if is_read && !read_through_log {
            return self.start_read(env, request);
        }
        // Settle what an earlier leader change means for waiting writes first, so that this
        // write is not taken for one forwarded to a former leader.
        self.notice_role_change(env);
        let command = S::encode_command(request.client_id, request.seq, &request.op);
        match self.node.propose(command) {
            Ok(_) => {
                self.pending_writes
                    .insert(request.client_id, PendingWrite { seq: request.seq });
            }
            Err(_) => self.wrong_leader(env, &request),
        }
    }

    fn start_read(&mut self, env: &mut impl Env<ServerWire<S>>, request: ClientRequest<S::Op>) {
        let follower_reads = self.config.read_mode == ReadMode::Follower;
        if self.node.role() != Role::Leader && !follower_reads {
            return self.wrong_leader(env, &request);
        }
        let mut context = self.read_context_prefix.to_le_bytes().to_vec();
        context.extend_from_slice(&self.next_read_context.to_le_bytes());
        self.next_read_context += 1;
        if self.node.read_index(context.clone()).is_err() {
            return self.wrong_leader(env, &request);
        }
        if self.pending_reads.len() >= PENDING_READS_MAX {
            self.pending_reads.pop_first();
        }
        let read = PendingRead {
            client_id: request.client_id,
            seq: request.seq,
            op: request.op,
            read_index: None,
        };
        self.pending_reads.insert(context, read);
    }

    /// Hands every `Ready` to the disk, the network and the state machine, until Raft has
    /// nothing more or a sync is outstanding.
    fn drive(&mut self, env: &mut impl Env<ServerWire<S>>) {
        while self.syncing.is_none() && self.node.has_ready() {
            let mut ready = self.node.ready();
            for message in ready.messages.drain(..) {
                self.send_raft(env, message);
            }
            if self.persist(env, &ready) {
                let token = self.next_sync_token;
                self.next_sync_token += 1;
                env.sync(token);
                self.syncing = Some((token, ready));
            } else {
                self.finish_ready(env, ready);
            }
        }
    }

    /// Writes what the `Ready` asks to persist; returns whether a sync must complete before
    /// its persisted messages go out.
    fn persist(&mut self, env: &mut impl Env<ServerWire<S>>, ready: &Ready) -> bool {
        if let Some(snapshot) = &ready.snapshot {
            env.replace(SNAPSHOT_FILE, persist::encode_snapshot(snapshot));
            env.replace(LOG_FILE, Vec::new());
            self.log_offsets.clear();
            self.log_len = 0;
            self.log_first_index = snapshot.metadata.index + 1;
        }
        if let Some(first) = ready.entries.first() {
            self.truncate_log_from(env, first.index);
            let mut prev_term = self.node.term_at(first.index - 1).unwrap_or(0);
            for entry in &ready.entries {
                self.appended.push(AppendedEntry {
                    index: entry.index,
                    term: entry.term,
                    prev_term,
                    digest: digest_bytes(&entry.data),
                });
                prev_term = entry.term;
                let record = persist::encode_entry(entry);
                self.log_offsets.push(self.log_len);
                self.log_len += record.len() as u64;
                env.append(LOG_FILE, record);
            }
        }
        if let Some(hard_state) = &ready.hard_state {
            env.replace(HARDSTATE_FILE, persist::encode_hard_state(hard_state));
        }
        self.node.persist_ready(ready);
        ready.must_sync
    }

    /// Cuts the log file before the record of `index` (a conflicting suffix being replaced).
    fn truncate_log_from(&mut self, env: &mut impl Env<ServerWire<S>>, index: u64) {
        if self.log_offsets.is_empty() && index != self.log_first_index {
            // The file is empty: it starts wherever the first entry written to it does.
            self.log_first_index = index;
            return;
        }
        assert!(
            index >= self.log_first_index,
            "n{}: entry {index} precedes the log file's first index {}",
            self.config.address,
            self.log_first_index
        );
        let position = (index - self.log_first_index) as usize;
        if position < self.log_offsets.len() {
            self.log_len = self.log_offsets[position];
            self.log_offsets.truncate(position);
            env.truncate(LOG_FILE, self.log_len);
        }
    }

    /// Hands a Raft message to the network. A snapshot is reported finished once sent, as
    /// etcd's transport does: the leader then waits for the follower's answer, and if the
    /// snapshot was lost its next probe (after a heartbeat) shows it and sends it again.
    fn send_raft(&mut self, env: &mut impl Env<ServerWire<S>>, message: Message) {
        let to = message.to;
        let is_snapshot = message.kind == MessageKind::Snapshot;
        env.send(address(to), Wire::Raft(message));
        if is_snapshot {
            self.node.report_snapshot(to, SnapshotStatus::Finish);
        }
    }

    fn finish_ready(&mut self, env: &mut impl Env<ServerWire<S>>, mut ready: Ready) {
        for message in ready.persisted_messages.drain(..) {
            self.send_raft(env, message);
        }
        if let Some(snapshot) = &ready.snapshot {
            self.restore_snapshot(snapshot);
        }
        for entry in &ready.committed_entries {
            self.apply(env, entry);
        }
        for read_state in &ready.read_states {
            if let Some(read) = self.pending_reads.get_mut(&read_state.request_ctx) {
                read.read_index = Some(read_state.index);
            }
        }
        self.node.advance();
        self.node.recycle(ready);
        self.serve_reads(env);
        self.notice_role_change(env);
        self.maybe_compact(env);
    }

    fn restore_snapshot(&mut self, snapshot: &Snapshot) {
        self.state_machine = S::restore_snapshot(&snapshot.data, self.config.state_machine.clone())
            .expect("snapshots carry state machines this service encoded");
        skip_entry_after_snapshot(&mut self.state_machine, &self.config.raft);
    }

    fn apply(&mut self, env: &mut impl Env<ServerWire<S>>, entry: &Entry) {
        if entry.index <= self.state_machine.applied_index() {
            return; // Covered by a snapshot restored in the same Ready.
        }
        self.applied.push(AppliedEntry {
            index: entry.index,
            term: entry.term,
            digest: digest_bytes(&entry.data),
        });
        match entry.kind {
            EntryKind::ConfChange => {
                if let Some(change) = entry.conf_change() {
                    let _ = self.node.apply_conf_change(&change);
                }
                self.state_machine.apply_empty(entry.index);
            }
            EntryKind::Normal if entry.data.is_empty() => {
                self.state_machine.apply_empty(entry.index)
            }
            EntryKind::Normal => {
                if let Some(answer) = self.state_machine.apply_command(entry.index, &entry.data) {
                    self.retries_applied += u64::from(answer.retried);
                    self.answer_write(env, entry, answer);
                }
            }
        }
    }

    fn answer_write(
        &mut self,
        env: &mut impl Env<ServerWire<S>>,
        entry: &Entry,
        answer: Answer<S::Output>,
    ) {
        let Some(pending) = self.pending_writes.get(&answer.client_id) else {
            return;
        };
        if pending.seq != answer.seq {
            return;
        }
        self.pending_writes.remove(&answer.client_id);
        if answer.is_write && matches!(answer.outcome, ReplyOutcome::Ok(_)) {
            let ack = AckedWrite {
                index: entry.index,
                term: entry.term,
                client_id: answer.client_id,
                seq: answer.seq,
            };
            self.acked.push(ack);
        }
        self.reply(env, answer.client_id, answer.seq, answer.outcome);
    }

    /// Answers every read whose read point the state machine has reached.
    fn serve_reads(&mut self, env: &mut impl Env<ServerWire<S>>) {
        let applied = self.state_machine.applied_index();
        // The `read-before-applied` mutant answers at the read point's arrival.
        let read_before_applied = self.config.raft.mutants.contains(Mutant::ReadBeforeApplied);
        let ready: Vec<Vec<u8>> = self
            .pending_reads
            .iter()
            .filter(|(_, read)| {
                read.read_index
                    .is_some_and(|index| index <= applied || read_before_applied)
            })
            .map(|(context, _)| context.clone())
            .collect();
        for context in ready {
            let read = self
                .pending_reads
                .remove(&context)
                .expect("collected above");
            let outcome = self.state_machine.read(&read.op);
            self.reply(env, read.client_id, read.seq, outcome);
        }
    }

    /// A leader that lost its role tells its waiting clients at once, so they retry elsewhere.
    /// A follower whose leader changed tells the clients whose writes it forwarded that the
    /// outcome is unknown: the old leader may have dropped them.
    fn notice_role_change(&mut self, env: &mut impl Env<ServerWire<S>>) {
        let (role, leader) = (self.node.role(), self.node.leader());
        if (role, leader) == (self.role, self.leader) {
            return;
        }
        let was_leader = self.role == Role::Leader;
        self.role = role;
        self.leader = leader;
        if !was_leader {
            if role != Role::Leader {
                for (client_id, pending) in std::mem::take(&mut self.pending_writes) {
                    self.reply(env, client_id, pending.seq, ReplyOutcome::NotReady);
                }
            }
            return;
        }
        let hint = self.leader_hint();
        for (client_id, pending) in std::mem::take(&mut self.pending_writes) {
            self.reply(
                env,
                client_id,
                pending.seq,
                ReplyOutcome::WrongLeader { leader_hint: hint },
            );
        }
        if self.config.read_mode != ReadMode::Follower {
            for (_, read) in std::mem::take(&mut self.pending_reads) {
                self.reply(
                    env,
                    read.client_id,
                    read.seq,
                    ReplyOutcome::WrongLeader { leader_hint: hint },
                );
            }
        }
    }

    fn maybe_compact(&mut self, env: &mut impl Env<ServerWire<S>>) {
        let applied = self.state_machine.applied_index();
        let first = self.node.first_index();
        if self.syncing.is_some()
            || applied < first
            || (applied - first < self.config.snapshot_threshold_entries
                && !self.node.wants_snapshot())
        {
            return;
        }
        let Ok(snapshot) = self.node.compact(self.state_machine.snapshot()) else {
            return;
        };
        env.replace(SNAPSHOT_FILE, persist::encode_snapshot(&snapshot));
        self.rewrite_log(env);
    }

    /// Replaces the log file with the entries the storage holds after its snapshot.
    fn rewrite_log(&mut self, env: &mut impl Env<ServerWire<S>>) {
        let (first_index, entries) = self.node.stored_log();
        let mut bytes = Vec::new();
        self.log_offsets.clear();
        for entry in entries.iter() {
            self.log_offsets.push(bytes.len() as u64);
            bytes.extend(persist::encode_entry(entry));
        }
        self.log_first_index = first_index;
        self.log_len = bytes.len() as u64;
        env.replace(LOG_FILE, bytes);
    }
}

/// The `snapshot-off-by-one` mutant: after restoring a snapshot at index i the state machine
/// counts i+1 as applied, so the entry there is skipped. Correct code does nothing here.
fn skip_entry_after_snapshot<S: StateMachine>(state_machine: &mut S, raft: &raft::Config) {
    if raft.mutants.contains(Mutant::SnapshotOffByOne) {
        let next = state_machine.applied_index() + 1;
        state_machine.apply_empty(next);
    }
}

/// FNV-1a over bytes: the digest the oracles compare applied entries by.
pub fn digest_bytes(bytes: &[u8]) -> u64 {
    let mut hash = Fnv64::new();
    hash.put(bytes);
    hash.finish()
}
