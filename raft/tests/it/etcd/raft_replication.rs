//! etcd-raft's `raft_test.go`, replication and reads: proposals (forwarded by followers),
//! the commit rule, the follower's append and heartbeat handling, and ReadIndex.

use std::cell::RefCell;
use std::rc::Rc;

use raft::{HardState, Message, MessageKind, NodeId, ReadOnlyOption, Role, Storage};

use super::paper::become_follower;
use super::support::*;

/// The data of the normal, non-empty entries a node applies (persisting and applying all).
fn applied_data(node: &mut Node) -> Vec<Vec<u8>> {
    next_ents(node)
        .into_iter()
        .filter(|entry| !entry.data.is_empty())
        .map(|entry| entry.data.to_vec())
        .collect()
}

#[test]
fn log_replication() {
    // Proposals commit on every node and are applied in order, across a change of leader.
    let data = b"somedata".to_vec();
    // (proposals at: node, committed index)
    let cases: [(&[NodeId], u64); 2] = [(&[1], 2), (&[1, 2], 4)];
    for (proposers, committed) in cases {
        let mut net = Net::of_size(3);
        net.campaign(1);
        for (position, &proposer) in proposers.iter().enumerate() {
            if position > 0 {
                net.campaign(proposer);
            }
            net.propose(proposer, &data);
        }
        for id in 1..=3 {
            assert_eq!(net.get(id).commit_index(), committed, "node {id}");
            let applied = applied_data(net.node(id));
            assert_eq!(applied, vec![data.clone(); proposers.len()], "node {id}");
        }
    }
}

#[test]
fn learner_log_replication() {
    // A learner receives and commits the leader's entries.
    let mut n1 = new_test_raft(1, 10, 1, storage(&[1], &[2]));
    let mut n2 = new_test_raft(2, 10, 1, storage(&[1], &[2]));
    become_follower(&mut n1, 1, None);
    become_follower(&mut n2, 1, None);
    let mut net = Net::new(vec![peer(n1), peer(n2)]);
    net.node(1).set_randomized_election_timeout(10);
    net.act(1, |n1| (0..10).for_each(|_| n1.tick()));
    net.beat(1);
    assert_eq!(net.get(1).role(), Role::Leader);
    assert!(net.get(2).is_learner());
    net.propose(1, b"somedata");
    assert_eq!(net.get(1).commit_index(), 2);
    assert_eq!(net.get(2).commit_index(), 2);
    assert_eq!(net.get(1).progress(2).unwrap().match_index, 2);
}

#[test]
fn single_node_commit() {
    let mut net = Net::of_size(1);
    net.campaign(1);
    net.propose(1, b"some data");
    net.propose(1, b"some data");
    assert_eq!(net.get(1).commit_index(), 3);
}

/// Five nodes; leader 1 of term 1 appends two entries that reach only node 2 (so they are not
/// committed); then the network heals.
fn two_entries_on_two_of_five() -> Net {
    let mut net = Net::of_size(5);
    net.campaign(1);
    for id in [3, 4, 5] {
        net.cut(1, id);
    }
    net.propose(1, b"some data");
    net.propose(1, b"some data");
    assert_eq!(net.get(1).commit_index(), 1);
    net.recover();
    net
}

#[test]
fn cannot_commit_without_new_term_entry() {
    // A new leader does not commit entries of earlier terms until an entry of its own term is
    // replicated.
    let mut net = two_entries_on_two_of_five();
    // Appends are lost: the new leader's empty entry cannot commit.
    net.ignore(MessageKind::Append);
    net.campaign(2);
    assert_eq!(net.get(2).commit_index(), 1);
    net.recover();
    net.beat(2);
    net.propose(2, b"some data");
    assert_eq!(net.get(2).commit_index(), 5);
}

#[test]
fn commit_without_new_term_entry() {
    // Once the new leader's empty entry commits, the earlier terms' entries commit with it.
    let mut net = two_entries_on_two_of_five();
    net.campaign(2);
    assert_eq!(net.get(1).commit_index(), 4);
}

