//! The leader's view of each peer (progress, flow control) and the membership configuration with
//! its change rules (single-server changes and joint consensus).

use std::collections::{BTreeSet, VecDeque};

use crate::quorum::{JointConfig, majority_index};
use crate::types::{ConfChange, ConfChangeKind, ConfChangeTransition, ConfState, NodeId};

/// How the leader replicates to one follower.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgressState {
    /// The follower's match point is unknown: one append at a time until it answers.
    Probe,
    /// Known match point: appends are sent optimistically, bounded by the in-flight window.
    Replicate,
    /// The follower needs a snapshot; nothing else is sent until it is installed.
    Snapshot,
}

/// The in-flight window's bounds: how many appends, and how many payload bytes, may be
/// unacknowledged at once while replicating optimistically.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InflightLimits {
    pub messages: usize,
    /// `u64::MAX`: no byte limit.
    pub bytes: u64,
}

/// A bounded window of appends in flight, each remembered by its last index and payload size.
#[derive(Clone, Debug)]
pub struct Inflights {
    /// (last index, payload bytes) of each append in flight, oldest first.
    appends: VecDeque<(u64, u64)>,
    bytes: u64,
    limits: InflightLimits,
}

impl Inflights {
    pub fn new(limits: InflightLimits) -> Inflights {
        Inflights {
            appends: VecDeque::with_capacity(limits.messages.min(1024)),
            bytes: 0,
            limits,
        }
    }

    pub fn add(&mut self, last_index: u64, bytes: u64) {
        assert!(
            !self.full(),
            "in-flight window overflow: {} of {} appends, {} of {} bytes",
            self.appends.len(),
            self.limits.messages,
            self.bytes,
            self.limits.bytes
        );
        if let Some(&(last, _)) = self.appends.back() {
            assert!(
                last < last_index,
                "in-flight appends out of order: {last} then {last_index}"
            );
        }
        self.appends.push_back((last_index, bytes));
        self.bytes = self.bytes.saturating_add(bytes);
    }

    /// Frees every append acknowledged by a reply up to `index`.
    pub fn free_le(&mut self, index: u64) {
        while let Some(&(last, bytes)) = self.appends.front() {
            if last > index {
                break;
            }
            self.appends.pop_front();
            self.bytes -= bytes;
        }
    }

    /// Full when the window holds its maximum of appends, or of bytes.
    pub fn full(&self) -> bool {
        self.appends.len() >= self.limits.messages || self.bytes >= self.limits.bytes
    }

    pub fn count(&self) -> usize {
        self.appends.len()
    }

    /// Payload bytes in flight.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    pub fn reset(&mut self) {
        self.appends.clear();
        self.bytes = 0;
    }
}

/// The leader's view of one peer (etcd-raft's `tracker.Progress`).
#[derive(Clone, Debug)]
pub struct Progress {
    pub match_index: u64,
    pub next_index: u64,
    pub state: ProgressState,
    /// The snapshot index sent while in `Snapshot` state (0 when none is known to be pending).
    pub pending_snapshot: u64,
    /// Heard from since the last CheckQuorum round. A peer just added to the configuration
    /// starts active, so the next round does not count it against the leader before it could
    /// answer; a leader does not send snapshots to an inactive peer.
    pub recent_active: bool,
    /// Appends are paused: in `Probe`, one is outstanding; in `Replicate`, the in-flight window
    /// is full. A heartbeat reply resumes the flow, so that a lost append is noticed at once.
    pub append_flow_paused: bool,
    pub inflights: Inflights,
    /// The highest commit index sent to the peer (in an append or heartbeat): whether it may be
    /// missing the latest commit index.
    pub sent_commit: u64,
    /// While replicating: the first index of the last gap resent to the peer (see
    /// `Progress::take_gap`), 0 when none since the last heartbeat reply or change of state.
    pub resent_from: u64,
    /// While replicating: appends up to this index were rejected for a gap before them, so
    /// acknowledgements below it resend what follows (0: none).
    pub resend_until: u64,
}

impl Progress {
    pub fn new(next_index: u64, limits: InflightLimits) -> Progress {
        Progress {
            match_index: 0,
            next_index,
            state: ProgressState::Probe,
            pending_snapshot: 0,
            recent_active: false,
            append_flow_paused: false,
            inflights: Inflights::new(limits),
            sent_commit: 0,
            resent_from: 0,
            resend_until: 0,
        }
    }

