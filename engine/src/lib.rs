//! The consensus-engine boundary: what raftsim's servers (`kv::Server`) and its safety oracles
//! need from a Raft implementation, stated as one trait, [`Engine`].
//!
//! The boundary speaks our `raft` crate's protocol values (`Message`, `Entry`, `Snapshot`,
//! `ConfChange`, `Ready`): they are what travels on the simulated network, what the server
//! persists and what scripts, traces and reports show. An engine with its own types converts at
//! this boundary, in its adapter. Our `raft::RawNode` implements the trait by delegating, so the
//! server is generic over the engine and our own runs pay nothing for it (monomorphised calls).
//!
//! What an engine must not do: read a clock, draw randomness of its own that can change a run,
//! or do IO. Election jitter comes in as a [`JitterSource`] drawn from the simulator's seed.
//!
//! Modules: this file only (the trait and our engine's implementation).

use std::borrow::Cow;

use raft::{
    ConfChange, ConfState, Entry, Error, HardState, JitterSource, MemStorage, Message, NodeId,
    Proposal, RawNode, Ready, Role, Snapshot, SnapshotStatus,
};

/// What survived on a server's disk, handed to [`Engine::restore`] when it starts: the initial
/// voters (a fresh cluster's configuration), the latest snapshot, the log entries after it and
/// the hard state.
#[derive(Clone, Debug, Default)]
pub struct Durable<'a> {
    pub voters: ConfState,
    pub snapshot: Option<Snapshot>,
    pub entries: &'a [Entry],
    pub hard_state: HardState,
}

/// A Raft implementation as a raftsim server drives it. The cycle is etcd-raft's: inputs
/// (`tick`, `step`, `propose`, ...) then, while [`Engine::has_ready`], a [`Ready`] whose
/// `messages` go out at once, whose entries, snapshot and hard state the server writes (and
/// hands to [`Engine::persist_ready`]), syncs, and only then sends `persisted_messages`,
/// applies the snapshot and `committed_entries` (calling [`Engine::apply_conf_change`] for
/// configuration entries), serves `read_states`, and calls [`Engine::advance`]. Every method
/// but `restore` can be called through `dyn Engine` (a harness choosing its engine at run time).
pub trait Engine {
    /// Builds the node from its durable state. `config.id` is this node's Raft id;
    /// `jitter` draws `0..election_tick` extra ticks each time an election timeout is reset.
    fn restore(
        config: raft::Config,
        durable: Durable<'_>,
        jitter: JitterSource,
    ) -> Result<Self, Error>
    where
        Self: Sized;

    // Inputs.
    fn tick(&mut self);
    /// Starts an election at once (scripts' `campaign`).
    fn campaign(&mut self);
    /// A message from another node; an error means it was not for this node.
    fn step(&mut self, message: Message) -> Result<(), Error>;
    fn propose(&mut self, data: Vec<u8>) -> Result<Proposal, Error>;
    fn propose_conf_change(&mut self, change: ConfChange) -> Result<Proposal, Error>;
    /// Applies a committed configuration entry; returns the configuration now in effect.
    fn apply_conf_change(&mut self, change: &ConfChange) -> Result<ConfState, Error>;
    /// Asks for a linearizable read point; it comes back as a `ReadState` carrying `context`.
    fn read_index(&mut self, context: Vec<u8>) -> Result<(), Error>;
    fn transfer_leader(&mut self, to: NodeId) -> Result<(), Error>;
    /// The server handed a snapshot message for `to` to the network.
    fn report_snapshot(&mut self, to: NodeId, status: SnapshotStatus);

    // The Ready cycle.
    fn has_ready(&self) -> bool;
    fn ready(&mut self) -> Ready;
    /// The server wrote this `Ready`'s snapshot, entries and hard state: the engine's own
    /// storage takes them too. Returns nothing; `ready.must_sync` says whether to sync.
    fn persist_ready(&mut self, ready: &Ready);
    fn advance(&mut self);
    /// Takes back a `Ready` the server has processed, so the next one can reuse its buffers
    /// (ours does; others may just drop it).
    fn recycle(&mut self, ready: Ready) {
        drop(ready);
    }
    /// Coverage marks (`raft::Mark`) hit since the last call; an engine without marks has none.
    fn take_marks(&mut self) -> raft::MarkCounts {
        raft::MarkCounts::default()
    }
    /// Compacts the log up to the applied index into a snapshot holding `data`.
    fn compact(&mut self, data: Vec<u8>) -> Result<Snapshot, Error>;

