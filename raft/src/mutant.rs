//! Planted bugs (BRIEF §9): runtime switches, all off by default, that turn a correct rule of the
//! protocol into a historical mistake, so that the testbed can prove it catches that bug class.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One planted bug. All but the KV ones ([`Mutant::NoDedup`], [`Mutant::ReadBeforeApplied`],
/// [`Mutant::SnapshotOffByOne`]) live in this crate; those are carried here so that one
/// `MutantSet` travels through the whole stack, and the `kv` crate acts on them. The Raft core
/// ignores them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Mutant {
    CommitPreviousTerm,
    VoteWithoutLogCheck,
    VoteCountNotSet,
    ForgetVoteOnRestart,
    AckBeforeSync,
    NoTruncateOnConflict,
    DirectMultiChange,
    ConfChangeBeforeNoop,
    ReadIndexBeforeNoop,
    ReadContextReuse,
    LeaderLocalRead,
    NoDedup,
    HeartbeatCommitBeyondMatch,
    MatchToLastIndex,
    PreVoteCountedAsVote,
    AppendWithoutPrevTermCheck,
    CommitHalfQuorum,
    ReadBeforeApplied,
    SnapshotOffByOne,
    VoteHalfQuorum,
    FollowerLocalRead,
    TruncateWithoutConflict,
}

impl Mutant {
    /// Every mutant of BRIEF §9, in its order.
    pub const ALL: [Mutant; 22] = [
        Mutant::CommitPreviousTerm,
        Mutant::VoteWithoutLogCheck,
        Mutant::VoteCountNotSet,
        Mutant::ForgetVoteOnRestart,
        Mutant::AckBeforeSync,
        Mutant::NoTruncateOnConflict,
        Mutant::DirectMultiChange,
        Mutant::ConfChangeBeforeNoop,
        Mutant::ReadIndexBeforeNoop,
        Mutant::ReadContextReuse,
        Mutant::LeaderLocalRead,
        Mutant::NoDedup,
        Mutant::HeartbeatCommitBeyondMatch,
        Mutant::MatchToLastIndex,
        Mutant::PreVoteCountedAsVote,
        Mutant::AppendWithoutPrevTermCheck,
        Mutant::CommitHalfQuorum,
        Mutant::ReadBeforeApplied,
        Mutant::SnapshotOffByOne,
        Mutant::VoteHalfQuorum,
        Mutant::FollowerLocalRead,
        Mutant::TruncateWithoutConflict,
    ];

