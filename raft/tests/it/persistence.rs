//! Persistence (§5, Figure 2 "persistent state"): term, vote and log are durable before any
//! message that depends on them is sent, and a restarted node resumes from storage.

use raft::{ConfState, HardState, MemStorage, MessageKind, RawNode, Role};

use crate::support::*;

#[test]
fn votes_survive_a_restart_through_storage() {
    // Goal: a node cannot vote twice in a term across a crash. Method: node 3 votes for 1 in
    // term 1, restarts from its storage, then 2 asks for a vote in term 1.
    let mut network = Network::new(&[1, 2, 3]);
    network.cut.insert((1, 2));
    network.cut.insert((2, 1));
    network.elect(1);
    assert_eq!(network.get(3).vote(), Some(1));
    network.restart(3);
    assert_eq!(network.get(3).term(), 1);
    assert_eq!(
        network.get(3).vote(),
        Some(1),
        "the vote came back from storage"
    );
    network
        .node(3)
        .step(raft::Message {
            index: 9,
            log_term: 9,
            ..message(MessageKind::Vote, 2, 3, 1)
        })
        .unwrap();
    let ready = network.node(3).ready();
    assert!(
        ready.persisted_messages[0].reject,
        "already voted for 1 in term 1"
    );
}

#[test]
fn restart_restores_log_commit_and_configuration() {
    let mut network = Network::new(&[1, 2, 3]);
    network.elect(1);
    network.propose(1, b"a");
    network.propose(1, b"b");
    network.restart(2);
    let node = network.get(2);
    assert_eq!(node.term(), 1);
    assert_eq!(node.last_index(), 3);
    assert_eq!(node.commit_index(), 3);
    assert_eq!(
        node.applied_index(),
        0,
        "the application re-applies from its snapshot"
    );
    assert_eq!(node.conf_state().voters.len(), 3);
    assert_eq!(node.role(), Role::Follower);
    // The restarted node re-applies everything committed.
    network.settle();
    assert_eq!(network.applied_data(2), vec![b"a".to_vec(), b"b".to_vec()]);
}

#[test]
fn acks_wait_for_the_sync() {
    // Goal: an append ack is released only with the persisted part of the Ready. Method: a
    // follower receives an append; its Ready carries the entry and the ack in persisted_messages.
    let mut network = Network::new(&[1, 2, 3]);
    network.elect(1);
    network.node(1).propose(b"x".to_vec()).unwrap();
    let ready = network.node(1).ready();
    let append = ready.messages.iter().find(|m| m.to == 2).unwrap().clone();
    network.node(2).step(append).unwrap();
    let follower_ready = network.node(2).ready();
    assert_eq!(follower_ready.entries.len(), 1);
    assert!(follower_ready.must_sync);
    assert!(follower_ready.messages.is_empty());
    assert_eq!(follower_ready.persisted_messages.len(), 1);
    assert_eq!(
        follower_ready.persisted_messages[0].kind,
        MessageKind::AppendResponse
    );
}

#[test]
fn crash_before_sync_loses_unsynced_entries_but_nothing_acknowledged() {
    // Goal: a crash loses only what was never acknowledged. Method: stall node 2's disk, let it
    // receive an entry, crash it: the entry is gone and the leader never counted it.
    let mut network = Network::new(&[1, 2, 3]);
    network.elect(1);
    network.isolate(3);
    network.stalled.insert(2);
    network.node(1).propose(b"x".to_vec()).unwrap();
    network.settle();
    assert_eq!(network.get(2).last_index(), 2, "received but not durable");
    assert_eq!(network.get(1).commit_index(), 1);
    network.restart(2);
    assert_eq!(network.get(2).last_index(), 1);
    assert_eq!(network.get(1).commit_index(), 1);
}

#[test]
fn step_and_tick_between_ready_and_advance() {
    // Goal: the driver may keep stepping while a sync is in flight. Method: take a Ready, tick
    // and step, then advance; the next Ready carries what happened meanwhile.
    let mut network = Network::new(&[1, 2, 3]);
    network.elect(1);
    network.node(1).propose(b"a".to_vec()).unwrap();
    let first = network.node(1).ready();
    assert_eq!(first.entries.len(), 1);
    assert!(
        !network.node(1).has_ready(),
        "no second Ready before advance"
    );
    network.node(1).propose(b"b".to_vec()).unwrap();
    network.node(1).tick();
    network.node(1).storage_mut().persist_ready(&first);
    network.node(1).advance();
    let second = network.node(1).ready();
    assert_eq!(
        second.entries.iter().map(|e| e.index).collect::<Vec<_>>(),
        vec![3]
    );
    assert!(
        second
            .messages
            .iter()
            .any(|m| m.kind == MessageKind::Heartbeat)
    );
    network.node(1).storage_mut().persist_ready(&second);
    network.node(1).advance();
}