#[test]
fn old_messages() {
    // An append of an old leader (an older term) is ignored.
    let mut net = Net::of_size(3);
    net.campaign(1);
    net.campaign(2);
    net.campaign(1);
    assert_eq!(net.get(1).term(), 3);
    let mut stale = message(MessageKind::Append, 2, 1, 2);
    stale.entries = entries(3, &[2]);
    net.send(vec![stale]);
    net.propose(1, b"somedata");
    let expected = vec![
        (1, 1, Vec::new()),
        (2, 2, Vec::new()),
        (3, 3, Vec::new()),
        (4, 3, b"somedata".to_vec()),
    ];
    for id in 1..=3 {
        assert_eq!(log_entries(net.get(id)), expected, "node {id}");
    }
}

#[test]
fn proposal() {
    // A proposal commits when a majority is reachable; without one, no leader is elected and
    // the proposal is dropped.
    let cases: [(Vec<Option<Peer>>, bool); 5] = [
        (vec![None, None, None], true),
        (vec![None, None, black_hole()], true),
        (vec![None, black_hole(), black_hole()], false),
        (vec![None, black_hole(), black_hole(), None], false),
        (vec![None, black_hole(), black_hole(), None, None], true),
    ];
    for (case, (peers, success)) in cases.into_iter().enumerate() {
        let mut net = Net::new(peers);
        net.campaign(1);
        net.propose(1, b"somedata");
        let expected = if success {
            vec![(1, 1, Vec::new()), (2, 1, b"somedata".to_vec())]
        } else {
            Vec::new()
        };
        let ids: Vec<NodeId> = net.peers.keys().copied().collect();
        for id in ids {
            if let Peer::Node(node) = &net.peers[&id] {
                assert_eq!(log_entries(node), expected, "case {case} node {id}");
            }
        }
        assert_eq!(net.get(1).term(), 1, "case {case}");
    }
}

#[test]
fn proposal_by_proxy() {
    // A follower forwards a proposal to its leader.
    for peers in [vec![None, None, None], vec![None, None, black_hole()]] {
        let mut net = Net::new(peers);
        net.campaign(1);
        net.propose(2, b"somedata");
        let expected = vec![(1, 1, Vec::new()), (2, 1, b"somedata".to_vec())];
        let ids: Vec<NodeId> = net.peers.keys().copied().collect();
        for id in ids {
            if let Peer::Node(node) = &net.peers[&id] {
                assert_eq!(log_entries(node), expected, "node {id}");
            }
        }
        assert_eq!(net.get(1).term(), 1);
    }
}

#[test]
fn commit() {
    // The leader commits the highest index a quorum matches, if it is of its own term.
    // (match indices of 1..n, log terms, the leader's term, committed)
    type Case = (&'static [u64], &'static [u64], u64, u64);
    let cases: [Case; 14] = [
        (&[1], &[1], 1, 1),
        (&[1], &[1], 2, 0),
        (&[2], &[1, 2], 2, 2),
        (&[1], &[2], 2, 1),
        (&[2, 1, 1], &[1, 2], 1, 1),
        (&[2, 1, 1], &[1, 1], 2, 0),
        (&[2, 1, 2], &[1, 2], 2, 2),
        (&[2, 1, 2], &[1, 1], 2, 0),
        (&[2, 1, 1, 1], &[1, 2], 1, 1),
        (&[2, 1, 1, 1], &[1, 1], 2, 0),
        (&[2, 1, 1, 2], &[1, 2], 1, 1),
        (&[2, 1, 1, 2], &[1, 1], 2, 0),
        (&[2, 1, 2, 2], &[1, 2], 2, 2),
        (&[2, 1, 2, 2], &[1, 1], 2, 0),
    ];
    for (matches, terms, term, committed) in cases {
        let ids: Vec<NodeId> = (1..=matches.len() as u64).collect();
        // The leader's own match is its durable log (its new empty entry is not yet).
        assert_eq!(matches[0], terms.len() as u64);
        let storage = storage_with_log(&ids, &entries(1, terms), hard_state(term - 1, None, 0));
        let mut node = new_test_raft(1, 10, 2, storage);
        become_leader(&mut node);
        for (&id, &matched) in ids.iter().zip(matches).skip(2) {
            let progress = node.progress_mut(id).unwrap();
            (progress.match_index, progress.next_index) = (matched, matched + 1);
        }
        if let Some(&matched) = matches.get(1) {
            // Node 2's acknowledgement makes the leader count again.
            let mut response = message(MessageKind::AppendResponse, 2, 1, term);
            response.index = matched;
            node.step(response).unwrap();
        }
        let case = format!("matches {matches:?} terms {terms:?} term {term}");
        assert_eq!(node.commit_index(), committed, "{case}");
    }
}