    pub fn is_paused(&self) -> bool {
        match self.state {
            ProgressState::Probe | ProgressState::Replicate => self.append_flow_paused,
            ProgressState::Snapshot => true,
        }
    }

    fn reset_state(&mut self, state: ProgressState) {
        self.append_flow_paused = false;
        self.pending_snapshot = 0;
        self.resent_from = 0;
        self.resend_until = 0;
        self.state = state;
        self.inflights.reset();
    }

    /// Back to probing from the match index (or past a snapshot known to be installed).
    pub fn become_probe(&mut self) {
        let next_index = match self.state {
            ProgressState::Snapshot => (self.match_index + 1).max(self.pending_snapshot + 1),
            _ => self.match_index + 1,
        };
        self.reset_state(ProgressState::Probe);
        self.next_index = next_index;
        self.sent_commit = self.sent_commit.min(self.next_index - 1);
    }

    pub fn become_replicate(&mut self) {
        self.reset_state(ProgressState::Replicate);
        self.next_index = self.match_index + 1;
    }

    pub fn become_snapshot(&mut self, snapshot_index: u64) {
        self.reset_state(ProgressState::Snapshot);
        self.pending_snapshot = snapshot_index;
        self.next_index = snapshot_index + 1;
        self.sent_commit = snapshot_index;
    }

    /// Records an append of `count` entries (`bytes` of payload) just sent.
    pub fn sent_entries(&mut self, count: usize, bytes: u64) {
        match self.state {
            ProgressState::Replicate => {
                if count > 0 {
                    self.next_index += count as u64;
                    self.inflights.add(self.next_index - 1, bytes);
                }
                self.append_flow_paused = self.inflights.full();
            }
            ProgressState::Probe => {
                if count > 0 {
                    self.append_flow_paused = true;
                }
            }
            ProgressState::Snapshot => {
                unreachable!("append sent while a snapshot is pending")
            }
        }
    }

    /// Whether the peer may lack commit index `commit` and an append could tell it.
    pub fn can_bump_commit(&self, commit: u64) -> bool {
        commit > self.sent_commit && self.sent_commit < self.next_index - 1
    }

    pub fn sent_commit_to(&mut self, commit: u64) {
        self.sent_commit = commit;
    }

    /// A successful append reply up to `index`. Returns whether the match index moved.
    pub fn maybe_update(&mut self, index: u64) -> bool {
        if index <= self.match_index {
            return false;
        }
        self.match_index = index;
        self.next_index = self.next_index.max(index + 1);
        self.append_flow_paused = false;
        true
    }

    /// A rejection while replicating that shows only a gap: the peer's log matches the leader's
    /// through `base` (at or past the match index) and lacks `base + 1`, which the window has
    /// already sent (it is delayed or lost). Returns whether to resend from `base + 1`: once
    /// per gap, again after a heartbeat reply (the resend may be lost too).
    pub fn take_gap(&mut self, base: u64) -> bool {
        debug_assert!(self.state == ProgressState::Replicate && base >= self.match_index);
        if self.resent_from > base {
            return false;
        }
        self.resent_from = base + 1;
        true
    }

    /// A rejected append at `rejected`, with the leader's next guess `match_hint`. Returns false
    /// for a stale rejection.
    pub fn maybe_decrease_to(&mut self, rejected: u64, match_hint: u64) -> bool {
        if self.state == ProgressState::Replicate {
            if rejected <= self.match_index {
                return false;
            }
            self.next_index = self.match_index + 1;
            self.sent_commit = self.sent_commit.min(self.next_index - 1);
            return true;
        }
        if self.next_index != rejected + 1 {
            return false;
        }
        self.next_index = rejected.min(match_hint + 1).max(self.match_index + 1);
        self.sent_commit = self.sent_commit.min(self.next_index - 1);
        self.append_flow_paused = false;
        true
    }
}

impl std::fmt::Display for Progress {
    /// etcd's progress line: `StateReplicate match=5 next=6 paused inflight=1`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.state {
            ProgressState::Probe => "probe",
            ProgressState::Replicate => "replicate",
            ProgressState::Snapshot => "snapshot",
        };
        write!(
            f,
            "{state} match={} next={}",
            self.match_index, self.next_index
        )?;
        if self.is_paused() {
            write!(f, " paused")?;
        }
        if self.pending_snapshot > 0 {
            write!(f, " pending-snapshot={}", self.pending_snapshot)?;
        }
        if !self.recent_active {
            write!(f, " inactive")?;
        }
        let count = self.inflights.count();
        if count > 0 {
            write!(f, " inflight={count}")?;
            if self.inflights.full() {
                write!(f, "[full]")?;
            }
        }
        Ok(())
    }
}

