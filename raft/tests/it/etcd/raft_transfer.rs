//! etcd-raft's `raft_test.go`, leader transfer (dissertation §3.10): catching the target up,
//! TimeoutNow, timeouts, and a second request while one is pending.

use raft::{ConfChange, ConfChangeKind, ConfChangeTransition, Error, MessageKind, NodeId, Role};

use super::support::*;

/// etcd's `checkLeaderTransferState`: the node's role and leader, and no transfer pending.
fn check_leader_transfer_state(node: &Node, role: Role, leader: NodeId) {
    assert_eq!(node.role(), role, "node {}", node.id());
    assert_eq!(node.leader(), Some(leader), "node {}", node.id());
    assert_eq!(node.lead_transferee(), None, "node {}", node.id());
}

/// Asks node `at` to transfer leadership to `to` (etcd's `MsgTransferLeader` from `to` to
/// `at`: a follower forwards it to its leader).
fn transfer(net: &mut Net, at: NodeId, to: NodeId) {
    let _ = net.act(at, |node| node.transfer_leader(to));
}

fn elected_cluster() -> Net {
    let mut net = Net::of_size(3);
    net.campaign(1);
    net
}

/// 1 leads and transfers leadership to 3, which is cut off: the transfer stays pending.
fn transfer_pending_to_isolated_3() -> Net {
    let mut net = elected_cluster();
    net.isolate(3);
    transfer(&mut net, 1, 3);
    assert_eq!(net.get(1).lead_transferee(), Some(3));
    net
}

#[test]
fn leader_transfer_to_up_to_date_node() {
    // A transfer to a follower with the whole log succeeds at once; and back again.
    transfer_there_and_back(elected_cluster(), 1, 2);
}

/// 1 leads; a request at node `first` moves leadership to 2, and after a proposal a request
/// at node `back` moves it back to 1.
fn transfer_there_and_back(mut net: Net, first: NodeId, back: NodeId) {
    assert_eq!(net.get(1).leader(), Some(1));
    transfer(&mut net, first, 2);
    check_leader_transfer_state(net.get(1), Role::Follower, 2);
    net.propose(1, b"");
    transfer(&mut net, back, 1);
    check_leader_transfer_state(net.get(1), Role::Leader, 1);
}

#[test]
fn leader_transfer_to_up_to_date_node_from_follower() {
    // The same, with every request made at a follower, which forwards it to the leader.
    transfer_there_and_back(elected_cluster(), 2, 1);
}

#[test]
fn leader_transfer_with_check_quorum() {
    // A transfer succeeds even while the leader's CheckQuorum lease holds on the voters.
    let mut net = Net::with_config(|c| c.check_quorum = true, vec![None, None, None]);
    for id in 1..=3 {
        net.node(id).set_randomized_election_timeout(10 + id);
    }
    for _ in 0..10 {
        net.node(2).tick();
    }
    net.campaign(1);
    assert_eq!(net.get(1).role(), Role::Leader);
    transfer_there_and_back(net, 1, 2);
}

#[test]
fn leader_transfer_to_slow_follower() {
    // A transfer to a follower behind first catches it up.
    let mut net = elected_cluster();
    net.isolate(3);
    net.propose(1, b"");
    net.recover();
    assert_eq!(net.get(1).progress(3).unwrap().match_index, 1);
    transfer(&mut net, 1, 3);
    check_leader_transfer_state(net.get(1), Role::Follower, 3);
}

#[test]
fn leader_transfer_after_snapshot() {
    // A transfer to a follower that needs a snapshot completes once the snapshot is installed
    // and acknowledged.
    let mut net = elected_cluster();
    net.isolate(3);
    net.propose(1, b"");
    next_ents(net.node(1));
    net.node(1).compact(Vec::new()).unwrap();
    net.recover();
    assert_eq!(net.get(1).progress(3).unwrap().match_index, 1);
    // Hold 3's acknowledgement of the snapshot.
    let held = std::rc::Rc::new(std::cell::RefCell::new(None));
    let holder = held.clone();
    net.hook = Some(Box::new(move |m: &raft::Message| {
        if m.kind == MessageKind::AppendResponse && m.from == 3 && !m.reject {
            *holder.borrow_mut() = Some(m.clone());
            return false;
        }
        true
    }));
    transfer(&mut net, 1, 3);
    assert_eq!(net.get(1).role(), Role::Leader);
    let acknowledgement = held.borrow_mut().take().expect("3 installed the snapshot");
    net.hook = None;
    net.send(vec![acknowledgement]);
    check_leader_transfer_state(net.get(1), Role::Follower, 3);
}

