//! Integration tests of the Raft core, organised by section of the Raft paper. Each drives
//! RawNodes through the in-memory [`support::Network`]; no simulator is involved.

mod support;

mod election;
mod etcd;
mod interaction;
mod membership;
mod mutants;
mod on_append;
mod persistence;
mod random;
mod reads;
mod replication;
mod snapshot;
mod transfer;