/// A membership configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Configuration {
    pub voters: JointConfig,
    pub learners: BTreeSet<NodeId>,
    /// Outgoing voters demoted to learners that become learners when the joint state is left.
    pub learners_next: BTreeSet<NodeId>,
    pub auto_leave: bool,
}

impl Configuration {
    pub fn from_conf_state(conf_state: &ConfState) -> Configuration {
        Configuration {
            voters: JointConfig {
                incoming: conf_state.voters.clone(),
                outgoing: conf_state.voters_outgoing.clone(),
            },
            learners: conf_state.learners.clone(),
            learners_next: conf_state.learners_next.clone(),
            auto_leave: conf_state.auto_leave,
        }
    }

    pub fn to_conf_state(&self) -> ConfState {
        ConfState {
            voters: self.voters.incoming.clone(),
            learners: self.learners.clone(),
            voters_outgoing: self.voters.outgoing.clone(),
            learners_next: self.learners_next.clone(),
            auto_leave: self.auto_leave,
        }
    }

    /// Every member: voters of both halves and learners.
    pub fn members(&self) -> BTreeSet<NodeId> {
        let mut ids = self.voters.ids();
        ids.extend(self.learners.iter().copied());
        ids.extend(self.learners_next.iter().copied());
        ids
    }

    /// Applies a change, checking the rules of §4 (single-server) and §6 (joint consensus).
    /// `allow_multi_voter_simple` is the `direct-multi-change` mutant.
    pub fn apply_change(
        &self,
        change: &ConfChange,
        allow_multi_voter_simple: bool,
    ) -> Result<Configuration, String> {
        if change.is_leave_joint() {
            return self.leave_joint();
        }
        if self.voters.is_joint() {
            return Err("a joint configuration must be left before another change".to_string());
        }
        // The `direct-multi-change` mutant applies an automatic multi-node change in one step.
        let joint = change.enters_joint()
            && !(allow_multi_voter_simple && change.transition == ConfChangeTransition::Auto);
        let mut next = self.clone();
        if joint {
            next.voters.outgoing = self.voters.incoming.clone();
            next.auto_leave = change.auto_leave();
        }
        for single in &change.changes {
            if single.node_id == 0 {
                return Err("node id 0 is invalid".to_string());
            }
            match single.kind {
                ConfChangeKind::AddNode => next.make_voter(single.node_id),
                ConfChangeKind::AddLearner => next.make_learner(single.node_id),
                ConfChangeKind::RemoveNode => next.remove(single.node_id),
            }
        }
        if next.voters.incoming.is_empty() {
            return Err("the change removes all voters".to_string());
        }
        if !joint && !allow_multi_voter_simple {
            let changed = self
                .voters
                .incoming
                .symmetric_difference(&next.voters.incoming)
                .count();
            if changed > 1 {
                return Err(format!(
                    "a simple change may change one voter, this one changes {changed}"
                ));
            }
        }
        next.check_invariants();
        Ok(next)
    }

    fn leave_joint(&self) -> Result<Configuration, String> {
        if !self.voters.is_joint() {
            return Err("not in a joint configuration".to_string());
        }
        let mut next = self.clone();
        let learners_next = std::mem::take(&mut next.learners_next);
        next.learners.extend(learners_next);
        next.voters.outgoing.clear();
        next.auto_leave = false;
        next.check_invariants();
        Ok(next)
    }

    fn make_voter(&mut self, id: NodeId) {
        self.learners.remove(&id);
        self.learners_next.remove(&id);
        self.voters.incoming.insert(id);
    }

    fn make_learner(&mut self, id: NodeId) {
        if self.learners.contains(&id) {
            return;
        }
        self.voters.incoming.remove(&id);
        // A voter of the outgoing half keeps voting there until the joint state is left.
        if self.voters.outgoing.contains(&id) {
            self.learners_next.insert(id);
        } else {
            self.learners.insert(id);
        }
    }

    fn remove(&mut self, id: NodeId) {
        self.voters.incoming.remove(&id);
        self.learners.remove(&id);
        self.learners_next.remove(&id);
    }

