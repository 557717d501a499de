//! etcd-raft's `raft_test.go`, elections: campaigns, votes and pre-votes, learners,
//! CheckQuorum's lease, and a candidate's own vote counting only once it is durable.

use raft::{Config, MessageKind, NodeId, Role};

use super::paper::become_follower;
use super::support::*;

fn pre_vote(config: &mut Config) {
    config.pre_vote = true;
}

fn check_quorum(config: &mut Config) {
    config.check_quorum = true;
}

/// etcd's `entsWithConfig`: a node of cluster `ids` whose log has these terms, at the last one.
fn node_with_log(id: NodeId, ids: &[NodeId], terms: &[u64], edit: impl Fn(&mut Config)) -> Node {
    let last_term = *terms.last().expect("a log");
    let storage = storage_with_log(ids, &entries(1, terms), hard_state(last_term, None, 0));
    let mut config = test_config(id, 5, 1);
    edit(&mut config);
    new_node(config, storage)
}

/// etcd's `votedWithConfig`: a node that voted for `vote` in `term` and holds no entries.
fn voted_node(
    id: NodeId,
    ids: &[NodeId],
    vote: NodeId,
    term: u64,
    edit: impl Fn(&mut Config),
) -> Node {
    let storage = storage_with_log(ids, &[], hard_state(term, Some(vote), 0));
    let mut config = test_config(id, 5, 1);
    edit(&mut config);
    new_node(config, storage)
}

fn check_leader_election(pre_vote_on: bool) {
    // An election is won with a majority of the voters (black holes never answer), and lost
    // against voters whose logs are more up to date. Without a majority the candidate waits;
    // with PreVote it waits as a pre-candidate, its term unchanged.
    let edit = move |c: &mut Config| c.pre_vote = pre_vote_on;
    let (waiting_role, waiting_term) = if pre_vote_on {
        (Role::PreCandidate, 0)
    } else {
        (Role::Candidate, 1)
    };
    let ids: Vec<NodeId> = (1..=5).collect();
    let cases: Vec<(Net, Role, u64)> = vec![
        (
            Net::with_config(edit, vec![None, None, None]),
            Role::Leader,
            1,
        ),
        (
            Net::with_config(edit, vec![None, None, black_hole()]),
            Role::Leader,
            1,
        ),
        (
            Net::with_config(edit, vec![None, black_hole(), black_hole()]),
            waiting_role,
            waiting_term,
        ),
        (
            Net::with_config(edit, vec![None, black_hole(), black_hole(), None]),
            waiting_role,
            waiting_term,
        ),
        (
            Net::with_config(edit, vec![None, black_hole(), black_hole(), None, None]),
            Role::Leader,
            1,
        ),
        // Three logs further along, in the same term: they refuse rather than ignore.
        (
            Net::with_config(
                edit,
                vec![
                    None,
                    peer(node_with_log(2, &ids, &[1], edit)),
                    peer(node_with_log(3, &ids, &[1], edit)),
                    peer(node_with_log(4, &ids, &[1, 1], edit)),
                    None,
                ],
            ),
            Role::Follower,
            1,
        ),
    ];
    for (case, (mut net, role, term)) in cases.into_iter().enumerate() {
        net.campaign(1);
        assert_eq!(
            net.get(1).role(),
            role,
            "case {case} pre_vote={pre_vote_on}"
        );
        assert_eq!(
            net.get(1).term(),
            term,
            "case {case} pre_vote={pre_vote_on}"
        );
    }
}

#[test]
fn leader_election() {
    check_leader_election(false);
}

#[test]
fn leader_election_pre_vote() {
    check_leader_election(true);
}

#[test]
fn learner_election_timeout() {
    // A learner never campaigns, even when its election timer fires.
    let mut learner = new_test_raft(2, 10, 1, storage(&[1], &[2]));
    become_follower(&mut learner, 1, None);
    learner.set_randomized_election_timeout(10);
    for _ in 0..10 {
        learner.tick();
    }
    assert_eq!(learner.role(), Role::Follower);
    assert!(read_messages(&mut learner).is_empty());
}

#[test]
fn learner_promotion() {
    // A learner campaigns only once it is promoted to voter.
    let mut n1 = new_test_raft(1, 10, 1, storage(&[1], &[2]));
    let mut n2 = new_test_raft(2, 10, 1, storage(&[1], &[2]));
    become_follower(&mut n1, 1, None);
    become_follower(&mut n2, 1, None);
    let mut net = Net::new(vec![peer(n1), peer(n2)]);
    assert_ne!(net.get(1).role(), Role::Leader);
    net.node(1).set_randomized_election_timeout(10);
    net.act(1, |n1| (0..10).for_each(|_| n1.tick()));
    assert_eq!(net.get(1).role(), Role::Leader);
    assert_eq!(net.get(2).role(), Role::Follower);
    net.beat(1);
    let promote = raft::ConfChange::single(raft::ConfChangeKind::AddNode, 2);
    net.node(1).apply_conf_change(&promote).unwrap();
    net.node(2).apply_conf_change(&promote).unwrap();
    assert!(!net.get(2).is_learner());
    net.node(2).set_randomized_election_timeout(10);
    net.act(2, |n2| (0..10).for_each(|_| n2.tick()));
    net.beat(2);
    assert_eq!(net.get(1).role(), Role::Follower);
    assert_eq!(net.get(2).role(), Role::Leader);
}

