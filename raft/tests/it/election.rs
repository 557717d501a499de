//! §5.2 leader election, §5.4.1 the election restriction, PreVote and CheckQuorum (§9.6).

use raft::{Config, HardState, MemStorage, Message, MessageKind, RawNode, Role};

use crate::support::*;

#[test]
fn a_candidate_with_a_majority_becomes_leader_and_appends_a_noop() {
    // Goal: §5.2 basic election. Method: node 1 campaigns in a healthy 3-node cluster.
    let mut network = Network::new(&[1, 2, 3]);
    network.elect(1);
    assert_eq!(network.get(1).term(), 1);
    for id in [2, 3] {
        assert_eq!(network.get(id).role(), Role::Follower);
        assert_eq!(network.get(id).leader(), Some(1));
        assert_eq!(network.get(id).vote(), Some(1));
    }
    // The no-op of term 1 is committed everywhere.
    for id in [1, 2, 3] {
        assert_eq!(network.get(id).commit_index(), 1, "node {id}");
        assert_eq!(network.get(id).term_at(1), Some(1));
    }
}

#[test]
fn election_outcome_table() {
    // Goal: a candidate needs a majority of voters. Method: cut the candidate off from some peers.
    // (cluster size, peers reachable from candidate 1, wins)
    let cases: [(u64, &[u64], bool); 6] = [
        (1, &[], true),
        (3, &[2], true),
        (3, &[], false),
        (4, &[2], false),
        (4, &[2, 3], true),
        (5, &[2, 3], true),
    ];
    for (size, reachable, wins) in cases {
        let ids: Vec<u64> = (1..=size).collect();
        let mut network = Network::new(&ids);
        for &id in &ids[1..] {
            if !reachable.contains(&id) {
                network.cut.insert((1, id));
            }
        }
        network.campaign(1);
        let role = network.get(1).role();
        assert_eq!(
            role == Role::Leader,
            wins,
            "size {size}, reachable {reachable:?}: {role:?}"
        );
    }
}

#[test]
fn election_timeout_uses_the_driver_jitter() {
    // Goal: the randomized timeout is election_tick + jitter from the driver. Method: jitter 3,
    // election_tick 10: no campaign after 12 ticks, a campaign at tick 13.
    let storage = MemStorage::new_with_conf_state(raft::ConfState::with_voters([1, 2, 3]));
    let mut node = RawNode::new(test_config(1), storage, Box::new(|| 3)).unwrap();
    for _ in 0..12 {
        node.tick();
    }
    assert_eq!(node.role(), Role::Follower);
    node.tick();
    assert_eq!(node.role(), Role::Candidate);
    assert_eq!(node.term(), 1);
    let ready = node.ready();
    let votes: Vec<&Message> = ready
        .persisted_messages
        .iter()
        .filter(|m| m.kind == MessageKind::Vote)
        .collect();
    assert_eq!(
        votes.len(),
        2,
        "vote requests wait for the self-vote to be durable"
    );
    assert!(ready.messages.is_empty());
    assert_eq!(ready.hard_state.unwrap().vote, Some(1));
    assert!(ready.must_sync);
}

#[test]
fn split_vote_retries_at_a_higher_term() {
    // Goal: a split vote ends in a new election. Method: 1 and 2 campaign at once in a 4-node
    // cluster with 3 and 4 voting one each; then 1 times out again and wins.
    let mut network = Network::new(&[1, 2, 3, 4]);
    network.cut.insert((2, 3));
    network.cut.insert((1, 4));
    network.node(1).campaign();
    network.node(2).campaign();
    network.settle();
    assert!(network.leaders().is_empty(), "nobody has 3 of 4 votes");
    network.heal();
    network.tick(1, 20);
    assert_eq!(network.get(1).role(), Role::Leader);
    assert_eq!(network.get(1).term(), 2);
}

