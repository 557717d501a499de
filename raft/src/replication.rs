//! Log replication (§5.3): proposals, appends with the log-matching check and conflict hints,
//! flow control, the commit rule of Figure 8, heartbeats and InstallSnapshot (§7).

use crate::error::Error;
use crate::mutant::Mutant;
use crate::node::RawNode;
use crate::storage::Storage;
use crate::tracker::{Configuration, ProgressState};
use crate::types::{Entry, EntryKind, Message, MessageKind, NodeId, Role, Snapshot};

impl<S: Storage> RawNode<S> {
    /// Proposes application data; returns the index it was appended at. Only the leader accepts
    /// proposals, and not while it is transferring leadership.
    pub fn propose(&mut self, data: Vec<u8>) -> Result<u64, Error> {
        self.check_can_propose()?;
        let index = self.append_entries(vec![Entry {
            kind: EntryKind::Normal,
            data,
            ..Entry::default()
        }]);
        self.broadcast_append();
        Ok(index)
    }

    /// Proposes several entries in one batch; returns the index of the last.
    pub fn propose_batch(&mut self, batch: Vec<Vec<u8>>) -> Result<u64, Error> {
        self.check_can_propose()?;
        let entries = batch.into_iter().map(|data| Entry {
            kind: EntryKind::Normal,
            data,
            ..Entry::default()
        });
        let index = self.append_entries(entries.collect());
        self.broadcast_append();
        Ok(index)
    }

    pub(crate) fn check_can_propose(&self) -> Result<(), Error> {
        if self.role != Role::Leader {
            return Err(Error::NotLeader {
                leader: self.leader,
            });
        }
        if let Some(to) = self.lead_transferee {
            return Err(Error::ProposalDropped {
                reason: format!("leadership is being transferred to {to}"),
            });
        }
        Ok(())
    }

    /// Appends entries at the leader, stamping term and index. Returns the last index.
    pub(crate) fn append_entries(&mut self, mut entries: Vec<Entry>) -> u64 {
        assert_eq!(
            self.role,
            Role::Leader,
            "node {} term {}: only a leader appends",
            self.id,
            self.term
        );
        let mut index = self.log.last_index();
        for entry in &mut entries {
            index += 1;
            entry.term = self.term;
            entry.index = index;
        }
        let last_index = self.log.append(&entries);
        if self.config.mutants.contains(Mutant::AckBeforeSync) {
            // The bug: the leader counts its own copy before it is durable.
            self.update_self_match(last_index);
        }
        last_index
    }

    /// The leader's own match index: what it has persisted (or, with `ack-before-sync`,
    /// appended).
    pub(crate) fn update_self_match(&mut self, index: u64) {
        if let Some(progress) = self.tracker.progress.get_mut(&self.id) {
            progress.maybe_update(index);
        }
        if self.maybe_commit() {
            self.broadcast_append();
        }
    }

    /// Commits the highest index replicated on a quorum, if it is of the current term (Figure 8:
    /// an older-term entry is committed only indirectly). Returns whether the commit moved.
    pub(crate) fn maybe_commit(&mut self) -> bool {
        let progress = &self.tracker.progress;
        let quorum_index = self
            .tracker
            .config
            .voters
            .committed_index(|id| progress.get(&id).map_or(0, |p| p.match_index));
        if quorum_index == u64::MAX || quorum_index <= self.log.committed {
            return false;
        }
        let own_term = self
            .log
            .term(quorum_index)
            .is_ok_and(|term| term == self.term);
        if !own_term && !self.config.mutants.contains(Mutant::CommitPreviousTerm) {
            return false;
        }
        self.log.commit_to(quorum_index);
        self.on_leader_commit();
        true
    }

    /// Whether the leader has committed an entry of its own term (its no-op, at least).
    pub fn committed_entry_in_current_term(&self) -> bool {
        self.log
            .term(self.log.committed)
            .is_ok_and(|term| term == self.term)
    }

    /// Sends appends to every member with anything to send, and commit updates to all.
    pub(crate) fn broadcast_append(&mut self) {
        let members: Vec<NodeId> = self
            .tracker
            .progress
            .keys()
            .copied()
            .filter(|&id| id != self.id)
            .collect();
        for id in members {
            if self.maybe_send_append(id, true) {
                self.send_append(id);
            }
        }
    }

    /// Sends as many appends to `to` as flow control allows (at least one entry each).
    pub(crate) fn send_append(&mut self, to: NodeId) {
        // Bounded: each send either fills one in-flight slot or pauses the progress.
        for _ in 0..=self.config.max_inflight_msgs {
            if !self.maybe_send_append(to, false) {
                return;
            }
        }
    }

