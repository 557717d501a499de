//! The Raft step the simulator pays for on most events, one message at a time, with the
//! `Ready` cycle a driver runs after it (persist in memory, advance, recycle the buffers):
//! a follower appending one entry from its leader, and a leader counting a follower's
//! acknowledgement of a new entry (proposal, append to its peers and commit). Five voters,
//! as in the standard run.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use raft::{ConfState, Config, MemStorage, Message, MessageKind, NodeId, RawNode, Role};

const VOTERS: [NodeId; 5] = [1, 2, 3, 4, 5];
const ENTRY_BYTES: usize = 32;
/// Entries kept before a compaction, so memory stays flat across iterations.
const COMPACT_EVERY: u64 = 4096;

fn node(id: NodeId) -> RawNode<MemStorage> {
    let storage = MemStorage::new_with_conf_state(ConfState::with_voters(VOTERS));
    // No PreVote: the leader is elected by votes stepped in by hand.
    let config = Config {
        pre_vote: false,
        ..Config::new(id)
    };
    RawNode::new(config, storage, Box::new(|| 0)).expect("a valid configuration")
}

/// Persists and acknowledges what the node handed out; returns the messages it sent.
fn cycle(node: &mut RawNode<MemStorage>, sent: &mut Vec<Message>) {
    while node.has_ready() {
        let mut ready = node.ready();
        sent.append(&mut ready.messages);
        node.storage_mut().persist_ready(&ready);
        sent.append(&mut ready.persisted_messages);
        black_box(&ready.committed_entries);
        node.advance();
        node.recycle(ready);
    }
    if node.applied_index() >= node.first_index() + COMPACT_EVERY {
        node.compact(Vec::new()).expect("applied entries compact");
    }
}

/// Node 1, elected by votes stepped in by hand, with its no-op entry committed.
fn leader() -> RawNode<MemStorage> {
    let mut leader = node(1);
    let mut sent = Vec::new();
    leader.campaign();
    cycle(&mut leader, &mut sent);
    for voter in [2, 3] {
        leader
            .step(Message {
                kind: MessageKind::VoteResponse,
                from: voter,
                to: 1,
                term: leader.term(),
                ..Message::default()
            })
            .expect("a vote for the candidate");
    }
    cycle(&mut leader, &mut sent);
    assert_eq!(leader.role(), Role::Leader);
    let noop = leader.last_index();
    acknowledge(&mut leader, noop, &mut sent);
    assert_eq!(leader.commit_index(), noop);
    leader
}

/// Followers 2 and 3 acknowledge everything up to `index`: a quorum with the leader.
fn acknowledge(leader: &mut RawNode<MemStorage>, index: u64, sent: &mut Vec<Message>) {
    for follower in [2, 3] {
        leader
            .step(Message {
                kind: MessageKind::AppendResponse,
                from: follower,
                to: 1,
                term: leader.term(),
                index,
                ..Message::default()
            })
            .expect("an append response to the leader");
        cycle(leader, sent);
    }
}

fn leader_commits(c: &mut Criterion) {
    let mut group = c.benchmark_group("raft_step");
    group.throughput(Throughput::Elements(1));
    let mut leader = leader();
    let mut sent = Vec::new();
    group.bench_function("leader_propose_append_and_commit_on_acks", |b| {
        b.iter(|| {
            let index = leader
                .propose(vec![7; ENTRY_BYTES])
                .expect("the leader accepts")
                .index()
                .expect("the leader appends");
            cycle(&mut leader, &mut sent);
            acknowledge(&mut leader, index, &mut sent);
            debug_assert_eq!(leader.commit_index(), index);
            sent.clear();
        });
    });
    group.finish();
}

fn follower_appends(c: &mut Criterion) {
    let mut group = c.benchmark_group("raft_step");
    group.throughput(Throughput::Elements(1));
    let mut follower = node(2);
    let mut sent = Vec::new();
    let term = 1;
    // The leader's payload, shared as a delivered append shares it (a reference count).
    let payload: std::sync::Arc<[u8]> = vec![7; ENTRY_BYTES].into();
    group.bench_function("follower_append_one_entry", |b| {
        b.iter(|| {
            let index = follower.last_index();
            let message = Message {
                kind: MessageKind::Append,
                from: 1,
                to: 2,
                term,
                log_term: if index == 0 { 0 } else { term },
                index,
                commit: index,
                entries: vec![raft::Entry {
                    term,
                    index: index + 1,
                    data: payload.clone(),
                    ..raft::Entry::default()
                }],
                ..Message::default()
            };
            follower.step(message).expect("an append from the leader");
            cycle(&mut follower, &mut sent);
            debug_assert_eq!(follower.last_index(), index + 1);
            sent.clear();
        });
    });
    group.finish();
}

criterion_group!(benches, leader_commits, follower_appends);
criterion_main!(benches);