#[test]
fn up_to_date_vote_rule_table() {
    // Goal: §5.4.1, a vote is granted only to a candidate whose log is at least as up to date.
    // Method: a voter with log terms 1 1 2 receives RequestVote with various last entries.
    // (candidate last index, last term, granted)
    let cases = [
        (3, 2, true),
        (4, 2, true),
        (2, 2, false),
        (1, 3, true),
        (5, 1, false),
        (3, 1, false),
    ];
    for (index, log_term, granted) in cases {
        let storage = storage_with_log(&[1, 2], &[1, 1, 2], 2);
        let mut node = RawNode::new(test_config(1), storage, Box::new(|| 0)).unwrap();
        let request = Message {
            index,
            log_term,
            ..message(MessageKind::Vote, 2, 1, 3)
        };
        node.step(request).unwrap();
        let ready = node.ready();
        let reply = &ready.persisted_messages[0];
        assert_eq!(reply.kind, MessageKind::VoteResponse);
        assert_eq!(!reply.reject, granted, "candidate {index}@{log_term}");
        assert_eq!(
            node.vote(),
            granted.then_some(2),
            "candidate {index}@{log_term}"
        );
        assert_eq!(node.term(), 3, "the higher term is adopted either way");
    }
}

#[test]
fn one_vote_per_term() {
    // Goal: a node votes at most once per term. Method: 2 and then 3 ask node 1 for term 1.
    let mut node = RawNode::new(
        test_config(1),
        storage_with_log(&[1, 2, 3], &[], 0),
        Box::new(|| 0),
    )
    .unwrap();
    node.step(message(MessageKind::Vote, 2, 1, 1)).unwrap();
    node.step(message(MessageKind::Vote, 3, 1, 1)).unwrap();
    // Asking again as the same candidate is granted again (a retried request).
    node.step(message(MessageKind::Vote, 2, 1, 1)).unwrap();
    let replies: Vec<(u64, bool)> = node
        .ready()
        .persisted_messages
        .iter()
        .map(|m| (m.to, m.reject))
        .collect();
    assert_eq!(replies, vec![(2, false), (3, true), (2, false)]);
}

#[test]
fn candidate_steps_down_on_append_of_its_term() {
    let mut network = Network::new(&[1, 2, 3]);
    network.node(2).campaign(); // term 1, but its vote requests are never delivered
    network.queue.clear();
    let _ = network.node(2).ready();
    network.node(2).advance();
    assert_eq!(network.get(2).role(), Role::Candidate);
    network
        .node(2)
        .step(Message {
            index: 0,
            log_term: 0,
            ..message(MessageKind::Append, 1, 2, 1)
        })
        .unwrap();
    assert_eq!(network.get(2).role(), Role::Follower);
    assert_eq!(network.get(2).leader(), Some(1));
}

#[test]
fn stale_term_messages_are_ignored() {
    let mut network = Network::new(&[1, 2, 3]);
    network.elect(1);
    network.elect(2);
    assert_eq!(network.get(2).term(), 2);
    let before = network.get(2).commit_index();
    network
        .node(2)
        .step(Message {
            commit: 99,
            ..message(MessageKind::Heartbeat, 1, 2, 1)
        })
        .unwrap();
    assert_eq!(network.get(2).role(), Role::Leader);
    assert_eq!(network.get(2).commit_index(), before);
}

mod pre_vote {
    use super::*;

    fn pre_vote_network(ids: &[u64]) -> Network {
        Network::with_config(ids, |config: &mut Config| config.pre_vote = true)
    }

    #[test]
    fn pre_vote_does_not_change_terms_until_it_wins() {
        // Goal: a PreVote round changes no term. Method: isolated node 3 campaigns repeatedly.
        let mut network = pre_vote_network(&[1, 2, 3]);
        network.elect(1);
        network.isolate(3);
        for _ in 0..5 {
            network.campaign(3);
        }
        assert_eq!(
            network.get(3).term(),
            1,
            "pre-candidate never increments its term"
        );
        assert_eq!(network.get(3).role(), Role::PreCandidate);
        network.heal();
        // Back in contact, the stranded node rejoins without disrupting the leader.
        network.tick(1, 2);
        assert_eq!(network.get(1).role(), Role::Leader);
        assert_eq!(network.get(1).term(), 1);
        assert_eq!(network.get(3).role(), Role::Follower);
        assert_eq!(network.get(3).leader(), Some(1));
    }

