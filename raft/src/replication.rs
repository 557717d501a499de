//! Log replication (§5.3): proposals, appends with the log-matching check and conflict hints,
//! flow control, the commit rule of Figure 8, heartbeats and InstallSnapshot (§7).

use crate::config::ReadOnlyOption;
use crate::log::payload_size;
use crate::mutant::Mutant;
use crate::node::RawNode;
use crate::storage::Storage;
use crate::tracker::{Configuration, ProgressState};
use crate::types::{Message, MessageKind, NodeId, Role, Snapshot, SnapshotStatus};

/// Appends a gap resend may send at once (see `RawNode::resend_gap`). One resends too little
/// when a window arrives out of order: on the KV swarm's seeds 0..199 it completed 7.8% fewer
/// client operations than etcd's probing (52,246 against 56,651), 8 completed 1.0% fewer and 16
/// 0.7% fewer; a resend of 8 stays bounded (seed 6273: 28,793 events, against 1.16 M probing
/// again).
const RESEND_APPENDS: usize = 8;

impl<S: Storage> RawNode<S> {
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
        let quorum_index = if self.config.mutants.contains(Mutant::CommitHalfQuorum) {
            self.half_quorum_index()
        } else {
            self.tracker.committed_index()
        };
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

    /// The `commit-half-quorum` mutant: the highest index held by half of each voter set
    /// (`len / 2` voters, the off-by-one), not by a majority.
    fn half_quorum_index(&self) -> u64 {
        let voters = &self.tracker.config.voters;
        [&voters.incoming, &voters.outgoing]
            .into_iter()
            .filter(|half| !half.is_empty())
            .map(|half| {
                let mut matched: Vec<u64> = half
                    .iter()
                    .map(|id| self.tracker.progress.get(id).map_or(0, |p| p.match_index))
                    .collect();
                matched.sort_unstable_by(|a, b| b.cmp(a));
                matched[(matched.len() / 2).max(1) - 1]
            })
            .min()
            .unwrap_or(u64::MAX)
    }

    /// Whether the leader has committed an entry of its own term (its no-op, at least).
    pub fn committed_entry_in_current_term(&self) -> bool {
        self.log
            .term(self.log.committed)
            .is_ok_and(|term| term == self.term)
    }

    /// Sends every member an append: new entries where it has room for them, else the commit
    /// index alone (etcd's `bcastAppend`).
    pub(crate) fn broadcast_append(&mut self) {
        // Sending changes no membership, so the walk by position sees every member once.
        for position in 0..self.tracker.progress.len() {
            let id = self.tracker.progress.id_at(position);
            if id != self.id {
                self.send_append(id);
            }
        }
    }

    /// Sends `to` one append, with entries if it has room for them, else empty (carrying the
    /// commit index), unless its flow is paused.
    pub(crate) fn send_append(&mut self, to: NodeId) {
        self.maybe_send_append(to, true);
    }

    /// Sends one append (or a snapshot) to `to` unless paused; an empty one only when
    /// `send_if_empty`. Returns whether it sent.
    pub(crate) fn maybe_send_append(&mut self, to: NodeId, send_if_empty: bool) -> bool {
        let Some(progress) = self.tracker.progress.get(&to) else {
            return false;
        };
        if progress.is_paused() {
            return false;
        }
        let next_index = progress.next_index;
        let prev_index = next_index - 1;
        let Ok(prev_term) = self.log.term(prev_index) else {
            // The log is compacted past what the follower needs.
            return self.maybe_send_snapshot(to);
        };
        // A full window sends only empty appends: if every append in flight was lost, an empty
        // one still reaches the follower, whose answer (accept or reject) frees the window.
        let window_full = progress.state == ProgressState::Replicate && progress.inflights.full();
        let entries = if window_full {
            Ok(Vec::new())
        } else {
            self.log.entries_within(
                next_index,
                self.log.last_index() + 1,
                self.config.max_entries_per_msg,
                self.config.max_size_per_msg,
            )
        };
        let Ok(entries) = entries else {
            return self.maybe_send_snapshot(to);
        };
        if entries.is_empty() && !send_if_empty {
            return false;
        }
        let (count, bytes) = (entries.len(), payload_size(&entries));
        let commit = self.log.committed;
        let progress = self.tracker.progress.get_mut(&to).expect("checked above");
        progress.sent_entries(count, bytes);
        progress.sent_commit_to(commit);
        self.send_entries(to, (prev_index, prev_term), entries, commit);
        true
    }

