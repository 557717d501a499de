//! The sharded KV's pieces without a simulator: a replica group's state machine through a
//! migration (and what each planted bug does to it), the clerk's routing, and a multi-raft host
//! batching its groups' syncs.

mod clerk;
mod group;
mod host;
