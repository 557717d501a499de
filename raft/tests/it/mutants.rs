//! Each planted bug of BRIEF §9 that lives in the core changes its behaviour: every test runs
//! the same script with the switch off and on and shows the difference. (Detection in full
//! runs belongs to the scenario and campaign suites.)

use raft::{
    ConfChange, ConfChangeKind, ConfChangeTransition, Config, Message, MessageKind, Mutant,
    MutantSet, RawNode, ReadState, Role,
};

use crate::support::*;

fn mutant(mutant: Option<Mutant>) -> impl Fn(&mut Config) {
    move |config: &mut Config| {
        config.mutants = mutant.map(MutantSet::only).unwrap_or_default();
    }
}

/// Runs `script` with the mutant off and on; returns both results.
fn off_and_on<T>(which: Mutant, script: impl Fn(Option<Mutant>) -> T) -> (T, T) {
    (script(None), script(Some(which)))
}

#[test]
fn commit_previous_term() {
    // Figure 8: 2@2 on 2 of 3 while the own-term 3@4 is dropped.
    let script = |m: Option<Mutant>| {
        let mut storages = vec![
            (1, storage_with_log(&[1, 2, 3], &[1, 2], 3)),
            (2, storage_with_log(&[1, 2, 3], &[1], 3)),
            (3, storage_with_log(&[1, 2, 3], &[1, 3], 3)),
        ];
        for (_, storage) in &mut storages {
            storage.set_hard_state(raft::HardState {
                term: 3,
                vote: None,
                commit: 1,
            });
        }
        let mut network = Network::with_storages(storages, |config| {
            mutant(m)(config);
            config.max_entries_per_msg = 1;
        });
        let mut term_4_appends = 0;
        network.filter = Some(Box::new(move |m| {
            let carries_term_4 =
                m.kind == MessageKind::Append && m.entries.iter().any(|e| e.term == 4);
            term_4_appends += usize::from(carries_term_4);
            carries_term_4 && term_4_appends > 1
        }));
        network.cut.insert((1, 3));
        network.cut.insert((3, 1));
        network.campaign(1);
        network.get(1).commit_index()
    };
    assert_eq!(off_and_on(Mutant::CommitPreviousTerm, script), (1, 2));
}

#[test]
fn vote_without_log_check() {
    let script = |m: Option<Mutant>| {
        let mut config = test_config(1);
        mutant(m)(&mut config);
        let mut node = RawNode::new(
            config,
            storage_with_log(&[1, 2], &[1, 1, 2], 2),
            Box::new(|| 0),
        )
        .unwrap();
        node.step(Message {
            index: 5,
            log_term: 1,
            ..message(MessageKind::Vote, 2, 1, 3)
        })
        .unwrap();
        node.vote()
    };
    assert_eq!(
        off_and_on(Mutant::VoteWithoutLogCheck, script),
        (None, Some(2))
    );
}

#[test]
fn vote_count_not_set() {
    // A duplicated grant from one voter: correct code counts it once.
    let script = |m: Option<Mutant>| {
        let mut config = test_config(1);
        mutant(m)(&mut config);
        let mut node = RawNode::new(
            config,
            storage_with_log(&[1, 2, 3, 4, 5], &[], 0),
            Box::new(|| 0),
        )
        .unwrap();
        node.campaign();
        for _ in 0..3 {
            node.step(message(MessageKind::VoteResponse, 2, 1, 1))
                .unwrap();
        }
        node.role()
    };
    assert_eq!(
        off_and_on(Mutant::VoteCountNotSet, script),
        (Role::Candidate, Role::Leader)
    );
}

