//! Tests ported from etcd-raft (go.etcd.io/raft/v3): each keeps the Go test's intent and its
//! name in snake case without the `Test` prefix (`TestLeaderBcastBeat` is
//! `paper::leader_bcast_beat`). `raft/CONFORMANCE.md` lists every one with its status.

mod support;

mod flow_control;
mod paper;
mod raft_election;
mod raft_membership;
mod raft_progress;
mod raft_replication;
mod raft_snapshot;
mod raft_transfer;
mod rawnode;
mod snap;
