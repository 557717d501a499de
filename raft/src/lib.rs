//! Raft consensus as a pure, sans-IO state machine (BRIEF §5), in the etcd-raft design.
//!
//! Everything comes in through [`RawNode::tick`], [`RawNode::step`] and the proposal calls and
//! goes out as data in a [`Ready`]; this crate never does IO, never reads a clock and never
//! creates randomness (the election jitter is drawn by the driver, see [`JitterSource`]).
//!
//! Module map:
//! - `types`: entries, hard state, snapshots, messages, configuration changes, read states.
//! - `config`: [`Config`] and [`ReadOnlyOption`].
//! - `mutant`: the planted bugs of BRIEF §9, [`Mutant`] and [`MutantSet`].
//! - `storage`: the [`Storage`] trait and [`MemStorage`].
//! - `log`: the node's log (stable storage plus unstable tail), commit and applied indices.
//! - `quorum`: majority and joint quorum arithmetic.
//! - `tracker`: per-peer progress and flow control; the configuration and its change rules.
//! - `read_only`: ReadIndex confirmation rounds.
//! - `node`: [`RawNode`]: state, construction from storage, ticks, dispatch, elections.
//! - `propose`, `replication`, `reads`, `membership`: the rest of the protocol, as
//!   `impl RawNode` blocks (proposals and forwarding; appends, flow control, heartbeats and
//!   snapshots; ReadIndex; configuration changes and leader transfer).
//! - `ready`: the [`Ready`]/`advance` output cycle.
//! - `text`: how messages read (`Display`, kind names), for scripts, reports and logs.

mod config;
mod error;
mod log;
mod mark;
mod membership;
mod mutant;
mod node;
mod propose;
mod quorum;
mod read_only;
mod reads;
mod ready;
mod replication;
mod storage;
mod text;
mod tracker;
mod types;

pub use config::{Config, ReadOnlyOption};
pub use error::{ConfigError, Error, StorageError};
pub use mark::{Mark, MarkCounts};
pub use mutant::{Mutant, MutantSet, UnknownMutant};
pub use node::{JitterSource, RawNode};
pub use quorum::{JointConfig, VoteResult};
pub use ready::Ready;
pub use storage::{MemStorage, Storage};
pub use text::UnknownMessageKind;
pub use tracker::{InflightLimits, Inflights, Progress, ProgressState};
pub use types::{
    ConfChange, ConfChangeKind, ConfChangeSingle, ConfChangeTransition, ConfState, Entry,
    EntryKind, HardState, Message, MessageKind, NodeId, Proposal, ReadState, Role, Snapshot,
    SnapshotMetadata, SnapshotStatus, SoftState,
};
