//! Membership changes: single-server changes (§4), joint consensus (§6, Figure 11), learners,
//! and their rules (one pending change, none before the term's first commit, a removed leader
//! steps down).

use raft::{
    ConfChange, ConfChangeKind, ConfChangeTransition, ConfState, Error, MemStorage, MessageKind,
    Proposal, Role,
};

use crate::support::*;

fn ids(set: &std::collections::BTreeSet<u64>) -> Vec<u64> {
    set.iter().copied().collect()
}

fn change(network: &mut Network, leader: u64, change: ConfChange) {
    network
        .node(leader)
        .propose_conf_change(change)
        .expect("change accepted");
    network.settle();
}

#[test]
fn add_a_voter() {
    let mut network = Network::new(&[1, 2, 3]);
    network.add_empty_node(4, |_| {});
    network.elect(1);
    change(
        &mut network,
        1,
        ConfChange::single(ConfChangeKind::AddNode, 4),
    );
    for id in 1..=4 {
        assert_eq!(
            ids(&network.get(id).conf_state().voters),
            vec![1, 2, 3, 4],
            "node {id}"
        );
    }
    assert_eq!(network.get(4).commit_index(), network.get(1).commit_index());
    // The new voter counts: with 1 and 2 cut off from 3 and 4, nothing commits (2 of 4).
    network.partition(&[&[1, 2], &[3, 4]]);
    let commit = network.get(1).commit_index();
    network.node(1).propose(b"x".to_vec()).unwrap();
    network.settle();
    assert_eq!(network.get(1).commit_index(), commit);
}

#[test]
fn remove_a_follower() {
    let mut network = Network::new(&[1, 2, 3]);
    network.elect(1);
    change(
        &mut network,
        1,
        ConfChange::single(ConfChangeKind::RemoveNode, 3),
    );
    assert_eq!(ids(&network.get(1).conf_state().voters), vec![1, 2]);
    assert!(network.get(1).progress(3).is_none());
    // Node 3 is no longer promotable and does not campaign.
    network.tick(3, 50);
    assert_eq!(network.get(3).role(), Role::Follower);
    assert_eq!(network.get(3).term(), 1);
}

#[test]
fn removed_leader_steps_down() {
    // Goal: with `step_down_on_removal`, a leader that applies its own removal steps down.
    // Method: leader 1 removes itself; after applying, it is a follower and 2 or 3 can take
    // over.
    let mut network = Network::with_config(&[1, 2, 3], |c| c.step_down_on_removal = true);
    network.elect(1);
    change(
        &mut network,
        1,
        ConfChange::single(ConfChangeKind::RemoveNode, 1),
    );
    assert_eq!(network.get(1).role(), Role::Follower);
    assert_eq!(ids(&network.get(2).conf_state().voters), vec![2, 3]);
    network.elect(2);
    network.propose(2, b"after");
    assert_eq!(network.get(3).commit_index(), network.get(2).commit_index());
}

#[test]
fn learner_receives_the_log_but_does_not_vote_or_count() {
    let mut network = Network::new(&[1, 2, 3]);
    network.add_empty_node(4, |_| {});
    network.elect(1);
    change(
        &mut network,
        1,
        ConfChange::single(ConfChangeKind::AddLearner, 4),
    );
    assert!(network.get(4).is_learner());
    network.propose(1, b"x");
    assert_eq!(network.applied_data(4), vec![b"x".to_vec()]);
    // A learner does not campaign.
    network.tick(4, 50);
    assert_eq!(network.get(4).role(), Role::Follower);
    // The leader does not ask it for votes.
    network.delivered.clear();
    network.elect(2);
    assert_eq!(
        network.count_delivered(|m| m.kind == MessageKind::Vote && m.to == 4),
        0
    );
    // It does not count for the quorum: with 2 and 3 cut off, 1 + learner commits nothing.
    network.partition(&[&[2, 4], &[1], &[3]]);
    let commit = network.get(2).commit_index();
    network.node(2).propose(b"y".to_vec()).unwrap();
    network.settle();
    assert_eq!(network.get(2).commit_index(), commit);
}

