//! Deterministic discrete-event simulator (BRIEF §4). Knows nothing about Raft: it drives any
//! [`Node`] and owns everything that can vary in a run, all drawn from one seed.
//!
//! - `rng`: the seed's root generator and its named, independent sub-streams.
//! - `queue`: the event queue, ordered by (virtual time, insertion sequence).
//! - `node`: the [`Node`] trait and the [`Context`] through which a node sends, sets timers,
//!   writes and syncs its disk, and logs.
//! - `network`: per-link latency, loss and duplication; partitions; one-way cuts; the topology
//!   as a petgraph graph for quorum reachability.
//! - `disk`: buffered writes, explicit asynchronous sync, crash loss and torn writes.
//! - `clock`: per-node clocks that drift (0.5x to 2.0x) and jump.
//! - `text`: durations and times as text, and how error messages quote user input.
//! - `names`: how people read node ids (`n1..`, `c1..`), one `Display` and one parser.
//! - `fault`: faults as data, a serializable schedule of timed actions, with one text form.
//! - `trace`: the rolling trace hash and the search for the first divergent event.
//! - `log`: structured records stamped with virtual time and node.
//! - `messages`: an opt-in record of individual messages and their fates, for reports.
//! - `simulation`: [`Simulation`], the loop that processes one event at a time.
//! - `echo`: the echo workload of the throughput benchmark (BRIEF §12).

pub mod clock;
pub mod disk;
pub mod echo;
pub mod fault;
pub mod log;
pub mod messages;
pub mod names;
pub mod network;
pub mod node;
pub mod queue;
pub mod rng;
pub mod simulation;
pub mod text;
pub mod trace;
mod world;

pub use disk::{Disk, DiskWrite, FileName};
pub use fault::{AdminCommand, Fault, FaultAction, FaultParseError, FaultSchedule};
pub use log::{Log, LogRecord};
pub use messages::{DropReason, MessageEvent, MessageFate};
pub use names::{NameError, Names, NodeName};
pub use network::{LinkConfig, Network};
pub use node::{Context, Node, TimerId};
pub use rng::{RngStream, SeedRng};
pub use simulation::{SimConfig, Simulation, Step};
pub use text::shorten;
pub use trace::{Divergence, EventKind, TraceEntry, TraceHash, first_divergence};
pub use world::{DiskConfig, HeldMessage, Stats};

/// Nodes are numbered `0..node_count`; people read them as [`names`] say.
pub type NodeId = u32;

/// Most nodes one simulation runs.
pub const NODES_MAX: usize = 1024;

pub const NANOS_PER_MILLI: u64 = 1_000_000;
pub const NANOS_PER_SEC: u64 = 1_000_000_000;

/// What the user or a configuration can get wrong.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum SimError {
    #[error("invalid simulator configuration: {0}")]
    Config(String),
    #[error("invalid fault: {0}")]
    Fault(String),
}
