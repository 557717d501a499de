//! etcd-raft's `raft_test.go`, membership: proposing and applying configuration changes,
//! learners, and not campaigning with a committed change unapplied.

use raft::{
    ConfChange, ConfChangeKind, ConfChangeTransition, Config, Entry, EntryKind, Error, MessageKind,
    NodeId, Role,
};

use super::support::*;

fn change(kind: ConfChangeKind, id: NodeId) -> ConfChange {
    ConfChange::single(kind, id)
}

fn conf_change_entry(change: &ConfChange) -> Entry {
    Entry {
        kind: EntryKind::ConfChange,
        data: change.encode().into(),
        ..Entry::default()
    }
}

/// etcd's rule for accepting a configuration change: once the changes before this leader's
/// election are applied, before its first commit (`Config::conf_change_before_term_commit`).
fn etcd_conf_change_rule(config: &mut Config) {
    config.conf_change_before_term_commit = true;
}

fn voters(node: &Node) -> Vec<NodeId> {
    node.conf_state().voters.into_iter().collect()
}

fn learners(node: &Node) -> Vec<NodeId> {
    node.conf_state().learners.into_iter().collect()
}

#[test]
fn step_config() {
    // A leader appends a proposed configuration change and records it as pending.
    // (Needs etcd's rule: by default we refuse a change before the term's first commit.)
    let mut config = test_config(1, 10, 1);
    etcd_conf_change_rule(&mut config);
    let mut node = new_node(config, storage(&[1, 2], &[]));
    become_leader(&mut node);
    let index = node.last_index();
    node.propose_conf_change(change(ConfChangeKind::AddNode, 3))
        .unwrap();
    assert_eq!(node.last_index(), index + 1);
    assert_eq!(node.pending_conf_index(), index + 1);
}

#[test]
fn step_ignore_config() {
    // While a change is pending, another is refused and the pending index stays. A change a
    // follower forwarded has nobody to refuse it to: it becomes an empty entry, as in etcd.
    let mut config = test_config(1, 10, 1);
    etcd_conf_change_rule(&mut config);
    let mut node = new_node(config, storage(&[1, 2], &[]));
    become_leader(&mut node);
    node.propose_conf_change(change(ConfChangeKind::AddNode, 3))
        .unwrap();
    let (index, pending) = (node.last_index(), node.pending_conf_index());
    assert!(matches!(
        node.propose_conf_change(change(ConfChangeKind::AddNode, 4)),
        Err(Error::ProposalDropped { .. })
    ));
    assert_eq!(
        node.last_index(),
        index,
        "a refused local proposal appends nothing"
    );
    let mut forwarded = message(MessageKind::Propose, 2, 1, 0);
    forwarded.entries = vec![conf_change_entry(&change(ConfChangeKind::AddNode, 4))];
    node.step(forwarded).unwrap();
    let appended = node.entries(index + 1, node.last_index() + 1).unwrap();
    let expected = Entry {
        kind: EntryKind::Normal,
        term: 1,
        index: 3,
        data: Default::default(),
    };
    assert_eq!(appended, vec![expected]);
    assert_eq!(node.pending_conf_index(), pending);
}

#[test]
fn new_leader_pending_config() {
    // A new leader takes any entry it has not applied for a possible pending change.
    for (log, pending) in [(vec![], 0), (entries(1, &[0]), 1)] {
        let storage = storage_with_log(&[1, 2], &log, hard_state(0, None, 0));
        let mut node = new_test_raft(1, 10, 1, storage);
        become_leader(&mut node);
        assert_eq!(node.pending_conf_index(), pending, "log {log:?}");
    }
}

#[test]
fn add_node() {
    let mut node = new_test_raft(1, 10, 1, storage(&[1], &[]));
    node.apply_conf_change(&change(ConfChangeKind::AddNode, 2))
        .unwrap();
    assert_eq!(voters(&node), vec![1, 2]);
}

#[test]
fn add_learner() {
    // Learners are added, promoted, and a voter (this node too) demoted and promoted again.
    let mut node = new_test_raft(1, 10, 1, storage(&[1], &[]));
    node.apply_conf_change(&change(ConfChangeKind::AddLearner, 2))
        .unwrap();
    assert!(!node.is_learner());
    assert_eq!(learners(&node), vec![2]);
    node.apply_conf_change(&change(ConfChangeKind::AddNode, 2))
        .unwrap();
    assert!(learners(&node).is_empty());
    node.apply_conf_change(&change(ConfChangeKind::AddLearner, 1))
        .unwrap();
    assert_eq!(learners(&node), vec![1]);
    assert!(node.is_learner());
    node.apply_conf_change(&change(ConfChangeKind::AddNode, 1))
        .unwrap();
    assert!(learners(&node).is_empty());
    assert!(!node.is_learner());
}

#[test]
fn add_node_check_quorum() {
    // A voter just added counts as recently active: the next CheckQuorum does not depose the
    // leader before the new voter could answer; a whole election timeout of silence does.
    let mut config = test_config(1, 10, 1);
    config.check_quorum = true;
    let mut node = new_node(config, storage(&[1], &[]));
    become_leader(&mut node);
    for _ in 0..9 {
        node.tick();
    }
    node.apply_conf_change(&change(ConfChangeKind::AddNode, 2))
        .unwrap();
    // This tick reaches the election timeout: a quorum check.
    node.tick();
    assert_eq!(node.role(), Role::Leader);
    for _ in 0..10 {
        node.tick();
    }
    assert_eq!(node.role(), Role::Follower);
}