#[test]
fn learner_promotion() {
    let mut network = Network::new(&[1, 2, 3]);
    network.add_empty_node(4, |_| {});
    network.elect(1);
    change(
        &mut network,
        1,
        ConfChange::single(ConfChangeKind::AddLearner, 4),
    );
    network.propose(1, b"catch-up");
    change(
        &mut network,
        1,
        ConfChange::single(ConfChangeKind::AddNode, 4),
    );
    assert!(!network.get(4).is_learner());
    assert_eq!(ids(&network.get(4).conf_state().voters), vec![1, 2, 3, 4]);
    assert!(network.get(4).conf_state().learners.is_empty());
    network.elect(4);
}

#[test]
fn demote_a_voter_to_learner() {
    let mut network = Network::new(&[1, 2, 3]);
    network.elect(1);
    change(
        &mut network,
        1,
        ConfChange::single(ConfChangeKind::AddLearner, 3),
    );
    assert_eq!(ids(&network.get(2).conf_state().voters), vec![1, 2]);
    assert_eq!(ids(&network.get(2).conf_state().learners), vec![3]);
    assert!(network.get(3).is_learner());
}

#[test]
fn joint_consensus_leaves_automatically() {
    // Goal: Figure 11, automatic leave. Method: replace {1,2,3} by {1,4,5} in one joint change;
    // after it applies, the leader appends the leave entry by itself.
    let mut network = Network::new(&[1, 2, 3]);
    network.add_empty_node(4, |_| {});
    network.add_empty_node(5, |_| {});
    network.elect(1);
    let joint = ConfChange::joint(
        ConfChangeTransition::Auto,
        [
            (ConfChangeKind::AddNode, 4),
            (ConfChangeKind::AddNode, 5),
            (ConfChangeKind::RemoveNode, 2),
            (ConfChangeKind::RemoveNode, 3),
        ],
    );
    change(&mut network, 1, joint);
    for id in [1, 4, 5] {
        let conf_state = network.get(id).conf_state();
        assert!(!conf_state.is_joint(), "node {id}: {conf_state:?}");
        assert_eq!(ids(&conf_state.voters), vec![1, 4, 5], "node {id}");
    }
    let conf_entries: Vec<ConfChange> = network.applied[&4]
        .iter()
        .filter_map(|entry| entry.conf_change())
        .collect();
    assert_eq!(conf_entries.len(), 2, "enter and leave: {conf_entries:?}");
    assert!(conf_entries[1].is_leave_joint());
}

#[test]
fn joint_consensus_explicit_leave() {
    let mut network = Network::new(&[1, 2, 3]);
    network.add_empty_node(4, |_| {});
    network.elect(1);
    let joint = ConfChange::joint(
        ConfChangeTransition::JointExplicit,
        [(ConfChangeKind::AddNode, 4)],
    );
    change(&mut network, 1, joint);
    let conf_state = network.get(2).conf_state();
    assert!(conf_state.is_joint());
    assert_eq!(ids(&conf_state.voters_outgoing), vec![1, 2, 3]);
    assert_eq!(ids(&conf_state.voters), vec![1, 2, 3, 4]);
    // Another change while joint is refused.
    let error = network
        .node(1)
        .propose_conf_change(ConfChange::single(ConfChangeKind::RemoveNode, 2))
        .unwrap_err();
    assert!(matches!(error, Error::InvalidConfChange { .. }), "{error}");
    change(&mut network, 1, ConfChange::leave_joint());
    assert!(!network.get(2).conf_state().is_joint());
    assert!(!network.get(1).conf_state().is_joint());
    // Leaving when not joint is refused.
    assert!(
        network
            .node(1)
            .propose_conf_change(ConfChange::leave_joint())
            .is_err()
    );
}

#[test]
fn joint_config_needs_both_majorities_to_elect() {
    // Goal: Figure 11 / BRIEF S4: while joint, neither side of a partition elects a leader.
    let mut network = Network::new(&[1, 2, 3]);
    network.add_empty_node(4, |_| {});
    network.add_empty_node(5, |_| {});
    network.elect(1);
    let joint = ConfChange::joint(
        ConfChangeTransition::JointExplicit,
        [(ConfChangeKind::AddNode, 4), (ConfChangeKind::AddNode, 5)],
    );
    change(&mut network, 1, joint);
    network.partition(&[&[1, 2], &[3, 4, 5]]);
    network.campaign(2);
    network.campaign(4);
    assert!(network.leaders().is_empty(), "{:?}", network.leaders());
    network.heal();
    network.campaign(3);
    assert_eq!(network.leaders(), vec![3]);
    change(&mut network, 3, ConfChange::leave_joint());
    assert_eq!(
        ids(&network.get(5).conf_state().voters),
        vec![1, 2, 3, 4, 5]
    );
}

