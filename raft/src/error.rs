//! What callers can get wrong: errors, not panics (STYLE.md "Errors vs bugs").

use crate::types::NodeId;

/// An error reported to the caller of a [`crate::RawNode`] method.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The request needs the leader; `leader` is the node's best guess, if any.
    #[error("node is not the leader (leader: {leader:?})")]
    NotLeader { leader: Option<NodeId> },
    /// The proposal was refused; nothing was appended.
    #[error("proposal dropped: {reason}")]
    ProposalDropped { reason: String },
    /// A configuration change that cannot be applied to the current configuration.
    #[error("invalid configuration change: {reason}")]
    InvalidConfChange { reason: String },
    /// The leader cannot transfer leadership to that node.
    #[error("cannot transfer leadership to node {to}: {reason}")]
    InvalidTransfer { to: NodeId, reason: String },
    /// A message addressed to another node.
    #[error("message for node {to} stepped into node {id}")]
    WrongRecipient { to: NodeId, id: NodeId },
    /// The configuration is impossible.
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// An impossible [`crate::Config`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("node id must not be 0")]
    ZeroId,
    #[error("heartbeat_tick must be at least 1")]
    ZeroHeartbeatTick,
    #[error(
        "election_tick ({election_tick}) must be greater than heartbeat_tick ({heartbeat_tick})"
    )]
    ElectionNotAboveHeartbeat {
        election_tick: u64,
        heartbeat_tick: u64,
    },
    #[error("max_inflight_msgs must be at least 1")]
    ZeroInflight,
    #[error("max_entries_per_msg must be at least 1")]
    ZeroEntriesPerMessage,
    #[error("read_only LeaseBased requires check_quorum")]
    LeaseWithoutCheckQuorum,
    #[error("max_inflight_bytes must be at least 1")]
    ZeroInflightBytes,
    #[error(
        "conf_change_before_term_commit is unsafe with conf_change_on_append (the single-server change bug)"
    )]
    ConfChangeBeforeTermCommitOnAppend,
}

/// A storage lookup that cannot be answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    #[error("index {index} is compacted (first index {first_index})")]
    Compacted { index: u64, first_index: u64 },
    #[error("index {index} is beyond the last index {last_index}")]
    Unavailable { index: u64, last_index: u64 },
    #[error("snapshot at index {index} is older than the storage's snapshot at {current}")]
    SnapshotOutOfDate { index: u64, current: u64 },
}