    fn check_invariants(&self) {
        for id in &self.learners {
            assert!(
                !self.voters.contains(*id),
                "node {id} is both learner and voter"
            );
        }
        for id in &self.learners_next {
            assert!(
                self.voters.outgoing.contains(id),
                "learner-next {id} is not an outgoing voter"
            );
            assert!(
                !self.voters.incoming.contains(id),
                "learner-next {id} is an incoming voter"
            );
        }
        if !self.voters.is_joint() {
            assert!(
                self.learners_next.is_empty(),
                "learners_next outside a joint configuration"
            );
            assert!(!self.auto_leave, "auto_leave outside a joint configuration");
        }
    }
}

/// Every member's progress, ordered by id: a sorted vector rather than a map, since a leader
/// looks a peer up on every response and clusters are small (a few comparisons in one cache
/// line instead of a tree walk). Iterates in id order, as a `BTreeMap` would.
#[derive(Clone, Debug, Default)]
pub struct ProgressMap {
    entries: Vec<(NodeId, Progress)>,
}

impl ProgressMap {
    /// Where `id` is (`Ok`) or would be inserted (`Err`). A scan: clusters have a handful of
    /// members, and a scan of a few ids costs less than a binary search's bookkeeping.
    fn position(&self, id: NodeId) -> Result<usize, usize> {
        let position = self
            .entries
            .iter()
            .position(|&(entry_id, _)| entry_id >= id)
            .unwrap_or(self.entries.len());
        match self.entries.get(position) {
            Some(&(entry_id, _)) if entry_id == id => Ok(position),
            _ => Err(position),
        }
    }

    pub fn get(&self, id: &NodeId) -> Option<&Progress> {
        let position = self.position(*id).ok()?;
        Some(&self.entries[position].1)
    }

    pub fn get_mut(&mut self, id: &NodeId) -> Option<&mut Progress> {
        let position = self.position(*id).ok()?;
        Some(&mut self.entries[position].1)
    }

    pub fn contains_key(&self, id: &NodeId) -> bool {
        self.position(*id).is_ok()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The id of the member at `position` in id order (to walk the members while sending to
    /// them, which needs `&mut self` of the node, without collecting their ids first).
    pub fn id_at(&self, position: usize) -> NodeId {
        self.entries[position].0
    }

    pub fn keys(&self) -> impl Iterator<Item = &NodeId> {
        self.entries.iter().map(|(id, _)| id)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&NodeId, &Progress)> {
        self.entries.iter().map(|(id, progress)| (id, progress))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&NodeId, &mut Progress)> {
        self.entries
            .iter_mut()
            .map(|(id, progress)| (&*id, progress))
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&NodeId, &mut Progress) -> bool) {
        self.entries.retain_mut(|(id, progress)| keep(id, progress));
    }

    /// Adds `id` with the progress `create` makes, unless it is a member already.
    pub fn insert_if_absent(&mut self, id: NodeId, create: impl FnOnce() -> Progress) {
        if let Err(position) = self.position(id) {
            self.entries.insert(position, (id, create()));
        }
    }
}

impl<'a> IntoIterator for &'a mut ProgressMap {
    type Item = (&'a NodeId, &'a mut Progress);
    type IntoIter = std::iter::Map<
        std::slice::IterMut<'a, (NodeId, Progress)>,
        fn(&'a mut (NodeId, Progress)) -> (&'a NodeId, &'a mut Progress),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.entries
            .iter_mut()
            .map(|(id, progress)| (&*id, progress))
    }
}

/// Progress of every member, kept in step with the configuration.
#[derive(Clone, Debug, Default)]
pub struct ProgressTracker {
    /// Set only through [`ProgressTracker::set_config`], which keeps the fields below in step.
    pub config: Configuration,
    pub progress: ProgressMap,
    /// Where the incoming and outgoing voters sit in `progress` (every voter has progress), so
    /// that the commit index a quorum supports needs no lookups.
    incoming_positions: Vec<usize>,
    outgoing_positions: Vec<usize>,
}

impl ProgressTracker {
    /// Switches to `config`: drops progress of departed members and adds new ones probing at
    /// `next_index`. A new member starts recently active: it has had no chance to answer yet,
    /// and counting it as silent could make CheckQuorum depose a leader that just added it.
    pub fn set_config(&mut self, config: Configuration, next_index: u64, limits: InflightLimits) {
        let members = config.members();
        self.progress.retain(|id, _| members.contains(id));
        for id in members {
            self.progress.insert_if_absent(id, || {
                let mut progress = Progress::new(next_index, limits);
                progress.recent_active = true;
                progress
            });
        }
        self.config = config;
        let progress = &self.progress;
        let position = |id: &NodeId| {
            progress
                .position(*id)
                .expect("set_config gives every member progress")
        };
        self.incoming_positions = self.config.voters.incoming.iter().map(position).collect();
        self.outgoing_positions = self.config.voters.outgoing.iter().map(position).collect();
    }