#[test]
fn one_pending_change_at_a_time() {
    let mut network = Network::new(&[1, 2, 3]);
    network.add_empty_node(4, |_| {});
    network.elect(1);
    network.isolate(2);
    network.isolate(3);
    network
        .node(1)
        .propose_conf_change(ConfChange::single(ConfChangeKind::AddLearner, 4))
        .unwrap();
    network.settle();
    let error = network
        .node(1)
        .propose_conf_change(ConfChange::single(ConfChangeKind::AddNode, 4))
        .unwrap_err();
    assert!(matches!(error, Error::ProposalDropped { .. }), "{error}");
    network.heal();
    network.tick(1, 2);
    network
        .node(1)
        .propose_conf_change(ConfChange::single(ConfChangeKind::AddNode, 4))
        .unwrap();
}

#[test]
fn no_change_before_the_terms_first_commit() {
    let mut network = Network::new(&[1, 2, 3]);
    network.filter = Some(Box::new(|m| m.kind == MessageKind::AppendResponse));
    network.elect(1);
    let error = network
        .node(1)
        .propose_conf_change(ConfChange::single(ConfChangeKind::RemoveNode, 3))
        .unwrap_err();
    assert!(matches!(error, Error::ProposalDropped { .. }), "{error}");
    network.filter = None;
    network.tick(1, 2);
    network
        .node(1)
        .propose_conf_change(ConfChange::single(ConfChangeKind::RemoveNode, 3))
        .unwrap();
}

#[test]
fn invalid_changes_are_errors() {
    let mut network = Network::new(&[1, 2, 3]);
    network.elect(1);
    let cases = [
        ConfChange::single(ConfChangeKind::AddNode, 0),
        ConfChange::joint(
            ConfChangeTransition::Auto,
            [
                (ConfChangeKind::RemoveNode, 1),
                (ConfChangeKind::RemoveNode, 2),
                (ConfChangeKind::RemoveNode, 3),
            ],
        ),
        ConfChange::leave_joint(),
    ];
    for case in cases {
        let error = network
            .node(1)
            .propose_conf_change(case.clone())
            .unwrap_err();
        assert!(
            matches!(error, Error::InvalidConfChange { .. }),
            "{case:?}: {error}"
        );
    }
    // A follower forwards the change to its leader (etcd), unless forwarding is disabled.
    assert_eq!(
        network
            .node(2)
            .propose_conf_change(ConfChange::single(ConfChangeKind::AddNode, 4)),
        Ok(Proposal::Forwarded { leader: 1 })
    );
    let mut network = Network::with_config(&[1, 2, 3], |c| c.disable_proposal_forwarding = true);
    network.elect(1);
    assert_eq!(
        network
            .node(2)
            .propose_conf_change(ConfChange::single(ConfChangeKind::AddNode, 4)),
        Err(Error::NotLeader { leader: Some(1) })
    );
}

#[test]
fn removed_leader_keeps_leading_by_default() {
    // Goal: etcd's default: a leader that applies its own removal stays leader, drops
    // proposals and no longer counts itself. Method: leader 1 removes itself, then proposes.
    let mut network = Network::new(&[1, 2, 3]);
    network.elect(1);
    change(
        &mut network,
        1,
        ConfChange::single(ConfChangeKind::RemoveNode, 1),
    );
    assert_eq!(network.get(1).role(), Role::Leader);
    assert_eq!(ids(&network.get(1).conf_state().voters), vec![2, 3]);
    assert!(matches!(
        network.node(1).propose(b"dropped".to_vec()),
        Err(Error::ProposalDropped { .. })
    ));
    // It goes on sending heartbeats, which keep 2 and 3 following it.
    network.tick_all(30);
    assert_eq!(network.get(1).role(), Role::Leader);
    assert_eq!(network.get(2).leader(), Some(1));
}