    #[test]
    fn pre_vote_then_vote_elects_a_leader() {
        let mut network = pre_vote_network(&[1, 2, 3]);
        network.elect(1);
        assert_eq!(network.get(1).term(), 1);
        assert!(network.count_delivered(|m| m.kind == MessageKind::PreVote && m.term == 1) >= 2);
        network.elect(2);
        assert_eq!(network.get(2).term(), 2);
    }

    #[test]
    fn pre_vote_grant_rules_table() {
        // Goal: PreVote replies. A voter grants a pre-vote for a higher term when the log is up
        // to date, even though it voted in its own term, and keeps its own term.
        // (voter term, voted for, candidate pre-vote term, candidate last term, granted)
        let cases = [
            (1, Some(2), 2, 1, true),
            (1, Some(2), 2, 0, false),
            (1, Some(2), 1, 1, false),
            (1, None, 1, 1, true),
        ];
        for (term, vote, request_term, log_term, granted) in cases {
            let mut storage = storage_with_log(&[1, 2, 3], &[1], term);
            storage.set_hard_state(raft::HardState {
                term,
                vote,
                commit: 0,
            });
            let mut node = RawNode::new(test_config(1), storage, Box::new(|| 0)).unwrap();
            let request = Message {
                index: 1,
                log_term,
                ..message(MessageKind::PreVote, 3, 1, request_term)
            };
            node.step(request).unwrap();
            let ready = node.ready();
            let reply = &ready.persisted_messages[0];
            assert_eq!(reply.kind, MessageKind::PreVoteResponse);
            assert_eq!(
                !reply.reject, granted,
                "term {term} vote {vote:?} request {request_term} last {log_term}"
            );
            assert_eq!(
                node.term(),
                term,
                "a pre-vote never changes the voter's term"
            );
            assert_eq!(node.vote(), vote);
        }
    }

    #[test]
    fn a_node_with_a_smaller_term_can_still_win() {
        // Goal: BRIEF S6(C). Method: node 3 sits at term 5 with a short log; node 1 (term 1, longer
        // log) learns the term from 3's pre-vote rejection and wins its next campaign.
        let storages = vec![
            (1, storage_with_log(&[1, 2, 3], &[1, 1], 1)),
            (2, storage_with_log(&[1, 2, 3], &[1, 1], 1)),
            (3, storage_with_log(&[1, 2, 3], &[1], 5)),
        ];
        let mut network = Network::with_storages(storages, |config| config.pre_vote = true);
        network.campaign(1);
        assert_eq!(network.get(1).role(), Role::Follower);
        assert_eq!(network.get(1).term(), 5, "adopted from the rejection");
        network.campaign(1);
        assert_eq!(network.leaders(), vec![1]);
        assert_eq!(network.get(1).term(), 6);
    }
}

mod check_quorum {
    use super::*;

    fn check_quorum_network(ids: &[u64]) -> Network {
        Network::with_config(ids, |config: &mut Config| {
            config.check_quorum = true;
            config.pre_vote = true;
        })
    }

    #[test]
    fn isolated_leader_steps_down_within_an_election_timeout() {
        // Goal: BRIEF S6(D). Method: isolate the leader and tick it.
        let mut network = check_quorum_network(&[1, 2, 3]);
        network.elect(1);
        network.isolate(1);
        let election_tick = network.get(1).config().election_tick;
        network.tick(1, election_tick * 2);
        assert_eq!(network.get(1).role(), Role::Follower);
        assert_eq!(network.get(1).leader(), None);
    }

    #[test]
    fn leader_with_a_quorum_stays() {
        let mut network = check_quorum_network(&[1, 2, 3]);
        network.elect(1);
        network.isolate(3);
        network.tick(1, 50);
        assert_eq!(network.get(1).role(), Role::Leader);
    }

