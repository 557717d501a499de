//! etcd-raft's `raft_snap_test.go`: the leader's side of sending a snapshot, and what the
//! application's report (or the follower's answer) does to the follower's progress.

use raft::{MessageKind, SnapshotStatus};

use super::support::*;

/// A leader of (1, 2) whose log starts after etcd's `testingSnap` (index and term 11).
fn leader_after_testing_snap() -> Node {
    let storage = storage_from_snapshot(snapshot(11, 11, &[1, 2], &[]));
    let mut node = new_test_raft(1, 10, 1, storage);
    become_leader(&mut node);
    node
}

#[test]
fn sending_snapshot_set_pending_snapshot() {
    // Sending a snapshot records its index as pending.
    let mut node = leader_after_testing_snap();
    let first = node.first_index();
    node.progress_mut(2).unwrap().next_index = first;
    let mut rejection = message(MessageKind::AppendResponse, 2, 1, node.term());
    (rejection.index, rejection.reject) = (first - 1, true);
    node.step(rejection).unwrap();
    assert_eq!(node.progress(2).unwrap().pending_snapshot, 11);
}

#[test]
fn pending_snapshot_pause_replication() {
    // Nothing else is sent to a follower while its snapshot is pending.
    let mut node = leader_after_testing_snap();
    node.progress_mut(2).unwrap().become_snapshot(11);
    node.propose(b"somedata".to_vec()).unwrap();
    assert!(read_messages(&mut node).is_empty());
}

#[test]
fn snapshot_failure() {
    // A failed snapshot: probing starts again from before it, after a pause.
    let mut node = leader_after_testing_snap();
    let progress = node.progress_mut(2).unwrap();
    progress.next_index = 1;
    progress.become_snapshot(11);
    node.report_snapshot(2, SnapshotStatus::Failure);
    let progress = node.progress(2).unwrap();
    assert_eq!(progress.pending_snapshot, 0);
    assert_eq!(progress.next_index, 1);
    assert!(progress.append_flow_paused);
}

#[test]
fn snapshot_succeed() {
    // A delivered snapshot: probing starts after it, once the follower answers.
    let mut node = leader_after_testing_snap();
    let progress = node.progress_mut(2).unwrap();
    progress.next_index = 1;
    progress.become_snapshot(11);
    node.report_snapshot(2, SnapshotStatus::Finish);
    let progress = node.progress(2).unwrap();
    assert_eq!(progress.pending_snapshot, 0);
    assert_eq!(progress.next_index, 12);
    assert!(progress.append_flow_paused);
}

#[test]
fn snapshot_abort() {
    // An acknowledgement at or beyond the pending snapshot ends it: the follower replicates
    // from there (the leader's empty entry at 12 goes out at once).
    let mut node = leader_after_testing_snap();
    let progress = node.progress_mut(2).unwrap();
    progress.next_index = 1;
    progress.become_snapshot(11);
    let mut ack = message(MessageKind::AppendResponse, 2, 1, node.term());
    ack.index = 11;
    node.step(ack).unwrap();
    let progress = node.progress(2).unwrap();
    assert_eq!(progress.pending_snapshot, 0);
    assert_eq!(progress.next_index, 13);
    assert_eq!(progress.inflights.count(), 1);
}