    /// Sends one append (or a snapshot) to `to` unless paused. Returns whether it sent.
    fn maybe_send_append(&mut self, to: NodeId, send_if_empty: bool) -> bool {
        let Some(progress) = self.tracker.progress.get(&to) else {
            return false;
        };
        if progress.is_paused() {
            return false;
        }
        let next_index = progress.next_index;
        let prev_index = next_index - 1;
        let prev_term = self.log.term(prev_index);
        let entries = self.log.entries(
            next_index,
            self.log.last_index() + 1,
            self.config.max_entries_per_msg,
        );
        let (Ok(prev_term), Ok(entries)) = (prev_term, entries) else {
            return self.send_snapshot(to);
        };
        // A probe goes out even when empty: it is how the leader finds the follower's log.
        if entries.is_empty() && !send_if_empty && progress.state != ProgressState::Probe {
            return false;
        }
        let last_index = entries.last().map(|entry| entry.index);
        let commit = self.log.committed;
        self.tracker
            .progress
            .get_mut(&to)
            .expect("checked above")
            .sent_entries(last_index);
        self.send(Message {
            kind: MessageKind::Append,
            to,
            index: prev_index,
            log_term: prev_term,
            entries,
            commit,
            ..Message::default()
        });
        true
    }

    fn send_snapshot(&mut self, to: NodeId) -> bool {
        let snapshot = self.log.snapshot();
        let index = snapshot.metadata.index;
        assert!(
            index > 0,
            "node {} term {}: follower {to} needs a snapshot but there is none",
            self.id,
            self.term
        );
        self.tracker
            .progress
            .get_mut(&to)
            .expect("member has progress")
            .become_snapshot(index);
        self.send(Message {
            kind: MessageKind::Snapshot,
            to,
            snapshot: Some(snapshot),
            ..Message::default()
        });
        true
    }

    pub(crate) fn broadcast_heartbeat(&mut self) {
        let members: Vec<(NodeId, u64)> = self
            .tracker
            .progress
            .iter()
            .filter(|(id, _)| **id != self.id)
            .map(|(&id, progress)| (id, progress.match_index))
            .collect();
        for (to, match_index) in members {
            // Never tell a follower to commit beyond what it is known to hold.
            let commit = match_index.min(self.log.committed);
            let read_round = self.read_round;
            self.send(Message {
                kind: MessageKind::Heartbeat,
                to,
                commit,
                read_round,
                ..Message::default()
            });
        }
    }

    // ----- follower side -----

    pub(crate) fn handle_append(&mut self, message: Message) {
        let committed = self.log.committed;
        if message.index < committed {
            self.send(Message {
                kind: MessageKind::AppendResponse,
                to: message.from,
                index: committed,
                ..Message::default()
            });
            return;
        }
        let from = message.from;
        match self.maybe_append(&message) {
            Some(last_new_index) => {
                self.send(Message {
                    kind: MessageKind::AppendResponse,
                    to: from,
                    index: last_new_index,
                    ..Message::default()
                });
            }
            None => {
                // The hint lets the leader skip a whole term per probe: the largest index at or
                // before the probe whose term is at most the probe's term.
                let hint_index = message.index.min(self.log.last_index());
                let (hint_index, hint_term) =
                    self.log.find_conflict_by_term(hint_index, message.log_term);
                self.send(Message {
                    kind: MessageKind::AppendResponse,
                    to: from,
                    index: message.index,
                    reject: true,
                    reject_hint: hint_index,
                    log_term: hint_term,
                    ..Message::default()
                });
            }
        }
    }

    /// The log-matching check and append of §5.3. Returns the last index the message covers.
    fn maybe_append(&mut self, message: &Message) -> Option<u64> {
        if !self.log.match_term(message.index, message.log_term) {
            return None;
        }
        let entries = &message.entries;
        let last_new_index = message.index + entries.len() as u64;
        let conflict = self.log.find_conflict(entries);
        if conflict != 0 {
            let last_index = self.log.last_index();
            if conflict <= last_index && self.config.mutants.contains(Mutant::NoTruncateOnConflict)
            {
                // The bug: keep our conflicting entries, take only what lies beyond our log.
                if let Some(position) = entries.iter().position(|entry| entry.index > last_index) {
                    self.log.append(&entries[position..]);
                    self.adopt_appended_conf_changes(&entries[position..]);
                }
            } else {
                assert!(
                    conflict > self.log.committed,
                    "node {} term {}: entry {conflict} from leader {} conflicts with commit index {}",
                    self.id,
                    self.term,
                    message.from,
                    self.log.committed
                );
                let offset = (conflict - message.index - 1) as usize;
                let removes_conf_change = self.truncation_removes_conf_change(conflict);
                self.log.append(&entries[offset..]);
                if removes_conf_change {
                    self.adopt_log_configuration();
                } else {
                    self.adopt_appended_conf_changes(&entries[offset..]);
                }
            }
        }
        self.log.commit_to(
            message
                .commit
                .min(last_new_index)
                .min(self.log.last_index()),
        );
        Some(last_new_index)
    }