#[test]
fn learner_can_vote() {
    // A learner asked to vote votes: the candidate's configuration may already have promoted
    // it, and refusing could leave the cluster without a quorum.
    let mut learner = new_test_raft(2, 10, 1, storage(&[1], &[2]));
    become_follower(&mut learner, 1, None);
    let mut vote = message(MessageKind::Vote, 1, 2, 2);
    (vote.log_term, vote.index) = (11, 11);
    learner.step(vote).unwrap();
    let messages = read_messages(&mut learner);
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].kind, MessageKind::VoteResponse);
    assert!(!messages[0].reject, "the learner grants its vote");
}

fn check_leader_cycle(pre_vote_on: bool) {
    // Every node can campaign and win in turn, not only from a fresh cluster.
    let mut net = Net::with_config(move |c| c.pre_vote = pre_vote_on, vec![None, None, None]);
    for campaigner in 1..=3 {
        net.campaign(campaigner);
        for id in 1..=3 {
            let expected = if id == campaigner {
                Role::Leader
            } else {
                Role::Follower
            };
            assert_eq!(
                net.get(id).role(),
                expected,
                "pre_vote={pre_vote_on}: campaigner {campaigner}, node {id}"
            );
        }
    }
}

#[test]
fn leader_cycle() {
    check_leader_cycle(false);
}

#[test]
fn leader_cycle_pre_vote() {
    check_leader_cycle(true);
}

fn check_leader_election_overwrite_newer_logs(pre_vote_on: bool) {
    // A new leader need not hold the entries of the highest term: it overwrites them.
    // Node 1 won term 1 and replicated one entry to node 2; node 3 won term 2 and wrote an
    // entry only to its own log; nodes 4 and 5 voted for 3 in term 2.
    let edit = move |c: &mut Config| c.pre_vote = pre_vote_on;
    let ids: Vec<NodeId> = (1..=5).collect();
    let mut net = Net::with_config(
        edit,
        vec![
            peer(node_with_log(1, &ids, &[1], edit)),
            peer(node_with_log(2, &ids, &[1], edit)),
            peer(node_with_log(3, &ids, &[2], edit)),
            peer(voted_node(4, &ids, 3, 2, edit)),
            peer(voted_node(5, &ids, 3, 2, edit)),
        ],
    );
    // A quorum knows of term 2: node 1 loses, and learns the term.
    net.campaign(1);
    assert_eq!(net.get(1).role(), Role::Follower);
    assert_eq!(net.get(1).term(), 2);
    // Campaigning again, in term 3, it wins.
    net.campaign(1);
    assert_eq!(net.get(1).role(), Role::Leader);
    assert_eq!(net.get(1).term(), 3);
    for id in ids {
        assert_eq!(log_terms(net.get(id)), vec![1, 3], "node {id}");
    }
}

#[test]
fn leader_election_overwrite_newer_logs() {
    check_leader_election_overwrite_newer_logs(false);
}

#[test]
fn leader_election_overwrite_newer_logs_pre_vote() {
    check_leader_election_overwrite_newer_logs(true);
}

/// A node of (1, 2, 3) at term 1 in `role`.
fn node_in_role(role: Role) -> Node {
    let storage = storage_with_log(&[1, 2, 3], &[], hard_state(1, None, 0));
    let mut config = test_config(1, 10, 1);
    config.pre_vote = role == Role::PreCandidate;
    let mut node = new_node(config, storage);
    match role {
        Role::Follower => become_follower(&mut node, 1, Some(3)),
        Role::PreCandidate => {
            node.campaign();
            read_messages(&mut node);
        }
        Role::Candidate => become_candidate(&mut node),
        Role::Leader => become_leader(&mut node),
    }
    assert_eq!(node.role(), role);
    node
}

fn check_vote_from_any_state(kind: MessageKind) {
    // In every role a node grants a vote (or pre-vote) for a higher term to a candidate whose
    // log is up to date; a real vote makes it a follower of that term, a pre-vote changes
    // nothing.
    for role in [
        Role::Follower,
        Role::PreCandidate,
        Role::Candidate,
        Role::Leader,
    ] {
        let mut node = node_in_role(role);
        let (term, vote) = (node.term(), node.vote());
        let new_term = term + 1;
        let mut request = message(kind, 2, 1, new_term);
        (request.log_term, request.index) = (new_term, 42);
        node.step(request).unwrap();
        let messages = read_messages(&mut node);
        assert_eq!(messages.len(), 1, "{kind:?} {role:?}");
        let expected_kind = match kind {
            MessageKind::Vote => MessageKind::VoteResponse,
            _ => MessageKind::PreVoteResponse,
        };
        assert_eq!(messages[0].kind, expected_kind, "{kind:?} {role:?}");
        assert!(!messages[0].reject, "{kind:?} {role:?}");
        if kind == MessageKind::Vote {
            assert_eq!(node.role(), Role::Follower, "{role:?}");
            assert_eq!(node.term(), new_term, "{role:?}");
            assert_eq!(node.vote(), Some(2), "{role:?}");
        } else {
            assert_eq!(node.role(), role);
            assert_eq!(node.term(), term, "{role:?}");
            assert_eq!(node.vote(), vote, "{role:?}");
        }
    }
}

#[test]
fn vote_from_any_state() {
    check_vote_from_any_state(MessageKind::Vote);
}

