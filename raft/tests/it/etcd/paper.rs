//! etcd-raft's `raft_paper_test.go`: each test checks a few sentences of the Raft paper
//! (reference in its comment). Our versions keep each test's name (snake case) and intent; the
//! states etcd sets directly (`becomeCandidate`, `loadState`) are reached through the API.

use raft::{Entry, HardState, Message, MessageKind, NodeId, Role};

use super::support::*;

/// A node that follows `leader` in `term` (etcd's `becomeFollower(term, leader)`), or that has
/// only learned of `term` when `leader` is `None`.
pub fn become_follower(node: &mut Node, term: u64, leader: Option<NodeId>) {
    let id = node.id();
    let (kind, from) = match leader {
        Some(leader) => (MessageKind::Heartbeat, leader),
        // Any other node's answer carrying the term (the sender need not be a member).
        None => (MessageKind::HeartbeatResponse, if id == 2 { 1 } else { 2 }),
    };
    node.step(message(kind, from, id, term))
        .expect("for this node");
    read_messages(node);
    assert_eq!(node.term(), term, "node {id}");
    assert_eq!(node.role(), Role::Follower, "node {id}");
    assert_eq!(node.leader(), leader, "node {id}");
}

fn update_term_from_message(role: Role) {
    // §5.1: a server with a smaller term than a message's takes the larger term, and a
    // candidate or leader that learns its term is out of date reverts to follower.
    let mut node = new_test_raft(1, 10, 1, storage(&[1, 2, 3], &[]));
    match role {
        Role::Follower => become_follower(&mut node, 1, Some(2)),
        Role::Candidate => become_candidate(&mut node),
        _ => become_leader(&mut node),
    }
    node.step(message(MessageKind::Append, 2, 1, 2)).unwrap();
    assert_eq!(node.term(), 2, "{role:?}");
    assert_eq!(node.role(), Role::Follower, "{role:?}");
}

#[test]
fn follower_update_term_from_message() {
    update_term_from_message(Role::Follower);
}

#[test]
fn candidate_update_term_from_message() {
    update_term_from_message(Role::Candidate);
}

#[test]
fn leader_update_term_from_message() {
    update_term_from_message(Role::Leader);
}

#[test]
fn reject_stale_term_message() {
    // §5.1: a request with a stale term is rejected; etcd (and we, without PreVote or
    // CheckQuorum) ignore it: no state changes and nothing is sent.
    let storage = storage_with_log(&[1, 2, 3], &[], hard_state(2, None, 0));
    let mut node = new_test_raft(1, 10, 1, storage);
    let mut append = message(MessageKind::Append, 2, 1, 1);
    append.entries = entries(1, &[1]);
    node.step(append).unwrap();
    assert_eq!(node.term(), 2);
    assert_eq!(node.leader(), None);
    assert_eq!(node.last_index(), 0, "the stale append was not taken");
    assert!(read_messages(&mut node).is_empty());
}

#[test]
fn start_as_follower() {
    // §5.2: servers start as followers.
    let node = new_test_raft(1, 10, 1, storage(&[1, 2, 3], &[]));
    assert_eq!(node.role(), Role::Follower);
}

#[test]
fn leader_bcast_beat() {
    // §5.2: on its heartbeat tick the leader sends every follower a heartbeat without
    // entries, carrying a commit index no follower could lack.
    let heartbeat_tick = 1;
    let mut node = new_test_raft(1, 10, heartbeat_tick, storage(&[1, 2, 3], &[]));
    become_leader(&mut node);
    for i in 0..10 {
        node.propose(vec![i]).unwrap();
    }
    node.take_messages();
    for _ in 0..heartbeat_tick {
        node.tick();
    }
    let messages = sorted(read_messages(&mut node));
    let expected: Vec<(MessageKind, NodeId, NodeId, u64, u64)> = vec![
        (MessageKind::Heartbeat, 1, 2, 1, 0),
        (MessageKind::Heartbeat, 1, 3, 1, 0),
    ];
    let got: Vec<_> = messages
        .iter()
        .map(|m| (m.kind, m.from, m.to, m.term, m.commit))
        .collect();
    assert_eq!(got, expected);
    assert!(messages.iter().all(|m| m.entries.is_empty()));
}

