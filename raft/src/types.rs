//! The data that crosses the crate boundary: log entries, durable state, snapshots, messages,
//! configuration changes and read states. All of it is plain data (serde for persistence and
//! traces, `Hash` so a simulator can digest it).

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// A node's identity. `0` is never a valid id (it stands for "none" in some encodings).
pub type NodeId = u64;

/// What an entry carries.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub enum EntryKind {
    /// Application data; empty data is the leader's no-op entry of its term.
    #[default]
    Normal,
    /// An encoded [`ConfChange`] (see [`ConfChange::encode`]).
    ConfChange,
}

/// One log entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Entry {
    pub term: u64,
    pub index: u64,
    pub kind: EntryKind,
    /// Shared, not copied: an entry is cloned into storage, every append that carries it and
    /// every `Ready` that hands it out, and each clone only counts a reference. Hashes and
    /// serializes exactly as the bytes would in a `Vec<u8>`.
    pub data: Arc<[u8]>,
}

impl Entry {
    /// The configuration change this entry carries, if it is a conf-change entry.
    pub fn conf_change(&self) -> Option<ConfChange> {
        match self.kind {
            EntryKind::Normal => None,
            EntryKind::ConfChange => ConfChange::decode(&self.data),
        }
    }

    /// Whether this is the empty entry a new leader appends at the start of its term.
    pub fn is_noop(&self) -> bool {
        self.kind == EntryKind::Normal && self.data.is_empty()
    }
}

/// The state that must be durable before any message that depends on it is sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HardState {
    pub term: u64,
    /// The candidate voted for in `term`, if any.
    pub vote: Option<NodeId>,
    pub commit: u64,
}

/// A membership configuration as stored in snapshots. Joint while `voters_outgoing` is non-empty.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ConfState {
    pub voters: BTreeSet<NodeId>,
    pub learners: BTreeSet<NodeId>,
    /// The old voters while in a joint configuration; empty otherwise.
    pub voters_outgoing: BTreeSet<NodeId>,
    /// Voters of the outgoing configuration that become learners when the joint state is left.
    pub learners_next: BTreeSet<NodeId>,
    /// Whether the leader leaves the joint state by itself once it is applied.
    pub auto_leave: bool,
}

impl ConfState {
    /// A simple configuration of the given voters.
    pub fn with_voters(voters: impl IntoIterator<Item = NodeId>) -> ConfState {
        ConfState {
            voters: voters.into_iter().collect(),
            ..ConfState::default()
        }
    }

    pub fn is_joint(&self) -> bool {
        !self.voters_outgoing.is_empty()
    }
}

/// Where a snapshot sits in the log and the configuration at that point.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SnapshotMetadata {
    pub index: u64,
    pub term: u64,
    pub conf_state: ConfState,
}

/// The application's state at `metadata.index`, replacing the log up to there.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Snapshot {
    pub metadata: SnapshotMetadata,
    pub data: Vec<u8>,
}

/// The kinds of messages nodes exchange.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub enum MessageKind {
    /// AppendEntries: `index`/`log_term` name the entry before `entries`.
    #[default]
    Append,
    /// Reply to `Append` or `Snapshot`: `index` is the last matching index, or on reject the
    /// rejected `index` with the follower's hint in `reject_hint`/`log_term`.
    AppendResponse,
    /// RequestVote: `index`/`log_term` are the candidate's last entry.
    Vote,
    VoteResponse,
    /// A PreVote request for term `term` (the sender's term plus one); changes no state.
    PreVote,
    PreVoteResponse,
    /// The leader's heartbeat: carries `commit` and the ReadIndex round in `read_round`.
    Heartbeat,
    HeartbeatResponse,
    /// InstallSnapshot.
    Snapshot,
    /// Tells a caught-up transfer target to campaign at once.
    TimeoutNow,
    /// A follower forwarding a ReadIndex request (`context`) to the leader.
    ReadIndex,
    /// The leader's answer to a forwarded ReadIndex: `index` to wait for, `context` echoed.
    ReadIndexResponse,
    /// A proposal a follower forwards to its leader: `entries` to append (their term and index
    /// are stamped by the leader). Carries no term: it is not part of any term's protocol.
    Propose,
    /// A request, forwarded by a follower, that the leader transfer leadership to `transferee`.
    TransferLeader,
}