#[test]
fn pre_vote_from_any_state() {
    check_vote_from_any_state(MessageKind::PreVote);
}

#[test]
fn dueling_candidates() {
    // Two candidates at once: one wins; the other, once reconnected, disrupts the leader with
    // its higher term but cannot win with its shorter log.
    let mut net = Net::of_size(3);
    net.cut(1, 3);
    net.campaign(1);
    net.campaign(3);
    assert_eq!(net.get(1).role(), Role::Leader);
    assert_eq!(net.get(3).role(), Role::Candidate);
    net.recover();
    net.campaign(3);
    assert_eq!(net.get(3).role(), Role::Follower);
    for (id, term, last_index) in [(1, 2, 1), (2, 2, 1), (3, 2, 0)] {
        let node = net.get(id);
        assert_eq!(node.role(), Role::Follower, "node {id}");
        assert_eq!(node.term(), term, "node {id}");
        assert_eq!(node.last_index(), last_index, "node {id}");
    }
}

#[test]
fn dueling_pre_candidates() {
    // With PreVote the second candidate never raises its term, so it cannot disrupt the leader.
    let mut net = Net::with_config(pre_vote, vec![None, None, None]);
    net.cut(1, 3);
    net.campaign(1);
    net.campaign(3);
    assert_eq!(net.get(1).role(), Role::Leader);
    assert_eq!(net.get(3).role(), Role::Follower, "its pre-vote is refused");
    net.recover();
    net.campaign(3);
    for (id, role, term, last_index) in [
        (1, Role::Leader, 1, 1),
        (2, Role::Follower, 1, 1),
        (3, Role::Follower, 1, 0),
    ] {
        let node = net.get(id);
        assert_eq!(node.role(), role, "node {id}");
        assert_eq!(node.term(), term, "node {id}");
        assert_eq!(node.last_index(), last_index, "node {id}");
    }
}

#[test]
fn candidate_concede() {
    // A candidate cut off during another's election concedes to that leader when it hears from
    // it, and takes its log.
    let mut net = Net::of_size(3);
    net.isolate(1);
    net.campaign(1);
    net.campaign(3);
    net.recover();
    net.beat(3);
    net.propose(3, b"force follower");
    net.beat(3);
    assert_eq!(net.get(1).role(), Role::Follower);
    assert_eq!(net.get(1).term(), 1);
    let expected = vec![(1, 1, Vec::new()), (2, 1, b"force follower".to_vec())];
    for id in 1..=3 {
        assert_eq!(log_entries(net.get(id)), expected, "node {id}");
    }
}

#[test]
fn single_node_candidate() {
    let mut net = Net::of_size(1);
    net.campaign(1);
    assert_eq!(net.get(1).role(), Role::Leader);
}

#[test]
fn single_node_pre_candidate() {
    let mut net = Net::with_config(pre_vote, vec![None]);
    net.campaign(1);
    assert_eq!(net.get(1).role(), Role::Leader);
}

#[test]
fn past_election_timeout() {
    // The election timeout is drawn uniformly from [election_tick, 2 * election_tick): the
    // share of draws at or below `elapsed` ticks is (elapsed - 10 + 1) / 10.
    let cases: [(u64, f64, bool); 6] = [
        (5, 0.0, false),
        (10, 0.1, true),
        (13, 0.4, true),
        (15, 0.6, true),
        (18, 0.9, true),
        (20, 1.0, false),
    ];
    for (elapsed, probability, round) in cases {
        let mut node = new_test_raft(1, 10, 1, storage(&[1], &[]));
        let draws = 10_000;
        let mut past = 0;
        for _ in 0..draws {
            // Each new term resets the timer, drawing a new timeout.
            let term = node.term() + 1;
            node.step(message(MessageKind::HeartbeatResponse, 2, 1, term))
                .unwrap();
            if elapsed >= node.randomized_election_timeout() {
                past += 1;
            }
        }
        let mut share = past as f64 / draws as f64;
        if round {
            share = (share * 10.0 + 0.5).floor() / 10.0;
        }
        assert_eq!(share, probability, "{elapsed} ticks elapsed");
    }
}

