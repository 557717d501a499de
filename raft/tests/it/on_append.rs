//! Membership with `conf_change_on_append` (§4.1 of the dissertation): a node runs the latest
//! configuration its log holds, committed or not. These tests remove such a configuration again
//! (truncation, snapshot) and check the node falls back to what its log still holds.

use std::collections::BTreeSet;

use raft::{ConfChange, ConfChangeKind, NodeId, Role};

use crate::support::*;

fn ids(set: &BTreeSet<NodeId>) -> Vec<NodeId> {
    set.iter().copied().collect()
}

fn voters(network: &Network, id: NodeId) -> Vec<NodeId> {
    ids(&network.get(id).conf_state().voters)
}

/// Voters `ids` plus an empty node `joiner`, every node with `conf_change_on_append`.
fn on_append_network(ids: &[NodeId], joiner: NodeId) -> Network {
    let mut network = Network::with_config(ids, |c| c.conf_change_on_append = true);
    network.add_empty_node(joiner, |c| c.conf_change_on_append = true);
    network
}

/// Leader 1 of {1..5} appends "add 6", which reaches node 2 only and is not committed. Returns
/// the index of the change.
fn add_6_reaching_only_2(network: &mut Network) -> u64 {
    network.elect(1);
    network.propose(1, b"x");
    network.cut.extend([(1, 3), (1, 4), (1, 5), (1, 6)]);
    let index = network
        .node(1)
        .propose_conf_change(ConfChange::single(ConfChangeKind::AddNode, 6))
        .expect("change accepted")
        .index()
        .expect("the leader appends");
    network.settle();
    assert_eq!(voters(network, 2), vec![1, 2, 3, 4, 5, 6]);
    assert!(network.get(2).commit_index() < index);
    index
}

/// Node 3 wins term 2 without 1 and 2, then reaches everyone again.
fn elect_3_without_1_and_2(network: &mut Network) {
    network.isolate(1);
    network.isolate(2);
    network.elect(3);
    network.heal();
}

#[test]
fn truncating_a_change_reverts_the_configuration() {
    // Goal: a follower that adopted an appended "add 6" from a deposed leader falls back to the
    // configuration before it when the next leader overwrites the entry. Method: the change
    // reaches node 2 only; node 3 wins term 2 and, reconnected, replaces entry 3 on 1 and 2
    // with its own entries, among them "remove 5", which must apply on top of {1..5}.
    let mut network = on_append_network(&[1, 2, 3, 4, 5], 6);
    let index = add_6_reaching_only_2(&mut network);
    elect_3_without_1_and_2(&mut network);
    network
        .node(3)
        .propose_conf_change(ConfChange::single(ConfChangeKind::RemoveNode, 5))
        .expect("change accepted")
        .index()
        .expect("the leader appends");
    network.tick(3, 3);
    for id in 1..=3 {
        assert_ne!(network.get(id).term_at(index), Some(1), "node {id}");
        assert_eq!(voters(&network, id), vec![1, 2, 3, 4], "node {id}");
        assert!(network.get(id).progress(6).is_none(), "node {id}");
    }
    network.restart(2);
    assert_eq!(voters(&network, 2), vec![1, 2, 3, 4], "restarted node 2");
}

#[test]
fn compacting_keeps_the_configuration_as_of_the_applied_index() {
    // Goal: a snapshot carries the configuration as of its index, not a later one in effect
    // from an uncommitted entry. Method: leader 1 appends "add 4", which nobody receives, and
    // compacts at its applied index, before the change; a restart rebuilds {1..4} from the
    // snapshot plus the log.
    let mut network = on_append_network(&[1, 2, 3], 4);
    network.elect(1);
    network.propose(1, b"x");
    network.isolate(1);
    let index = network
        .node(1)
        .propose_conf_change(ConfChange::single(ConfChangeKind::AddNode, 4))
        .expect("change accepted")
        .index()
        .expect("the leader appends");
    network.settle();
    assert_eq!(network.get(1).applied_index(), index - 1);
    assert_eq!(voters(&network, 1), vec![1, 2, 3, 4]);
    let snapshot = network.node(1).compact(Vec::new()).unwrap();
    assert_eq!(snapshot.metadata.index, index - 1);
    assert_eq!(ids(&snapshot.metadata.conf_state.voters), vec![1, 2, 3]);
    assert_eq!(voters(&network, 1), vec![1, 2, 3, 4], "still in effect");
    network.restart(1);
    assert_eq!(voters(&network, 1), vec![1, 2, 3, 4], "restarted node 1");
}