fn nonleader_start_election(role: Role) {
    // §5.2: a follower that hears nothing for an election timeout becomes a candidate of the
    // next term, votes for itself and asks every other server for its vote; a candidate that
    // wins no majority starts a new election the same way.
    let election_tick = 10;
    let mut node = new_test_raft(1, election_tick, 1, storage(&[1, 2, 3], &[]));
    match role {
        Role::Follower => become_follower(&mut node, 1, Some(2)),
        _ => become_candidate(&mut node),
    }
    for _ in 1..2 * election_tick {
        node.tick();
    }
    let messages = sorted(read_messages(&mut node));
    assert_eq!(node.term(), 2, "{role:?}");
    assert_eq!(node.role(), Role::Candidate, "{role:?}");
    assert_eq!(node.vote(), Some(1), "{role:?}: it votes for itself");
    let got: Vec<_> = messages
        .iter()
        .map(|m| (m.kind, m.from, m.to, m.term, m.index, m.log_term))
        .collect();
    assert_eq!(
        got,
        vec![
            (MessageKind::Vote, 1, 2, 2, 0, 0),
            (MessageKind::Vote, 1, 3, 2, 0, 0),
        ],
        "{role:?}"
    );
}

#[test]
fn follower_start_election() {
    nonleader_start_election(Role::Follower);
}

#[test]
fn candidate_start_new_election() {
    nonleader_start_election(Role::Candidate);
}