fn check_recv_msg_vote(kind: MessageKind) {
    // Whether a vote (or pre-vote) is refused, by the voter's role, its vote in the term, and
    // the candidate's log against the voter's (two entries of term 2).
    // (role, candidate's last index, its last term, vote already cast, refused)
    type Case = (Role, u64, u64, Option<NodeId>, bool);
    let cases: [Case; 21] = [
        (Role::Follower, 0, 0, None, true),
        (Role::Follower, 0, 1, None, true),
        (Role::Follower, 0, 2, None, true),
        (Role::Follower, 0, 3, None, false),
        (Role::Follower, 1, 0, None, true),
        (Role::Follower, 1, 1, None, true),
        (Role::Follower, 1, 2, None, true),
        (Role::Follower, 1, 3, None, false),
        (Role::Follower, 2, 0, None, true),
        (Role::Follower, 2, 1, None, true),
        (Role::Follower, 2, 2, None, false),
        (Role::Follower, 2, 3, None, false),
        (Role::Follower, 3, 0, None, true),
        (Role::Follower, 3, 1, None, true),
        (Role::Follower, 3, 2, None, false),
        (Role::Follower, 3, 3, None, false),
        (Role::Follower, 3, 2, Some(2), false),
        (Role::Follower, 3, 2, Some(1), true),
        (Role::Leader, 3, 3, Some(1), true),
        (Role::PreCandidate, 3, 3, Some(1), true),
        (Role::Candidate, 3, 3, Some(1), true),
    ];
    for (role, index, log_term, vote, refused) in cases {
        // Voter and candidate share a term, so that only the vote and the logs decide.
        let term = log_term.max(2);
        let (hard_term, hard_vote) = match role {
            // Campaigning raises the term by one and votes for itself.
            Role::Candidate | Role::Leader => (term - 1, None),
            _ => (term, vote),
        };
        let storage = storage_with_log(
            &[1],
            &entries(1, &[2, 2]),
            hard_state(hard_term, hard_vote, 0),
        );
        let mut config = test_config(1, 10, 1);
        config.pre_vote = role == Role::PreCandidate;
        let mut node = new_node(config, storage);
        match role {
            Role::Leader => {
                node.campaign();
                read_messages(&mut node);
            }
            Role::PreCandidate | Role::Candidate => node.campaign(),
            Role::Follower => {}
        }
        assert_eq!((node.role(), node.term()), (role, term));
        let mut request = message(kind, 2, 1, term);
        (request.index, request.log_term) = (index, log_term);
        node.step(request).unwrap();
        let responses: Vec<_> = read_messages(&mut node)
            .into_iter()
            .filter(|m| m.to == 2)
            .collect();
        let case = format!("{kind:?} to {role:?} voted {vote:?} from {index}@{log_term}");
        assert_eq!(responses.len(), 1, "{case}: {responses:?}");
        assert_eq!(responses[0].reject, refused, "{case}");
    }
}

#[test]
fn recv_msg_vote() {
    check_recv_msg_vote(MessageKind::Vote);
}

#[test]
fn recv_msg_pre_vote() {
    check_recv_msg_vote(MessageKind::PreVote);
}

#[test]
fn state_transition() {
    // The role changes etcd allows are reachable through the API, with the term and leader it
    // expects; the ones it forbids (leader to candidate or pre-candidate, follower to leader)
    // cannot happen: a leader's campaign is a no-op, and votes reach only a candidate.
    let mut node = new_test_raft(1, 10, 1, storage(&[1], &[]));
    become_follower_at(&mut node, 1);
    assert_eq!(
        (node.role(), node.term(), node.leader()),
        (Role::Follower, 1, None)
    );
    node.step(message(MessageKind::VoteResponse, 1, 1, 1))
        .unwrap();
    assert_eq!(
        node.role(),
        Role::Follower,
        "a follower does not count votes"
    );
    // Follower -> candidate -> leader (a single voter wins once its vote is durable).
    node.campaign();
    assert_eq!((node.role(), node.term()), (Role::Candidate, 2));
    read_messages(&mut node);
    assert_eq!((node.role(), node.leader()), (Role::Leader, Some(1)));
    // Leader -> candidate and pre-candidate are refused; leader -> follower is allowed.
    node.campaign();
    assert_eq!((node.role(), node.term()), (Role::Leader, 2));
    become_follower_at(&mut node, 3);
    assert_eq!(
        (node.role(), node.term(), node.leader()),
        (Role::Follower, 3, None)
    );
    // Follower -> pre-candidate -> candidate -> leader with PreVote.
    let mut config = test_config(1, 10, 1);
    config.pre_vote = true;
    let mut node = new_node(config, storage(&[1], &[]));
    node.campaign();
    assert_eq!((node.role(), node.term()), (Role::PreCandidate, 0));
    persist_once(&mut node);
    assert_eq!((node.role(), node.term()), (Role::Candidate, 1));
    persist_once(&mut node);
    assert_eq!(
        (node.role(), node.term(), node.leader()),
        (Role::Leader, 1, Some(1))
    );
}

/// The node learns of `term` from a peer's answer: a follower of no one in that term.
fn become_follower_at(node: &mut Node, term: u64) {
    node.step(message(MessageKind::HeartbeatResponse, 2, node.id(), term))
        .unwrap();
}

#[test]
fn all_server_stepdown() {
    // In every role a node that receives a vote request or append of a higher term becomes a
    // follower of that term (of the sender's leadership for an append); a leader keeps its
    // appended entry.
    let cases = [
        (Role::Follower, 0),
        (Role::PreCandidate, 0),
        (Role::Candidate, 0),
        (Role::Leader, 1),
    ];
    let term = 3;
    for (role, last_index) in cases {
        let mut config = test_config(1, 10, 1);
        config.pre_vote = role == Role::PreCandidate;
        let mut node = new_node(config, storage(&[1, 2, 3], &[]));
        match role {
            Role::Follower => become_follower(&mut node, 1, None),
            Role::PreCandidate => node.campaign(),
            Role::Candidate => become_candidate(&mut node),
            Role::Leader => become_leader(&mut node),
        }
        for kind in [MessageKind::Vote, MessageKind::Append] {
            let mut request = message(kind, 2, 1, term);
            request.log_term = term;
            node.step(request).unwrap();
            let case = format!("{role:?} receiving {kind:?}");
            assert_eq!(node.role(), Role::Follower, "{case}");
            assert_eq!(node.term(), term, "{case}");
            assert_eq!(node.last_index(), last_index, "{case}");
            let leader = (kind == MessageKind::Append).then_some(2);
            assert_eq!(node.leader(), leader, "{case}");
        }
    }
}