    /// The highest index a quorum of voters has matched: in a joint configuration, the lower
    /// of the two halves' (an empty half constrains nothing). Equal to
    /// `config.voters.committed_index` over the match indices.
    pub fn committed_index(&self) -> u64 {
        let entries = &self.progress.entries;
        let match_at = |&position: &usize| entries[position].1.match_index;
        let incoming = majority_index(self.incoming_positions.iter().map(match_at));
        let outgoing = majority_index(self.outgoing_positions.iter().map(match_at));
        incoming.min(outgoing)
    }

    pub fn is_voter(&self, id: NodeId) -> bool {
        self.config.voters.contains(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(voters: &[NodeId], learners: &[NodeId]) -> Configuration {
        Configuration::from_conf_state(&ConfState {
            voters: voters.iter().copied().collect(),
            learners: learners.iter().copied().collect(),
            ..ConfState::default()
        })
    }

    fn ids(set: &BTreeSet<NodeId>) -> Vec<NodeId> {
        set.iter().copied().collect()
    }

    #[test]
    fn committed_index_from_cached_positions_equals_the_quorum_rule() {
        // The tracker's cached voter positions give what `JointConfig::committed_index` gives
        // over the same match indices, simple and joint, after members come and go.
        let limits = InflightLimits {
            messages: 4,
            bytes: u64::MAX,
        };
        let joint = Configuration::from_conf_state(&ConfState {
            voters: [2, 3, 5].into_iter().collect(),
            voters_outgoing: [1, 2, 4].into_iter().collect(),
            learners: [6].into_iter().collect(),
            ..ConfState::default()
        });
        let mut tracker = ProgressTracker::default();
        assert_eq!(
            tracker.committed_index(),
            u64::MAX,
            "no voters constrain nothing"
        );
        for configuration in [config(&[1, 2, 3], &[4]), joint, config(&[3, 5], &[])] {
            tracker.set_config(configuration, 1, limits);
            for (&id, progress) in &mut tracker.progress {
                progress.match_index = id * 7 % 11;
            }
            let progress = &tracker.progress;
            let expected = tracker
                .config
                .voters
                .committed_index(|id| progress.get(&id).map_or(0, |p| p.match_index));
            assert_eq!(tracker.committed_index(), expected, "{:?}", tracker.config);
        }
    }

    #[test]
    fn every_change_type() {
        use ConfChangeKind::*;
        // (start voters, start learners, change, voters after, learners after)
        type Case = (
            &'static [NodeId],
            &'static [NodeId],
            ConfChangeKind,
            NodeId,
            &'static [NodeId],
            &'static [NodeId],
        );
        let cases: [Case; 7] = [
            (&[1, 2, 3], &[], AddNode, 4, &[1, 2, 3, 4], &[]),
            (&[1, 2, 3], &[], RemoveNode, 3, &[1, 2], &[]),
            (&[1, 2, 3], &[], AddLearner, 4, &[1, 2, 3], &[4]),
            (&[1, 2, 3], &[4], AddNode, 4, &[1, 2, 3, 4], &[]), // promote
            (&[1, 2, 3], &[], AddLearner, 3, &[1, 2], &[3]),    // demote
            (&[1, 2, 3], &[4], RemoveNode, 4, &[1, 2, 3], &[]), // remove learner
            (&[1, 2, 3], &[], AddNode, 3, &[1, 2, 3], &[]),     // no-op
        ];
        for (voters, learners, kind, id, voters_after, learners_after) in cases {
            let next = config(voters, learners)
                .apply_change(&ConfChange::single(kind, id), false)
                .unwrap();
            assert_eq!(ids(&next.voters.incoming), voters_after, "{kind:?} {id}");
            assert_eq!(ids(&next.learners), learners_after, "{kind:?} {id}");
            assert!(!next.voters.is_joint());
        }
    }

    #[test]
    fn multi_voter_change_is_joint_unless_mutant() {
        let change = ConfChange::joint(
            ConfChangeTransition::Auto,
            [(ConfChangeKind::AddNode, 4), (ConfChangeKind::AddNode, 5)],
        );
        let joint = config(&[1, 2, 3], &[])
            .apply_change(&change, false)
            .unwrap();
        assert!(joint.voters.is_joint());
        assert_eq!(ids(&joint.voters.outgoing), vec![1, 2, 3]);
        assert!(joint.auto_leave);
        let direct = config(&[1, 2, 3], &[]).apply_change(&change, true).unwrap();
        assert!(
            !direct.voters.is_joint(),
            "the mutant skips joint consensus"
        );
        assert_eq!(ids(&direct.voters.incoming), vec![1, 2, 3, 4, 5]);
    }

    #[test]
    fn joint_demotion_goes_through_learners_next() {
        let change = ConfChange::joint(
            ConfChangeTransition::JointExplicit,
            [
                (ConfChangeKind::AddLearner, 3),
                (ConfChangeKind::AddNode, 4),
            ],
        );
        let joint = config(&[1, 2, 3], &[])
            .apply_change(&change, false)
            .unwrap();
        assert_eq!(ids(&joint.voters.incoming), vec![1, 2, 4]);
        assert_eq!(ids(&joint.voters.outgoing), vec![1, 2, 3]);
        assert_eq!(ids(&joint.learners_next), vec![3]);
        assert!(!joint.auto_leave);
        let error = joint
            .apply_change(&ConfChange::single(ConfChangeKind::AddNode, 5), false)
            .unwrap_err();
        assert!(error.contains("joint"), "{error}");
        let left = joint
            .apply_change(&ConfChange::leave_joint(), false)
            .unwrap();
        assert_eq!(ids(&left.voters.incoming), vec![1, 2, 4]);
        assert!(left.voters.outgoing.is_empty());
        assert_eq!(ids(&left.learners), vec![3]);
        assert!(
            left.apply_change(&ConfChange::leave_joint(), false)
                .is_err()
        );
    }

    #[test]
    fn removing_every_voter_is_refused() {
        let error = config(&[1], &[])
            .apply_change(&ConfChange::single(ConfChangeKind::RemoveNode, 1), false);
        assert!(error.unwrap_err().contains("all voters"));
    }

    #[test]
    fn progress_probe_and_replicate_flow_control() {
        let limits = InflightLimits {
            messages: 2,
            bytes: u64::MAX,
        };
        let mut progress = Progress::new(5, limits);
        assert!(!progress.is_paused());
        progress.sent_entries(2, 10);
        assert!(progress.is_paused(), "probe waits for a reply");
        // A stale rejection (not for next-1) is ignored; a real one moves next to the hint.
        assert!(!progress.maybe_decrease_to(2, 1));
        assert!(progress.maybe_decrease_to(4, 1));
        assert_eq!(progress.next_index, 2);
        assert!(!progress.is_paused(), "a rejection resumes probing");
        assert!(progress.maybe_update(3));
        progress.become_replicate();
        assert_eq!(progress.next_index, 4);
        progress.sent_entries(2, 10);
        progress.sent_entries(1, 10);
        assert!(progress.is_paused(), "window of 2 is full");
        assert_eq!(progress.inflights.bytes(), 20);
        progress.inflights.free_le(5);
        assert_eq!(progress.inflights.count(), 1);
        assert_eq!(progress.next_index, 7);
        // In replicate, a rejection beyond match falls back to match + 1.
        assert!(progress.maybe_decrease_to(6, 0));
        assert_eq!(progress.next_index, 4);
        progress.become_snapshot(10);
        assert!(progress.is_paused());
        progress.become_probe();
        assert_eq!(progress.next_index, 11);
    }

    #[test]
    fn inflights_fill_by_count_or_bytes() {
        let mut inflights = Inflights::new(InflightLimits {
            messages: 3,
            bytes: 100,
        });
        inflights.add(1, 60);
        assert!(!inflights.full());
        inflights.add(2, 40);
        assert!(inflights.full(), "100 bytes reach the byte limit");
        inflights.free_le(1);
        assert!(!inflights.full());
        assert_eq!(inflights.bytes(), 40);
        inflights.add(3, 0);
        inflights.add(4, 0);
        assert!(inflights.full(), "3 appends reach the count limit");
        inflights.free_le(9);
        assert_eq!((inflights.count(), inflights.bytes()), (0, 0));
    }
}
