//! The replicated key/value service (BRIEF §6): the 6.824 lab-3 KV on our Raft.
//!
//! Everything here is sans-IO: time comes in as `now_ns` arguments (virtual time), randomness
//! as a caller's `&mut impl Rng`, and effects go out as data.
//!
//! - [`op`]: `Op` (get, put, append, cas) and `OpResult`, with the semantics in `Op::apply_to`.
//! - [`command`]: `Command`, the replicated (client id, seq, op), and its binary encoding.
//! - [`state_machine`]: `KvStateMachine`, applying commands with at-most-once client sessions,
//!   snapshots, a digest, and the `no-dedup` mutant switch.
//! - [`protocol`]: `ClientRequest`/`ClientReply` on the wire, and `ReadMode`.
//! - [`clerk`]: `Clerk`, the client state machine that retries and records its history.
//! - [`history`]: `HistoryRecord` and `History`, with virtual invoke and return times.
//! - [`workload`]: `Workload`, drawing operations and think times from a `WorkloadConfig`.
//! - [`codec`]: the length-prefixed little-endian encoding and its `DecodeError`, for this
//!   crate's commands and snapshots and those of services built on [`Server`].

pub mod clerk;
pub mod codec;
pub mod command;
pub mod history;
pub mod op;
pub mod persist;
pub mod protocol;
pub mod server;
pub mod state_machine;
pub mod workload;

pub use clerk::{Clerk, ClerkAction, ClerkClock, ClerkConfig, ClerkConfigError, TimerToken};
pub use codec::DecodeError;
pub use command::Command;
pub use history::{History, HistoryRecord};
pub use op::{Op, OpResult};
pub use protocol::{ClientReply, ClientRequest, ParseReadModeError, ReadMode, ReplyOutcome};
pub use server::{
    AckedWrite, Answer, AppendedEntry, AppliedEntry, Env, Server, ServerConfig, StateMachine, Wire,
};
pub use state_machine::{
    AppliedIndex, ApplyOutcome, KvStateMachine, Session, Sessions, StateMachineConfig, Store,
};
pub use workload::{OpMix, Workload, WorkloadConfig, WorkloadError};
