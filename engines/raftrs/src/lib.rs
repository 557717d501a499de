//! tikv/raft-rs (the crates.io `raft` crate, 0.7) behind raftsim's consensus-engine boundary
//! ([`engine::Engine`]), so the same campaigns, oracles and checker run against it.
//!
//! Modules, each using only those above it: `convert` (protocol values between raft-rs's
//! `eraftpb` and our `raft` crate), `storage` (`SimStorage`, raft-rs's `Storage` over what the
//! server persisted), then [`RaftRsNode`] here.
//!
//! Determinism: raft-rs draws its randomized election timeout from `rand::thread_rng` in
//! `[min_election_tick, max_election_tick)`. The adapter sets that range to the single value
//! `election_tick` (`max = election_tick + 1`), so every draw gives `election_tick` whatever
//! the thread's generator holds, and adds the jitter itself: whenever the node's term or role
//! changes (raft-rs then resets its timeout) it draws `0..election_tick` ticks from the
//! simulator's [`raft::JitterSource`] and withholds that many ticks from a node that is not
//! leading. raft-rs's logs go to `slog::Discard`.
//!
//! The Ready cycle: raft-rs's `Ready` wants its entries in `Storage` before it is marked
//! persisted, while our server may step messages while a sync is outstanding. So `ready` writes
//! the adapter's storage at once and calls `advance_append_async`; `advance` (called by the
//! server once the sync completed and the committed entries are applied) reports the Ready
//! persisted (`on_persist_ready`) and applied. A crash loses the adapter with everything in it:
//! the restarted node is rebuilt from what the server's disk kept.
//!
//! Behaviour the server asks for that raft-rs lacks is emulated here, and said so: a leader
//! that applies its own removal steps down into the next term (etcd's `StepDownOnRemoval`,
//! which `kv::Server` sets), `read_index` at a follower that knows no leader is refused at
//! once (raft-rs drops it silently), and a leader refuses a configuration change raft-rs would
//! ignore (raft-rs appends an empty entry in its place and reports success).

mod convert;
mod storage;

use std::borrow::Cow;

use engine::{Durable, Engine};
use raft::{
    ConfChange, ConfState, Entry, Error, JitterSource, Message, NodeId, Proposal, Ready, Role,
    Snapshot, SnapshotStatus,
};
use raft_rs::Storage as _;

use crate::convert::*;
use crate::storage::SimStorage;

/// One raft-rs node and its storage, driven as an [`Engine`].
pub struct RaftRsNode {
    node: raft_rs::RawNode<SimStorage>,
    jitter: JitterSource,
    election_tick: u64,
    /// Ticks still withheld from the node's election timer (the drawn jitter).
    ticks_withheld: u64,
    /// Term and role after the last call, to notice a reset of the election timeout.
    seen: (u64, Role),
    /// The raft-rs Ready handed out and not yet advanced: its number.
    outstanding: Option<u64>,
    /// Converted entries the storage holds, for `stored_log` (kept in step with `storage`).
    stored: Vec<Entry>,
}

impl RaftRsNode {
    fn raft(&self) -> &raft_rs::Raft<SimStorage> {
        &self.node.raft
    }

    /// Draws new jitter when the term or role changed since the last call.
    fn note_reset(&mut self) {
        let now = (self.node.raft.term, role_to_ours(self.node.raft.state));
        if now != self.seen {
            self.seen = now;
            self.draw_jitter();
        }
    }

    fn draw_jitter(&mut self) {
        let jitter = (self.jitter)();
        assert!(
            jitter < self.election_tick,
            "node {}: election jitter {jitter} outside 0..{}",
            self.node.raft.id,
            self.election_tick
        );
        self.ticks_withheld = jitter;
    }

    /// The store's entries again in our types, after it changed.
    fn refresh_stored(&mut self) {
        self.stored = self
            .node
            .store()
            .entries()
            .iter()
            .map(entry_to_ours)
            .collect();
    }

    /// Why raft-rs's leader would ignore this change, if it would. raft-rs (like etcd-raft)
    /// does not refuse such a proposal: it appends an empty normal entry in its place and
    /// reports success. Our boundary refuses it and appends nothing, as an application of
    /// raft-rs does (TiKV's raftstore answers "there is a pending conf change, try later"
    /// before proposing). Passing it through told the caller "appended at index N" for a
    /// no-op, and a caller that retries until the change applies grew the leader's log
    /// without bound (raft-rs campaign seed 2711). The reasons and their order are raft-rs's
    /// own (`step_leader`, `MsgPropose`).
    fn conf_change_ignored(&self, change: &ConfChange) -> Option<&'static str> {
        let raft = self.raft();
        if raft.state != raft_rs::StateRole::Leader {
            return None;
        }
        let joint = !raft.prs().conf().to_conf_state().voters_outgoing.is_empty();
        let leave = change.changes.is_empty();
        if raft.has_pending_conf() {
            Some("possible unapplied conf change")
        } else if joint && !leave {
            Some("must transition out of joint config first")
        } else if !joint && leave {
            Some("not in joint state; refusing empty conf change")
        } else {
            None
        }
    }

    fn as_proposal(&self) -> Proposal {
        match self.leader() {
            Some(leader) if leader != self.id() => Proposal::Forwarded { leader },
            _ => Proposal::Appended {
                index: self.last_index(),
            },
        }
    }
}