#[test]
fn forget_vote_on_restart() {
    // Node 3 votes for 1 in term 1, restarts, and is asked by 2 for term 1.
    let script = |m: Option<Mutant>| {
        let mut network = Network::with_config(&[1, 2, 3], mutant(m));
        network.cut.insert((1, 2));
        network.cut.insert((2, 1));
        network.elect(1);
        network.restart(3);
        network
            .node(3)
            .step(Message {
                index: 9,
                log_term: 9,
                ..message(MessageKind::Vote, 2, 3, 1)
            })
            .unwrap();
        let ready = network.node(3).ready();
        let granted = !ready.persisted_messages[0].reject;
        (network.get(3).storage().hard_state().vote, granted)
    };
    let (correct, mutated) = off_and_on(Mutant::ForgetVoteOnRestart, script);
    assert_eq!(correct, (Some(1), false));
    assert_eq!(mutated, (None, true), "a second vote in term 1");
}

#[test]
fn ack_before_sync() {
    // The leader's disk stalls: correct code does not count its own copy; and a follower's ack
    // leaves with the unsynced Ready's immediate messages.
    let script = |m: Option<Mutant>| {
        let mut network = Network::with_config(&[1, 2, 3], mutant(m));
        network.elect(1);
        network.isolate(3);
        network.stalled.insert(1);
        network.node(1).propose(b"x".to_vec()).unwrap();
        network.settle();
        let leader_commit = network.get(1).commit_index();
        network.stalled.remove(&1);
        network.settle();
        network.node(1).propose(b"y".to_vec()).unwrap();
        let append = network
            .node(1)
            .ready()
            .messages
            .into_iter()
            .find(|m| m.to == 2)
            .unwrap();
        network.node(2).step(append).unwrap();
        let ready = network.node(2).ready();
        let ack_is_immediate = ready
            .messages
            .iter()
            .any(|m| m.kind == MessageKind::AppendResponse);
        (leader_commit, ack_is_immediate)
    };
    assert_eq!(
        off_and_on(Mutant::AckBeforeSync, script),
        ((1, false), (2, true))
    );
}

#[test]
fn no_truncate_on_conflict() {
    // The old leader's uncommitted entries are not replaced by the new leader's.
    let script = |m: Option<Mutant>| {
        let mut network = Network::with_config(&[1, 2, 3], mutant(m));
        network.strict = false;
        network.elect(1);
        network.isolate(1);
        network.node(1).propose(b"lost-1".to_vec()).unwrap();
        network.node(1).propose(b"lost-2".to_vec()).unwrap();
        network.settle();
        network.heal();
        network.isolate(1);
        network.elect(2);
        network.propose(2, b"kept");
        network.heal();
        network.tick(2, 2);
        (
            network.log_terms(1),
            network.applied_data(1),
            network.violations.len(),
        )
    };
    let (correct, mutated) = off_and_on(Mutant::NoTruncateOnConflict, script);
    assert_eq!(correct, (vec![1, 2, 2], vec![b"kept".to_vec()], 0));
    assert_eq!(mutated.0, vec![1, 1, 1], "conflicting entries kept");
    assert_eq!(
        mutated.1,
        vec![b"lost-1".to_vec(), b"lost-2".to_vec()],
        "and applied: a safety violation"
    );
}

#[test]
fn direct_multi_change() {
    let script = |m: Option<Mutant>| {
        let mut network = Network::with_config(&[1, 2, 3], mutant(m));
        network.add_empty_node(4, mutant(m));
        network.add_empty_node(5, mutant(m));
        network.elect(1);
        let change = ConfChange::joint(
            ConfChangeTransition::Auto,
            [(ConfChangeKind::AddNode, 4), (ConfChangeKind::AddNode, 5)],
        );
        network.node(1).propose_conf_change(change).unwrap();
        // Deliver only the change entry to node 2 and apply it there.
        network.isolate(3);
        network.settle();
        let applied: Vec<ConfChange> = network.applied[&2]
            .iter()
            .filter_map(|e| e.conf_change())
            .collect();
        let first = network.get(1).conf_state();
        (applied.len(), first.voters.len())
    };
    // Correct: enter joint, then leave (two entries). Mutant: one step to five voters.
    assert_eq!(
        off_and_on(Mutant::DirectMultiChange, script),
        ((2, 5), (1, 5))
    );
}