    #[test]
    fn followers_with_a_recent_leader_ignore_vote_requests() {
        // Goal: the CheckQuorum lease. Method: node 2 heard from leader 1 just now; a higher-term
        // vote request from 3 is ignored (no reply, no term change).
        let mut network = check_quorum_network(&[1, 2, 3]);
        network.elect(1);
        let request = Message {
            index: 9,
            log_term: 9,
            ..message(MessageKind::Vote, 3, 2, 5)
        };
        network.node(2).step(request.clone()).unwrap();
        assert_eq!(network.get(2).term(), 1);
        assert!(!network.node(2).has_ready());
        // Once a whole election timeout passed without the leader, the request is heard.
        network.isolate(2);
        network.tick(2, 10);
        network.node(2).step(request).unwrap();
        assert_eq!(network.get(2).term(), 5);
    }

    #[test]
    fn one_cut_link_does_not_flip_leadership() {
        // Goal: BRIEF S6(A). Method: cut only the 1-2 link; with PreVote and CheckQuorum node 1
        // stays leader of term 1 while everybody ticks.
        let mut network = check_quorum_network(&[1, 2, 3]);
        network.elect(1);
        network.cut.insert((1, 2));
        network.cut.insert((2, 1));
        network.tick_all(100);
        assert_eq!(network.leaders(), vec![1]);
        assert_eq!(network.get(1).term(), 1);
    }

    #[test]
    fn without_prevote_and_check_quorum_a_cut_link_raises_the_term() {
        // The contrast to the test above: the term keeps growing.
        let mut network = Network::new(&[1, 2, 3]);
        network.elect(1);
        network.cut.insert((1, 2));
        network.cut.insert((2, 1));
        network.tick_all(100);
        assert!(
            network.get(3).term() > 1,
            "term stayed at {}",
            network.get(3).term()
        );
    }
}

#[test]
fn pre_votes_are_refused_within_the_leader_lease() {
    // Goal: CheckQuorum's lease also covers PreVote. Method: a follower that just heard from
    // its leader ignores a higher-term pre-vote, even from a candidate with a longer log.
    let mut network = Network::with_config(&[1, 2, 3], |config: &mut Config| {
        config.check_quorum = true;
        config.pre_vote = true;
    });
    network.elect(1);
    let request = Message {
        index: 9,
        log_term: 9,
        ..message(MessageKind::PreVote, 3, 2, 2)
    };
    network.node(2).step(request).unwrap();
    assert!(!network.node(2).has_ready(), "no reply at all");
}

/// A refused vote carries the voter's commit index and its entry's term; a candidate holding
/// that entry learns it is committed (so, with configurations taking effect when applied, it
/// can apply a change that makes it the only voter: etcd issue 12359). A candidate whose entry
/// at that index has another term learns nothing.
#[test]
fn refused_votes_teach_the_candidate_the_commit_index() {
    for (candidate_log, learned) in [(&[1, 1, 1, 2, 2][..], 5), (&[1, 1, 1, 1, 1][..], 0)] {
        let mut voter = storage_with_log(&[1, 2, 3], &[1, 1, 1, 2, 2, 2], 2);
        voter.set_hard_state(HardState {
            term: 2,
            vote: None,
            commit: 5,
        });
        let mut network = Network::with_storages(
            vec![
                (1, storage_with_log(&[1, 2, 3], candidate_log, 2)),
                (2, voter),
            ],
            |_| {},
        );
        network.campaign(1);
        assert_ne!(network.get(1).role(), Role::Leader);
        assert_eq!(
            network.get(1).commit_index(),
            learned,
            "candidate log {candidate_log:?}"
        );
    }
}

/// A voter that holds and has committed the candidate's last entry names that entry, even when
/// its own commit index lies beyond the candidate's log (where the commit index itself would
/// teach the candidate nothing).
#[test]
fn a_refused_vote_names_the_candidates_last_entry_when_committed() {
    let mut voter = storage_with_log(&[1, 2, 3], &[1, 1, 1, 2, 2, 2], 2);
    voter.set_hard_state(HardState {
        term: 2,
        vote: None,
        commit: 6,
    });
    let mut network = Network::with_storages(
        vec![
            (1, storage_with_log(&[1, 2, 3], &[1, 1, 1, 2, 2], 2)),
            (2, voter),
        ],
        |_| {},
    );
    network.campaign(1);
    assert_ne!(network.get(1).role(), Role::Leader);
    assert_eq!(network.get(1).commit_index(), 5);
}
