//! etcd-raft's `raft_flow_control_test.go`: the in-flight window of a replicating follower.

use raft::MessageKind;

use super::support::*;

/// A leader of (1, 2) with 2 replicating and its window (256 appends) full.
fn leader_with_full_window() -> Node {
    let mut node = new_test_raft(1, 5, 1, storage(&[1, 2], &[]));
    become_leader(&mut node);
    node.progress_mut(2).unwrap().become_replicate();
    let window = node.config().max_inflight_msgs;
    for i in 0..window {
        node.propose(b"somedata".to_vec()).unwrap();
        let messages = read_messages(&mut node);
        assert_eq!(messages.len(), 1, "proposal {i}");
        assert_eq!(messages[0].kind, MessageKind::Append);
    }
    node
}

fn ack(node: &Node, index: u64) -> raft::Message {
    let mut response = message(MessageKind::AppendResponse, 2, 1, node.term());
    response.index = index;
    response
}

#[test]
fn msg_app_flow_control_full() {
    // With the window full the follower is paused and proposals send nothing to it.
    let mut node = leader_with_full_window();
    assert!(node.progress(2).unwrap().is_paused());
    for i in 0..10 {
        node.propose(b"somedata".to_vec()).unwrap();
        assert!(read_messages(&mut node).is_empty(), "proposal {i}");
    }
}

#[test]
fn msg_app_flow_control_move_forward() {
    // An acknowledgement frees the window up to its index; a stale one frees nothing.
    let mut node = leader_with_full_window();
    let window = node.config().max_inflight_msgs as u64;
    // Index 1 is the empty entry, 2 the first proposal.
    for acked in 2..window {
        node.step(ack(&node, acked)).unwrap();
        read_messages(&mut node);
        node.propose(b"somedata".to_vec()).unwrap();
        let messages = read_messages(&mut node);
        assert_eq!(messages.len(), 1, "after acknowledging {acked}");
        assert_eq!(messages[0].kind, MessageKind::Append);
        assert!(node.progress(2).unwrap().is_paused());
        for stale in 0..acked {
            node.step(ack(&node, stale)).unwrap();
            assert!(
                node.progress(2).unwrap().is_paused(),
                "stale {stale} after {acked}"
            );
        }
    }
}

#[test]
fn msg_app_flow_control_recv_heartbeat() {
    // A heartbeat response unpauses a full window just enough for one empty append, which
    // lets the follower answer even if every append in flight was lost.
    let mut node = leader_with_full_window();
    for responses in 1..5 {
        for i in 0..responses {
            assert!(node.progress(2).unwrap().is_paused());
            let response = message(MessageKind::HeartbeatResponse, 2, 1, node.term());
            node.step(response).unwrap();
            let messages = read_messages(&mut node);
            assert_eq!(messages.len(), 1, "response {i}");
            assert_eq!(messages[0].kind, MessageKind::Append);
            assert!(messages[0].entries.is_empty());
        }
        // Without heartbeat responses nothing more goes out.
        for _ in 0..10 {
            assert!(node.progress(2).unwrap().is_paused());
            node.propose(b"somedata".to_vec()).unwrap();
            assert!(read_messages(&mut node).is_empty());
        }
        let response = message(MessageKind::HeartbeatResponse, 2, 1, node.term());
        node.step(response).unwrap();
        read_messages(&mut node);
    }
}