#[test]
fn leader_transfer_to_self() {
    let mut net = elected_cluster();
    transfer(&mut net, 1, 1);
    check_leader_transfer_state(net.get(1), Role::Leader, 1);
}

#[test]
fn leader_transfer_to_non_existing_node() {
    // A transfer to a node outside the configuration is refused (etcd ignores it).
    let mut net = elected_cluster();
    assert!(matches!(
        net.act(1, |node| node.transfer_leader(4)),
        Err(Error::InvalidTransfer { to: 4, .. })
    ));
    check_leader_transfer_state(net.get(1), Role::Leader, 1);
}

#[test]
fn leader_transfer_timeout() {
    // A transfer that does not complete within an election timeout is abandoned.
    let mut net = transfer_pending_to_isolated_3();
    net.node(1).tick();
    assert_eq!(net.get(1).lead_transferee(), Some(3));
    for _ in 0..9 {
        net.node(1).tick();
    }
    check_leader_transfer_state(net.get(1), Role::Leader, 1);
}

#[test]
fn leader_transfer_ignore_proposal() {
    // Proposals are dropped while a transfer is pending.
    let mut net = elected_cluster();
    net.isolate(3);
    next_ents(net.node(1));
    transfer(&mut net, 1, 3);
    assert_eq!(net.get(1).lead_transferee(), Some(3));
    net.propose(1, b"");
    assert!(matches!(
        net.node(1).propose(Vec::new()),
        Err(Error::ProposalDropped { .. })
    ));
    assert_eq!(net.get(1).progress(1).unwrap().match_index, 1);
}

#[test]
fn leader_transfer_receive_higher_term_vote() {
    // Another node's election of a higher term ends a pending transfer.
    let mut net = transfer_pending_to_isolated_3();
    net.campaign(2);
    check_leader_transfer_state(net.get(1), Role::Follower, 2);
}

#[test]
fn leader_transfer_remove_node() {
    // A transfer to a node being removed is abandoned.
    let mut net = elected_cluster();
    net.ignore(MessageKind::TimeoutNow);
    transfer(&mut net, 1, 3);
    assert_eq!(net.get(1).lead_transferee(), Some(3));
    net.node(1)
        .apply_conf_change(&ConfChange::single(ConfChangeKind::RemoveNode, 3))
        .unwrap();
    check_leader_transfer_state(net.get(1), Role::Leader, 1);
}

#[test]
fn leader_transfer_demote_node() {
    // A transfer to a voter demoted to learner is abandoned once the joint configuration is
    // left.
    let mut net = elected_cluster();
    net.ignore(MessageKind::TimeoutNow);
    transfer(&mut net, 1, 3);
    assert_eq!(net.get(1).lead_transferee(), Some(3));
    let demotion = ConfChange::joint(
        ConfChangeTransition::Auto,
        [
            (ConfChangeKind::RemoveNode, 3),
            (ConfChangeKind::AddLearner, 3),
        ],
    );
    net.node(1).apply_conf_change(&demotion).unwrap();
    net.node(1)
        .apply_conf_change(&ConfChange::leave_joint())
        .unwrap();
    check_leader_transfer_state(net.get(1), Role::Leader, 1);
}

#[test]
fn leader_transfer_back() {
    // A transfer to the leader itself cancels the pending one.
    let mut net = transfer_pending_to_isolated_3();
    transfer(&mut net, 1, 1);
    check_leader_transfer_state(net.get(1), Role::Leader, 1);
}

#[test]
fn leader_transfer_second_transfer_to_another_node() {
    // A transfer to another node replaces the pending one.
    let mut net = transfer_pending_to_isolated_3();
    transfer(&mut net, 1, 2);
    check_leader_transfer_state(net.get(1), Role::Follower, 2);
}

#[test]
fn leader_transfer_second_transfer_to_same_node() {
    // A second request for the same node does not extend the first one's timeout.
    let mut net = transfer_pending_to_isolated_3();
    net.node(1).tick();
    transfer(&mut net, 1, 3);
    for _ in 0..9 {
        net.node(1).tick();
    }
    check_leader_transfer_state(net.get(1), Role::Leader, 1);
}
