//! etcd-raft's `raft_test.go`, snapshots: restoring one (with learners, joint
//! configurations), ignoring a stale one, and when the leader sends one.

use raft::{MessageKind, NodeId, Role, Snapshot};

use super::support::*;

/// The leader's snapshot message to `to`, at `term`.
fn snapshot_message(snapshot: &Snapshot, from: NodeId, to: NodeId, term: u64) -> raft::Message {
    let mut m = message(MessageKind::Snapshot, from, to, term);
    m.snapshot = Some(Box::new(snapshot.clone()));
    m
}

/// Steps a snapshot into `node` and returns whether it was restored (the node's next Ready
/// would carry it): its answer is the snapshot's index then, its commit index otherwise, and
/// its log ends at the snapshot.
fn step_snapshot(node: &mut Node, snapshot: &Snapshot) -> bool {
    let (index, term) = (snapshot.metadata.index, snapshot.metadata.term);
    let before = (node.first_index(), node.last_index());
    node.step(snapshot_message(
        snapshot,
        2,
        node.id(),
        term.max(node.term()),
    ))
    .unwrap();
    let restored = (node.first_index(), node.last_index()) != before
        && node.first_index() == index + 1
        && node.last_index() == index;
    let answer = node.take_messages();
    assert!(
        answer.is_empty(),
        "answers wait for the snapshot to be durable"
    );
    restored
}

#[test]
fn restore() {
    // Restoring a snapshot replaces log and configuration; the same snapshot again is
    // ignored; and the node does not campaign before the snapshot is applied.
    let snapshot = snapshot(11, 11, &[1, 2, 3], &[]);
    let mut node = new_test_raft(1, 10, 1, storage(&[1, 2], &[]));
    assert!(step_snapshot(&mut node, &snapshot));
    assert_eq!(node.last_index(), 11);
    assert_eq!(node.term_at(11), Some(11));
    let voters: Vec<NodeId> = node.conf_state().voters.into_iter().collect();
    assert_eq!(voters, vec![1, 2, 3]);
    assert!(!step_snapshot(&mut node, &snapshot));
    for _ in 0..node.randomized_election_timeout() {
        node.tick();
    }
    assert_eq!(
        node.role(),
        Role::Follower,
        "a pending snapshot blocks campaigning"
    );
    let ready = node.ready();
    assert_eq!(ready.snapshot.as_ref().map(|s| s.metadata.index), Some(11));
}

#[test]
fn restore_with_learner() {
    // A snapshot's learners are restored as learners.
    let snapshot = snapshot(11, 11, &[1, 2], &[3]);
    let mut node = new_test_raft(3, 8, 2, storage(&[1, 2], &[3]));
    assert!(step_snapshot(&mut node, &snapshot));
    assert_eq!(node.last_index(), 11);
    assert_eq!(node.term_at(11), Some(11));
    let conf_state = node.conf_state();
    assert_eq!(conf_state.voters.len(), 2);
    assert_eq!(conf_state.learners.len(), 1);
    assert!(conf_state.learners.contains(&3));
    assert!(node.is_learner());
    assert!(!step_snapshot(&mut node, &snapshot));
}

#[test]
fn restore_with_voters_outgoing() {
    // An outgoing voter of a joint configuration restores it, and does not campaign before the
    // snapshot is applied.
    let mut snapshot = snapshot(11, 11, &[2, 3, 4], &[]);
    snapshot.metadata.conf_state.voters_outgoing = [1, 2, 3].into_iter().collect();
    let mut node = new_test_raft(1, 10, 1, storage(&[1, 2], &[]));
    assert!(step_snapshot(&mut node, &snapshot));
    assert_eq!(node.last_index(), 11);
    assert_eq!(node.term_at(11), Some(11));
    let conf_state = node.conf_state();
    let voters: Vec<NodeId> = conf_state
        .voters
        .union(&conf_state.voters_outgoing)
        .copied()
        .collect();
    assert_eq!(voters, vec![1, 2, 3, 4]);
    assert!(!step_snapshot(&mut node, &snapshot));
    for _ in 0..node.randomized_election_timeout() {
        node.tick();
    }
    assert_eq!(node.role(), Role::Follower);
}

#[test]
fn restore_voter_to_learner() {
    // A voter accepts a snapshot that makes it a learner (several changes compressed into one
    // snapshot); refusing would cut it off from the log for good.
    let snapshot = snapshot(11, 11, &[1, 2], &[3]);
    let mut node = new_test_raft(3, 10, 1, storage(&[1, 2, 3], &[]));
    assert!(!node.is_learner());
    assert!(step_snapshot(&mut node, &snapshot));
    assert!(node.is_learner());
}

