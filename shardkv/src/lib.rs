//! Sharded KV on multi-raft (BRIEF §14; seed 004's lab 4, seed 000's multi-raft): a shard
//! controller replicated on its own Raft group, replica groups each serving some shards of the
//! keys, several groups per server process, and shards migrating between groups with their
//! data and client sessions. Sans-IO like `kv`: everything goes through `kv::Server` and an
//! `Env`, time and randomness come in as arguments.
//!
//! Modules, bottom-up (a module uses only those above it):
//!
//! - `mutant`: the planted bugs of shard migration and their switches.
//! - `config`: numbered configurations and rebalancing, keys to shards, groups on servers.
//! - `controller`: the controller's operations, commands and replicated state machine.
//! - `group`: a replica group's state machine: shards, their statuses, migration commands.
//! - `wire`: what travels between processes, tagged with its group.
//! - `host`: the multi-raft server process: hosted groups, batched ticks and syncs, the
//!   leader's polling, pulls and deletes.
//! - `clerk`: the client that routes by key and follows configurations.

pub mod clerk;
pub mod config;
pub mod controller;
pub mod group;
pub mod host;
pub mod mutant;
pub mod wire;

pub use clerk::{Clerk, ClerkAction, PendingWrite};
pub use config::{CONTROLLER_REPLICAS, Config, GROUPS_MAX, GroupId, Layout, SHARDS_MAX, shard_of};
pub use controller::{
    Change, CtrlCommand, CtrlOp, CtrlReply, CtrlStateMachine, OPERATOR_CLIENT, OperatorChange,
    parse_change_words,
};
pub use group::{GroupCommand, GroupOptions, GroupStateMachine, Shard, ShardStatus};
pub use host::{Env, Host, HostConfig, Jitters};
pub use mutant::{Mutant, MutantSet, UnknownMutant};
pub use wire::{CtrlWire, Wire};