fn candidate_reset_term(kind: MessageKind) {
    // A candidate that hears a heartbeat or append from the leader of a higher term takes that
    // term and follows it.
    let mut net = Net::of_size(3);
    net.campaign(1);
    assert_eq!(net.get(1).role(), Role::Leader);
    assert_eq!(net.get(2).role(), Role::Follower);
    assert_eq!(net.get(3).role(), Role::Follower);
    // Isolate 3 and raise the others' term.
    net.isolate(3);
    net.campaign(2);
    net.campaign(1);
    assert_eq!(net.get(1).role(), Role::Leader);
    assert_eq!(net.get(2).role(), Role::Follower);
    // The isolated 3 campaigns.
    let n3 = net.node(3);
    let timeout = n3.randomized_election_timeout();
    for _ in 0..timeout {
        n3.tick();
    }
    read_messages(n3);
    assert_eq!(net.get(3).role(), Role::Candidate);
    net.recover();
    let leader_term = net.get(1).term();
    net.send(vec![message(kind, 1, 3, leader_term)]);
    assert_eq!(net.get(3).role(), Role::Follower);
    assert_eq!(net.get(3).term(), leader_term);
}

#[test]
fn candidate_reset_term_msg_heartbeat() {
    candidate_reset_term(MessageKind::Heartbeat);
}

#[test]
fn candidate_reset_term_msg_app() {
    candidate_reset_term(MessageKind::Append);
}

fn check_candidate_self_vote_after_lost_election(pre_vote_on: bool) {
    // A (pre-)candidate that learns another won before its own vote is durable becomes a
    // follower; its own vote, counted when the sync completes, is then ignored.
    let mut config = test_config(1, 5, 1);
    config.pre_vote = pre_vote_on;
    let mut node = new_node(config, storage(&[1, 2, 3], &[]));
    node.campaign();
    let ready = node.ready(); // holds its own vote until acknowledged
    let term = node.term();
    node.step(message(MessageKind::Heartbeat, 2, 1, term))
        .unwrap();
    assert_eq!(node.role(), Role::Follower);
    node.storage_mut().persist_ready(&ready);
    node.advance();
    assert_eq!(node.role(), Role::Follower);
    // Its own vote did not count: one more granted vote would be a majority otherwise.
    let granted = match pre_vote_on {
        true => message(MessageKind::PreVoteResponse, 3, 1, term + 1),
        false => message(MessageKind::VoteResponse, 3, 1, term),
    };
    node.step(granted).unwrap();
    assert_eq!(node.role(), Role::Follower);
}

#[test]
fn candidate_self_vote_after_lost_election() {
    check_candidate_self_vote_after_lost_election(false);
}

#[test]
fn candidate_self_vote_after_lost_election_pre_vote() {
    check_candidate_self_vote_after_lost_election(true);
}

#[test]
fn candidate_delivers_pre_candidate_self_vote_after_becoming_candidate() {
    // A pre-candidate that wins the pre-vote on its peers' votes alone becomes a candidate;
    // its own late pre-vote is then ignored, and its own vote counts only once durable.
    let mut config = test_config(1, 5, 1);
    config.pre_vote = true;
    let mut node = new_node(config, storage(&[1, 2, 3], &[]));
    node.campaign();
    assert_eq!(node.role(), Role::PreCandidate);
    let pre_vote_ready = node.ready();
    let term = node.term();
    // Pre-votes carry the next term.
    node.step(message(MessageKind::PreVoteResponse, 2, 1, term + 1))
        .unwrap();
    node.step(message(MessageKind::PreVoteResponse, 3, 1, term + 1))
        .unwrap();
    assert_eq!(node.role(), Role::Candidate);
    node.storage_mut().persist_ready(&pre_vote_ready);
    node.advance();
    assert_eq!(
        node.role(),
        Role::Candidate,
        "its late pre-vote changes nothing"
    );
    let vote_ready = node.ready();
    // One vote is no majority without its own, not yet durable.
    let term = node.term();
    node.step(message(MessageKind::VoteResponse, 2, 1, term))
        .unwrap();
    assert_eq!(node.role(), Role::Candidate);
    // Durable, its own vote makes the majority.
    node.storage_mut().persist_ready(&vote_ready);
    node.advance();
    assert_eq!(node.role(), Role::Leader);
}

#[test]
fn leader_msg_app_self_ack_after_term_change() {
    // A leader that steps down before its entries are durable does not count them as its own
    // acknowledgement afterwards.
    let mut node = new_test_raft(1, 5, 1, storage(&[1, 2, 3], &[]));
    become_leader(&mut node);
    node.propose(b"somedata".to_vec()).unwrap();
    let ready = node.ready();
    let term = node.term();
    node.step(message(MessageKind::Heartbeat, 2, 1, term + 1))
        .unwrap();
    assert_eq!(node.role(), Role::Follower);
    node.storage_mut().persist_ready(&ready);
    node.advance();
    assert_eq!(node.role(), Role::Follower);
}

#[test]
fn leader_stepdown_when_quorum_active() {
    // With CheckQuorum a leader that hears from a quorum every election timeout stays leader.
    let mut config = test_config(1, 5, 1);
    config.check_quorum = true;
    let mut node = new_node(config, storage(&[1, 2, 3], &[]));
    become_leader(&mut node);
    for _ in 0..=5 {
        let term = node.term();
        node.step(message(MessageKind::HeartbeatResponse, 2, 1, term))
            .unwrap();
        node.tick();
    }
    assert_eq!(node.role(), Role::Leader);
}