#[test]
fn conf_change_before_noop() {
    let script = |m: Option<Mutant>| {
        let mut network = Network::with_config(&[1, 2, 3], mutant(m));
        network.filter = Some(Box::new(|m| m.kind == MessageKind::AppendResponse));
        network.elect(1);
        network
            .node(1)
            .propose_conf_change(ConfChange::single(ConfChangeKind::RemoveNode, 3))
            .is_ok()
    };
    assert_eq!(
        off_and_on(Mutant::ConfChangeBeforeNoop, script),
        (false, true)
    );
}

#[test]
fn read_index_before_noop() {
    let script = |m: Option<Mutant>| {
        let mut network = Network::with_config(&[1, 2, 3], mutant(m));
        network.elect(1);
        network.propose(1, b"x");
        network.filter = Some(Box::new(|m| m.kind == MessageKind::AppendResponse));
        network.elect(2);
        network.node(2).read_index(b"r".to_vec()).unwrap();
        network.settle();
        network.read_states.get(&2).cloned().unwrap_or_default()
    };
    let (correct, mutated) = off_and_on(Mutant::ReadIndexBeforeNoop, script);
    assert!(correct.is_empty());
    assert_eq!(
        mutated.len(),
        1,
        "answered before the no-op committed: {mutated:?}"
    );
}

#[test]
fn read_context_reuse() {
    // A replayed heartbeat ack of an earlier round confirms a new read under the mutant.
    let script = |m: Option<Mutant>| {
        let mut network = Network::with_config(&[1, 2, 3], mutant(m));
        network.elect(1);
        network.node(1).read_index(b"a".to_vec()).unwrap();
        network.settle();
        network.isolate(1);
        network.node(1).read_index(b"b".to_vec()).unwrap();
        let stale_ack = network
            .delivered
            .iter()
            .rev()
            .find(|m| m.kind == MessageKind::HeartbeatResponse)
            .unwrap()
            .clone();
        network.node(1).step(stale_ack).unwrap();
        network.settle();
        network.read_states[&1]
            .iter()
            .map(|r| r.request_ctx.clone())
            .collect::<Vec<_>>()
    };
    let (correct, mutated) = off_and_on(Mutant::ReadContextReuse, script);
    assert_eq!(correct, vec![b"a".to_vec()]);
    assert_eq!(mutated, vec![b"a".to_vec(), b"b".to_vec()]);
}

#[test]
fn leader_local_read() {
    let script = |m: Option<Mutant>| {
        let mut network = Network::with_config(&[1, 2, 3], mutant(m));
        network.elect(1);
        network.isolate(1);
        network.node(1).read_index(b"r".to_vec()).unwrap();
        network.settle();
        network.read_states.get(&1).cloned().unwrap_or_default()
    };
    let (correct, mutated) = off_and_on(Mutant::LeaderLocalRead, script);
    assert!(correct.is_empty());
    assert_eq!(
        mutated,
        vec![ReadState {
            index: 1,
            request_ctx: b"r".to_vec()
        }]
    );
}

/// A mutant the kv crate acts on: the core must behave identically with it on.
fn kv_mutant_leaves_the_core_alone(which: Mutant) {
    assert!(which.is_kv(), "{which}");
    let script = |m: Option<Mutant>| {
        let mut network = Network::with_config(&[1, 2, 3], mutant(m));
        network.elect(1);
        network.propose(1, b"x");
        network.tick_all(30);
        network.delivered
    };
    let (correct, mutated) = off_and_on(which, script);
    assert_eq!(correct, mutated);
}

#[test]
fn no_dedup() {
    kv_mutant_leaves_the_core_alone(Mutant::NoDedup);
}

#[test]
fn read_before_applied() {
    kv_mutant_leaves_the_core_alone(Mutant::ReadBeforeApplied);
}

#[test]
fn snapshot_off_by_one() {
    kv_mutant_leaves_the_core_alone(Mutant::SnapshotOffByOne);
}

