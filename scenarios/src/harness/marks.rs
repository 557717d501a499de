//! Coverage marks (TigerBeetle's marks, FoundationDB's code probes): named points where a run
//! reaches a rare, dangerous state, counted per run and per campaign, so a quiet campaign can be
//! told from a blind one. The harness sets the marks that need the whole cluster in view; the
//! Raft engine counts its own (`raft::Mark`), and the harness gathers them before a server
//! crashes and at the end of the run (`Cluster::marks`).
//!
//! A mark costs an array increment when it is hit and nothing otherwise.

use std::collections::BTreeMap;

use crate::config::ServiceKind;

/// A mark the harness sets from what it sees of the whole cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum HarnessMark {
    /// Figure 8's danger (its state (c)): a leader holds an uncommitted entry of an earlier
    /// term that another running server lacks, and that server's log ends in a term between
    /// the entry's and the leader's, so it could still be elected and overwrite the entry.
    Figure8Danger,
    /// A server crashed with writes not yet synced: what it acknowledged may be gone.
    CrashLostWrites,
    /// Two running servers believe they lead, in different terms.
    TwoLeaders,
    /// A partition while a leader's configuration is joint.
    JointPartition,
    /// A held link let its backlog through late.
    LateDelivery,
    /// A leader leads without being a voter of its latest configuration (it appended its own
    /// removal).
    LeaderOutsideConfiguration,
    /// The KV service: a client's write reached the state machine again after it was applied
    /// (its retry, committed too) and the session answered it, where applying it again would
    /// change the data (an append; a put or swap after another write): without the sessions
    /// (`no-dedup`) it would.
    RetryAlreadyApplied,
    /// The sharded service: a group stopped serving a shard (it moved away) after applying a
    /// client's write to it that the client still waits on: its retry goes to the new owner,
    /// where only the shard's migrated sessions tell that it applied.
    MoveWithUnansweredWrite,
    /// The sharded service: an old owner answered a pull with a shard it had already sent for
    /// the same configuration (the first reply lost or late). The host counts it; the harness
    /// gathers it with the Raft marks.
    PullAnsweredAgain,
    /// The sharded service: a client write reached a group's leader for a shard the group was
    /// handing off (refused; taking it writes where the new owner never sees it).
    WriteWhileHandingOff,
    /// The sharded service: a client request reached a group's leader for a shard the group
    /// was still pulling (as the leader had applied its log; refused if the data has still not
    /// arrived when it applies, while serving it answers from a shard without its data).
    RequestWhilePulling,
}

impl HarnessMark {
    pub const ALL: [HarnessMark; 11] = [
        HarnessMark::Figure8Danger,
        HarnessMark::CrashLostWrites,
        HarnessMark::TwoLeaders,
        HarnessMark::JointPartition,
        HarnessMark::LateDelivery,
        HarnessMark::LeaderOutsideConfiguration,
        HarnessMark::RetryAlreadyApplied,
        HarnessMark::MoveWithUnansweredWrite,
        HarnessMark::PullAnsweredAgain,
        HarnessMark::WriteWhileHandingOff,
        HarnessMark::RequestWhilePulling,
    ];

    /// Whether a run of `service` can reach it: the membership marks need Raft's membership
    /// to change (the KV service only), the migration marks need shards to move (the sharded
    /// service only).
    fn reachable_in(self, service: ServiceKind) -> bool {
        match self {
            HarnessMark::JointPartition
            | HarnessMark::LeaderOutsideConfiguration
            | HarnessMark::RetryAlreadyApplied => service == ServiceKind::Kv,
            HarnessMark::MoveWithUnansweredWrite
            | HarnessMark::PullAnsweredAgain
            | HarnessMark::WriteWhileHandingOff
            | HarnessMark::RequestWhilePulling => service == ServiceKind::Sharded,
            _ => true,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            HarnessMark::Figure8Danger => "figure8-danger",
            HarnessMark::CrashLostWrites => "crash-lost-writes",
            HarnessMark::TwoLeaders => "two-leaders",
            HarnessMark::JointPartition => "joint-partition",
            HarnessMark::LateDelivery => "late-delivery",
            HarnessMark::LeaderOutsideConfiguration => "leader-outside-configuration",
            HarnessMark::RetryAlreadyApplied => "retry-already-applied",
            HarnessMark::MoveWithUnansweredWrite => "move-with-unanswered-write",
            HarnessMark::PullAnsweredAgain => "pull-answered-again",
            HarnessMark::WriteWhileHandingOff => "write-while-handing-off",
            HarnessMark::RequestWhilePulling => "request-while-pulling",
        }
    }
}

/// A run's marks: how often each was hit, by name (the harness's and the engine's alike).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Marks {
    counts: BTreeMap<&'static str, u64>,
}

impl Marks {
    pub fn hit(&mut self, mark: HarnessMark) {
        self.add(mark.name(), 1);
    }

    /// Adds `count` hits of the mark called `name`.
    pub fn add(&mut self, name: &'static str, count: u64) {
        if count > 0 {
            *self.counts.entry(name).or_insert(0) += count;
        }
    }

    /// The marks hit at least once, by name, with their counts.
    pub fn reached(&self) -> BTreeMap<String, u64> {
        self.counts
            .iter()
            .map(|(&name, &count)| (name.to_string(), count))
            .collect()
    }
}

/// Every mark a run of `service` can reach, by name: the sharded service changes no Raft
/// group's membership, so the membership marks are not its, and only it moves shards; the Raft
/// core's marks only with our engine (`ours`).
pub fn all_names(service: ServiceKind, ours: bool) -> Vec<&'static str> {
    let kv = service == ServiceKind::Kv;
    let harness = HarnessMark::ALL
        .iter()
        .filter(|mark| mark.reachable_in(service))
        .map(|mark| mark.name());
    let raft = raft::Mark::ALL
        .iter()
        .filter(|mark| ours && (kv || !mark.needs_membership_changes()))
        .map(|mark| mark.name());
    harness.chain(raft).collect()
}