#[test]
fn step_ignore_old_term_msg() {
    // A message of an older term never reaches the role's handling: no state changes.
    let storage = storage_with_log(&[1], &[], hard_state(2, None, 0));
    let mut node = new_test_raft(1, 10, 1, storage);
    let mut stale = message(MessageKind::Append, 2, 1, 1);
    stale.entries = entries(1, &[1]);
    node.step(stale).unwrap();
    assert_eq!(
        (node.term(), node.last_index(), node.leader()),
        (2, 0, None)
    );
    assert!(read_messages(&mut node).is_empty());
}

#[test]
fn handle_msg_app() {
    // The follower's side of AppendEntries: refuse when the entry before does not match;
    // delete a conflicting suffix and append what is new; commit up to
    // min(leader's commit, last new entry).
    // (log term, index, commit, entries, last index after, committed, rejected)
    type Case = (u64, u64, u64, Vec<raft::Entry>, u64, u64, bool);
    let cases: [Case; 11] = [
        (3, 2, 3, vec![], 2, 0, true), // the entry before differs
        (3, 3, 3, vec![], 2, 0, true), // the entry before is missing
        (1, 1, 1, vec![], 2, 1, false),
        (0, 0, 1, entries(1, &[2]), 1, 1, false),
        (2, 2, 3, entries(3, &[2, 2]), 4, 3, false),
        (2, 2, 4, entries(3, &[2]), 3, 3, false),
        (1, 1, 4, entries(2, &[2]), 2, 2, false),
        (1, 1, 3, vec![], 2, 1, false), // commit up to the last new entry, 1
        (1, 1, 3, entries(2, &[2]), 2, 2, false), // up to the last new entry, 2
        (2, 2, 3, vec![], 2, 2, false),
        (2, 2, 4, vec![], 2, 2, false), // up to the last index
    ];
    for (log_term, index, commit, new, last_index, committed, rejected) in cases {
        let storage = storage_with_log(&[1], &entries(1, &[1, 2]), HardState::default());
        let mut node = new_test_raft(1, 10, 1, storage);
        become_follower(&mut node, 2, None);
        let mut append = message(MessageKind::Append, 2, 1, 2);
        (append.log_term, append.index, append.commit) = (log_term, index, commit);
        append.entries = new.clone();
        node.step(append).unwrap();
        let case = format!("append {new:?} after {index}@{log_term}, commit {commit}");
        assert_eq!(node.last_index(), last_index, "{case}");
        assert_eq!(node.commit_index(), committed, "{case}");
        let messages = read_messages(&mut node);
        assert_eq!(messages.len(), 1, "{case}");
        assert_eq!(messages[0].reject, rejected, "{case}");
    }
}

#[test]
fn handle_heartbeat() {
    // A heartbeat moves the follower's commit index forward, never back.
    let commit = 2;
    for (heartbeat_commit, committed) in [(commit + 1, commit + 1), (commit - 1, commit)] {
        let storage = storage_with_log(
            &[1, 2],
            &entries(1, &[1, 2, 3]),
            hard_state(2, None, commit),
        );
        let mut node = new_test_raft(1, 5, 1, storage);
        let mut heartbeat = message(MessageKind::Heartbeat, 2, 1, 2);
        heartbeat.commit = heartbeat_commit;
        node.step(heartbeat).unwrap();
        assert_eq!(
            node.commit_index(),
            committed,
            "heartbeat commit {heartbeat_commit}"
        );
        let messages = read_messages(&mut node);
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].kind, MessageKind::HeartbeatResponse);
    }
}

/// A leader of (1, 2) in term 1 whose empty entry is committed.
fn leader_with_commit() -> Node {
    let mut node = new_test_raft(1, 5, 1, storage(&[1, 2], &[]));
    become_leader(&mut node);
    commit_noop_entry(&mut node);
    node
}