    // Status, and what the oracles inspect.
    fn id(&self) -> NodeId;
    fn role(&self) -> Role;
    fn term(&self) -> u64;
    fn vote(&self) -> Option<NodeId>;
    fn leader(&self) -> Option<NodeId>;
    fn commit_index(&self) -> u64;
    /// The configuration in effect.
    fn conf_state(&self) -> ConfState;
    /// The first index still in the log (after the snapshot).
    fn first_index(&self) -> u64;
    fn last_index(&self) -> u64;
    /// The term of the entry at `index`, if the log (or the snapshot at its end) holds it.
    fn term_at(&self, index: u64) -> Option<u64>;
    /// Whether this node would campaign when its election timeout passes (a voter of its
    /// configuration), for the look-ahead oracle.
    fn promotable(&self) -> bool;
    /// Whether a committed configuration change awaits being applied (a node then does not
    /// campaign), for the look-ahead oracle.
    fn has_unapplied_conf_change(&self) -> bool;
    /// The voters of the configuration in effect (an engine that can lend them saves the
    /// oracles a copy per event).
    fn voters(&self) -> Cow<'_, raft::JointConfig> {
        let conf = self.conf_state();
        Cow::Owned(raft::JointConfig {
            incoming: conf.voters,
            outgoing: conf.voters_outgoing,
        })
    }
    /// Whether `id` is a voter of the configuration in effect (either half while joint).
    fn is_voter(&self, id: NodeId) -> bool {
        self.voters().contains(id)
    }
    /// Whether the engine needs a fresh snapshot before the usual compaction threshold (its
    /// latest one cannot serve a follower, e.g. one added after it was taken). Ours never does.
    fn wants_snapshot(&self) -> bool {
        false
    }
    /// The durable log: the first index after the storage's snapshot and the entries it holds
    /// from there (the server rewrites its log file from them after compaction).
    fn stored_log(&self) -> (u64, Cow<'_, [Entry]>);
}

/// Our own `raft` crate: every method delegates to `RawNode`, so a server over it behaves, and
/// hashes, exactly as it did before the boundary existed.
impl Engine for RawNode<MemStorage> {
    fn restore(
        config: raft::Config,
        durable: Durable<'_>,
        jitter: JitterSource,
    ) -> Result<Self, Error> {
        let mut storage = MemStorage::new_with_conf_state(durable.voters);
        if let Some(snapshot) = durable.snapshot {
            storage
                .apply_snapshot(snapshot)
                .expect("a fresh storage takes any snapshot");
        }
        storage.append(durable.entries);
        storage.set_hard_state(durable.hard_state);
        RawNode::new(config, storage, jitter)
    }

    #[inline]
    fn tick(&mut self) {
        RawNode::tick(self)
    }
    fn campaign(&mut self) {
        RawNode::campaign(self)
    }
    #[inline]
    fn step(&mut self, message: Message) -> Result<(), Error> {
        RawNode::step(self, message)
    }
    #[inline]
    fn propose(&mut self, data: Vec<u8>) -> Result<Proposal, Error> {
        RawNode::propose(self, data)
    }
    fn propose_conf_change(&mut self, change: ConfChange) -> Result<Proposal, Error> {
        RawNode::propose_conf_change(self, change)
    }
    fn apply_conf_change(&mut self, change: &ConfChange) -> Result<ConfState, Error> {
        RawNode::apply_conf_change(self, change)
    }
    #[inline]
    fn read_index(&mut self, context: Vec<u8>) -> Result<(), Error> {
        RawNode::read_index(self, context)
    }
    fn transfer_leader(&mut self, to: NodeId) -> Result<(), Error> {
        RawNode::transfer_leader(self, to)
    }
    #[inline]
    fn report_snapshot(&mut self, to: NodeId, status: SnapshotStatus) {
        RawNode::report_snapshot(self, to, status)
    }
    #[inline]
    fn has_ready(&self) -> bool {
        RawNode::has_ready(self)
    }
    #[inline]
    fn ready(&mut self) -> Ready {
        RawNode::ready(self)
    }
    #[inline]
    fn persist_ready(&mut self, ready: &Ready) {
        self.storage_mut().persist_ready(ready)
    }
    #[inline]
    fn advance(&mut self) {
        RawNode::advance(self)
    }
    #[inline]
    fn recycle(&mut self, ready: Ready) {
        RawNode::recycle(self, ready)
    }
    #[inline]
    fn take_marks(&mut self) -> raft::MarkCounts {
        RawNode::take_marks(self)
    }
    fn voters(&self) -> Cow<'_, raft::JointConfig> {
        Cow::Borrowed(RawNode::voters(self))
    }
    fn compact(&mut self, data: Vec<u8>) -> Result<Snapshot, Error> {
        RawNode::compact(self, data)
    }
    fn id(&self) -> NodeId {
        RawNode::id(self)
    }
    #[inline]
    fn role(&self) -> Role {
        RawNode::role(self)
    }
    #[inline]
    fn term(&self) -> u64 {
        RawNode::term(self)
    }
    #[inline]
    fn vote(&self) -> Option<NodeId> {
        RawNode::vote(self)
    }
    #[inline]
    fn leader(&self) -> Option<NodeId> {
        RawNode::leader(self)
    }
    #[inline]
    fn commit_index(&self) -> u64 {
        RawNode::commit_index(self)
    }
    fn conf_state(&self) -> ConfState {
        RawNode::conf_state(self)
    }
    #[inline]
    fn first_index(&self) -> u64 {
        RawNode::first_index(self)
    }
    #[inline]
    fn last_index(&self) -> u64 {
        RawNode::last_index(self)
    }
    #[inline]
    fn term_at(&self, index: u64) -> Option<u64> {
        RawNode::term_at(self, index)
    }
    fn promotable(&self) -> bool {
        RawNode::promotable(self)
    }
    fn has_unapplied_conf_change(&self) -> bool {
        RawNode::has_unapplied_conf_change(self)
    }
    fn stored_log(&self) -> (u64, Cow<'_, [Entry]>) {
        let storage = self.storage();
        (
            raft::Storage::first_index(storage),
            Cow::Borrowed(storage.log_entries()),
        )
    }
}
