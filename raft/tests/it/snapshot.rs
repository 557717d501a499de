//! §7 log compaction: application-driven snapshots and InstallSnapshot for lagging followers.

use raft::{MessageKind, ProgressState, Storage};

use crate::support::*;

#[test]
fn lagging_follower_gets_a_snapshot_and_catches_up() {
    // Goal: InstallSnapshot. Method: node 3 is cut off while the leader commits 10 entries and
    // compacts its log; on reconnection node 3 receives the snapshot then the rest.
    let mut network = Network::new(&[1, 2, 3]);
    network.elect(1);
    network.isolate(3);
    for i in 0..10u8 {
        network.propose(1, &[i]);
    }
    let snapshot = network.node(1).compact(b"state-at-8".to_vec()).unwrap();
    assert_eq!(snapshot.metadata.index, 11);
    assert_eq!(snapshot.metadata.conf_state.voters.len(), 3);
    network.propose(1, b"after");
    assert_eq!(network.get(1).first_index(), 12);
    network.heal();
    network.tick(1, 2);
    assert_eq!(
        network.count_delivered(|m| m.kind == MessageKind::Snapshot && m.to == 3),
        1
    );
    let follower = network.get(3);
    assert_eq!(follower.storage().snapshot().data, b"state-at-8".to_vec());
    assert_eq!(follower.first_index(), 12);
    assert_eq!(follower.last_index(), 12);
    assert_eq!(follower.commit_index(), 12);
    assert_eq!(follower.applied_index(), 12);
    assert_eq!(
        network.get(1).progress(3).unwrap().state,
        ProgressState::Replicate
    );
    assert_eq!(network.applied_data(3), vec![b"after".to_vec()]);
}

#[test]
fn snapshot_carries_the_configuration() {
    // Goal: the snapshot's conf state configures the follower. Method: a new node 4 joins after
    // the leader compacted: it learns the voters from the snapshot.
    let mut network = Network::new(&[1, 2, 3]);
    network.add_empty_node(4, |_| {});
    network.elect(1);
    network.propose(1, b"x");
    network
        .node(1)
        .propose_conf_change(raft::ConfChange::single(
            raft::ConfChangeKind::AddLearner,
            4,
        ))
        .unwrap();
    network.isolate(4);
    network.settle();
    network.node(1).compact(Vec::new()).unwrap();
    network.heal();
    network.tick(1, 2);
    let learner = network.get(4);
    assert!(learner.is_learner());
    assert_eq!(
        learner
            .conf_state()
            .voters
            .iter()
            .copied()
            .collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(learner.commit_index(), network.get(1).commit_index());
}

#[test]
fn a_lost_snapshot_is_sent_again() {
    let mut network = Network::new(&[1, 2, 3]);
    network.elect(1);
    network.isolate(3);
    network.propose(1, b"a");
    network.node(1).compact(Vec::new()).unwrap();
    network.heal();
    network.filter = Some(Box::new(|m| m.kind == MessageKind::Snapshot));
    network.tick(1, 2);
    // The snapshot was handed to the network (reported finished): the leader waits, probing
    // past it.
    let progress = network.get(1).progress(3).unwrap();
    assert_eq!(progress.state, ProgressState::Probe);
    assert!(progress.is_paused());
    network.filter = None;
    // The next heartbeat reply resumes the probe, 3's rejection shows the snapshot was lost,
    // and the leader sends it again.
    network.tick(1, 3);
    assert_eq!(network.get(3).commit_index(), 2);
}

#[test]
fn stale_snapshot_only_advances_commit() {
    // A snapshot whose last entry the follower already holds just commits it.
    let mut network = Network::new(&[1, 2, 3]);
    network.elect(1);
    network.propose(1, b"a");
    let snapshot = network.node(1).compact(Vec::new()).unwrap();
    let before = network.get(2).first_index();
    let message = raft::Message {
        snapshot: Some(Box::new(snapshot)),
        ..message(MessageKind::Snapshot, 1, 2, 1)
    };
    network.send(message);
    assert_eq!(network.get(2).first_index(), before, "nothing restored");
}

#[test]
fn no_snapshot_is_installed_while_a_ready_is_outstanding() {
    // Goal: the application may still be applying the outstanding Ready's entries; installing a
    // snapshot meanwhile would apply them twice. Method: take a Ready, deliver a snapshot
    // before advance: it is refused; after advance it is installed.
    let mut network = Network::new(&[1, 2, 3]);
    network.elect(1);
    network.isolate(3);
    network.propose(1, b"a");
    let snapshot = network.node(1).compact(Vec::new()).unwrap();
    let install = raft::Message {
        snapshot: Some(Box::new(snapshot)),
        ..message(MessageKind::Snapshot, 1, 3, 1)
    };
    network.node(3).tick();
    let ready = network.node(3).ready();
    network.node(3).step(install.clone()).unwrap();
    assert_eq!(
        network.get(3).first_index(),
        1,
        "refused while a Ready is outstanding"
    );
    network.node(3).storage_mut().persist_ready(&ready);
    network.node(3).advance();
    network.node(3).step(install).unwrap();
    assert_eq!(network.get(3).first_index(), 3);
}
