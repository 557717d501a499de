//! What the explorer knows of each planted bug: the coverage marks of the state the bug needs
//! before it can do harm (Figure 8's danger for committing an earlier term's entry, a vote asked
//! of a restarted server for forgetting the vote, a shard moved away after applying a write its
//! client still waits on for migrating without the sessions). A run that reached one is the
//! explorer's evidence that its configuration leads towards the bug; the marks are named, not
//! fitted: they stand for what a user names when directing the explorer at changed code.

use raft::Mark;

use crate::config::Mutant;
use crate::harness::marks::HarnessMark;

/// The marks of the states `mutant` needs; none for a bug any busy run reaches.
pub fn danger_marks(mutant: Mutant) -> Vec<&'static str> {
    use raft::Mutant as M;
    let mutant = match mutant {
        Mutant::Raft(mutant) => mutant,
        Mutant::Shard(mutant) => return shard_danger_marks(mutant),
    };
    let (harness, raft): (&[HarnessMark], &[Mark]) = match mutant {
        M::CommitPreviousTerm => (&[HarnessMark::Figure8Danger], &[]),
        // A leader elected without the latest entries overwrites them.
        M::VoteWithoutLogCheck | M::AppendWithoutPrevTermCheck => {
            (&[HarnessMark::Figure8Danger], &[Mark::TruncateConflict])
        }
        // A duplicated vote reply counted twice.
        M::VoteCountNotSet => (&[], &[Mark::VoteReplyDuplicated]),
        // Pre-votes taken as votes: a second leader.
        M::PreVoteCountedAsVote => (&[HarnessMark::TwoLeaders, HarnessMark::JointPartition], &[]),
        M::ForgetVoteOnRestart => (&[], &[Mark::VoteAfterRestart]),
        M::AckBeforeSync => (&[HarnessMark::CrashLostWrites], &[]),
        M::NoTruncateOnConflict | M::TruncateWithoutConflict => {
            (&[HarnessMark::LateDelivery], &[Mark::TruncateConflict])
        }
        // Several servers changed at once never enter a joint configuration.
        M::DirectMultiChange => (
            &[HarnessMark::LeaderOutsideConfiguration],
            &[Mark::ConfChangeNewLeader],
        ),
        M::ConfChangeBeforeNoop => (&[], &[Mark::ConfChangeNewLeader]),
        M::ReadIndexBeforeNoop => (&[], &[Mark::ReadIndexBeforeCommit]),
        // A deposed leader, or a follower behind, still answering reads. (The stale
        // acknowledgement a reused read context lets through is the one `stale-read-ack` counts,
        // so under that bug the mark is never hit.)
        M::ReadContextReuse | M::LeaderLocalRead => (&[HarnessMark::TwoLeaders], &[]),
        // A follower behind the leader's commit index asked to read.
        M::FollowerLocalRead => (&[], &[Mark::FollowerReadBehind]),
        M::ReadBeforeApplied => (&[], &[Mark::ReadIndexFirstRound]),
        M::SnapshotOffByOne => (&[], &[Mark::SnapshotOverLongerLog]),
        M::HeartbeatCommitBeyondMatch => (&[], &[Mark::TruncateConflict]),
        // An entry held by half the voters, or counted as held, later replaced.
        M::CommitHalfQuorum => (&[], &[Mark::TruncateConflict]),
        // A retried write applied again.
        M::NoDedup => (&[HarnessMark::RetryAlreadyApplied], &[]),
        // A candidate holding half the votes while another won its term.
        M::VoteHalfQuorum => (&[], &[Mark::VoteLostAtHalf]),
        // Any append acknowledged while the follower's log is behind the leader's reaches it.
        M::MatchToLastIndex => (&[], &[]),
    };
    harness
        .iter()
        .map(|mark| mark.name())
        .chain(raft.iter().map(|mark| mark.name()))
        .collect()
}

/// The marks of the migration states a sharded-service bug needs.
fn shard_danger_marks(mutant: shardkv::Mutant) -> Vec<&'static str> {
    use shardkv::Mutant as M;
    let marks: &[HarnessMark] = match mutant {
        // A write retried at the new owner after the old one applied it.
        M::MigrateWithoutDedup => &[HarnessMark::MoveWithUnansweredWrite],
        // A pull asked again after its reply was lost.
        M::DeleteBeforeConfirm => &[HarnessMark::PullAnsweredAgain],
        // A write for a shard its group is handing off.
        M::WriteAfterHandoff => &[HarnessMark::WriteWhileHandingOff],
        // A request for a shard its group is still pulling.
        M::ServeBeforeInstall => &[HarnessMark::RequestWhilePulling],
        // A group that moves on mid-migration serves the shards it was still pulling from an
        // empty store: harm needs requests for them while they are pulled. Nearly every run
        // reaches the mark, so it steers little (issue 16: 1.28 runs against swarm's 1.35 over
        // 500 windows).
        M::ConfigBeforeMigration => &[HarnessMark::RequestWhilePulling],
    };
    marks.iter().map(|mark| mark.name()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::marks::all_names;

    #[test]
    fn every_danger_mark_is_one_its_service_can_reach() {
        for mutant in Mutant::all() {
            let reachable = all_names(mutant.service(), true);
            for mark in danger_marks(mutant) {
                assert!(reachable.contains(&mark), "{mutant}: {mark}");
            }
        }
    }
}