#[test]
fn raft_frees_read_only_mem() {
    // A read request the leader holds is freed once a quorum confirms it (etcd#7571).
    let mut node = leader_with_commit();
    let mut request = message(MessageKind::ReadIndex, 2, 1, 0);
    request.context = b"ctx".as_slice().into();
    node.step(request).unwrap();
    let messages = read_messages(&mut node);
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].kind, MessageKind::Heartbeat);
    assert_eq!(node.pending_read_count(), 1);
    // The heartbeat's acknowledgement confirms the leader: the read is answered and freed.
    let mut ack = message(MessageKind::HeartbeatResponse, 2, 1, node.term());
    ack.read_round = messages[0].read_round;
    node.step(ack).unwrap();
    assert_eq!(node.pending_read_count(), 0);
    let answers = read_messages(&mut node);
    assert!(
        answers
            .iter()
            .any(|m| m.kind == MessageKind::ReadIndexResponse && *m.context == *b"ctx"),
        "{answers:?}"
    );
}

/// Proposes `proposals` empty entries at 1, then reads at `reader`; returns its read state.
fn read_after_proposals(
    net: &mut Net,
    reader: NodeId,
    proposals: usize,
    context: &[u8],
) -> (u64, Vec<u8>) {
    for _ in 0..proposals {
        net.propose(1, b"");
    }
    let context = context.to_vec();
    net.act(reader, move |node| node.read_index(context).unwrap());
    let states = net.read_states.remove(&reader).unwrap_or_default();
    let state = states
        .first()
        .unwrap_or_else(|| panic!("no read state at {reader}"));
    (state.index, state.request_ctx.clone())
}

/// Node 2 ticks an election timeout without campaigning (its lease, if any, runs out), then
/// 1 is elected.
fn elect_1_after_2_timed_out(net: &mut Net) {
    net.node(2).set_randomized_election_timeout(11);
    for _ in 0..10 {
        net.node(2).tick();
    }
    net.campaign(1);
    assert_eq!(net.get(1).role(), Role::Leader);
}

fn read_only_cases(net: &mut Net, cases: &[(NodeId, usize, u64, &[u8])]) {
    for &(reader, proposals, index, context) in cases {
        let state = read_after_proposals(net, reader, proposals, context);
        assert_eq!(state, (index, context.to_vec()), "read at {reader}");
    }
}

#[test]
fn read_only_option_safe() {
    // ReadIndex at the leader and forwarded by followers: each read point is the commit index
    // when the read arrived, confirmed by a quorum.
    let mut net = Net::of_size(3);
    elect_1_after_2_timed_out(&mut net);
    read_only_cases(
        &mut net,
        &[
            (1, 10, 11, b"ctx1"),
            (2, 10, 21, b"ctx2"),
            (3, 10, 31, b"ctx3"),
            (1, 10, 41, b"ctx4"),
            (2, 10, 51, b"ctx5"),
            (3, 10, 61, b"ctx6"),
        ],
    );
}

#[test]
fn read_only_with_learner() {
    // A learner's read is forwarded and answered like a follower's; only voters confirm.
    let mut net = Net::new(vec![
        peer(new_test_raft(1, 10, 1, storage(&[1], &[2]))),
        peer(new_test_raft(2, 10, 1, storage(&[1], &[2]))),
    ]);
    elect_1_after_2_timed_out(&mut net);
    read_only_cases(
        &mut net,
        &[
            (1, 10, 11, b"ctx1"),
            (2, 10, 21, b"ctx2"),
            (1, 10, 31, b"ctx3"),
            (2, 10, 41, b"ctx4"),
        ],
    );
}

#[test]
fn read_only_option_lease() {
    // Lease-based reads answer at once with the commit index.
    let edit = |config: &mut raft::Config| {
        config.read_only = ReadOnlyOption::LeaseBased;
        config.check_quorum = true;
    };
    let mut net = Net::with_config(edit, vec![None, None, None]);
    elect_1_after_2_timed_out(&mut net);
    read_only_cases(
        &mut net,
        &[
            (1, 10, 11, b"ctx1"),
            (2, 10, 21, b"ctx2"),
            (3, 10, 31, b"ctx3"),
            (1, 10, 41, b"ctx4"),
            (2, 10, 51, b"ctx5"),
            (3, 10, 61, b"ctx6"),
        ],
    );
}

