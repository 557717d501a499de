//! Coverage marks of the Raft core (TigerBeetle's marks, FoundationDB's code probes): named
//! points where a node reaches a rare state that bugs hide behind. A node counts them as it
//! runs; a test harness drains the counts ([`crate::RawNode::take_marks`]) and reports which a
//! run reached, so a quiet campaign can be told from one that never got near the danger.
//!
//! A hit is an array increment; a node nobody drains only keeps counting.

/// A rare state of one Raft node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mark {
    /// A follower truncated a conflicting suffix of its log (entries of a deposed leader).
    TruncateConflict,
    /// A server was asked for its vote in the term it restarted in: only the vote it persisted
    /// before the crash tells it whether it may grant (`forget-vote-on-restart` votes twice
    /// here).
    VoteAfterRestart,
    /// A leader answered a ReadIndex request confirmed by the first heartbeat round of its
    /// term, the round right after its election.
    ReadIndexFirstRound,
    /// A read confirmation arrived at the leader out of order: an acknowledgement of an older
    /// round than one the same follower had already acknowledged (delayed or duplicated).
    StaleReadAck,
    /// A leader accepted a configuration change within one election timeout of its election.
    ConfChangeNewLeader,
    /// A follower installed a snapshot over a log that reached past the snapshot.
    SnapshotOverLongerLog,
    /// A learner was promoted to voter.
    LearnerPromoted,
    /// A candidate still short of a quorum got a granted vote again from a voter it had
    /// already counted (a duplicated reply): counting replies instead of voters
    /// (`vote-count-not-set`) counts that voter twice here.
    VoteReplyDuplicated,
    /// A leader was asked for a ReadIndex before its term's first commit while the entry after
    /// its commit index is of an earlier term: an earlier leader may have committed it, so the
    /// commit index may be stale (`read-index-before-noop` answers with it here).
    ReadIndexBeforeCommit,
    /// A follower's ReadIndex came back above its own commit index: reading at its own commit
    /// index (`follower-local-read`) would have missed writes already committed.
    FollowerReadBehind,
    /// A candidate holding the grants of half the voters (`len / 2` rounded down, at least one:
    /// in three voters its own vote), short of a majority, heard from a leader of its own term:
    /// counting half as a quorum (`vote-half-quorum`) would have made two leaders of one term.
    VoteLostAtHalf,
}

impl Mark {
    pub const COUNT: usize = 11;

    pub const ALL: [Mark; Mark::COUNT] = [
        Mark::TruncateConflict,
        Mark::VoteAfterRestart,
        Mark::ReadIndexFirstRound,
        Mark::StaleReadAck,
        Mark::ConfChangeNewLeader,
        Mark::SnapshotOverLongerLog,
        Mark::LearnerPromoted,
        Mark::VoteReplyDuplicated,
        Mark::ReadIndexBeforeCommit,
        Mark::FollowerReadBehind,
        Mark::VoteLostAtHalf,
    ];

    /// The kebab-case name reports use.
    pub fn name(self) -> &'static str {
        match self {
            Mark::TruncateConflict => "truncate-conflict",
            Mark::VoteAfterRestart => "vote-after-restart",
            Mark::ReadIndexFirstRound => "read-index-first-round",
            Mark::StaleReadAck => "stale-read-ack",
            Mark::ConfChangeNewLeader => "conf-change-new-leader",
            Mark::SnapshotOverLongerLog => "snapshot-over-longer-log",
            Mark::LearnerPromoted => "learner-promoted",
            Mark::VoteReplyDuplicated => "vote-reply-duplicated",
            Mark::ReadIndexBeforeCommit => "read-index-before-commit",
            Mark::FollowerReadBehind => "follower-read-behind",
            Mark::VoteLostAtHalf => "vote-lost-at-half",
        }
    }

    /// Reached only where the configuration changes.
    pub fn needs_membership_changes(self) -> bool {
        matches!(self, Mark::ConfChangeNewLeader | Mark::LearnerPromoted)
    }
}

/// How often each mark was hit since the counts were last taken.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MarkCounts {
    counts: [u64; Mark::COUNT],
}

impl MarkCounts {
    pub(crate) fn hit(&mut self, mark: Mark) {
        self.counts[mark as usize] += 1;
    }

    pub fn is_empty(&self) -> bool {
        self.counts.iter().all(|&count| count == 0)
    }

    /// The marks hit at least once, with their counts.
    pub fn iter(&self) -> impl Iterator<Item = (Mark, u64)> + '_ {
        Mark::ALL
            .into_iter()
            .map(|mark| (mark, self.counts[mark as usize]))
            .filter(|&(_, count)| count > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mark_has_its_own_name_and_slot() {
        let names: std::collections::BTreeSet<_> = Mark::ALL.map(Mark::name).into_iter().collect();
        assert_eq!(names.len(), Mark::COUNT);
        for (slot, mark) in Mark::ALL.into_iter().enumerate() {
            assert_eq!(mark as usize, slot, "{mark:?}");
        }
        let mut counts = MarkCounts::default();
        assert!(counts.is_empty());
        counts.hit(Mark::StaleReadAck);
        counts.hit(Mark::StaleReadAck);
        assert_eq!(counts.iter().collect::<Vec<_>>(), [(Mark::StaleReadAck, 2)]);
    }
}