/// One message between nodes, etcd-raft's single message type: which fields mean something
/// depends on `kind` (see [`MessageKind`]); unused fields stay at their defaults. Its text form
/// (`Display`, in `text.rs`) is how scripts, reports and logs show it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Message {
    pub kind: MessageKind,
    /// Sender and receiver, by Raft id.
    pub from: NodeId,
    pub to: NodeId,
    /// The sender's term (for a PreVote and its response, the term the candidate would take).
    pub term: u64,
    /// Append: the term of the entry at `index`, just before `entries`. Vote, PreVote: the
    /// term of the candidate's last entry. A rejected AppendResponse: the term of the
    /// follower's entry at `reject_hint`. A refused vote: the term of the entry at `commit`.
    pub log_term: u64,
    /// Append: the index just before `entries`. AppendResponse: the last index now matching
    /// the leader's log, or on reject the rejected index. Vote, PreVote: the candidate's last
    /// index. ReadIndexResponse: the index the read must wait for.
    pub index: u64,
    /// Append: the entries to append after `index`.
    pub entries: Vec<Entry>,
    /// Append, Heartbeat: the leader's commit index (capped at what the follower is known to
    /// hold). A refused vote: an index the voter knows committed (with `log_term`).
    pub commit: u64,
    /// Snapshot: the snapshot to install. Boxed: almost no message carries one, and inline it
    /// would more than double the size of every message the simulator moves.
    pub snapshot: Option<Box<Snapshot>>,
    /// Responses: the request was refused (an append that did not match, a vote not granted).
    pub reject: bool,
    /// A rejected AppendResponse: the follower's last index at or below the rejected one, for
    /// the leader's fast backtracking.
    pub reject_hint: u64,
    /// A ReadIndex request context (ReadIndex, ReadIndexResponse). A boxed slice, not a `Vec`:
    /// the eight bytes of capacity it saves keep a message within 128 bytes, which the compiler
    /// moves inline rather than by a call to `memcpy` (hashes as the same bytes would).
    pub context: Box<[u8]>,
    /// The ReadIndex confirmation round a heartbeat carries and its response echoes.
    pub read_round: u64,
    /// Set on votes of a leader-transfer campaign: receivers skip the CheckQuorum lease.
    pub leader_transfer: bool,
    /// The node leadership should go to (TransferLeader).
    pub transferee: NodeId,
}

/// The kind of one membership change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ConfChangeKind {
    /// Add a voter, or promote a learner to voter.
    AddNode,
    /// Remove a voter or learner.
    RemoveNode,
    /// Add a learner, or demote a voter to learner.
    AddLearner,
}

/// One membership change of one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ConfChangeSingle {
    pub kind: ConfChangeKind,
    pub node_id: NodeId,
}

/// How a [`ConfChange`] moves between configurations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ConfChangeTransition {
    /// One voter change: a simple change. Several changes: joint consensus, left automatically.
    #[default]
    Auto,
    /// Joint consensus even for one change; the leader leaves it automatically once applied.
    JointImplicit,
    /// Joint consensus; the application leaves it by proposing [`ConfChange::leave_joint`].
    JointExplicit,
}

/// A membership change. Empty `changes` means "leave the joint configuration".
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ConfChange {
    pub transition: ConfChangeTransition,
    pub changes: Vec<ConfChangeSingle>,
    /// Opaque application data carried along (e.g. the new node's address).
    pub context: Vec<u8>,
}

