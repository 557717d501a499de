//! The output cycle: [`RawNode::ready`] collects what to persist, send and apply;
//! [`RawNode::advance`] reports that it was persisted (and applied).
//!
//! A driver loops:
//! 1. `if node.has_ready() { let ready = node.ready(); ... }`
//! 2. send `ready.messages` at once (they depend on nothing unpersisted);
//! 3. persist `ready.snapshot`, `ready.entries` and `ready.hard_state` (sync if `must_sync`);
//! 4. once durable: send `ready.persisted_messages`, apply `ready.snapshot` then
//!    `ready.committed_entries` (calling `apply_conf_change` for conf-change entries) and serve
//!    `ready.read_states` when their index is applied;
//! 5. `node.advance()`.
//!
//! `tick` and `step` may be called between `ready` and `advance` (while the disk syncs); `ready`
//! is called again only after `advance`. Meanwhile the node refuses to install a snapshot from
//! the leader (the application may still be applying the outstanding entries; the leader resends
//! it), and entries handed out but replaced by a newer leader before `advance` stay unstable and
//! come again in the next `Ready`.
//!
//! Restarting a node is constructing it from a [`crate::Storage`] holding exactly what was made
//! durable; it comes back as a follower with its term, vote and commit index, the configuration
//! of its latest snapshot (with `conf_change_on_append`, the latest one in its log), and `applied`
//! at the snapshot index, so the application re-applies the committed entries after its snapshot
//! (conf changes included).

use crate::error::StorageError;
use crate::log::payload_size;
use crate::mutant::Mutant;
use crate::node::RawNode;
use crate::storage::Storage;
use crate::types::{Entry, HardState, Message, ReadState, Role, Snapshot, SoftState};

/// Everything a node asks its driver to do. See the module documentation for the order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ready {
    /// Leader and role, when they changed since the previous `Ready`.
    pub soft_state: Option<SoftState>,
    /// The hard state to persist, when it changed.
    pub hard_state: Option<HardState>,
    /// Entries to append to stable storage (replacing any conflicting suffix).
    pub entries: Vec<Entry>,
    /// A snapshot to persist and restore the state machine from. Boxed, as in `Message`: a
    /// `Ready` moves through the driver on every cycle and almost never carries one.
    pub snapshot: Option<Box<Snapshot>>,
    /// Committed entries to apply, in order, once this Ready's entries are durable.
    pub committed_entries: Vec<Entry>,
    /// Confirmed read points.
    pub read_states: Vec<ReadState>,
    /// Messages that may be sent at once.
    pub messages: Vec<Message>,
    /// Messages that may be sent only after this `Ready`'s hard state, entries and snapshot are
    /// durable: votes, vote replies and acknowledgements.
    pub persisted_messages: Vec<Message>,
    /// Whether the persisted part must be synced before `persisted_messages` go out.
    pub must_sync: bool,
}

impl std::fmt::Display for Ready {
    /// etcd's `DescribeReady` layout, one item a line, with our names:
    ///
    /// ```text
    /// Ready must-sync=true:
    /// soft-state leader=1 role=Leader
    /// hard-state term=1 vote=1 commit=3
    /// Entries:
    /// 4@1 ""
    /// Messages:
    /// 1->2 app t1 prev=3@1 commit=3 [4@1 ""]
    /// ```
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "Ready must-sync={}:", self.must_sync)?;
        if let Some(soft) = self.soft_state {
            let leader = soft.leader.map_or("none".to_string(), |id| id.to_string());
            writeln!(f, "soft-state leader={leader} role={:?}", soft.role)?;
        }
        if let Some(hard) = self.hard_state {
            let vote = hard.vote.map_or("none".to_string(), |id| id.to_string());
            writeln!(
                f,
                "hard-state term={} vote={vote} commit={}",
                hard.term, hard.commit
            )?;
        }
        if let Some(snapshot) = &self.snapshot {
            writeln!(f, "Snapshot {snapshot}")?;
        }
        let lists: [(&str, Vec<String>); 5] = [
            (
                "Entries:",
                self.entries.iter().map(|e| e.to_string()).collect(),
            ),
            (
                "CommittedEntries:",
                self.committed_entries
                    .iter()
                    .map(|e| e.to_string())
                    .collect(),
            ),
            (
                "ReadStates:",
                self.read_states
                    .iter()
                    .map(|r| {
                        let context = String::from_utf8_lossy(&r.request_ctx);
                        format!("index={} context={context:?}", r.index)
                    })
                    .collect(),
            ),
            (
                "Messages:",
                self.messages.iter().map(Message::with_route).collect(),
            ),
            (
                "Messages after persisting:",
                self.persisted_messages
                    .iter()
                    .map(Message::with_route)
                    .collect(),
            ),
        ];
        for (title, lines) in lists {
            if lines.is_empty() {
                continue;
            }
            writeln!(f, "{title}")?;
            for line in lines {
                writeln!(f, "{line}")?;
            }
        }
        Ok(())
    }
}