/// A follower (node 1) at term 3 whose log holds entries of these terms.
fn follower_with_log(m: Option<Mutant>, terms: &[u64]) -> RawNode<raft::MemStorage> {
    let mut config = test_config(1);
    mutant(m)(&mut config);
    RawNode::new(
        config,
        storage_with_log(&[1, 2, 3], terms, 3),
        Box::new(|| 0),
    )
    .unwrap()
}

/// An append from node 2: after `prev_index@prev_term`, entries of these terms, and a commit.
fn append(term: u64, prev: (u64, u64), terms: &[u64], commit: u64) -> Message {
    let entries = terms
        .iter()
        .enumerate()
        .map(|(i, &term)| raft::Entry {
            term,
            index: prev.0 + 1 + i as u64,
            ..raft::Entry::default()
        })
        .collect();
    Message {
        index: prev.0,
        log_term: prev.1,
        entries,
        commit,
        ..message(MessageKind::Append, 2, 1, term)
    }
}

#[test]
fn heartbeat_commit_beyond_match() {
    // Node 3 is cut off while 2@1 commits: its heartbeat must not carry commit 2.
    let script = |m: Option<Mutant>| {
        let mut network = Network::with_config(&[1, 2, 3], mutant(m));
        network.elect(1);
        network.isolate(3);
        network.propose(1, b"y");
        network.node(1).heartbeat_now();
        let ready = network.node(1).ready();
        let to_3 = ready
            .messages
            .iter()
            .find(|m| m.kind == MessageKind::Heartbeat && m.to == 3)
            .unwrap();
        (network.get(1).commit_index(), to_3.commit)
    };
    assert_eq!(
        off_and_on(Mutant::HeartbeatCommitBeyondMatch, script),
        ((2, 1), (2, 2))
    );
}

#[test]
fn match_to_last_index() {
    // Node 2 acknowledges index 1 only; the leader's log ends at 2.
    let script = |m: Option<Mutant>| {
        let mut network = Network::with_config(&[1, 2, 3], mutant(m));
        network.elect(1);
        network.isolate(2);
        network.isolate(3);
        network.node(1).propose(b"x".to_vec()).unwrap();
        network.settle();
        let ack = Message {
            index: 1,
            ..message(MessageKind::AppendResponse, 2, 1, 1)
        };
        network.node(1).step(ack).unwrap();
        network.get(1).progress(2).unwrap().match_index
    };
    assert_eq!(off_and_on(Mutant::MatchToLastIndex, script), (1, 2));
}

#[test]
fn prevote_counted_as_vote() {
    // Two pre-vote grants of five voters and the candidate's own vote: no real grant yet.
    let script = |m: Option<Mutant>| {
        let mut config = test_config(1);
        config.pre_vote = true;
        mutant(m)(&mut config);
        let storage = storage_with_log(&[1, 2, 3, 4, 5], &[], 0);
        let mut node = RawNode::new(config, storage, Box::new(|| 0)).unwrap();
        node.campaign();
        let _ = node.ready();
        node.advance();
        for from in [2, 3] {
            node.step(message(MessageKind::PreVoteResponse, from, 1, 1))
                .unwrap();
        }
        let _ = node.ready();
        node.advance();
        (node.term(), node.role())
    };
    assert_eq!(
        off_and_on(Mutant::PreVoteCountedAsVote, script),
        ((1, Role::Candidate), (1, Role::Leader))
    );
}

#[test]
fn append_without_prev_term_check() {
    // The follower holds 3@2, the leader's previous entry is 3@3.
    let script = |m: Option<Mutant>| {
        let mut node = follower_with_log(m, &[1, 1, 2]);
        node.step(append(3, (3, 3), &[3], 0)).unwrap();
        node.last_index()
    };
    assert_eq!(
        off_and_on(Mutant::AppendWithoutPrevTermCheck, script),
        (3, 4)
    );
}

