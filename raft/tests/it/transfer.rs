//! Leader transfer (dissertation §3.10): catch the target up, then TimeoutNow.

use raft::{Error, MessageKind, Role};

use crate::support::*;

#[test]
fn transfer_to_an_up_to_date_follower() {
    let mut network = Network::with_config(&[1, 2, 3], |config| {
        config.check_quorum = true;
        config.pre_vote = true;
    });
    network.elect(1);
    network.node(1).transfer_leader(2).unwrap();
    network.settle();
    assert_eq!(network.leaders(), vec![2]);
    assert_eq!(network.get(2).term(), 2);
    assert_eq!(network.get(1).leader(), Some(2));
    assert!(network.count_delivered(|m| m.kind == MessageKind::TimeoutNow) == 1);
    // A transfer campaign skips PreVote and the CheckQuorum lease.
    assert!(
        network
            .delivered
            .iter()
            .any(|m| m.kind == MessageKind::Vote && m.leader_transfer)
    );
}

#[test]
fn transfer_catches_a_lagging_target_up_first() {
    let mut network = Network::new(&[1, 2, 3]);
    network.elect(1);
    network.isolate(3);
    network.propose(1, b"a");
    network.propose(1, b"b");
    network.heal();
    network.node(1).transfer_leader(3).unwrap();
    assert!(
        matches!(
            network.node(1).propose(b"c".to_vec()),
            Err(Error::ProposalDropped { .. })
        ),
        "no proposals while transferring"
    );
    network.settle();
    assert_eq!(network.leaders(), vec![3]);
    assert_eq!(network.log_terms(3), vec![1, 1, 1, 2]);
}

#[test]
fn transfer_is_abandoned_after_an_election_timeout() {
    let mut network = Network::new(&[1, 2, 3]);
    network.elect(1);
    network.isolate(3);
    network.node(1).transfer_leader(3).unwrap();
    network.settle();
    assert_eq!(network.get(1).lead_transferee(), Some(3));
    network.tick(1, network.get(1).config().election_tick);
    assert_eq!(network.get(1).lead_transferee(), None);
    assert_eq!(network.get(1).role(), Role::Leader);
    network.node(1).propose(b"again".to_vec()).unwrap();
}

#[test]
fn invalid_transfers_are_errors() {
    let mut network = Network::new(&[1, 2, 3]);
    network.elect(1);
    // To itself: nothing to do (and a pending transfer is cancelled).
    assert_eq!(network.node(1).transfer_leader(1), Ok(()));
    assert!(matches!(
        network.node(1).transfer_leader(9),
        Err(Error::InvalidTransfer { .. })
    ));
    // A follower forwards the request to its leader (etcd), which starts the transfer.
    assert_eq!(network.node(2).transfer_leader(3), Ok(()));
    network.settle();
    assert_eq!(network.get(3).role(), Role::Leader);
    // A node that knows no leader cannot.
    network.isolate(1);
    network.node(1).campaign();
    assert!(matches!(
        network.node(1).transfer_leader(2),
        Err(Error::NotLeader { leader: None })
    ));
}

#[test]
fn a_learner_cannot_become_leader_by_transfer() {
    let mut network = Network::new(&[1, 2, 3]);
    network.add_empty_node(4, |_| {});
    network.elect(1);
    network
        .node(1)
        .propose_conf_change(raft::ConfChange::single(
            raft::ConfChangeKind::AddLearner,
            4,
        ))
        .unwrap();
    network.settle();
    assert!(matches!(
        network.node(1).transfer_leader(4),
        Err(Error::InvalidTransfer { .. })
    ));
    // Even a stray TimeoutNow does not make a learner campaign.
    network.send(message(MessageKind::TimeoutNow, 1, 4, 1));
    assert_eq!(network.get(4).role(), Role::Follower);
    assert_eq!(network.get(4).term(), 1);
}