#[test]
fn read_only_for_new_leader() {
    // A new leader holds a read until it has committed an entry of its term (etcd#7331), then
    // answers it and the next ones.
    // (id, committed, compacted up to)
    let nodes: [(NodeId, u64, u64); 3] = [(1, 1, 0), (2, 2, 2), (3, 2, 2)];
    let peers = nodes
        .iter()
        .map(|&(id, committed, compact)| {
            let mut storage = storage_with_log(
                &[1, 2, 3],
                &entries(1, &[1, 1]),
                hard_state(1, None, committed),
            );
            if compact > 0 {
                let conf_state = storage.initial_state().1;
                storage
                    .create_snapshot(compact, conf_state, Vec::new())
                    .unwrap();
            }
            peer(new_test_raft(id, 10, 1, storage))
        })
        .collect();
    let mut net = Net::new(peers);
    // Appends are lost: the new leader cannot commit an entry of its term.
    net.ignore(MessageKind::Append);
    net.campaign(1);
    assert_eq!(net.get(1).role(), Role::Leader);
    let context = b"ctx".to_vec();
    net.act(1, |node| node.read_index(b"ctx".to_vec()).unwrap());
    assert!(net.read_states.remove(&1).unwrap_or_default().is_empty());
    net.recover();
    // Its heartbeats and a proposal commit entries of its term.
    net.node(1).tick();
    net.propose(1, b"");
    assert_eq!(net.get(1).commit_index(), 4);
    assert_eq!(net.get(1).term_at(4), Some(net.get(1).term()));
    let states = net.read_states.remove(&1).unwrap_or_default();
    let got: Vec<_> = states
        .iter()
        .map(|s| (s.index, s.request_ctx.clone()))
        .collect();
    assert_eq!(got, vec![(4, context.clone())], "the held read is answered");
    net.act(1, |node| node.read_index(b"ctx".to_vec()).unwrap());
    let states = net.read_states.remove(&1).unwrap_or_default();
    let got: Vec<_> = states
        .iter()
        .map(|s| (s.index, s.request_ctx.clone()))
        .collect();
    assert_eq!(got, vec![(4, context)], "a new read is answered at once");
}

#[test]
fn read_only_duplicate_request() {
    // Repeating a read request with the same context, or delivering old heartbeat answers
    // late, never yields a read point below the commit index a read arrived at (etcd#20418).
    let mut net = Net::of_size(3);
    net.campaign(1);
    let delayed: Rc<RefCell<Vec<Message>>> = Rc::default();
    let mut request_a = message(MessageKind::ReadIndex, 2, 1, 0);
    request_a.context = b"A".as_slice().into();
    let minimum_a = net.get(1).commit_index();
    // The request is duplicated for later (by the network, or a client retrying).
    delayed.borrow_mut().push(request_a.clone());
    let held = delayed.clone();
    net.hook = Some(Box::new(move |m: &Message| {
        if m.kind == MessageKind::HeartbeatResponse {
            held.borrow_mut().push(m.clone());
            return false;
        }
        true
    }));
    net.send(vec![request_a]);
    net.hook = None;
    net.act(1, |node| node.tick());
    net.isolate(1);
    // 2 is elected and commits an entry.
    net.campaign(2);
    net.propose(2, b"someOp");
    // A read at the stale leader 1.
    let minimum_b = net.get(2).commit_index();
    net.act(1, |node| {
        let _ = node.read_index(b"B".to_vec());
    });
    net.recover();
    // The duplicate of A, then the delayed heartbeat answers: they must not confirm B.
    let late = std::mem::take(&mut *delayed.borrow_mut());
    net.send(late);
    for (id, states) in &net.read_states {
        for state in states {
            match state.request_ctx.as_slice() {
                b"A" => assert!(
                    state.index >= minimum_a,
                    "node {id}: A read at {}",
                    state.index
                ),
                b"B" => assert!(
                    state.index >= minimum_b,
                    "node {id}: B read at {}",
                    state.index
                ),
                other => panic!("unexpected read {other:?}"),
            }
        }
    }
}