#[test]
fn commit_half_quorum() {
    // The leader alone holds 2@1: one of three voters is half, not a majority.
    let script = |m: Option<Mutant>| {
        let mut network = Network::with_config(&[1, 2, 3], mutant(m));
        network.elect(1);
        network.isolate(1);
        network.node(1).propose(b"x".to_vec()).unwrap();
        network.settle();
        network.get(1).commit_index()
    };
    assert_eq!(off_and_on(Mutant::CommitHalfQuorum, script), (1, 2));
}

#[test]
fn vote_half_quorum() {
    // Four voters, one grant besides its own: two of four is half, not a majority.
    let script = |m: Option<Mutant>| {
        let mut config = test_config(1);
        mutant(m)(&mut config);
        let storage = storage_with_log(&[1, 2, 3, 4], &[], 0);
        let mut node = RawNode::new(config, storage, Box::new(|| 0)).unwrap();
        node.campaign();
        let _ = node.ready();
        node.advance();
        node.step(message(MessageKind::VoteResponse, 2, 1, 1))
            .unwrap();
        node.role()
    };
    assert_eq!(
        off_and_on(Mutant::VoteHalfQuorum, script),
        (Role::Candidate, Role::Leader)
    );
}

/// The state `vote-half-quorum` needs, in the correct code: a candidate holding half the
/// votes hears from a leader of its own term (the mutant would be a second leader of it).
#[test]
fn a_candidate_at_half_the_votes_deposed_in_its_term_reaches_vote_lost_at_half() {
    let deposed_after = |grants: &[u64]| {
        let storage = storage_with_log(&[1, 2, 3, 4], &[], 0);
        let mut node = RawNode::new(test_config(1), storage, Box::new(|| 0)).unwrap();
        node.campaign();
        let _ = node.ready();
        node.advance();
        for &from in grants {
            node.step(message(MessageKind::VoteResponse, from, 1, 1))
                .unwrap();
        }
        let _ = node.take_marks();
        node.step(message(MessageKind::Heartbeat, 4, 1, 1)).unwrap();
        assert_eq!(node.role(), Role::Follower);
        node.take_marks()
            .iter()
            .any(|(mark, _)| mark == raft::Mark::VoteLostAtHalf)
    };
    // Two of four voters (its own and one) is half; its own alone is not.
    assert!(deposed_after(&[2]));
    assert!(!deposed_after(&[]));
}

#[test]
fn follower_local_read() {
    // A follower cut off from its leader: correct code forwards the read and gets no answer.
    let script = |m: Option<Mutant>| {
        let mut network = Network::with_config(&[1, 2, 3], mutant(m));
        network.elect(1);
        network.isolate(2);
        network.propose(1, b"x");
        network.node(2).read_index(b"r".to_vec()).unwrap();
        network.settle();
        network.read_states.get(&2).cloned().unwrap_or_default()
    };
    let (correct, mutated) = off_and_on(Mutant::FollowerLocalRead, script);
    assert!(correct.is_empty(), "{correct:?}");
    assert_eq!(
        mutated,
        vec![ReadState {
            index: 1,
            request_ctx: b"r".to_vec()
        }],
        "index 2 is committed at the leader"
    );
}

#[test]
fn truncate_without_conflict() {
    // A late duplicate of the append that carried 2@1 arrives after 3@1 and 4@1.
    let script = |m: Option<Mutant>| {
        let mut node = follower_with_log(m, &[1, 1, 1, 1]);
        node.step(append(3, (1, 1), &[1], 0)).unwrap();
        node.last_index()
    };
    assert_eq!(off_and_on(Mutant::TruncateWithoutConflict, script), (4, 2));
}

#[test]
fn every_mutant_has_a_test_here() {
    // Keeps this file in step with BRIEF §9.
    let source = include_str!("mutants.rs");
    for mutant in Mutant::ALL {
        let function = mutant.name().replace('-', "_");
        assert!(
            source.contains(&format!("fn {function}")),
            "no test for {mutant}"
        );
    }
}