impl ConfChange {
    /// A single change of one node (a simple change when only one voter changes).
    pub fn single(kind: ConfChangeKind, node_id: NodeId) -> ConfChange {
        ConfChange {
            changes: vec![ConfChangeSingle { kind, node_id }],
            ..ConfChange::default()
        }
    }

    /// Several changes at once with the given transition.
    pub fn joint(
        transition: ConfChangeTransition,
        changes: impl IntoIterator<Item = (ConfChangeKind, NodeId)>,
    ) -> ConfChange {
        let changes = changes
            .into_iter()
            .map(|(kind, node_id)| ConfChangeSingle { kind, node_id });
        ConfChange {
            transition,
            changes: changes.collect(),
            context: Vec::new(),
        }
    }

    /// The change that leaves a joint configuration.
    pub fn leave_joint() -> ConfChange {
        ConfChange::default()
    }

    pub fn is_leave_joint(&self) -> bool {
        self.changes.is_empty()
    }

    /// Whether applying this change enters a joint configuration (rather than a simple change).
    pub fn enters_joint(&self) -> bool {
        match self.transition {
            ConfChangeTransition::Auto => self.changes.len() > 1,
            ConfChangeTransition::JointImplicit | ConfChangeTransition::JointExplicit => {
                !self.changes.is_empty()
            }
        }
    }

    /// Whether a joint configuration entered by this change is left automatically.
    pub fn auto_leave(&self) -> bool {
        !matches!(self.transition, ConfChangeTransition::JointExplicit)
    }

    /// A compact, stable binary encoding for the entry's data. Leaving a joint configuration
    /// encodes as no data at all (as etcd's empty `ConfChangeV2`), so that the leader's
    /// automatic leave never counts against the uncommitted-size limit.
    pub fn encode(&self) -> Vec<u8> {
        if *self == ConfChange::leave_joint() {
            return Vec::new();
        }
        let mut out = Vec::with_capacity(2 + 9 * self.changes.len() + 8 + self.context.len());
        out.push(match self.transition {
            ConfChangeTransition::Auto => 0,
            ConfChangeTransition::JointImplicit => 1,
            ConfChangeTransition::JointExplicit => 2,
        });
        out.extend_from_slice(&(self.changes.len() as u32).to_le_bytes());
        for change in &self.changes {
            out.push(match change.kind {
                ConfChangeKind::AddNode => 0,
                ConfChangeKind::RemoveNode => 1,
                ConfChangeKind::AddLearner => 2,
            });
            out.extend_from_slice(&change.node_id.to_le_bytes());
        }
        out.extend_from_slice(&self.context);
        out
    }

    /// The inverse of [`ConfChange::encode`]; `None` for malformed data.
    pub fn decode(data: &[u8]) -> Option<ConfChange> {
        if data.is_empty() {
            return Some(ConfChange::leave_joint());
        }
        let (&transition, rest) = data.split_first()?;
        let transition = match transition {
            0 => ConfChangeTransition::Auto,
            1 => ConfChangeTransition::JointImplicit,
            2 => ConfChangeTransition::JointExplicit,
            _ => return None,
        };
        let count = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
        let mut rest = &rest[4..];
        let mut changes = Vec::with_capacity(count.min(rest.len() / 9));
        for _ in 0..count {
            let (&kind, tail) = rest.split_first()?;
            let kind = match kind {
                0 => ConfChangeKind::AddNode,
                1 => ConfChangeKind::RemoveNode,
                2 => ConfChangeKind::AddLearner,
                _ => return None,
            };
            let node_id = u64::from_le_bytes(tail.get(..8)?.try_into().ok()?);
            changes.push(ConfChangeSingle { kind, node_id });
            rest = &tail[8..];
        }
        Some(ConfChange {
            transition,
            changes,
            context: rest.to_vec(),
        })
    }
}

/// A linearizable read point: once the application has applied `index`, the read identified by
/// `request_ctx` may be served from its state machine.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ReadState {
    pub index: u64,
    pub request_ctx: Vec<u8>,
}