#[test]
fn restore_learner_promotion() {
    // A learner becomes a voter by restoring a snapshot that promotes it.
    let snapshot = snapshot(11, 11, &[1, 2, 3], &[]);
    let mut node = new_test_raft(3, 10, 1, storage(&[1, 2], &[3]));
    assert!(node.is_learner());
    assert!(step_snapshot(&mut node, &snapshot));
    assert!(!node.is_learner());
}

#[test]
fn learner_receive_snapshot() {
    // A learner catches up by a snapshot from the leader.
    let snapshot = snapshot(11, 11, &[1], &[2]);
    let n1 = new_test_raft(1, 10, 1, storage_from_snapshot(snapshot));
    let n2 = new_test_raft(2, 10, 1, storage(&[1], &[2]));
    let mut net = Net::new(vec![peer(n1), peer(n2)]);
    net.node(1).set_randomized_election_timeout(10);
    net.act(1, |n1| (0..10).for_each(|_| n1.tick()));
    net.beat(1);
    assert_eq!(net.get(1).role(), Role::Leader);
    assert_eq!(net.get(2).commit_index(), net.get(1).commit_index());
}

#[test]
fn restore_ignore_snapshot() {
    // A snapshot the log already covers is ignored; one whose last entry the log holds only
    // moves the commit index.
    let commit = 1;
    let log = entries(1, &[1, 1, 1]);
    let storage = storage_with_log(&[1, 2], &log, hard_state(1, None, commit));
    let mut node = new_test_raft(1, 10, 1, storage);
    assert!(!step_snapshot(
        &mut node,
        &snapshot(commit, 1, &[1, 2], &[])
    ));
    assert_eq!(node.commit_index(), commit);
    assert!(!step_snapshot(
        &mut node,
        &snapshot(commit + 1, 1, &[1, 2], &[])
    ));
    assert_eq!(node.commit_index(), commit + 1);
    assert_eq!(node.last_index(), 3, "the log is kept");
}

/// A leader of (1, 2) whose log starts after a snapshot at 11.
fn leader_after_snapshot() -> Node {
    let storage = storage_from_snapshot(snapshot(11, 11, &[1, 2], &[]));
    let mut node = new_test_raft(1, 10, 1, storage);
    become_leader(&mut node);
    node
}

#[test]
fn provide_snap() {
    // A follower that needs entries the leader compacted away gets the snapshot.
    let mut node = leader_after_snapshot();
    let first = node.first_index();
    node.progress_mut(2).unwrap().next_index = first;
    let mut rejection = message(MessageKind::AppendResponse, 2, 1, node.term());
    (rejection.index, rejection.reject) = (first - 1, true);
    node.step(rejection).unwrap();
    let messages = read_messages(&mut node);
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].kind, MessageKind::Snapshot);
}

#[test]
fn ignore_providing_snap() {
    // The leader sends no snapshot to a follower it has not heard from recently.
    let mut node = leader_after_snapshot();
    let first = node.first_index();
    let progress = node.progress_mut(2).unwrap();
    progress.next_index = first - 1;
    progress.recent_active = false;
    node.propose(b"somedata".to_vec()).unwrap();
    assert!(read_messages(&mut node).is_empty());
}

#[test]
fn restore_from_snap_msg() {
    // A snapshot from the leader makes the receiver follow it.
    let snapshot = snapshot(11, 11, &[1, 2], &[]);
    let mut node = new_test_raft(2, 10, 1, storage(&[1, 2], &[]));
    node.step(snapshot_message(&snapshot, 1, 2, 2)).unwrap();
    assert_eq!(node.leader(), Some(1));
}

#[test]
fn slow_node_restore() {
    // A node that fell behind a compaction catches up by snapshot and then commits with the
    // rest.
    let mut net = Net::of_size(3);
    net.campaign(1);
    net.isolate(3);
    for _ in 0..=100 {
        net.propose(1, b"");
    }
    next_ents(net.node(1));
    net.node(1).compact(Vec::new()).unwrap();
    net.recover();
    // Heartbeats until the leader has heard from 3 again.
    for _ in 0..100 {
        net.beat(1);
        if net.get(1).progress(3).unwrap().recent_active {
            break;
        }
    }
    assert!(net.get(1).progress(3).unwrap().recent_active);
    // A proposal triggers the snapshot, the next its commit.
    net.propose(1, b"");
    net.propose(1, b"");
    assert_eq!(net.get(3).commit_index(), net.get(1).commit_index());
}