/// With `conf_change_on_append` a configuration is in effect as soon as its entry is in the log,
/// on the leader and on a follower, before it commits; the default waits for the apply.
#[test]
fn conf_change_on_append_takes_effect_before_commit() {
    for on_append in [false, true] {
        let mut network = Network::with_config(&[1, 2, 3], |c| c.conf_change_on_append = on_append);
        network.add_empty_node(4, |c| c.conf_change_on_append = on_append);
        network.elect(1);
        // Only node 4 receives the change: it cannot commit under {1, 2, 3} or {1, 2, 3, 4}.
        network.cut.extend([(1, 2), (1, 3)]);
        network
            .node(1)
            .propose_conf_change(ConfChange::single(ConfChangeKind::AddNode, 4))
            .expect("change accepted");
        network.settle();
        let expected: Vec<u64> = if on_append {
            vec![1, 2, 3, 4]
        } else {
            vec![1, 2, 3]
        };
        assert_eq!(network.get(1).commit_index(), 1, "on_append={on_append}");
        assert_eq!(
            ids(&network.get(1).conf_state().voters),
            expected,
            "leader, on_append={on_append}"
        );
        assert_eq!(
            ids(&network.get(4).conf_state().voters),
            expected,
            "node 4, on_append={on_append}"
        );
        // A restart rebuilds the configuration from the log.
        network.reseed_jitter(4, 0);
        assert_eq!(
            ids(&network.get(4).conf_state().voters),
            expected,
            "restarted node 4, on_append={on_append}"
        );
    }
}

#[test]
fn seed_775_a_candidate_removed_while_campaigning_does_not_win() {
    // Found by campaign seed 775 (with read-index-before-noop, but the bug was in correct
    // code): node 4 campaigned while joint, learned from a refused vote that the entry leaving
    // the joint configuration (without it) was committed, applied it, and then won on the votes
    // of 2 and 3: a leader outside the configuration, dropping every proposal for good.
    // Method: node 4 of {1,2,3}&&{1,2,3,4,5} holds the leave-joint entry uncommitted and
    // campaigns; 1 refuses (its hint commits the entry), 4 applies it, then 2 and 3 grant.
    let mut storage = MemStorage::new_with_conf_state(ConfState {
        voters: [1, 2, 3].into(),
        voters_outgoing: [1, 2, 3, 4, 5].into(),
        auto_leave: true,
        ..ConfState::default()
    });
    let leave = raft::Entry {
        term: 1,
        index: 1,
        kind: raft::EntryKind::ConfChange,
        data: ConfChange::leave_joint().encode().into(),
    };
    storage.append(&[leave]);
    storage.set_hard_state(raft::HardState {
        term: 1,
        vote: None,
        commit: 0,
    });
    let mut network = Network::with_storages(vec![(4, storage)], |_| {});
    network.node(4).campaign();
    network.process_ready(4);
    assert_eq!(network.get(4).role(), Role::Candidate);
    let term = network.get(4).term();
    let refusal = raft::Message {
        reject: true,
        commit: 1,
        log_term: 1,
        ..message(MessageKind::VoteResponse, 1, 4, term)
    };
    network.node(4).step(refusal).unwrap();
    network.process_ready(4);
    assert!(
        !network.get(4).conf_state().voters.contains(&4),
        "it applied its removal"
    );
    for voter in [2, 3] {
        let grant = message(MessageKind::VoteResponse, voter, 4, term);
        network.node(4).step(grant).unwrap();
    }
    assert_eq!(network.get(4).role(), Role::Follower);
}

/// Campaign seed 1503: a change the uncommitted-bytes limit drops is not pending. Counting it
/// refused every later change until an entry past it applied, which an idle cluster never
/// appends (the liveness phase's re-adding of a removed voter waited forever).
#[test]
fn seed_1503_a_change_dropped_by_the_uncommitted_limit_is_not_pending() {
    let mut network = Network::with_config(&[1, 2, 3], |config| {
        config.max_uncommitted_entries_size = 16;
    });
    network.elect(1);
    // Nothing commits until the network settles: proposals fill the uncommitted tail.
    while network.node(1).propose(b"12345678".to_vec()).is_ok() {}
    let remove = ConfChange::single(ConfChangeKind::RemoveNode, 3);
    let dropped = network.node(1).propose_conf_change(remove.clone());
    assert!(
        matches!(&dropped, Err(Error::ProposalDropped { reason }) if reason.contains("uncommitted")),
        "{dropped:?}"
    );
    network.settle();
    let leader = network.get(1);
    assert_eq!(leader.role(), Role::Leader);
    assert!(
        leader.pending_conf_index() <= leader.commit_index(),
        "pending {} past commit {}",
        leader.pending_conf_index(),
        leader.commit_index()
    );
    change(&mut network, 1, remove);
    assert_eq!(ids(&network.get(1).conf_state().voters), vec![1, 2]);
}
