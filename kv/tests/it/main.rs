//! Integration tests of the kv crate: operation semantics, sessions and snapshots, encodings,
//! the clerk's retry protocol and the workload generator, through the public API only.

mod clerk;
mod encoding;
mod semantics;
mod server;
mod sessions;
mod workload;