#[test]
fn leader_stepdown_when_quorum_lost() {
    // With CheckQuorum a leader that hears from no quorum within an election timeout steps
    // down.
    let mut config = test_config(1, 5, 1);
    config.check_quorum = true;
    let mut node = new_node(config, storage(&[1, 2, 3], &[]));
    become_leader(&mut node);
    for _ in 0..=5 {
        node.tick();
    }
    assert_eq!(node.role(), Role::Follower);
}

#[test]
fn leader_superseding_with_check_quorum() {
    // With CheckQuorum a follower that heard from the leader within an election timeout
    // ignores a candidate; once that time has passed, it votes.
    let mut net = Net::with_config(check_quorum, vec![None, None, None]);
    net.node(2).set_randomized_election_timeout(11);
    for _ in 0..10 {
        net.node(2).tick();
    }
    net.campaign(1);
    assert_eq!(net.get(1).role(), Role::Leader);
    assert_eq!(net.get(3).role(), Role::Follower);
    net.campaign(3);
    assert_eq!(
        net.get(3).role(),
        Role::Candidate,
        "2 is within the leader's lease"
    );
    net.node(2).set_randomized_election_timeout(11);
    for _ in 0..10 {
        net.node(2).tick();
    }
    net.campaign(3);
    assert_eq!(net.get(3).role(), Role::Leader);
}

#[test]
fn leader_election_with_check_quorum() {
    // With CheckQuorum, votes are cast at once in a new cluster; later, once the voters'
    // leases have run out, another node can win.
    let mut net = Net::with_config(check_quorum, vec![None, None, None]);
    net.node(1).set_randomized_election_timeout(11);
    net.node(2).set_randomized_election_timeout(12);
    net.campaign(1);
    assert_eq!(net.get(1).role(), Role::Leader);
    assert_eq!(net.get(3).role(), Role::Follower);
    net.node(1).set_randomized_election_timeout(11);
    net.node(2).set_randomized_election_timeout(12);
    for id in [1, 2] {
        for _ in 0..10 {
            net.node(id).tick();
        }
    }
    net.campaign(3);
    assert_eq!(net.get(1).role(), Role::Follower);
    assert_eq!(net.get(3).role(), Role::Leader);
}

#[test]
fn free_stuck_candidate_with_check_quorum() {
    // A candidate stuck at a higher term (its votes ignored under the leader's lease) disrupts
    // the leader once it hears from it again, and can then win.
    let mut net = Net::with_config(check_quorum, vec![None, None, None]);
    net.node(2).set_randomized_election_timeout(11);
    for _ in 0..10 {
        net.node(2).tick();
    }
    net.campaign(1);
    net.isolate(1);
    net.campaign(3);
    assert_eq!(net.get(2).role(), Role::Follower);
    assert_eq!(net.get(3).role(), Role::Candidate);
    assert_eq!(net.get(3).term(), net.get(2).term() + 1);
    net.campaign(3);
    assert_eq!(net.get(2).role(), Role::Follower);
    assert_eq!(net.get(3).role(), Role::Candidate);
    assert_eq!(net.get(3).term(), net.get(2).term() + 2);
    net.recover();
    let leader_term = net.get(1).term();
    net.send(vec![message(MessageKind::Heartbeat, 1, 3, leader_term)]);
    assert_eq!(net.get(1).role(), Role::Follower, "the leader is disrupted");
    assert_eq!(net.get(1).term(), net.get(3).term());
    net.campaign(3);
    assert_eq!(net.get(3).role(), Role::Leader);
}

#[test]
fn non_promotable_voter_with_check_quorum() {
    // A node outside its own configuration never campaigns, but follows and votes.
    let mut a = test_config(1, 10, 1);
    a.check_quorum = true;
    let mut b = test_config(2, 10, 1);
    b.check_quorum = true;
    let mut net = Net::new(vec![
        peer(new_node(a, storage(&[1, 2], &[]))),
        peer(new_node(b, storage(&[1], &[]))),
    ]);
    assert!(!net.get(2).promotable());
    net.node(2).set_randomized_election_timeout(11);
    for _ in 0..10 {
        net.node(2).tick();
    }
    net.campaign(1);
    assert_eq!(net.get(1).role(), Role::Leader);
    assert_eq!(net.get(2).role(), Role::Follower);
    assert_eq!(net.get(2).leader(), Some(1));
}

/// Three nodes of term 1 with CheckQuorum (and PreVote when asked), 1 elected in term 2.
fn check_quorum_cluster(pre_vote_on: bool) -> Net {
    let nodes = (1..=3)
        .map(|id| {
            let mut config = test_config(id, 10, 1);
            config.check_quorum = true;
            config.pre_vote = pre_vote_on;
            let storage = storage_with_log(&[1, 2, 3], &[], hard_state(1, None, 0));
            peer(new_node(config, storage))
        })
        .collect();
    let mut net = Net::new(nodes);
    net.campaign(1);
    assert_eq!(net.get(1).role(), Role::Leader);
    assert_eq!(net.get(2).role(), Role::Follower);
    assert_eq!(net.get(3).role(), Role::Follower);
    net
}