fn dropped(error: raft_rs::Error) -> Error {
    Error::ProposalDropped {
        reason: format!("raft-rs: {error}"),
    }
}

fn config_of(config: &raft::Config) -> raft_rs::Config {
    let election_tick = config.election_tick as usize;
    raft_rs::Config {
        id: config.id,
        election_tick,
        heartbeat_tick: config.heartbeat_tick as usize,
        // One value: raft-rs's thread_rng draw cannot vary (see the module documentation).
        min_election_tick: election_tick,
        max_election_tick: election_tick + 1,
        max_size_per_msg: config.max_size_per_msg,
        max_inflight_msgs: config.max_inflight_msgs,
        check_quorum: config.check_quorum,
        pre_vote: config.pre_vote,
        read_only_option: match config.read_only {
            raft::ReadOnlyOption::Safe => raft_rs::ReadOnlyOption::Safe,
            raft::ReadOnlyOption::LeaseBased => raft_rs::ReadOnlyOption::LeaseBased,
        },
        max_uncommitted_size: config.max_uncommitted_entries_size,
        max_committed_size_per_ready: config.max_committed_size_per_ready,
        ..raft_rs::Config::default()
    }
}

impl Engine for RaftRsNode {
    fn restore(
        config: raft::Config,
        durable: Durable<'_>,
        jitter: JitterSource,
    ) -> Result<Self, Error> {
        if config.conf_change_on_append || !config.mutants.is_empty() {
            return Err(Error::ProposalDropped {
                reason: "raft-rs has no conf_change_on_append and no planted bugs".to_string(),
            });
        }
        let mut storage = SimStorage::new(conf_state_to_raftrs(&durable.voters));
        if let Some(snapshot) = &durable.snapshot {
            storage.apply_snapshot(snapshot_to_raftrs(snapshot));
        }
        let entries: Vec<_> = durable.entries.iter().map(entry_to_raftrs).collect();
        storage.append(&entries);
        storage.set_hard_state(hard_state_to_raftrs(&durable.hard_state));
        let logger = slog::Logger::root(slog::Discard, slog::o!());
        let node = raft_rs::RawNode::new(&config_of(&config), storage, &logger).map_err(|e| {
            Error::ProposalDropped {
                reason: format!("raft-rs refused its configuration: {e}"),
            }
        })?;
        let mut engine = RaftRsNode {
            seen: (node.raft.term, role_to_ours(node.raft.state)),
            node,
            jitter,
            election_tick: config.election_tick,
            ticks_withheld: 0,
            outstanding: None,
            stored: durable.entries.to_vec(),
        };
        engine.draw_jitter();
        Ok(engine)
    }

    fn tick(&mut self) {
        if self.ticks_withheld > 0 && self.node.raft.state != raft_rs::StateRole::Leader {
            self.ticks_withheld -= 1;
            return;
        }
        self.node.tick();
        self.note_reset();
    }

    fn campaign(&mut self) {
        let _ = self.node.campaign();
        self.note_reset();
    }

    fn step(&mut self, message: Message) -> Result<(), Error> {
        let result = self.node.step(message_to_raftrs(message));
        self.note_reset();
        result.map_err(dropped)
    }

    fn propose(&mut self, data: Vec<u8>) -> Result<Proposal, Error> {
        let result = self.node.propose(Vec::new(), data);
        self.note_reset();
        result.map_err(dropped)?;
        Ok(self.as_proposal())
    }

    fn propose_conf_change(&mut self, change: ConfChange) -> Result<Proposal, Error> {
        if let Some(reason) = self.conf_change_ignored(&change) {
            return Err(Error::ProposalDropped {
                reason: format!("raft-rs: {reason}"),
            });
        }
        let result = self
            .node
            .propose_conf_change(Vec::new(), conf_change_to_raftrs(&change));
        self.note_reset();
        result.map_err(|error| Error::InvalidConfChange {
            reason: format!("raft-rs: {error}"),
        })?;
        Ok(self.as_proposal())
    }