/// Whether the application applied the committed entries of the Ready it acknowledges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Applied {
    Yes,
    No,
}

/// What the last `ready()` handed out, so that `advance()` can acknowledge exactly that.
#[derive(Clone, Debug)]
pub(crate) struct ReadyState {
    /// The hard state as last handed out (unmodified by mutants).
    pub hard_state: HardState,
    pub soft_state: SoftState,
    outstanding: Option<Outstanding>,
    /// The emptied buffers of the last `Ready` handed back ([`RawNode::recycle`]): the next
    /// one fills them, so their capacity survives the cycle.
    spare: Ready,
}

#[derive(Clone, Debug)]
struct Outstanding {
    last_entry: Option<(u64, u64)>,
    snapshot_index: Option<u64>,
    last_committed: Option<u64>,
    /// Payload bytes of the committed entries handed out.
    applied_size: u64,
    /// Replies to ourselves that count once this Ready is durable (our own vote).
    self_messages: Vec<Message>,
}

impl ReadyState {
    pub(crate) fn new(hard_state: HardState) -> ReadyState {
        ReadyState {
            hard_state,
            soft_state: SoftState::default(),
            outstanding: None,
            spare: Ready::default(),
        }
    }

    pub(crate) fn is_outstanding(&self) -> bool {
        self.outstanding.is_some()
    }
}

impl<S: Storage> RawNode<S> {
    /// Whether `ready()` has anything to hand out.
    pub fn has_ready(&self) -> bool {
        if self.ready_state.outstanding.is_some() {
            return false;
        }
        self.soft_state() != self.ready_state.soft_state
            || self.hard_state() != self.ready_state.hard_state
            || !self.log.unstable_entries().is_empty()
            || self.log.unstable_snapshot().is_some()
            || self.log.has_next_committed_entries()
            || !self.read_states.is_empty()
            || !self.messages.is_empty()
            || !self.persisted_messages.is_empty()
            || !self.self_messages.is_empty()
    }

    /// Collects the node's output. Must be followed by [`RawNode::advance`] before the next call.
    pub fn ready(&mut self) -> Ready {
        assert!(
            self.ready_state.outstanding.is_none(),
            "node {}: ready() called again before advance()",
            self.id
        );
        let soft_state = self.soft_state();
        let soft_state = (soft_state != self.ready_state.soft_state).then(|| {
            self.ready_state.soft_state = soft_state;
            soft_state
        });
        let hard_state = self.hard_state();
        let changed_hard_state = hard_state != self.ready_state.hard_state;
        let vote_changed = hard_state.term != self.ready_state.hard_state.term
            || hard_state.vote != self.ready_state.hard_state.vote;
        self.ready_state.hard_state = hard_state;
        let hard_state = changed_hard_state.then(|| {
            let mut persisted = hard_state;
            if self.config.mutants.contains(Mutant::ForgetVoteOnRestart) {
                // The bug: the vote never reaches the disk.
                persisted.vote = None;
            }
            persisted
        });
        let spare = &mut self.ready_state.spare;
        let mut entries = std::mem::take(&mut spare.entries);
        entries.extend_from_slice(self.log.unstable_entries());
        // The spare buffers collect the next round's output; this round's go out.
        let read_states = std::mem::replace(
            &mut self.read_states,
            std::mem::take(&mut spare.read_states),
        );
        let messages = std::mem::replace(&mut self.messages, std::mem::take(&mut spare.messages));
        let persisted_messages = std::mem::replace(
            &mut self.persisted_messages,
            std::mem::take(&mut spare.persisted_messages),
        );
        let snapshot = self.log.unstable_snapshot().cloned().map(Box::new);
        let committed_entries = self
            .log
            .next_committed_entries(self.config.max_committed_size_per_ready);
        self.ready_state.outstanding = Some(Outstanding {
            last_entry: entries.last().map(|entry| (entry.index, entry.term)),
            snapshot_index: snapshot.as_ref().map(|snapshot| snapshot.metadata.index),
            last_committed: committed_entries.last().map(|entry| entry.index),
            applied_size: payload_size(&committed_entries),
            self_messages: std::mem::take(&mut self.self_messages),
        });
        Ready {
            soft_state,
            hard_state,
            must_sync: vote_changed || !entries.is_empty() || snapshot.is_some(),
            entries,
            snapshot,
            committed_entries,
            read_states,
            messages,
            persisted_messages,
        }
    }

