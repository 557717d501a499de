//! Membership changes (§4 single-server changes, §6 joint consensus) and leader transfer
//! (§3.10 of the dissertation).
//!
//! A configuration takes effect when the application applies its entry and calls
//! [`RawNode::apply_conf_change`], or, with [`crate::Config::conf_change_on_append`], as soon as
//! its entry is in the log: the node then always runs the latest configuration its log holds,
//! committed or not, and falls back to an older one when a newer leader truncates the change
//! away. One change may be pending at a time, and a leader accepts none before it has committed
//! an entry of its own term.

use crate::error::Error;
use crate::mutant::Mutant;
use crate::node::RawNode;
use crate::storage::Storage;
use crate::tracker::Configuration;
use crate::types::{
    ConfChange, ConfState, Entry, EntryKind, Message, MessageKind, NodeId, Proposal, Role,
};

impl<S: Storage> RawNode<S> {
    /// Proposes a membership change. The leader appends it, or refuses it with an error (one
    /// change pending at a time, none before its term's first commit, only valid changes); a
    /// follower forwards it to its leader, which drops it if refused.
    pub fn propose_conf_change(&mut self, change: ConfChange) -> Result<Proposal, Error> {
        if self.role == Role::Leader {
            if let Some(refusal) = self.conf_change_refusal(&change) {
                return Err(refusal);
            }
            if self.leader_ticks < self.config.election_tick {
                self.mark(crate::Mark::ConfChangeNewLeader);
            }
        }
        self.propose_entries(vec![Entry {
            kind: EntryKind::ConfChange,
            data: change.encode().into(),
            ..Entry::default()
        }])
    }

    /// With `conf_change_on_append`: the leader puts a change it just appended into effect.
    pub(crate) fn adopt_proposed_conf_change(&mut self, change: &ConfChange) {
        if self.config.conf_change_on_append {
            self.adopt_conf_change(change);
        }
    }

    /// With `conf_change_on_append`: adopts the changes of entries just appended to the log.
    pub(crate) fn adopt_appended_conf_changes(&mut self, entries: &[Entry]) {
        if !self.config.conf_change_on_append {
            return;
        }
        for change in entries.iter().filter_map(Entry::conf_change) {
            self.adopt_conf_change(&change);
        }
    }

    /// With `conf_change_on_append`: whether truncating the log from `index` on removes a
    /// conf-change entry, whose configuration must then stop being in effect.
    pub(crate) fn truncation_removes_conf_change(&self, index: u64) -> bool {
        if !self.config.conf_change_on_append {
            return false;
        }
        let removed = self
            .log
            .entries(index, self.log.last_index() + 1, usize::MAX)
            .expect("an uncommitted suffix is held");
        removed
            .iter()
            .any(|entry| entry.kind == EntryKind::ConfChange)
    }

    /// With `conf_change_on_append`, after a conflicting suffix holding a conf change was
    /// replaced: the node falls back to the latest configuration its log still holds, committed
    /// or not (§4.1 of the dissertation).
    pub(crate) fn adopt_log_configuration(&mut self) {
        // Only a follower truncates; a leader would also need `leader_after_conf_change`.
        assert_ne!(
            self.role,
            Role::Leader,
            "node {} term {}: a leader never truncates its own log",
            self.id,
            self.term
        );
        let last_index = self.log.last_index();
        let configuration = self.configuration_at(last_index);
        let limits = self.config.inflight_limits();
        self.tracker
            .set_config(configuration, last_index + 1, limits);
    }

    /// The configuration as of `index`: that of the snapshot the log starts after, changed by
    /// every conf-change entry up to `index` in log order. An invalid change is skipped, as every
    /// node skipped it when appending or applying it.
    pub(crate) fn configuration_at(&self, index: u64) -> Configuration {
        let snapshot_index = self.log.first_index() - 1;
        let last_index = self.log.last_index();
        assert!(
            index >= snapshot_index,
            "node {}: configuration as of {index} asked, before the snapshot at {snapshot_index}",
            self.id
        );
        assert!(
            index <= last_index,
            "node {}: configuration as of {index} asked, beyond the last index {last_index}",
            self.id
        );
        let entries = self
            .log
            .entries(snapshot_index + 1, index + 1, usize::MAX)
            .expect("the entries after the snapshot are held");
        let allow_multi = self.config.mutants.contains(Mutant::DirectMultiChange);
        let mut configuration = Configuration::from_conf_state(&self.log.snapshot_conf_state());
        for change in entries.iter().filter_map(Entry::conf_change) {
            if let Ok(next) = configuration.apply_change(&change, allow_multi) {
                configuration = next;
            }
        }
        configuration
    }

    /// Puts `change` into effect now. An invalid change is ignored, as every node ignores it.
    fn adopt_conf_change(&mut self, change: &ConfChange) {
        let allow_multi = self.config.mutants.contains(Mutant::DirectMultiChange);
        let Ok(next) = self.tracker.config.apply_change(change, allow_multi) else {
            return;
        };
        self.switch_to_configuration(next);
    }