    pub(crate) fn handle_heartbeat(&mut self, message: &Message) {
        self.log
            .commit_to(message.commit.min(self.log.last_index()));
        self.send(Message {
            kind: MessageKind::HeartbeatResponse,
            to: message.from,
            read_round: message.read_round,
            ..Message::default()
        });
    }

    pub(crate) fn handle_snapshot(&mut self, mut message: Message) {
        let Some(snapshot) = message.snapshot.take() else {
            return;
        };
        let index = if self.restore(snapshot) {
            self.log.last_index()
        } else {
            self.log.committed
        };
        self.send(Message {
            kind: MessageKind::AppendResponse,
            to: message.from,
            index,
            ..Message::default()
        });
    }

    /// Installs a snapshot from the leader unless the log already covers it. Returns whether it
    /// was installed (then the next `Ready` carries it).
    fn restore(&mut self, snapshot: Snapshot) -> bool {
        let (index, term) = (snapshot.metadata.index, snapshot.metadata.term);
        if index <= self.log.committed {
            return false;
        }
        if self.ready_state.is_outstanding() {
            // The application may still be applying entries (conf changes among them) of the
            // outstanding Ready; a snapshot now would apply their effects twice. The leader
            // sends it again later.
            return false;
        }
        if self.log.match_term(index, term) {
            // Our log already has the entry: just learn that it is committed.
            self.log.commit_to(index);
            return false;
        }
        let configuration = Configuration::from_conf_state(&snapshot.metadata.conf_state);
        self.log.restore(snapshot);
        let next_index = self.log.last_index() + 1;
        self.tracker
            .set_config(configuration, next_index, self.config.max_inflight_msgs);
        true
    }

    // ----- leader side -----

    pub(crate) fn handle_append_response(&mut self, message: &Message) {
        let from = message.from;
        let Some(progress) = self.tracker.progress.get_mut(&from) else {
            return;
        };
        progress.recent_active = true;
        if message.reject {
            let next_probe = if message.log_term > 0 {
                self.log
                    .find_conflict_by_term(message.reject_hint, message.log_term)
                    .0
            } else {
                message.reject_hint
            };
            let progress = self.tracker.progress.get_mut(&from).expect("checked above");
            if progress.maybe_decrease_to(message.index, next_probe) {
                if progress.state == ProgressState::Replicate {
                    progress.become_probe();
                }
                self.send_append(from);
            }
            return;
        }
        let was_paused = progress.is_paused();
        if !progress.maybe_update(message.index) {
            return;
        }
        match progress.state {
            ProgressState::Probe => progress.become_replicate(),
            ProgressState::Snapshot if progress.match_index >= progress.pending_snapshot => {
                progress.become_probe()
            }
            ProgressState::Snapshot => {}
            ProgressState::Replicate => progress.inflights.free_le(message.index),
        }
        let match_index = progress.match_index;
        if self.maybe_commit() {
            self.broadcast_append();
        } else if was_paused {
            // A paused follower missed the broadcasts of the commit index meanwhile.
            if self.maybe_send_append(from, true) {
                self.send_append(from);
            }
        } else {
            self.send_append(from);
        }
        if self.lead_transferee == Some(from) && match_index == self.log.last_index() {
            self.send_timeout_now(from);
        }
    }

    pub(crate) fn handle_heartbeat_response(&mut self, message: &Message) {
        let from = message.from;
        let last_index = self.log.last_index();
        let Some(progress) = self.tracker.progress.get_mut(&from) else {
            return;
        };
        progress.recent_active = true;
        progress.probe_sent = false;
        if progress.state == ProgressState::Snapshot
            && progress.match_index < progress.pending_snapshot
        {
            // The snapshot may have been lost: probe again (which resends it if still needed).
            progress.pending_snapshot = 0;
            progress.become_probe();
        }
        let stalled = progress.match_index == progress.match_at_last_heartbeat;
        if progress.state == ProgressState::Replicate
            && progress.match_index < last_index
            && stalled
        {
            // Nothing acknowledged for a heartbeat interval: an append was probably lost.
            progress.become_probe();
        }
        progress.match_at_last_heartbeat = progress.match_index;
        if progress.match_index < last_index {
            self.send_append(from);
        }
        self.receive_read_ack(from, message.read_round);
    }

    pub(crate) fn send_timeout_now(&mut self, to: NodeId) {
        self.send(Message {
            kind: MessageKind::TimeoutNow,
            to,
            ..Message::default()
        });
    }
}