#[test]
fn remove_node() {
    // Removing a voter; removing the last voter is refused (etcd panics).
    let mut node = new_test_raft(1, 10, 1, storage(&[1, 2], &[]));
    node.apply_conf_change(&change(ConfChangeKind::RemoveNode, 2))
        .unwrap();
    assert_eq!(voters(&node), vec![1]);
    assert!(matches!(
        node.apply_conf_change(&change(ConfChangeKind::RemoveNode, 1)),
        Err(Error::InvalidConfChange { .. })
    ));
    assert_eq!(voters(&node), vec![1]);
}

#[test]
fn remove_learner() {
    // Removing a learner; removing the last voter is refused (etcd panics).
    let mut node = new_test_raft(1, 10, 1, storage(&[1], &[2]));
    node.apply_conf_change(&change(ConfChangeKind::RemoveNode, 2))
        .unwrap();
    assert_eq!(voters(&node), vec![1]);
    assert!(learners(&node).is_empty());
    assert!(
        node.apply_conf_change(&change(ConfChangeKind::RemoveNode, 1))
            .is_err()
    );
}

#[test]
fn raft_nodes() {
    // Voters are listed in id order, whatever order they were given in.
    for ids in [[1, 2, 3], [3, 2, 1]] {
        let node = new_test_raft(1, 10, 1, storage(&ids, &[]));
        assert_eq!(voters(&node), vec![1, 2, 3], "{ids:?}");
    }
}

#[test]
fn commit_after_remove_node() {
    // Entries waiting for a quorum commit when a removal makes the quorum smaller.
    let mut config = test_config(1, 5, 1);
    etcd_conf_change_rule(&mut config);
    let mut node = new_node(config, storage(&[1, 2], &[]));
    become_leader(&mut node);
    let removal = change(ConfChangeKind::RemoveNode, 2);
    node.propose_conf_change(removal.clone()).unwrap();
    assert!(next_ents(&mut node).is_empty(), "nothing commits without 2");
    let change_index = node.last_index();
    node.propose(b"hello".to_vec()).unwrap();
    // 2 acknowledges up to the change, which commits.
    let mut ack = message(MessageKind::AppendResponse, 2, 1, node.term());
    ack.index = change_index;
    node.step(ack).unwrap();
    let applied = next_ents(&mut node);
    let kinds: Vec<(EntryKind, Vec<u8>)> =
        applied.iter().map(|e| (e.kind, e.data.to_vec())).collect();
    assert_eq!(
        kinds,
        vec![
            (EntryKind::Normal, Vec::new()),
            (EntryKind::ConfChange, removal.encode())
        ]
    );
    // Applying the change: 1 alone is a quorum, and the proposal commits.
    node.apply_conf_change(&removal).unwrap();
    let applied = next_ents(&mut node);
    assert_eq!(applied.len(), 1);
    assert_eq!(
        (applied[0].kind, &applied[0].data[..]),
        (EntryKind::Normal, &b"hello"[..])
    );
}

fn check_conf_change_check_before_campaign(removal: ConfChange) {
    // A node does not campaign, on its own or told to by a leader transfer, while it knows of
    // a committed configuration change it has not applied.
    let mut net = Net::of_size(3);
    net.campaign(1);
    assert_eq!(net.get(1).role(), Role::Leader);
    net.act(1, |node| node.propose_conf_change(removal).map(|_| ()))
        .unwrap();
    let n2 = net.node(2);
    for _ in 0..n2.randomized_election_timeout() {
        n2.tick();
    }
    assert_eq!(
        net.get(2).role(),
        Role::Follower,
        "the committed change is not applied"
    );
    net.act(1, |node| node.transfer_leader(2)).unwrap();
    assert_eq!(net.get(1).role(), Role::Leader);
    assert_eq!(
        net.get(2).role(),
        Role::Follower,
        "the committed change is not applied"
    );
    // The transfer times out.
    for _ in 0..10 {
        net.node(1).tick();
    }
    next_ents(net.node(2));
    net.act(1, |node| node.transfer_leader(2)).unwrap();
    assert_eq!(net.get(1).role(), Role::Follower);
    assert_eq!(net.get(2).role(), Role::Leader);
    next_ents(net.node(1));
    let n1 = net.node(1);
    for _ in 0..n1.randomized_election_timeout() {
        n1.tick();
    }
    assert_eq!(net.get(1).role(), Role::Candidate);
}

#[test]
fn conf_change_check_before_campaign() {
    check_conf_change_check_before_campaign(change(ConfChangeKind::RemoveNode, 2));
}

#[test]
fn conf_change_v2_check_before_campaign() {
    // etcd's V2 changes; ours have one encoding, so this is the same change spelt as a
    // (one-element) list of changes.
    let removal = ConfChange::joint(
        ConfChangeTransition::Auto,
        [(ConfChangeKind::RemoveNode, 2)],
    );
    check_conf_change_check_before_campaign(removal);
}