/// What the application reports about a snapshot the leader asked it to send
/// ([`crate::RawNode::report_snapshot`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SnapshotStatus {
    /// The follower received it; the leader waits for its acknowledgement, then probes.
    Finish,
    /// It could not be delivered; the leader probes again after a heartbeat interval.
    Failure,
}

/// What became of a proposal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Proposal {
    /// This node leads and appended it; `index` is its last entry's index.
    Appended { index: u64 },
    /// This follower forwarded it to `leader`, which may still drop it (no answer comes back:
    /// the application learns the outcome by seeing it applied, or not, before a timeout).
    Forwarded { leader: NodeId },
}

impl Proposal {
    /// The index of the last entry appended, when this node appended it.
    pub fn index(self) -> Option<u64> {
        match self {
            Proposal::Appended { index } => Some(index),
            Proposal::Forwarded { .. } => None,
        }
    }
}

/// A node's role.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub enum Role {
    #[default]
    Follower,
    PreCandidate,
    Candidate,
    Leader,
}

/// Volatile state worth reporting when it changes (traces, oracles).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SoftState {
    pub leader: Option<NodeId>,
    pub role: Role,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conf_change_encoding_round_trips() {
        let cases = [
            ConfChange::single(ConfChangeKind::AddNode, 4),
            ConfChange::leave_joint(),
            ConfChange {
                transition: ConfChangeTransition::JointExplicit,
                changes: vec![
                    ConfChangeSingle {
                        kind: ConfChangeKind::AddLearner,
                        node_id: 7,
                    },
                    ConfChangeSingle {
                        kind: ConfChangeKind::RemoveNode,
                        node_id: u64::MAX,
                    },
                ],
                context: b"addr".to_vec(),
            },
        ];
        for change in cases {
            assert_eq!(
                ConfChange::decode(&change.encode()),
                Some(change.clone()),
                "{change:?}"
            );
        }
    }

    #[test]
    fn conf_change_decode_rejects_garbage() {
        assert_eq!(ConfChange::decode(&[9, 0, 0, 0, 0]), None);
        assert_eq!(
            ConfChange::decode(&[0, 1, 0, 0, 0, 0]),
            None,
            "truncated change"
        );
        assert_eq!(
            ConfChange::decode(&[0, 1, 0, 0, 0, 5, 1, 0, 0, 0, 0, 0, 0, 0]),
            None
        );
    }

    #[test]
    fn message_kind_names_are_unique() {
        let names: BTreeSet<&str> = MessageKind::ALL.iter().map(|kind| kind.name()).collect();
        assert_eq!(names.len(), MessageKind::ALL.len());
    }

    #[test]
    fn leave_joint_is_empty_data() {
        assert!(ConfChange::leave_joint().encode().is_empty());
        assert_eq!(ConfChange::decode(&[]), Some(ConfChange::leave_joint()));
        // The older five-byte form still decodes.
        assert_eq!(
            ConfChange::decode(&[0, 0, 0, 0, 0]),
            Some(ConfChange::leave_joint())
        );
    }

    #[test]
    fn transitions_decide_joint_and_auto_leave() {
        let one = ConfChange::single(ConfChangeKind::AddNode, 2);
        assert!(!one.enters_joint());
        let two = ConfChange::joint(
            ConfChangeTransition::Auto,
            [(ConfChangeKind::AddNode, 2), (ConfChangeKind::AddNode, 3)],
        );
        assert!(two.enters_joint());
        assert!(two.auto_leave());
        let explicit = ConfChange::joint(
            ConfChangeTransition::JointExplicit,
            [(ConfChangeKind::AddNode, 2)],
        );
        assert!(explicit.enters_joint());
        assert!(!explicit.auto_leave());
        assert!(!ConfChange::leave_joint().enters_joint());
    }
}