    /// The kebab-case name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Mutant::CommitPreviousTerm => "commit-previous-term",
            Mutant::VoteWithoutLogCheck => "vote-without-log-check",
            Mutant::VoteCountNotSet => "vote-count-not-set",
            Mutant::ForgetVoteOnRestart => "forget-vote-on-restart",
            Mutant::AckBeforeSync => "ack-before-sync",
            Mutant::NoTruncateOnConflict => "no-truncate-on-conflict",
            Mutant::DirectMultiChange => "direct-multi-change",
            Mutant::ConfChangeBeforeNoop => "conf-change-before-noop",
            Mutant::ReadIndexBeforeNoop => "read-index-before-noop",
            Mutant::ReadContextReuse => "read-context-reuse",
            Mutant::LeaderLocalRead => "leader-local-read",
            Mutant::NoDedup => "no-dedup",
            Mutant::HeartbeatCommitBeyondMatch => "heartbeat-commit-beyond-match",
            Mutant::MatchToLastIndex => "match-to-last-index",
            Mutant::PreVoteCountedAsVote => "prevote-counted-as-vote",
            Mutant::AppendWithoutPrevTermCheck => "append-without-prev-term-check",
            Mutant::CommitHalfQuorum => "commit-half-quorum",
            Mutant::ReadBeforeApplied => "read-before-applied",
            Mutant::SnapshotOffByOne => "snapshot-off-by-one",
            Mutant::VoteHalfQuorum => "vote-half-quorum",
            Mutant::FollowerLocalRead => "follower-local-read",
            Mutant::TruncateWithoutConflict => "truncate-without-conflict",
        }
    }

    /// One line: what the switch does and the bug class or precedent it plants.
    pub fn description(self) -> &'static str {
        match self {
            Mutant::CommitPreviousTerm => {
                "leader commits an older-term entry by counting its replicas (Figure 8; LogCabin)"
            }
            Mutant::VoteWithoutLogCheck => {
                "votes are granted without the up-to-date log check (committed entries can be lost)"
            }
            Mutant::VoteCountNotSet => {
                "candidate counts vote replies, not distinct voters (duplicated replies elect a leader)"
            }
            Mutant::ForgetVoteOnRestart => {
                "the vote is left out of the persisted hard state, so a restarted node votes twice in one term"
            }
            Mutant::AckBeforeSync => {
                "append acks are sent and the leader counts itself before entries are synced (lost writes on crash)"
            }
            Mutant::NoTruncateOnConflict => {
                "follower keeps conflicting entries instead of truncating its log, yet acknowledges"
            }
            Mutant::DirectMultiChange => {
                "a simple change may add or remove several voters at once, without joint consensus (Figure 10)"
            }
            Mutant::ConfChangeBeforeNoop => {
                "leader accepts a configuration change before its term's first commit (single-server change bug)"
            }
            Mutant::ReadIndexBeforeNoop => {
                "leader answers ReadIndex before its first commit in its term (etcd#7331)"
            }
            Mutant::ReadContextReuse => {
                "ReadIndex rounds reuse one heartbeat context, so acks of an earlier round confirm a read (etcd#20418)"
            }
            Mutant::LeaderLocalRead => {
                "leader answers ReadIndex at once from local state without confirming its leadership"
            }
            Mutant::NoDedup => {
                "KV applies a retried write twice (client sessions ignored; acted on by the kv crate)"
            }
            Mutant::HeartbeatCommitBeyondMatch => {
                "leader's heartbeat carries its commit index unclamped by the follower's match index, so a follower commits a stale tail (etcd-raft's min(match, committed); etcd-io/raft#138)"
            }
            Mutant::MatchToLastIndex => {
                "leader takes a successful append reply as matching its whole log, not the entries that append carried (adjoint-io/raft#86 class)"
            }
            Mutant::PreVoteCountedAsVote => {
                "pre-vote grants are kept and counted in the real election that follows, so two candidates win one term (canonical/raft#196)"
            }
            Mutant::AppendWithoutPrevTermCheck => {
                "follower accepts an append when it holds the previous index, without comparing that entry's term (AppendEntries rule 2)"
            }
            Mutant::CommitHalfQuorum => {
                "leader commits an entry held by half the voters rather than a majority (quorum off by one; a sub-quorum commit as in openraft#1802)"
            }
            Mutant::ReadBeforeApplied => {
                "KV answers a ReadIndex read once the read point arrives, before applying up to it (the wait braft#315 adds; acted on by the kv crate)"
            }
            Mutant::SnapshotOffByOne => {
                "KV restoring a snapshot at index i resumes at i+2, skipping the entry after it (snapshot index off by one; acted on by the kv crate)"
            }
            Mutant::VoteHalfQuorum => {
                "candidate wins with the votes of half the voters rather than a majority (quorum off by one in the vote count)"
            }
            Mutant::FollowerLocalRead => {
                "follower answers a follower read at its own commit index at once, without asking the leader for a read index"
            }
            Mutant::TruncateWithoutConflict => {
                "follower cuts its log after every append, even when the entries matched, so a late duplicate drops acknowledged entries (ktoso/akka-raft#66)"
            }
        }
    }

    /// Whether the `kv` crate, not the Raft core, acts on this mutant.
    pub fn is_kv(self) -> bool {
        matches!(
            self,
            Mutant::NoDedup | Mutant::ReadBeforeApplied | Mutant::SnapshotOffByOne
        )
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl fmt::Display for Mutant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

// A `MutantSet` holds one bit per mutant.
const _: () = assert!(Mutant::ALL.len() <= u32::BITS as usize);

/// An unknown mutant name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown mutant `{name}` (valid: {valid})")]
pub struct UnknownMutant {
    pub name: String,
    pub valid: String,
}

impl FromStr for Mutant {
    type Err = UnknownMutant;

    fn from_str(name: &str) -> Result<Mutant, UnknownMutant> {
        Mutant::ALL
            .into_iter()
            .find(|mutant| mutant.name() == name)
            .ok_or_else(|| UnknownMutant {
                name: name.to_string(),
                valid: Mutant::ALL.map(Mutant::name).join(", "),
            })
    }
}

/// A small set of mutants (a bit each, up to 32); the empty set (the default) is the correct protocol.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MutantSet {
    bits: u32,
}

impl MutantSet {
    pub const EMPTY: MutantSet = MutantSet { bits: 0 };

    pub fn only(mutant: Mutant) -> MutantSet {
        MutantSet { bits: mutant.bit() }
    }

    pub fn insert(&mut self, mutant: Mutant) {
        self.bits |= mutant.bit();
    }

    pub fn contains(self, mutant: Mutant) -> bool {
        self.bits & mutant.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.bits == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Mutant> {
        Mutant::ALL
            .into_iter()
            .filter(move |mutant| self.contains(*mutant))
    }
}

impl FromIterator<Mutant> for MutantSet {
    fn from_iter<I: IntoIterator<Item = Mutant>>(iter: I) -> MutantSet {
        let mut set = MutantSet::EMPTY;
        for mutant in iter {
            set.insert(mutant);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        for mutant in Mutant::ALL {
            assert_eq!(mutant.name().parse::<Mutant>(), Ok(mutant));
            assert!(
                !mutant.description().is_empty(),
                "{mutant} has no description"
            );
            assert!(
                !mutant.description().contains('\n'),
                "{mutant}: description must be one line"
            );
        }
        let names: std::collections::BTreeSet<_> =
            Mutant::ALL.map(Mutant::name).into_iter().collect();
        assert_eq!(names.len(), Mutant::ALL.len());
    }

    #[test]
    fn unknown_name_lists_valid_names() {
        let error = "commit-next-term".parse::<Mutant>().unwrap_err();
        let message = error.to_string();
        assert!(message.contains("commit-next-term"), "{message}");
        assert!(message.contains("commit-previous-term"), "{message}");
        assert!(message.contains("no-dedup"), "{message}");
    }

    #[test]
    fn set_membership() {
        let set: MutantSet = [Mutant::NoDedup, Mutant::AckBeforeSync]
            .into_iter()
            .collect();
        assert!(set.contains(Mutant::NoDedup));
        assert!(set.contains(Mutant::AckBeforeSync));
        assert!(!set.contains(Mutant::CommitPreviousTerm));
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            vec![Mutant::AckBeforeSync, Mutant::NoDedup]
        );
        assert!(MutantSet::default().is_empty());
    }
}