    /// One append to `to` of `entries` after `prev` (index, term), carrying `commit`.
    fn send_entries(
        &mut self,
        to: NodeId,
        prev: (u64, u64),
        entries: Vec<crate::types::Entry>,
        commit: u64,
    ) {
        self.send(Message {
            kind: MessageKind::Append,
            to,
            index: prev.0,
            log_term: prev.1,
            entries,
            commit,
            ..Message::default()
        });
    }

    /// Sends the latest snapshot to `to`, unless it has not been heard from recently (it may
    /// be down; a snapshot is expensive). Returns whether it sent.
    fn maybe_send_snapshot(&mut self, to: NodeId) -> bool {
        let progress = self.tracker.progress.get(&to).expect("member has progress");
        if !progress.recent_active {
            return false;
        }
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
            snapshot: Some(Box::new(snapshot)),
            ..Message::default()
        });
        true
    }

    pub(crate) fn broadcast_heartbeat(&mut self) {
        let unclamped = self
            .config
            .mutants
            .contains(Mutant::HeartbeatCommitBeyondMatch);
        for position in 0..self.tracker.progress.len() {
            let to = self.tracker.progress.id_at(position);
            if to == self.id {
                continue;
            }
            let progress = self.tracker.progress.get_mut(&to).expect("listed above");
            // Never tell a follower to commit beyond what it is known to hold.
            let commit = if unclamped {
                self.log.committed
            } else {
                progress.match_index.min(self.log.committed)
            };
            progress.sent_commit_to(commit);
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
        let mutants = self.config.mutants;
        let prev_matches = self.log.match_term(message.index, message.log_term)
            || (mutants.contains(Mutant::AppendWithoutPrevTermCheck)
                && message.index <= self.log.last_index());
        if !prev_matches {
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
                if conflict <= last_index {
                    self.mark(crate::Mark::TruncateConflict);
                }
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
        if conflict == 0 && mutants.contains(Mutant::TruncateWithoutConflict) {
            self.truncate_after(last_new_index, entries);
        }
        self.log.commit_to(
            message
                .commit
                .min(last_new_index)
                .min(self.log.last_index()),
        );
        Some(last_new_index)
    }

    /// The `truncate-without-conflict` mutant: drops whatever follows a matching append
    /// (re-appending its uncommitted entries cuts the log after them).
    fn truncate_after(&mut self, last_new_index: u64, entries: &[crate::types::Entry]) {
        let committed = self.log.committed;
        let uncommitted = entries.iter().position(|entry| entry.index > committed);
        let Some(position) = uncommitted else {
            return;
        };
        if last_new_index >= self.log.last_index() {
            return;
        }
        let removes_conf_change = self.truncation_removes_conf_change(last_new_index + 1);
        self.log.append(&entries[position..]);
        if removes_conf_change {
            self.adopt_log_configuration();
        }
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
        let index = if self.restore(*snapshot) {
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
        if self.log.last_index() > index {
            self.mark(crate::Mark::SnapshotOverLongerLog);
        }
        let configuration = Configuration::from_conf_state(&snapshot.metadata.conf_state);
        self.log.restore(snapshot);
        let next_index = self.log.last_index() + 1;
        self.tracker
            .set_config(configuration, next_index, self.config.inflight_limits());
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
            self.handle_append_rejection(message);
            return;
        }
        // A reply at a probing follower's match index also shows where its log matches ours
        // (etcd: it moves the follower back to replicating, e.g. after a heartbeat reply).
        let acked_index = if self.config.mutants.contains(Mutant::MatchToLastIndex) {
            // The bug: the reply is taken to cover the leader's whole log.
            self.log.last_index()
        } else {
            message.index
        };
        let probed = progress.match_index == acked_index && progress.state == ProgressState::Probe;
        if !progress.maybe_update(acked_index) && !probed {
            return;
        }
        match progress.state {
            ProgressState::Probe => progress.become_replicate(),
            // Whatever index the snapshot was installed at, if the log covers what the follower
            // needs next, replicate from there.
            ProgressState::Snapshot if progress.match_index + 1 >= self.log.first_index() => {
                progress.become_probe();
                progress.become_replicate();
            }
            ProgressState::Snapshot => {}
            ProgressState::Replicate => {
                progress.inflights.free_le(acked_index);
                self.resend_next_gap(from, acked_index);
            }
        }
        if self.maybe_commit() {
            self.broadcast_append();
        } else if self
            .tracker
            .progress
            .get(&from)
            .is_some_and(|progress| progress.can_bump_commit(self.log.committed))
        {
            // The follower may be missing the latest commit index: tell it now rather than at
            // the next heartbeat.
            self.send_append(from);
        }
        // The window may have room for several appends now (bounded by its size).
        for _ in 0..=self.config.max_inflight_msgs {
            if !self.maybe_send_append(from, false) {
                break;
            }
        }
        let caught_up = self
            .tracker
            .progress
            .get(&from)
            .is_some_and(|progress| progress.match_index == self.log.last_index());
        if self.lead_transferee == Some(from) && caught_up {
            self.send_timeout_now(from);
        }
    }

    fn handle_append_rejection(&mut self, message: &Message) {
        let from = message.from;
        if self.resend_gap(message) {
            return;
        }
        // The hint is the follower's last index at or below the probe whose term is at most
        // the probe's term; skipping our entries of higher terms probes once per term.
        let next_probe = if message.log_term > 0 {
            self.log
                .find_conflict_by_term(message.reject_hint, message.log_term)
                .0
        } else {
            message.reject_hint
        };
        let progress = self
            .tracker
            .progress
            .get_mut(&from)
            .expect("checked by caller");
        if progress.maybe_decrease_to(message.index, next_probe) {
            if progress.state == ProgressState::Replicate {
                progress.become_probe();
            }
            self.send_append(from);
        }
    }

    /// A rejection of a replicating follower whose hint shows its log matching ours up to an
    /// index the window has already sent past is a delayed or lost append, not a wrong guess of
    /// where the logs match: the gap is resent (a few appends, once until the next heartbeat
    /// reply), and the follower stays replicating with its window; acknowledgements then resend
    /// what follows, up to the rejected append. etcd probes again instead, and the successful
    /// probe restarts the window from the match index while the last one is still in flight;
    /// when the network reorders, every new window arrives out of order too and is mostly
    /// rejected, and the probe-window cycle becomes a message storm (seed 6273). Returns
    /// whether the rejection was handled so.
    fn resend_gap(&mut self, message: &Message) -> bool {
        let Some(progress) = self.tracker.progress.get(&message.from) else {
            return false;
        };
        if progress.state != ProgressState::Replicate || message.index <= progress.match_index {
            return false;
        }
        // A hint below the match index is older than the reply that set it: the logs match
        // through the match index. At or above it, they match through the hint if their terms
        // there agree (the log matching property).
        let hint = message.reject_hint;
        let hint_matches = hint < progress.match_index
            || self
                .log
                .term(hint)
                .is_ok_and(|term| term == message.log_term);
        let base = hint.max(progress.match_index);
        if !hint_matches || base >= message.index || base + 1 >= progress.next_index {
            return false;
        }
        let progress = self
            .tracker
            .progress
            .get_mut(&message.from)
            .expect("checked above");
        // The rejected append's first entry is missing too.
        progress.resend_until = progress.resend_until.max(message.index + 1);
        if progress.take_gap(base) && !self.resend_after(message.from, base) {
            // Compacted: probing finds out whether a snapshot is needed.
            return false;
        }
        true
    }

    /// After an acknowledgement that moved a replicating follower's match index to `acked`: if
    /// earlier appends past it were rejected (see `resend_gap`), the next gap is resent.
    fn resend_next_gap(&mut self, to: NodeId, acked: u64) {
        let Some(progress) = self.tracker.progress.get_mut(&to) else {
            return;
        };
        if progress.state == ProgressState::Replicate
            && acked < progress.resend_until
            && acked + 1 < progress.next_index
            && progress.take_gap(acked)
        {
            self.resend_after(to, acked);
        }
    }

    /// Resends the entries after `base` that the window already sent, in up to
    /// `RESEND_APPENDS` appends (each bounded like any other), outside the window's count.
    /// Returns false if the log is compacted at `base`.
    fn resend_after(&mut self, to: NodeId, base: u64) -> bool {
        let Some(next_index) = self.tracker.progress.get(&to).map(|p| p.next_index) else {
            return false;
        };
        let commit = self.log.committed;
        let mut prev_index = base;
        for sent in 0..RESEND_APPENDS {
            if prev_index + 1 >= next_index {
                break;
            }
            let (Ok(prev_term), Ok(entries)) = (
                self.log.term(prev_index),
                self.log.entries_within(
                    prev_index + 1,
                    next_index,
                    self.config.max_entries_per_msg,
                    self.config.max_size_per_msg,
                ),
            ) else {
                return sent > 0;
            };
            let count = entries.len() as u64;
            self.send_entries(to, (prev_index, prev_term), entries, commit);
            prev_index += count;
        }
        if let Some(progress) = self.tracker.progress.get_mut(&to) {
            progress.sent_commit_to(commit);
        }
        true
    }

    pub(crate) fn handle_heartbeat_response(&mut self, message: &Message) {
        let from = message.from;
        let last_index = self.log.last_index();
        let Some(progress) = self.tracker.progress.get_mut(&from) else {
            return;
        };
        progress.recent_active = true;
        progress.append_flow_paused = false;
        progress.resent_from = 0;
        // A follower behind (or probing) gets an append at once: if earlier appends were lost,
        // its answer shows it, a full window included (the append is then empty).
        if progress.match_index < last_index || progress.state == ProgressState::Probe {
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

    /// The application could not reach `id` (a send failed): appends in flight were probably
    /// lost, so a replicating follower is probed again (etcd's `ReportUnreachable`).
    pub fn report_unreachable(&mut self, id: NodeId) {
        if self.role != Role::Leader {
            return;
        }
        if let Some(progress) = self.tracker.progress.get_mut(&id)
            && progress.state == ProgressState::Replicate
        {
            progress.become_probe();
        }
    }

    /// The application reports how sending a snapshot to `id` went (etcd's `ReportSnapshot`).
    /// Either way the leader probes again, after the follower's acknowledgement or a heartbeat
    /// interval; after a failure, from before the snapshot.
    pub fn report_snapshot(&mut self, id: NodeId, status: SnapshotStatus) {
        if self.role != Role::Leader {
            return;
        }
        let Some(progress) = self.tracker.progress.get_mut(&id) else {
            return;
        };
        if progress.state != ProgressState::Snapshot {
            return;
        }
        if status == SnapshotStatus::Failure {
            progress.pending_snapshot = 0;
        }
        progress.become_probe();
        progress.append_flow_paused = true;
    }

    /// A follower forgets its leader, so that it may grant votes at once instead of waiting for
    /// the CheckQuorum lease to run out (etcd's `ForgetLeader`; e.g. when the application knows
    /// the leader is gone). Nothing happens on a leader or candidate, or with lease-based reads
    /// (a forgotten lease could let two leaders serve reads).
    pub fn forget_leader(&mut self) {
        if self.role == Role::Follower && self.config.read_only != ReadOnlyOption::LeaseBased {
            self.leader = None;
        }
    }
}