    fn apply_conf_change(&mut self, change: &ConfChange) -> Result<ConfState, Error> {
        let conf = self
            .node
            .apply_conf_change(&conf_change_to_raftrs(change))
            .map_err(|error| Error::InvalidConfChange {
                reason: format!("raft-rs: {error}"),
            })?;
        let raft = &mut self.node.raft;
        let is_voter = conf.voters.contains(&raft.id) || conf.voters_outgoing.contains(&raft.id);
        if !is_voter && raft.state == raft_rs::StateRole::Leader {
            // The server asks every engine to step down on removal (see the module docs).
            let term = raft.term + 1;
            raft.become_follower(term, raft_rs::INVALID_ID);
        }
        self.note_reset();
        Ok(conf_state_to_ours(&conf))
    }

    fn read_index(&mut self, context: Vec<u8>) -> Result<(), Error> {
        if self.role() != Role::Leader && self.leader().is_none() {
            return Err(Error::NotLeader { leader: None });
        }
        self.node.read_index(context);
        Ok(())
    }

    fn transfer_leader(&mut self, to: NodeId) -> Result<(), Error> {
        self.node.transfer_leader(to);
        self.note_reset();
        Ok(())
    }

    fn report_snapshot(&mut self, to: NodeId, status: SnapshotStatus) {
        let status = match status {
            SnapshotStatus::Finish => raft_rs::SnapshotStatus::Finish,
            SnapshotStatus::Failure => raft_rs::SnapshotStatus::Failure,
        };
        self.node.report_snapshot(to, status);
    }

    fn has_ready(&self) -> bool {
        self.outstanding.is_none() && self.node.has_ready()
    }

    fn ready(&mut self) -> Ready {
        assert!(self.outstanding.is_none(), "ready before advance");
        let mut ready = self.node.ready();
        let snapshot = (!ready.snapshot().is_empty()).then(|| ready.snapshot().clone());
        let entries = ready.take_entries();
        let store = self.node.mut_store();
        if let Some(snapshot) = &snapshot {
            store.apply_snapshot(snapshot.clone());
        }
        store.append(&entries);
        if let Some(hard_state) = ready.hs() {
            store.set_hard_state(hard_state.clone());
        }
        let converted = Ready {
            soft_state: ready.ss().map(|soft| raft::SoftState {
                leader: (soft.leader_id != raft_rs::INVALID_ID).then_some(soft.leader_id),
                role: role_to_ours(soft.raft_state),
            }),
            hard_state: ready.hs().map(hard_state_to_ours),
            entries: entries.iter().map(entry_to_ours).collect(),
            snapshot: snapshot.as_ref().map(|s| Box::new(snapshot_to_ours(s))),
            committed_entries: ready
                .take_committed_entries()
                .iter()
                .map(entry_to_ours)
                .collect(),
            read_states: ready
                .take_read_states()
                .into_iter()
                .map(|read| raft::ReadState {
                    index: read.index,
                    request_ctx: read.request_ctx,
                })
                .collect(),
            messages: ready
                .take_messages()
                .into_iter()
                .map(message_to_ours)
                .collect(),
            persisted_messages: ready
                .take_persisted_messages()
                .into_iter()
                .map(message_to_ours)
                .collect(),
            must_sync: ready.must_sync(),
        };
        self.outstanding = Some(ready.number());
        self.node.advance_append_async(ready);
        if snapshot.is_some() || !entries.is_empty() {
            self.refresh_stored();
        }
        converted
    }

    fn persist_ready(&mut self, _ready: &Ready) {
        // Written to the adapter's storage in `ready` already (raft-rs reads it from there).
    }

    fn advance(&mut self) {
        let number = self.outstanding.take().expect("advance after ready");
        self.node.on_persist_ready(number);
        self.node.advance_apply();
        self.note_reset();
    }

    fn compact(&mut self, data: Vec<u8>) -> Result<Snapshot, Error> {
        let raft = self.raft();
        let applied = raft.raft_log.applied;
        let store = self.node.store();
        if applied < store.first_index() {
            return Err(Error::ProposalDropped {
                reason: format!("nothing to compact: applied {applied}"),
            });
        }
        let term = store.term(applied).map_err(dropped)?;
        let snapshot = Snapshot {
            metadata: raft::SnapshotMetadata {
                index: applied,
                term,
                conf_state: conf_state_to_ours(&raft.prs().conf().to_conf_state()),
            },
            data,
        };
        self.node.mut_store().compact(snapshot_to_raftrs(&snapshot));
        self.refresh_stored();
        Ok(snapshot)
    }

    fn id(&self) -> NodeId {
        self.raft().id
    }

    fn role(&self) -> Role {
        role_to_ours(self.raft().state)
    }

    fn term(&self) -> u64 {
        self.raft().term
    }

    fn vote(&self) -> Option<NodeId> {
        let vote = self.raft().vote;
        (vote != raft_rs::INVALID_ID).then_some(vote)
    }