#[test]
fn leader_election_in_one_round_rpc() {
    // §5.2: one round of RequestVote ends in a win (a majority grants), a loss (a majority
    // refuses) or neither.
    type Case = (u64, &'static [(NodeId, bool)], Role);
    let cases: [Case; 13] = [
        (1, &[], Role::Leader),
        (3, &[(2, true), (3, true)], Role::Leader),
        (3, &[(2, true)], Role::Leader),
        (
            5,
            &[(2, true), (3, true), (4, true), (5, true)],
            Role::Leader,
        ),
        (5, &[(2, true), (3, true), (4, true)], Role::Leader),
        (5, &[(2, true), (3, true)], Role::Leader),
        (3, &[(2, false), (3, false)], Role::Follower),
        (
            5,
            &[(2, false), (3, false), (4, false), (5, false)],
            Role::Follower,
        ),
        (
            5,
            &[(2, true), (3, false), (4, false), (5, false)],
            Role::Follower,
        ),
        (3, &[], Role::Candidate),
        (5, &[(2, true)], Role::Candidate),
        (5, &[(2, false), (3, false)], Role::Candidate),
        (5, &[], Role::Candidate),
    ];
    for (size, votes, expected) in cases {
        let ids: Vec<NodeId> = (1..=size).collect();
        let mut node = new_test_raft(1, 10, 1, storage(&ids, &[]));
        node.campaign();
        read_messages(&mut node);
        for &(from, granted) in votes {
            let mut response = message(MessageKind::VoteResponse, from, 1, node.term());
            response.reject = !granted;
            node.step(response).unwrap();
        }
        assert_eq!(node.role(), expected, "size {size} votes {votes:?}");
        assert_eq!(node.term(), 1, "size {size} votes {votes:?}");
    }
}

#[test]
fn follower_vote() {
    // §5.2: a follower votes for at most one candidate per term, first come first served.
    let cases: [(Option<NodeId>, NodeId, bool); 6] = [
        (None, 2, false),
        (None, 3, false),
        (Some(2), 2, false),
        (Some(3), 3, false),
        (Some(2), 3, true),
        (Some(3), 2, true),
    ];
    for (vote, candidate, rejected) in cases {
        let storage = storage_with_log(&[1, 2, 3], &[], hard_state(1, vote, 0));
        let mut node = new_test_raft(1, 10, 1, storage);
        node.step(message(MessageKind::Vote, candidate, 1, 1))
            .unwrap();
        let got: Vec<_> = read_messages(&mut node)
            .iter()
            .map(|m| (m.kind, m.from, m.to, m.term, m.reject))
            .collect();
        assert_eq!(
            got,
            vec![(MessageKind::VoteResponse, 1, candidate, 1, rejected)],
            "voted {vote:?}, candidate {candidate}"
        );
    }
}

#[test]
fn candidate_fallback() {
    // §5.2: a candidate that receives an append from a leader of a term at least its own
    // recognizes that leader and returns to follower.
    for term in [1, 2] {
        let mut node = new_test_raft(1, 10, 1, storage(&[1, 2, 3], &[]));
        node.campaign();
        assert_eq!(node.role(), Role::Candidate);
        node.step(message(MessageKind::Append, 2, 1, term)).unwrap();
        assert_eq!(node.role(), Role::Follower, "term {term}");
        assert_eq!(node.term(), term);
    }
}

fn nonleader_election_timeout_randomized(role: Role) {
    // §5.2: election timeouts are randomized: over many rounds every timeout between one and
    // two election intervals occurs.
    let election_tick = 10;
    let mut node = new_test_raft(1, election_tick, 1, storage(&[1, 2, 3], &[]));
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..50 * election_tick {
        match role {
            Role::Follower => {
                let term = node.term() + 1;
                become_follower(&mut node, term, Some(2));
            }
            _ => become_candidate(&mut node),
        }
        let mut ticks = 0;
        while read_messages(&mut node).is_empty() {
            node.tick();
            ticks += 1;
            assert!(
                ticks <= 2 * election_tick,
                "no election after {ticks} ticks"
            );
        }
        seen.insert(ticks);
    }
    for timeout in election_tick..2 * election_tick {
        assert!(
            seen.contains(&timeout),
            "{role:?}: timeout {timeout} never drawn"
        );
    }
}

#[test]
fn follower_election_timeout_randomized() {
    nonleader_election_timeout_randomized(Role::Follower);
}

#[test]
fn candidate_election_timeout_randomized() {
    nonleader_election_timeout_randomized(Role::Candidate);
}

fn nonleaders_election_timeout_nonconflict(role: Role) {
    // §5.2: randomized timeouts make it rare that several servers time out at once (which
    // would split the vote).
    let election_tick = 10;
    let ids: Vec<NodeId> = (1..=5).collect();
    let mut nodes: Vec<Node> = ids
        .iter()
        .map(|&id| new_test_raft(id, election_tick, 1, storage(&ids, &[])))
        .collect();
    let rounds = 1000;
    let mut conflicts = 0;
    for _ in 0..rounds {
        for node in &mut nodes {
            match role {
                Role::Follower => {
                    let term = node.term() + 1;
                    become_follower(node, term, None);
                }
                _ => become_candidate(node),
            }
        }
        let mut timed_out = 0;
        while timed_out == 0 {
            for node in &mut nodes {
                node.tick();
                if !read_messages(node).is_empty() {
                    timed_out += 1;
                }
            }
        }
        if timed_out > 1 {
            conflicts += 1;
        }
    }
    assert!(
        conflicts * 10 <= rounds * 3,
        "{role:?}: {conflicts} of {rounds} rounds had several servers time out together"
    );
}

#[test]
fn followers_election_timeout_nonconflict() {
    nonleaders_election_timeout_nonconflict(Role::Follower);
}

#[test]
fn candidates_election_timeout_nonconflict() {
    nonleaders_election_timeout_nonconflict(Role::Candidate);
}

#[test]
fn leader_start_replication() {
    // §5.3: the leader appends a proposal to its log, writes it to stable storage and sends
    // it to every follower, naming the entry just before it.
    let mut node = new_test_raft(1, 10, 1, storage(&[1, 2, 3], &[]));
    become_leader(&mut node);
    commit_noop_entry(&mut node);
    let last = node.last_index();
    node.propose(b"some data".to_vec()).unwrap();
    assert_eq!(node.last_index(), last + 1);
    assert_eq!(node.commit_index(), last);
    let ready = node.ready();
    let expected_entry = Entry {
        term: 1,
        index: last + 1,
        data: b"some data".as_slice().into(),
        ..Entry::default()
    };
    assert_eq!(
        ready.entries,
        vec![expected_entry.clone()],
        "to stable storage"
    );
    let got: Vec<_> = sorted(ready.messages)
        .into_iter()
        .map(|m| {
            (
                m.kind, m.to, m.term, m.index, m.log_term, m.entries, m.commit,
            )
        })
        .collect();
    let append = |to| {
        let entries = vec![expected_entry.clone()];
        (MessageKind::Append, to, 1, last, 1, entries, last)
    };
    assert_eq!(got, vec![append(2), append(3)]);
}

#[test]
fn leader_commit_entry() {
    // §5.3: once an entry is replicated on a majority, the leader hands it out to apply and
    // tells the followers its new commit index in its next appends.
    let mut node = new_test_raft(1, 10, 1, storage(&[1, 2, 3], &[]));
    become_leader(&mut node);
    commit_noop_entry(&mut node);
    let last = node.last_index();
    node.propose(b"some data".to_vec()).unwrap();
    for append in read_messages(&mut node) {
        node.step(accept_and_reply(&append)).unwrap();
    }
    assert_eq!(node.commit_index(), last + 1);
    let ready = node.ready();
    let committed: Vec<_> = ready
        .committed_entries
        .iter()
        .map(|e| (e.index, e.term, e.data.to_vec()))
        .collect();
    assert_eq!(committed, vec![(last + 1, 1, b"some data".to_vec())]);
    let messages = sorted(ready.messages);
    assert_eq!(messages.len(), 2);
    for (m, to) in messages.iter().zip([2, 3]) {
        assert_eq!(
            (m.kind, m.to, m.commit),
            (MessageKind::Append, to, last + 1),
            "{m}"
        );
    }
}

#[test]
fn leader_acknowledge_commit() {
    // §5.3: an entry is committed once the leader that created it has it on a majority.
    type Case = (u64, &'static [NodeId], bool);
    let cases: [Case; 9] = [
        (1, &[], true),
        (3, &[], false),
        (3, &[2], true),
        (3, &[2, 3], true),
        (5, &[], false),
        (5, &[2], false),
        (5, &[2, 3], true),
        (5, &[2, 3, 4], true),
        (5, &[2, 3, 4, 5], true),
    ];
    for (size, acceptors, committed) in cases {
        let ids: Vec<NodeId> = (1..=size).collect();
        let mut node = new_test_raft(1, 10, 1, storage(&ids, &[]));
        become_leader(&mut node);
        commit_noop_entry(&mut node);
        let last = node.last_index();
        node.propose(b"some data".to_vec()).unwrap();
        for append in read_messages(&mut node) {
            if acceptors.contains(&append.to) {
                node.step(accept_and_reply(&append)).unwrap();
            }
        }
        assert_eq!(
            node.commit_index() > last,
            committed,
            "size {size} acceptors {acceptors:?}"
        );
    }
}

#[test]
fn leader_commit_preceding_entries() {
    // §5.3: committing an entry commits every entry before it, those of earlier leaders too,
    // and the leader applies them in log order.
    let cases: [Vec<Entry>; 4] = [
        vec![],
        entries(1, &[2]),
        entries(1, &[1, 2]),
        entries(1, &[1]),
    ];
    for log in cases {
        let storage = storage_with_log(&[1, 2, 3], &log, hard_state(2, None, 0));
        let mut node = new_test_raft(1, 10, 1, storage);
        become_leader(&mut node);
        node.propose(b"some data".to_vec()).unwrap();
        for append in read_messages(&mut node) {
            node.step(accept_and_reply(&append)).unwrap();
        }
        let last = log.len() as u64;
        let mut expected: Vec<_> = log.iter().map(|e| (e.index, e.term, Vec::new())).collect();
        expected.push((last + 1, 3, Vec::new()));
        expected.push((last + 2, 3, b"some data".to_vec()));
        let applied: Vec<_> = next_ents(&mut node)
            .into_iter()
            .map(|e| (e.index, e.term, e.data.to_vec()))
            .collect();
        assert_eq!(applied, expected, "log {log:?}");
    }
}

#[test]
fn follower_commit_entry() {
    // §5.3: a follower that learns an entry is committed applies it, in log order.
    let entry = |index, data: &[u8]| Entry {
        term: 1,
        index,
        data: data.into(),
        ..Entry::default()
    };
    let cases = [
        (vec![entry(1, b"some data")], 1),
        (vec![entry(1, b"some data"), entry(2, b"some data2")], 2),
        (vec![entry(1, b"some data2"), entry(2, b"some data")], 2),
        (vec![entry(1, b"some data"), entry(2, b"some data2")], 1),
    ];
    for (log, commit) in cases {
        let mut node = new_test_raft(1, 10, 1, storage(&[1, 2, 3], &[]));
        become_follower(&mut node, 1, Some(2));
        let mut append = message(MessageKind::Append, 2, 1, 1);
        append.entries = log.clone();
        append.commit = commit;
        node.step(append).unwrap();
        assert_eq!(node.commit_index(), commit);
        assert_eq!(next_ents(&mut node), log[..commit as usize].to_vec());
    }
}

#[test]
fn follower_check_msg_app() {
    // §5.3: a follower that lacks an entry with the index and term an append names before its
    // entries refuses them (with a hint where its log could match); otherwise it accepts.
    // (term, index of the entry named, answer index, rejected, hint index, hint term)
    let cases: [(u64, u64, u64, bool, u64, u64); 5] = [
        (0, 0, 1, false, 0, 0), // matches the committed prefix
        (1, 1, 1, false, 0, 0),
        (2, 2, 2, false, 0, 0), // matches an uncommitted entry
        (1, 2, 2, true, 1, 1),  // the entry differs
        (3, 3, 3, true, 2, 2),  // no such entry
    ];
    for (log_term, index, answer, rejected, hint, hint_term) in cases {
        let storage = storage_with_log(&[1, 2, 3], &entries(1, &[1, 2]), hard_state(2, None, 1));
        let mut node = new_test_raft(1, 10, 1, storage);
        let mut append = message(MessageKind::Append, 2, 1, 2);
        append.log_term = log_term;
        append.index = index;
        node.step(append).unwrap();
        let got: Vec<_> = read_messages(&mut node)
            .iter()
            .map(|m| {
                let hint = if m.reject {
                    (m.reject_hint, m.log_term)
                } else {
                    (0, 0)
                };
                (m.kind, m.to, m.term, m.index, m.reject, hint)
            })
            .collect();
        let expected = (
            MessageKind::AppendResponse,
            2,
            2,
            answer,
            rejected,
            (hint, hint_term),
        );
        assert_eq!(got, vec![expected], "append after {index}@{log_term}");
    }
}

#[test]
fn follower_append_entries() {
    // §5.3: on a valid append a follower deletes a conflicting entry and all after it, appends
    // the new entries and writes them to stable storage.
    // (index, term named, entries, log after (first 1), entries to persist)
    type Case = (u64, u64, Vec<Entry>, Vec<u64>, Vec<Entry>);
    let cases: [Case; 4] = [
        (2, 2, entries(3, &[3]), vec![1, 2, 3], entries(3, &[3])),
        (
            1,
            1,
            entries(2, &[3, 4]),
            vec![1, 3, 4],
            entries(2, &[3, 4]),
        ),
        (0, 0, entries(1, &[1]), vec![1, 2], vec![]),
        (0, 0, entries(1, &[3]), vec![3], entries(1, &[3])),
    ];
    for (index, log_term, new, log_after, unstable) in cases {
        let storage = storage_with_log(&[1, 2, 3], &entries(1, &[1, 2]), hard_state(2, None, 0));
        let mut node = new_test_raft(1, 10, 1, storage);
        let mut append = message(MessageKind::Append, 2, 1, 2);
        append.log_term = log_term;
        append.index = index;
        append.entries = new.clone();
        node.step(append).unwrap();
        assert_eq!(
            log_terms(&node),
            log_after,
            "append {new:?} after {index}@{log_term}"
        );
        assert_eq!(node.ready().entries, unstable, "append {new:?}");
    }
}

#[test]
fn leader_sync_follower_log() {
    // §5.3, Figure 7: a new leader brings every follower's log to its own, whatever its shape.
    let leader_log = entries(1, crate::support::FIGURE_7_LEADER);
    let term = 8;
    let follower_logs = crate::support::FIGURE_7_FOLLOWERS;
    for follower_log in follower_logs {
        let commit = leader_log.len() as u64;
        let lead_storage =
            storage_with_log(&[1, 2, 3], &leader_log, hard_state(term, None, commit));
        let follower_storage = storage_with_log(
            &[1, 2, 3],
            &entries(1, follower_log),
            hard_state(term - 1, None, 0),
        );
        // Three servers: the follower's log may be ahead of the leader's, so the leader needs
        // the vote of the third, which answers by hand.
        let mut net = Net::new(vec![
            peer(new_test_raft(1, 10, 1, lead_storage)),
            peer(new_test_raft(2, 10, 1, follower_storage)),
            black_hole(),
        ]);
        net.campaign(1);
        net.send(vec![message(MessageKind::VoteResponse, 3, 1, term + 1)]);
        assert_eq!(
            net.get(1).role(),
            Role::Leader,
            "follower log {follower_log:?}"
        );
        net.propose(1, b"");
        assert_eq!(
            log_entries(net.get(1)),
            log_entries(net.get(2)),
            "follower log {follower_log:?}"
        );
        assert_eq!(net.get(1).commit_index(), net.get(2).commit_index());
    }
}

#[test]
fn vote_request() {
    // §5.4.1: a vote request carries the candidate's last entry and goes to every other
    // server.
    for (log, term) in [(entries(1, &[1]), 2), (entries(1, &[1, 2]), 3)] {
        let mut node = new_test_raft(1, 10, 1, storage(&[1, 2, 3], &[]));
        let mut append = message(MessageKind::Append, 2, 1, term - 1);
        append.entries = log.clone();
        node.step(append).unwrap();
        read_messages(&mut node);
        for _ in 1..2 * 10 {
            node.tick();
        }
        let messages = sorted(read_messages(&mut node));
        let last = log.last().unwrap();
        let got: Vec<_> = messages
            .iter()
            .map(|m| (m.kind, m.to, m.term, m.index, m.log_term))
            .collect();
        let vote = |to| (MessageKind::Vote, to, term, last.index, last.term);
        assert_eq!(got, vec![vote(2), vote(3)], "log {log:?}");
    }
}

#[test]
fn voter() {
    // §5.4.1: a voter refuses a candidate whose log is less up-to-date than its own.
    // (voter's log terms, candidate's last term, candidate's last index, refused)
    let cases: [(&[u64], u64, u64, bool); 10] = [
        (&[1], 1, 1, false),
        (&[1], 1, 2, false),
        (&[1, 1], 1, 1, true),
        (&[1], 2, 1, false),
        (&[1], 2, 2, false),
        (&[1, 1], 2, 1, false),
        (&[2], 1, 1, true),
        (&[2], 1, 2, true),
        (&[2, 2], 1, 1, true),
        (&[1, 1], 1, 1, true),
    ];
    for (log, log_term, index, refused) in cases {
        let storage = storage_with_log(&[1, 2], &entries(1, log), HardState::default());
        let mut node = new_test_raft(1, 10, 1, storage);
        let mut vote = message(MessageKind::Vote, 2, 1, 3);
        vote.log_term = log_term;
        vote.index = index;
        node.step(vote).unwrap();
        let messages: Vec<Message> = read_messages(&mut node);
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert_eq!(messages[0].kind, MessageKind::VoteResponse);
        assert_eq!(
            messages[0].reject, refused,
            "voter log {log:?}, candidate {index}@{log_term}"
        );
    }
}

#[test]
fn leader_only_commits_log_from_current_term() {
    // §5.4.2: a leader commits by counting replicas only entries of its own term.
    for (acked, commit) in [(1, 0), (2, 0), (3, 3)] {
        let storage = storage_with_log(&[1, 2], &entries(1, &[1, 2]), hard_state(2, None, 0));
        let mut node = new_test_raft(1, 10, 1, storage);
        become_leader(&mut node);
        read_messages(&mut node);
        node.propose(Vec::new()).unwrap();
        let mut response = message(MessageKind::AppendResponse, 2, 1, node.term());
        response.index = acked;
        node.step(response).unwrap();
        read_messages(&mut node);
        assert_eq!(node.commit_index(), commit, "acknowledged up to {acked}");
    }
}