#[test]
fn disruptive_follower() {
    // A follower whose election timer fires while the leader's heartbeat is still on its way
    // campaigns at a higher term; its answer to the late heartbeat makes the leader step down,
    // so that a fresh election can free it.
    let mut net = check_quorum_cluster(false);
    let n3 = net.node(3);
    n3.set_randomized_election_timeout(12);
    for _ in 0..12 {
        n3.tick();
    }
    assert_eq!(
        [1, 2, 3].map(|id| net.get(id).role()),
        [Role::Leader, Role::Follower, Role::Candidate]
    );
    assert_eq!([1, 2, 3].map(|id| net.get(id).term()), [2, 2, 3]);
    // The leader's heartbeat, of a lower term, arrives; the answer carries term 3.
    let leader_term = net.get(1).term();
    net.send(vec![message(MessageKind::Heartbeat, 1, 3, leader_term)]);
    assert_eq!(
        [1, 2, 3].map(|id| net.get(id).role()),
        [Role::Follower, Role::Follower, Role::Candidate]
    );
    assert_eq!([1, 2, 3].map(|id| net.get(id).term()), [3, 2, 3]);
}

#[test]
fn disruptive_follower_pre_vote() {
    // With PreVote the isolated follower, behind the leader's log, stays a pre-candidate at
    // its term and cannot make the leader step down. (etcd switches PreVote on mid-test; our
    // configuration is fixed, so it is on from the start, which changes nothing before.)
    let mut net = check_quorum_cluster(true);
    net.isolate(3);
    for _ in 0..3 {
        net.propose(1, b"somedata");
    }
    net.recover();
    net.campaign(3);
    assert_eq!(
        [1, 2, 3].map(|id| net.get(id).role()),
        [Role::Leader, Role::Follower, Role::PreCandidate]
    );
    assert_eq!([1, 2, 3].map(|id| net.get(id).term()), [2, 2, 2]);
    let leader_term = net.get(1).term();
    net.send(vec![message(MessageKind::Heartbeat, 1, 3, leader_term)]);
    assert_eq!(net.get(1).role(), Role::Leader);
}

fn check_campaign_while_leader(pre_vote_on: bool) {
    // A leader that is asked to campaign does nothing.
    let mut config = test_config(1, 5, 1);
    config.pre_vote = pre_vote_on;
    let mut node = new_node(config, storage(&[1], &[]));
    assert_eq!(node.role(), Role::Follower);
    node.campaign();
    read_messages(&mut node);
    assert_eq!(node.role(), Role::Leader);
    let term = node.term();
    node.campaign();
    read_messages(&mut node);
    assert_eq!(node.role(), Role::Leader);
    assert_eq!(node.term(), term);
}

#[test]
fn campaign_while_leader() {
    check_campaign_while_leader(false);
}

#[test]
fn pre_campaign_while_leader() {
    check_campaign_while_leader(true);
}

/// Three nodes of term 1 with PreVote, none leading yet.
fn pre_vote_cluster() -> Net {
    let nodes = (1..=3)
        .map(|id| {
            let mut config = test_config(id, 10, 1);
            config.pre_vote = true;
            let storage = storage_with_log(&[1, 2, 3], &[], hard_state(1, None, 0));
            peer(new_node(config, storage))
        })
        .collect();
    Net::new(nodes)
}

#[test]
fn node_with_smaller_term_can_complete_election() {
    // A node that fell behind while partitioned (pre-candidate at a small term) rejoins just as
    // the leader goes away: with PreVote an election must still complete.
    let mut net = pre_vote_cluster();
    net.cut(1, 3);
    net.cut(2, 3);
    net.campaign(1);
    assert_eq!(net.get(1).role(), Role::Leader);
    assert_eq!(net.get(2).role(), Role::Follower);
    net.campaign(3);
    assert_eq!(net.get(3).role(), Role::PreCandidate);
    net.campaign(2);
    assert_eq!([1, 2, 3].map(|id| net.get(id).term()), [3, 3, 1]);
    assert_eq!(
        [1, 2, 3].map(|id| net.get(id).role()),
        [Role::Follower, Role::Leader, Role::PreCandidate]
    );
    // 3 comes back, 2 goes away.
    net.recover();
    net.cut(2, 1);
    net.cut(2, 3);
    net.campaign(3);
    net.campaign(1);
    assert!(
        net.get(1).role() == Role::Leader || net.get(3).role() == Role::Leader,
        "no leader: {:?}",
        [1, 3].map(|id| net.get(id).role())
    );
}

#[test]
fn pre_vote_with_split_vote() {
    // After a split vote the next round completes.
    let mut net = pre_vote_cluster();
    net.campaign(1);
    net.isolate(1);
    net.act_all(&[2, 3], |node| node.campaign());
    assert_eq!([2, 3].map(|id| net.get(id).term()), [3, 3]);
    assert_eq!([2, 3].map(|id| net.get(id).role()), [Role::Candidate; 2]);
    net.campaign(2);
    assert_eq!([2, 3].map(|id| net.get(id).term()), [4, 4]);
    assert_eq!(
        [2, 3].map(|id| net.get(id).role()),
        [Role::Leader, Role::Follower]
    );
}