    /// Hands a processed `Ready` back (after `advance`, or at any time once its contents were
    /// taken) so that the next `Ready` reuses its buffers instead of growing new ones.
    /// Optional: a driver that drops its `Ready` only loses the reuse.
    pub fn recycle(&mut self, mut ready: Ready) {
        ready.entries.clear();
        ready.committed_entries.clear();
        ready.read_states.clear();
        ready.messages.clear();
        ready.persisted_messages.clear();
        let spare = &mut self.ready_state.spare;
        // Keep whichever buffer is larger: a Ready taken apart by the driver comes back empty.
        for (kept, returned) in [
            (&mut spare.messages, ready.messages),
            (&mut spare.persisted_messages, ready.persisted_messages),
        ] {
            if returned.capacity() > kept.capacity() {
                *kept = returned;
            }
        }
        if ready.entries.capacity() > spare.entries.capacity() {
            spare.entries = ready.entries;
        }
        if ready.read_states.capacity() > spare.read_states.capacity() {
            spare.read_states = ready.read_states;
        }
    }

    /// Acknowledges the last `Ready`: its entries, snapshot and hard state are durable and its
    /// committed entries applied.
    pub fn advance(&mut self) {
        self.finish_outstanding(Applied::Yes);
    }

    /// Acknowledges the last `Ready` as durable, but not its committed entries as applied: the
    /// application defers them, and they come again in the next `Ready` (etcd-raft separates
    /// the two with asynchronous storage writes). Its snapshot counts as applied.
    pub fn advance_append(&mut self) {
        self.finish_outstanding(Applied::No);
    }

    fn finish_outstanding(&mut self, applied: Applied) {
        let outstanding = self.ready_state.outstanding.take().unwrap_or_else(|| {
            panic!("node {}: advance() without an outstanding ready()", self.id)
        });
        if let Some(index) = outstanding.snapshot_index {
            self.log.stable_snapshot_to(index);
            self.log.applied_to(index);
        }
        if let Some((index, term)) = outstanding.last_entry {
            self.log.stable_to(index, term);
        }
        if let (Some(index), Applied::Yes) = (outstanding.last_committed, applied) {
            self.log.applied_to(index);
            self.uncommitted_size = self
                .uncommitted_size
                .saturating_sub(outstanding.applied_size);
        }
        for message in outstanding.self_messages {
            self.step(message)
                .expect("a reply to ourselves is addressed to us");
        }
        if self.role == Role::Leader {
            if let Some(persisted) = self.log.persisted_index() {
                self.update_self_match(persisted);
            }
            self.maybe_auto_leave();
        }
    }

    /// Messages that may be sent at once, taken without a full `Ready` cycle (for drivers that
    /// send while a sync is in flight).
    pub fn take_messages(&mut self) -> Vec<Message> {
        std::mem::take(&mut self.messages)
    }
}

impl RawNode<crate::storage::MemStorage> {
    /// Compacts the log: snapshots the application's `data`, which must reflect exactly the
    /// entries up to [`RawNode::applied_index`], with the configuration as of that index.
    pub fn compact(&mut self, data: Vec<u8>) -> Result<Snapshot, crate::Error> {
        let index = self.log.applied;
        let snapshot_index = self.log.first_index() - 1;
        if index < snapshot_index {
            // A snapshot from the leader is pending and not applied yet.
            return Err(StorageError::SnapshotOutOfDate {
                index,
                current: snapshot_index,
            }
            .into());
        }
        // With `conf_change_on_append` the configuration in effect may come from entries after
        // `index`, uncommitted ones even; a snapshot carrying it would keep such a change alive
        // after a truncation removed its entry, and apply it twice on a restart.
        let configuration = self.configuration_at(index);
        if !self.config.conf_change_on_append {
            assert_eq!(
                configuration, self.tracker.config,
                "node {}: the configuration applied differs from the log's up to applied index \
                 {index}; was every applied conf change passed to apply_conf_change?",
                self.id
            );
        }
        let conf_state = configuration.to_conf_state();
        Ok(self.log.storage.create_snapshot(index, conf_state, data)?)
    }
}