#[test]
fn conflicting_entries_replaced_while_a_sync_is_in_flight() {
    // Goal: entries handed to the driver and then replaced before advance are not marked
    // stable. Method: a follower gets 2@1, its Ready is taken, then an append of a newer term
    // replaces index 2; after advance, the replacement is still unstable and comes next.
    let storage = storage_with_log(&[1, 2, 3], &[1], 1);
    let mut node = RawNode::new(test_config(2), storage, Box::new(|| 0)).unwrap();
    let entry = |index, term| raft::Entry {
        index,
        term,
        ..raft::Entry::default()
    };
    let append = |term, entries| raft::Message {
        index: 1,
        log_term: 1,
        entries,
        ..message(MessageKind::Append, 1, 2, term)
    };
    node.step(append(1, vec![entry(2, 1)])).unwrap();
    let ready = node.ready();
    node.step(append(2, vec![entry(2, 2)])).unwrap();
    node.storage_mut().persist_ready(&ready);
    node.advance();
    let next = node.ready();
    assert_eq!(next.entries, vec![entry(2, 2)]);
    node.storage_mut().persist_ready(&next);
    node.advance();
    assert_eq!(node.term_at(2), Some(2));
    assert!(!node.has_ready());
}

#[test]
fn an_impossible_config_is_an_error() {
    let config = raft::Config {
        election_tick: 1,
        ..test_config(1)
    };
    let result = RawNode::new(config, storage_with_log(&[1], &[], 0), Box::new(|| 0));
    assert!(matches!(
        result,
        Err(raft::Error::Config(
            raft::ConfigError::ElectionNotAboveHeartbeat { .. }
        ))
    ));
}

#[test]
fn ready_reports_role_changes_once() {
    let mut network = Network::new(&[1, 2, 3]);
    network.node(1).campaign();
    let ready = network.node(1).ready();
    let soft_state = ready.soft_state.expect("became candidate");
    assert_eq!(soft_state.role, Role::Candidate);
    network.node(1).storage_mut().persist_ready(&ready);
    network.node(1).advance();
    network.node(1).tick();
    let again = network.node(1).ready();
    assert_eq!(again.soft_state, None, "unchanged");
    assert_eq!(again.hard_state, None, "unchanged");
}

#[test]
fn a_lone_voter_leads_only_once_its_vote_is_durable() {
    // Goal: a single voter must not lead, nor send entries of its new term (here to a learner),
    // before its term and vote are durable; otherwise a crash before the sync could let it win
    // the same term again with another log and the learner apply an entry never committed.
    // Method: voter 1 and learner 2; 1 campaigns; its first Ready carries only the hard state;
    // it crashes before syncing, comes back at term 0, and only a synced campaign makes it lead.
    let storages = [1, 2].map(|id| {
        let mut storage = MemStorage::new_with_conf_state(ConfState {
            voters: [1].into(),
            learners: [2].into(),
            ..ConfState::default()
        });
        storage.set_hard_state(HardState::default());
        (id, storage)
    });
    let mut network = Network::with_storages(storages.into(), |_| {});
    network.node(1).campaign();
    let ready = network.node(1).ready();
    assert_eq!(
        network.get(1).role(),
        Role::Candidate,
        "not before the sync"
    );
    assert_eq!(
        ready.hard_state.map(|h| (h.term, h.vote)),
        Some((1, Some(1)))
    );
    assert!(ready.entries.is_empty(), "no entry of term 1 yet");
    assert!(ready.messages.is_empty() && ready.persisted_messages.is_empty());
    // A crash before the sync: the campaign never happened.
    network.restart(1);
    assert_eq!(
        (network.get(1).term(), network.get(1).role()),
        (0, Role::Follower)
    );
    // Synced, the vote counts: 1 leads and replicates its empty entry to the learner.
    network.campaign(1);
    assert_eq!(network.get(1).role(), Role::Leader);
    assert_eq!(network.get(2).commit_index(), 1);
    assert_eq!(network.get(2).term_at(1), Some(1));
}