#[test]
fn pre_vote_with_check_quorum() {
    // A pre-candidate also respects CheckQuorum's lease.
    let nodes = (1..=3)
        .map(|id| {
            let mut config = test_config(id, 10, 1);
            config.pre_vote = true;
            config.check_quorum = true;
            let storage = storage_with_log(&[1, 2, 3], &[], hard_state(1, None, 0));
            peer(new_node(config, storage))
        })
        .collect();
    let mut net = Net::new(nodes);
    net.campaign(1);
    net.isolate(1);
    assert_eq!(net.get(1).role(), Role::Leader);
    assert_eq!(net.get(2).role(), Role::Follower);
    assert_eq!(net.get(3).role(), Role::Follower);
    // 2 ignores 3's pre-vote (lease), and 3 ignores 2's.
    net.campaign(3);
    net.campaign(2);
    assert!(net.get(2).role() == Role::Leader || net.get(3).role() == Role::Follower);
}

#[test]
fn learner_campaign() {
    // A learner never campaigns, neither on its own nor when told to by TimeoutNow.
    let add_learner = raft::ConfChange::single(raft::ConfChangeKind::AddLearner, 2);
    let mut n1 = new_test_raft(1, 10, 1, storage(&[1], &[]));
    n1.apply_conf_change(&add_learner).unwrap();
    let mut n2 = new_test_raft(2, 10, 1, storage(&[1], &[]));
    n2.apply_conf_change(&add_learner).unwrap();
    let mut net = Net::new(vec![peer(n1), peer(n2)]);
    net.campaign(2);
    assert!(net.get(2).is_learner());
    assert_eq!(net.get(2).role(), Role::Follower);
    net.campaign(1);
    assert_eq!(net.get(1).role(), Role::Leader);
    assert_eq!(net.get(1).leader(), Some(1));
    let term = net.get(1).term();
    net.send(vec![message(MessageKind::TimeoutNow, 1, 2, term)]);
    assert_eq!(net.get(2).role(), Role::Follower);
}

/// etcd's rolling update to PreVote: 1 and 2 run PreVote, 3 does not; 1 leads term 2, then 3,
/// partitioned, campaigns twice to term 4 with a shorter log; then 3 is restarted with PreVote
/// (the rolling update) and the partition heals.
fn pre_vote_migration_cluster() -> Net {
    let nodes = (1..=3)
        .map(|id| {
            let mut config = test_config(id, 10, 1);
            config.pre_vote = id != 3;
            let storage = storage_with_log(&[1, 2, 3], &[], hard_state(1, None, 0));
            peer(new_node(config, storage))
        })
        .collect();
    let mut net = Net::new(nodes);
    net.campaign(1);
    net.isolate(3);
    net.propose(1, b"some data");
    net.campaign(3);
    net.campaign(3);
    assert_eq!(
        [1, 2, 3].map(|id| net.get(id).role()),
        [Role::Leader, Role::Follower, Role::Candidate]
    );
    assert_eq!([1, 2, 3].map(|id| net.get(id).term()), [2, 2, 4]);
    net.restart(3, |config| config.pre_vote = true);
    net.recover();
    net
}

#[test]
fn pre_vote_migration_can_complete_election() {
    let mut net = pre_vote_migration_cluster();
    // The leader goes away; 2 and 3 both campaign.
    net.isolate(1);
    net.campaign(3);
    net.campaign(2);
    assert_eq!(net.get(2).role(), Role::Follower);
    assert_eq!(net.get(3).role(), Role::PreCandidate);
    net.campaign(3);
    net.campaign(2);
    assert!(net.get(2).role() == Role::Leader || net.get(3).role() == Role::Follower);
}

#[test]
fn pre_vote_migration_with_free_stuck_pre_candidate() {
    let mut net = pre_vote_migration_cluster();
    net.campaign(3);
    assert_eq!(
        [1, 2, 3].map(|id| net.get(id).role()),
        [Role::Leader, Role::Follower, Role::PreCandidate]
    );
    net.campaign(3);
    assert_eq!(
        [1, 2, 3].map(|id| net.get(id).role()),
        [Role::Leader, Role::Follower, Role::PreCandidate]
    );
    // The stuck pre-candidate's answer to the leader's heartbeat frees it.
    let leader_term = net.get(1).term();
    net.send(vec![message(MessageKind::Heartbeat, 1, 3, leader_term)]);
    assert_eq!(net.get(1).role(), Role::Follower);
    assert_eq!(net.get(1).term(), net.get(3).term());
}

#[test]
fn promotable() {
    // Only a voter of its configuration may campaign.
    let cases: [(&[NodeId], bool); 4] = [
        (&[1], true),
        (&[1, 2, 3], true),
        (&[], false),
        (&[2, 3], false),
    ];
    for (voters, promotable) in cases {
        let node = new_test_raft(1, 5, 1, storage(voters, &[]));
        assert_eq!(node.promotable(), promotable, "voters {voters:?}");
    }
}

#[test]
fn transfer_non_member() {
    // A TimeoutNow reaching a node removed from the configuration changes nothing, whatever
    // votes follow.
    let mut node = new_test_raft(1, 5, 1, storage(&[2, 3, 4], &[]));
    node.step(message(MessageKind::TimeoutNow, 2, 1, 0))
        .unwrap();
    node.step(message(MessageKind::VoteResponse, 2, 1, 0))
        .unwrap();
    node.step(message(MessageKind::VoteResponse, 3, 1, 0))
        .unwrap();
    assert_eq!(node.role(), Role::Follower);
}
