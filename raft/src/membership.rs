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
use crate::types::{ConfChange, ConfState, Entry, EntryKind, NodeId, Role};

impl<S: Storage> RawNode<S> {
    /// Proposes a membership change; returns the index of its entry.
    pub fn propose_conf_change(&mut self, change: ConfChange) -> Result<u64, Error> {
        self.check_can_propose()?;
        let mutants = self.config.mutants;
        if !self.committed_entry_in_current_term()
            && !mutants.contains(Mutant::ConfChangeBeforeNoop)
        {
            // A change appended before the term's first commit can be overwritten by a leader
            // that never saw it, after committing under a different configuration (the
            // single-server change bug, BRIEF §8 S5).
            return Err(Error::ProposalDropped {
                reason: format!(
                    "leader of term {} has not committed an entry of its term yet",
                    self.term
                ),
            });
        }
        if self.pending_conf_index > self.log.applied {
            return Err(Error::ProposalDropped {
                reason: format!(
                    "configuration change at index {} not applied yet (applied {})",
                    self.pending_conf_index, self.log.applied
                ),
            });
        }
        self.tracker
            .config
            .apply_change(&change, mutants.contains(Mutant::DirectMultiChange))
            .map_err(|reason| Error::InvalidConfChange { reason })?;
        let index = self.append_conf_change_entry(&change);
        self.broadcast_append();
        Ok(index)
    }

    fn append_conf_change_entry(&mut self, change: &ConfChange) -> u64 {
        let entry = Entry {
            kind: EntryKind::ConfChange,
            data: change.encode(),
            ..Entry::default()
        };
        let index = self.append_entries(vec![entry]);
        self.pending_conf_index = index;
        if self.config.conf_change_on_append {
            self.adopt_conf_change(change);
        }
        index
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
        self.tracker
            .set_config(configuration, last_index + 1, self.config.max_inflight_msgs);
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
        let next_index = self.log.last_index() + 1;
        self.tracker
            .set_config(next, next_index, self.config.max_inflight_msgs);
        if self.role == Role::Leader {
            self.leader_after_conf_change();
        }
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
        let next_index = self.log.last_index() + 1;
        self.tracker
            .set_config(next, next_index, self.config.max_inflight_msgs);
        if self.role == Role::Leader {
            self.leader_after_conf_change();
        }
        Ok(self.conf_state())
    }

    fn leader_after_conf_change(&mut self) {
        if !self.tracker.is_voter(self.id) && !self.config.conf_change_on_append {
            // Removed or demoted by an applied change: a leader that is not a voter cannot stay
            // leader.
            self.become_follower(self.term, None);
            return;
        }
        // On append, the change that removed or demoted this leader is not even replicated yet:
        // stepping down now would strand it in this log alone. As in §4.2.2 of the dissertation
        // the leader goes on replicating without counting itself, and steps down once the change
        // commits (`tick_leader`).
        if self
            .lead_transferee
            .is_some_and(|to| !self.tracker.is_voter(to))
        {
            self.lead_transferee = None;
        }
        // A smaller quorum may commit more; new members need appends.
        self.maybe_commit();
        self.broadcast_append();
    }

    /// Leaves an automatic joint configuration once its entry is applied (called after
    /// `advance`).
    pub(crate) fn maybe_auto_leave(&mut self) {
        let config = &self.tracker.config;
        let ready = self.role == Role::Leader
            && config.voters.is_joint()
            && config.auto_leave
            && self.pending_conf_index <= self.log.applied;
        if ready {
            self.append_conf_change_entry(&ConfChange::leave_joint());
            self.broadcast_append();
        }
    }

    /// Starts transferring leadership to `to`: the leader catches it up, then tells it to
    /// campaign at once. Proposals are refused meanwhile; the transfer is abandoned after an
    /// election timeout.
    pub fn transfer_leader(&mut self, to: NodeId) -> Result<(), Error> {
        if self.role != Role::Leader {
            return Err(Error::NotLeader {
                leader: self.leader,
            });
        }
        if to == self.id {
            return Err(Error::InvalidTransfer {
                to,
                reason: "already the leader".into(),
            });
        }
        if !self.tracker.is_voter(to) {
            return Err(Error::InvalidTransfer {
                to,
                reason: "not a voter".into(),
            });
        }
        if self.lead_transferee == Some(to) {
            return Ok(());
        }
        self.lead_transferee = Some(to);
        self.election_elapsed = 0;
        let caught_up = self
            .tracker
            .progress
            .get(&to)
            .is_some_and(|p| p.match_index == self.log.last_index());
        if caught_up {
            self.send_timeout_now(to);
        } else {
            // Probe afresh: appends already in flight to the target may have been lost.
            if let Some(progress) = self.tracker.progress.get_mut(&to)
                && progress.state == crate::tracker::ProgressState::Replicate
            {
                progress.become_probe();
            }
            self.send_append(to);
        }
        Ok(())
    }
}