#[test]
fn a_compacted_follower_reverts_to_its_snapshot_configuration() {
    // Goal: truncation and compaction together. Method: node 2 holds the uncommitted "add 6"
    // and compacts before it; when node 3's entries overwrite the change, node 2 is back at
    // {1..5}, the configuration of its snapshot.
    let mut network = on_append_network(&[1, 2, 3, 4, 5], 6);
    let index = add_6_reaching_only_2(&mut network);
    let snapshot = network.node(2).compact(Vec::new()).unwrap();
    assert_eq!(snapshot.metadata.index, index - 1);
    assert_eq!(
        ids(&snapshot.metadata.conf_state.voters),
        vec![1, 2, 3, 4, 5]
    );
    elect_3_without_1_and_2(&mut network);
    network.propose(3, b"y");
    network.tick(3, 3);
    assert_eq!(network.get(2).first_index(), index);
    assert_ne!(network.get(2).term_at(index), Some(1));
    assert_eq!(voters(&network, 2), vec![1, 2, 3, 4, 5]);
    network.restart(2);
    assert_eq!(voters(&network, 2), vec![1, 2, 3, 4, 5], "restarted node 2");
}

#[test]
fn a_snapshot_replaces_an_uncommitted_change() {
    // Goal: a follower that installs a snapshot runs the snapshot's configuration, dropping one
    // it had adopted from an entry beyond it. Method: node 2 holds the uncommitted "add 6";
    // node 3 wins term 2, commits and compacts past that index, then sends node 2 a snapshot.
    let mut network = on_append_network(&[1, 2, 3, 4, 5], 6);
    let index = add_6_reaching_only_2(&mut network);
    elect_3_without_1_and_2(&mut network);
    network.isolate(2);
    network.propose(3, b"y");
    network.node(3).compact(Vec::new()).unwrap();
    assert!(network.get(3).first_index() > index);
    network.heal();
    network.tick(3, 3);
    assert!(
        network.get(2).first_index() > index,
        "node 2 took the snapshot"
    );
    assert_eq!(voters(&network, 2), vec![1, 2, 3, 4, 5]);
}

#[test]
fn a_removed_leader_leads_until_its_removal_commits() {
    // Goal: §4.2.2: a leader that appends its own removal keeps replicating, without counting
    // itself, and steps down once the change commits. Method: leader 1 removes itself while cut
    // off from 3: under {2, 3} nothing commits, though 1 and 2 would be a majority of
    // {1, 2, 3}; once 3 is back the change commits, and at its next tick the leader steps down.
    let mut network = Network::with_config(&[1, 2, 3], |c| c.conf_change_on_append = true);
    network.elect(1);
    network.cut.extend([(1, 3), (3, 1)]);
    let index = network
        .node(1)
        .propose_conf_change(ConfChange::single(ConfChangeKind::RemoveNode, 1))
        .expect("change accepted")
        .index()
        .expect("the leader appends");
    assert_eq!(network.get(1).role(), Role::Leader);
    network.tick(1, 5);
    assert_eq!(network.get(1).role(), Role::Leader);
    assert_eq!(voters(&network, 2), vec![2, 3]);
    assert!(
        network.get(1).commit_index() < index,
        "1 does not count itself"
    );
    network.heal();
    // The append lost to 3 is resent after a heartbeat interval without progress.
    for _ in 0..5 {
        if network.get(1).commit_index() >= index {
            break;
        }
        network.tick(1, 1);
    }
    assert!(network.get(3).commit_index() >= index);
    assert_eq!(voters(&network, 3), vec![2, 3]);
    assert_eq!(network.get(1).role(), Role::Leader, "steps down at a tick");
    network.tick(1, 1);
    assert_eq!(network.get(1).role(), Role::Follower);
    assert!(!network.get(1).promotable());
    network.elect(2);
    network.propose(2, b"after");
    assert_eq!(network.get(3).commit_index(), network.get(2).commit_index());
}

#[test]
fn a_server_whose_removal_is_not_committed_still_campaigns() {
    // Goal: §4.2.2: a server not in its latest configuration still campaigns while that
    // configuration is not known committed. Method: leader 1 of {1, 2} appends its own removal,
    // which reaches no one, and is deposed (2 campaigns at a higher term and loses: it needs 1's
    // vote and its log is behind). Without 1 campaigning, no leader could ever be elected; with
    // it, 1 wins under {2} (2 votes for the longer log), commits its removal and steps down,
    // and 2 then leads alone.
    let mut network = Network::with_config(&[1, 2], |c| c.conf_change_on_append = true);
    network.elect(1);
    network.cut.extend([(1, 2), (2, 1)]);
    let index = network
        .node(1)
        .propose_conf_change(ConfChange::single(ConfChangeKind::RemoveNode, 1))
        .expect("change accepted")
        .index()
        .expect("the leader appends");
    network.settle();
    assert_eq!(voters(&network, 1), vec![2]);
    network.heal();
    network.campaign(2);
    assert_ne!(
        network.get(2).role(),
        Role::Leader,
        "1's log is ahead of 2's"
    );
    assert!(network.get(1).promotable(), "its removal is not committed");
    network.campaign(1);
    assert_eq!(network.get(1).role(), Role::Leader);
    assert!(network.get(2).commit_index() >= index);
    network.tick(1, 1);
    assert_eq!(network.get(1).role(), Role::Follower);
    assert!(!network.get(1).promotable());
    network.elect(2);
    assert_eq!(network.leaders(), vec![2]);
    network.propose(2, b"after");
}