    fn leader(&self) -> Option<NodeId> {
        let leader = self.raft().leader_id;
        (leader != raft_rs::INVALID_ID).then_some(leader)
    }

    fn commit_index(&self) -> u64 {
        self.raft().raft_log.committed
    }

    fn conf_state(&self) -> ConfState {
        conf_state_to_ours(&self.raft().prs().conf().to_conf_state())
    }

    fn first_index(&self) -> u64 {
        self.raft().raft_log.first_index()
    }

    fn last_index(&self) -> u64 {
        self.raft().raft_log.last_index()
    }

    fn term_at(&self, index: u64) -> Option<u64> {
        let log = &self.raft().raft_log;
        if index + 1 < log.first_index() || index > log.last_index() {
            return None;
        }
        log.term(index).ok()
    }

    fn promotable(&self) -> bool {
        self.raft().promotable()
    }

    /// raft-rs's own test before it campaigns (`hup`): a configuration entry among the
    /// committed entries not yet applied.
    fn has_unapplied_conf_change(&self) -> bool {
        let log = &self.raft().raft_log;
        if log.committed <= log.applied {
            return false;
        }
        let context = raft_rs::GetEntriesContext::empty(false);
        log.slice(log.applied + 1, log.committed + 1, None, context)
            .map(|entries| {
                entries
                    .iter()
                    .any(|entry| entry.entry_type != raft_rs::eraftpb::EntryType::EntryNormal)
            })
            .unwrap_or(false)
    }

    fn wants_snapshot(&self) -> bool {
        self.node.store().snapshot_wanted()
    }

    fn stored_log(&self) -> (u64, Cow<'_, [Entry]>) {
        (self.node.store().first_index(), Cow::Borrowed(&self.stored))
    }
}

#[cfg(test)]
mod tests {
    use raft::{ConfChangeKind, Config};

    use super::*;

    /// A one-voter raft-rs node restarted with one entry of term 1 and elected leader of
    /// term 2: no entry applied yet, so raft-rs counts a change as possibly pending.
    fn new_leader() -> RaftRsNode {
        let entries = [Entry {
            term: 1,
            index: 1,
            ..Entry::default()
        }];
        let durable = Durable {
            voters: ConfState {
                voters: [1].into(),
                ..ConfState::default()
            },
            entries: &entries,
            hard_state: raft::HardState {
                term: 1,
                ..raft::HardState::default()
            },
            ..Durable::default()
        };
        let mut node = RaftRsNode::restore(Config::new(1), durable, Box::new(|| 0)).unwrap();
        node.campaign();
        assert_eq!(node.role(), Role::Leader, "a lone voter wins at once");
        assert_eq!((node.term(), node.last_index()), (2, 2));
        node
    }

    /// Runs Ready cycles until nothing is left, as the server does (persist, then advance).
    fn settle(node: &mut RaftRsNode) {
        for _ in 0..4 {
            if !node.has_ready() {
                return;
            }
            let ready = node.ready();
            node.persist_ready(&ready);
            node.advance();
        }
        assert!(!node.has_ready(), "node 1 still has a Ready after 4 cycles");
    }

    /// Seed 2711: raft-rs turns a change it ignores into an empty entry and reports success;
    /// the adapter must refuse it and append nothing, or a caller that retries grows the log.
    #[test]
    fn a_leader_refuses_a_change_raft_rs_would_ignore() {
        let mut node = new_leader();
        let last = node.last_index();
        let add_2 = ConfChange::single(ConfChangeKind::AddNode, 2);
        let before_applied = node.propose_conf_change(add_2.clone());
        assert!(
            matches!(&before_applied, Err(Error::ProposalDropped { reason })
                if reason.contains("possible unapplied conf change")),
            "{before_applied:?}"
        );
        assert_eq!(node.last_index(), last, "a refused change appends nothing");

        settle(&mut node);
        assert_eq!(
            node.propose_conf_change(add_2.clone()),
            Ok(Proposal::Appended { index: last + 1 })
        );
        let pending = node.propose_conf_change(add_2);
        assert!(pending.is_err(), "{pending:?}");
        assert_eq!(
            node.last_index(),
            last + 1,
            "the second change appends nothing"
        );
    }

    #[test]
    fn a_leader_refuses_to_leave_a_joint_configuration_it_is_not_in() {
        let mut node = new_leader();
        settle(&mut node);
        let last = node.last_index();
        let leave = node.propose_conf_change(ConfChange::leave_joint());
        assert!(
            matches!(&leave, Err(Error::ProposalDropped { reason })
                if reason.contains("not in joint state")),
            "{leave:?}"
        );
        assert_eq!(node.last_index(), last, "a refused change appends nothing");
    }
}