    /// Applies a committed configuration change; the application calls this when it applies
    /// the entry. Returns the configuration now in effect (with `conf_change_on_append`, that of
    /// the whole log, which may include later entries' changes). A change that is invalid against
    /// the current configuration is an error and changes nothing (every node decides the same
    /// way).
    pub fn apply_conf_change(&mut self, change: &ConfChange) -> Result<ConfState, Error> {
        if self.config.conf_change_on_append {
            // Already in effect since the entry was appended.
            return Ok(self.conf_state());
        }
        let next = self
            .tracker
            .config
            .apply_change(
                change,
                self.config.mutants.contains(Mutant::DirectMultiChange),
            )
            .map_err(|reason| Error::InvalidConfChange { reason })?;
        self.switch_to_configuration(next);
        Ok(self.conf_state())
    }

    /// Runs `configuration` from now on. New members are probed at the last index (etcd: an
    /// append of the last entry finds out at once whether they hold the log).
    fn switch_to_configuration(&mut self, configuration: Configuration) {
        let old = &self.tracker.config;
        if old
            .learners
            .iter()
            .any(|&id| configuration.voters.contains(id) && !old.voters.contains(id))
        {
            self.mark(crate::Mark::LearnerPromoted);
        }
        let next_index = self.log.last_index().max(1);
        let limits = self.config.inflight_limits();
        self.tracker.set_config(configuration, next_index, limits);
        match self.role {
            Role::Leader => self.leader_after_conf_change(),
            // A candidate that applied its own removal (its peers' votes may still come, and
            // would count under the new configuration) gives up: a node outside the voters
            // that won would lead without counting itself, drop every proposal and keep the
            // others following it with its heartbeats (campaign seed 775, with
            // read-index-before-noop, found it).
            Role::Candidate | Role::PreCandidate if !self.promotable() => {
                self.become_follower(self.term, None);
            }
            _ => {}
        }
    }

    fn leader_after_conf_change(&mut self) {
        let member = self.tracker.progress.contains_key(&self.id);
        let removed = !member || !self.tracker.is_voter(self.id);
        if removed && !self.config.conf_change_on_append {
            // Removed or demoted by an applied change. etcd's leader keeps leading (without
            // counting itself, dropping proposals) unless asked to step down.
            if self.config.step_down_on_removal {
                self.become_follower(self.term, None);
            }
            return;
        }
        // On append, the change that removed or demoted this leader is not even replicated yet:
        // stepping down now would strand it in this log alone. As in §4.2.2 of the dissertation
        // the leader goes on replicating without counting itself, and steps down once the change
        // commits (`tick_leader`).
        if self.maybe_commit() {
            // A smaller quorum may commit more.
            self.broadcast_append();
        } else {
            // New members need not wait for the next proposal or heartbeat to be probed.
            let id = self.id;
            let peers: Vec<NodeId> = self.tracker.progress.keys().copied().collect();
            for peer in peers.into_iter().filter(|&peer| peer != id) {
                self.maybe_send_append(peer, false);
            }
        }
        if self
            .lead_transferee
            .is_some_and(|to| !self.tracker.is_voter(to))
        {
            self.lead_transferee = None;
        }
    }

    /// Leaves an automatic joint configuration once its entry is applied (called after
    /// `advance`). Dropped while a leader transfer is in progress, and tried again on the next
    /// `advance` (etcd).
    pub(crate) fn maybe_auto_leave(&mut self) {
        let config = &self.tracker.config;
        let ready = self.role == Role::Leader
            && config.voters.is_joint()
            && config.auto_leave
            && self.pending_conf_index <= self.log.applied;
        if ready {
            let leave = Entry {
                kind: EntryKind::ConfChange,
                data: ConfChange::leave_joint().encode().into(),
                ..Entry::default()
            };
            let _ = self.leader_propose(vec![leave]);
        }
    }

    /// Transfers leadership to `to` (etcd-raft's rules): the leader catches it up, then tells it
    /// to campaign at once; proposals are refused meanwhile and the transfer is abandoned after
    /// an election timeout. A second request for the same node changes nothing (it does not
    /// extend the timeout); one for another node replaces it; one for the leader itself cancels
    /// it. A follower forwards the request to its leader.
    pub fn transfer_leader(&mut self, to: NodeId) -> Result<(), Error> {
        if self.role != Role::Leader {
            let Some(leader) = self.leader.filter(|_| self.role == Role::Follower) else {
                return Err(Error::NotLeader { leader: None });
            };
            self.send(Message {
                kind: MessageKind::TransferLeader,
                to: leader,
                transferee: to,
                ..Message::default()
            });
            return Ok(());
        }
        if to != self.id && !self.tracker.is_voter(to) {
            return Err(Error::InvalidTransfer {
                to,
                reason: "not a voter".into(),
            });
        }
        if self.lead_transferee == Some(to) {
            return Ok(());
        }
        self.lead_transferee = None;
        if to == self.id {
            return Ok(());
        }
        // The transfer must finish within an election timeout.
        self.election_elapsed = 0;
        self.lead_transferee = Some(to);
        let caught_up = self
            .tracker
            .progress
            .get(&to)
            .is_some_and(|p| p.match_index == self.log.last_index());
        if caught_up {
            self.send_timeout_now(to);
        } else {
            self.send_append(to);
        }
        Ok(())
    }
}
