//! etcd-raft's `raft_test.go`, the leader's view of its followers: progress, flow control,
//! probing, and the uncommitted-size limit.

use raft::{Entry, Error, MessageKind, ProgressState, Role};

use super::support::*;

/// A leader's append response from `from`: acknowledges up to `index`.
fn ack(node: &Node, from: u64, index: u64) -> raft::Message {
    let mut response = message(MessageKind::AppendResponse, from, node.id(), node.term());
    response.index = index;
    response
}

fn heartbeat_response(node: &Node, from: u64) -> raft::Message {
    message(MessageKind::HeartbeatResponse, from, node.id(), node.term())
}

#[test]
fn progress_leader() {
    // The leader's own progress counts its entries only once they are persisted.
    let mut node = new_test_raft(1, 5, 1, storage(&[1, 2], &[]));
    become_leader(&mut node);
    node.progress_mut(2).unwrap().become_replicate();
    for _ in 0..5 {
        node.propose(b"foo".to_vec()).unwrap();
    }
    assert_eq!(node.progress(1).unwrap().match_index, 0);
    let ready = persist_once(&mut node).unwrap();
    assert_eq!(ready.entries.len(), 6);
    assert!(ready.entries[0].data.is_empty());
    assert_eq!(&ready.entries[5].data[..], b"foo");
    let progress = node.progress(1).unwrap();
    assert_eq!((progress.match_index, progress.next_index), (6, 7));
}

#[test]
fn progress_resume_by_heartbeat_resp() {
    // A heartbeat response resumes a paused follower's flow; a heartbeat does not.
    let mut node = new_test_raft(1, 5, 1, storage(&[1, 2], &[]));
    become_leader(&mut node);
    node.progress_mut(2).unwrap().append_flow_paused = true;
    node.heartbeat_now();
    assert!(node.progress(2).unwrap().append_flow_paused);
    node.progress_mut(2).unwrap().become_replicate();
    assert!(!node.progress(2).unwrap().append_flow_paused);
    node.progress_mut(2).unwrap().append_flow_paused = true;
    node.step(heartbeat_response(&node, 2)).unwrap();
    assert!(!node.progress(2).unwrap().append_flow_paused);
}

#[test]
fn progress_paused() {
    // A probing follower gets one append until it answers, however many proposals come.
    let mut node = new_test_raft(1, 5, 1, storage(&[1, 2], &[]));
    become_leader(&mut node);
    for _ in 0..3 {
        node.propose(b"somedata".to_vec()).unwrap();
    }
    assert_eq!(read_messages(&mut node).len(), 1);
}

#[test]
fn progress_flow_control() {
    // Appends respect max_size_per_msg (but carry at least one entry), and the window holds at
    // most max_inflight_msgs appends and max_inflight_bytes of payload.
    let mut config = test_config(1, 5, 1);
    config.max_inflight_msgs = 3;
    config.max_size_per_msg = 2048;
    config.max_inflight_bytes = 9000; // a little over max_inflight_msgs * max_size_per_msg
    let mut node = new_node(config, storage(&[1, 2], &[]));
    become_leader(&mut node);
    read_messages(&mut node);
    node.progress_mut(2).unwrap().become_probe();
    let (small, large) = (vec![b'a'; 1000], vec![b'b'; 5000]);
    for i in 0..22 {
        let blob = if (10..16).contains(&i) {
            &large
        } else {
            &small
        };
        node.propose(blob.clone()).unwrap();
    }
    let messages = read_messages(&mut node);
    // Probing: one append, the empty entry and the first proposal.
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].kind, MessageKind::Append);
    assert_eq!(messages[0].entries.len(), 2);
    assert!(messages[0].entries[0].data.is_empty());
    assert_eq!(messages[0].entries[1].data.len(), 1000);
    let mut ack_and_verify = |index: u64, expected: &[usize]| -> u64 {
        let response = ack(&node, 2, index);
        node.step(response).unwrap();
        let messages = read_messages(&mut node);
        let counts: Vec<usize> = messages.iter().map(|m| m.entries.len()).collect();
        assert_eq!(counts, expected, "after acknowledging {index}");
        assert!(messages.iter().all(|m| m.kind == MessageKind::Append));
        let last = messages.last().unwrap();
        last.entries.last().map_or(index, |entry| entry.index)
    };
    // Acknowledged, the follower replicates: several appends at once.
    let index = ack_and_verify(messages[0].entries[1].index, &[2, 2, 2]);
    // The third append holds one large entry.
    let index = ack_and_verify(index, &[2, 1, 1]);
    // Large entries only: the byte limit caps the window at two appends.
    let index = ack_and_verify(index, &[1, 1]);
    let index = ack_and_verify(index, &[1, 1]);
    // Small entries again.
    let index = ack_and_verify(index, &[1, 2, 2]);
    ack_and_verify(index, &[2]);
}

#[test]
fn uncommitted_entry_limit() {
    // A leader drops proposals that take its uncommitted tail beyond
    // max_uncommitted_entries_size, except when the tail is empty, and never empty entries.
    const ENTRIES_MAX: usize = 1024;
    let data = b"testdata".to_vec();
    let mut config = test_config(1, 5, 1);
    config.max_uncommitted_entries_size = (ENTRIES_MAX * data.len()) as u64;
    config.max_inflight_msgs = 2 * 1024; // out of the way
    config.max_entries_per_msg = usize::MAX; // etcd limits only bytes
    let mut node = new_node(config, storage(&[1, 2, 3], &[]));
    become_leader(&mut node);
    assert_eq!(node.uncommitted_size(), 0, "the empty entry counts nothing");
    for id in [2, 3] {
        node.progress_mut(id).unwrap().become_replicate();
    }
    for i in 0..ENTRIES_MAX {
        node.propose(data.clone())
            .unwrap_or_else(|error| panic!("proposal {i}: {error}"));
    }
    assert!(matches!(
        node.propose(data.clone()),
        Err(Error::ProposalDropped { .. })
    ));
    let messages = read_messages(&mut node);
    assert_eq!(messages.len(), ENTRIES_MAX * 2);
    // Committed and applied, the entries no longer count.
    let last = node.last_index();
    for id in [2, 3] {
        node.step(ack(&node, id, last)).unwrap();
    }
    next_ents(&mut node);
    assert_eq!(node.uncommitted_size(), 0);
    // A single large proposal is accepted below the limit, even though it goes beyond it.
    let batch = vec![data.clone(); 2 * ENTRIES_MAX];
    node.propose_batch(batch).unwrap();
    assert!(matches!(
        node.propose(data.clone()),
        Err(Error::ProposalDropped { .. })
    ));
    // An empty entry is always accepted (the leader's own, or leaving a joint configuration).
    node.propose(Vec::new()).unwrap();
    let messages = read_messages(&mut node);
    assert_eq!(messages.len(), 2 * 2);
    let last = node.last_index();
    for id in [2, 3] {
        node.step(ack(&node, id, last)).unwrap();
    }
    next_ents(&mut node);
    assert_eq!(node.uncommitted_size(), 0);
}

#[test]
fn leader_app_resp() {
    // How a leader reacts to append responses: a stale rejection changes nothing, a rejection
    // makes it probe lower, an acknowledgement commits and replicates, and an answer at a
    // probing follower's match index moves it to replicating.
    // (index, rejected, match, next, messages, their index, their commit)
    let cases: [(u64, bool, u64, u64, usize, u64, u64); 4] = [
        (3, true, 0, 3, 0, 0, 0),
        (2, true, 0, 2, 1, 1, 0),
        (2, false, 2, 4, 2, 2, 2),
        (0, false, 0, 4, 1, 0, 0),
    ];
    for (index, reject, match_index, next_index, count, message_index, commit) in cases {
        let storage = storage_with_log(&[1, 2, 3], &entries(1, &[1, 1]), hard_state(0, None, 0));
        let mut node = new_test_raft(1, 10, 1, storage);
        become_leader(&mut node);
        read_messages(&mut node);
        let mut response = ack(&node, 2, index);
        response.reject = reject;
        response.reject_hint = index;
        node.step(response).unwrap();
        let progress = node.progress(2).unwrap();
        let case = format!("response at {index} reject={reject}");
        assert_eq!(
            (progress.match_index, progress.next_index),
            (match_index, next_index),
            "{case}"
        );
        let messages = read_messages(&mut node);
        assert_eq!(messages.len(), count, "{case}: {messages:?}");
        for m in &messages {
            assert_eq!((m.index, m.commit), (message_index, commit), "{case}: {m}");
        }
    }
}

#[test]
fn bcast_beat() {
    // A heartbeat carries no entries and a commit index no higher than the follower matches.
    let offset = 1000;
    let storage = storage_from_snapshot(snapshot(offset, 1, &[1, 2, 3], &[]));
    let mut node = new_test_raft(1, 10, 1, storage);
    become_leader(&mut node);
    for i in 0..10 {
        node.propose(vec![i]).unwrap();
    }
    read_messages(&mut node);
    let last = node.last_index();
    let slow = node.progress_mut(2).unwrap();
    (slow.match_index, slow.next_index) = (5, 6);
    let normal = node.progress_mut(3).unwrap();
    (normal.match_index, normal.next_index) = (last, last + 1);
    let committed = node.commit_index();
    node.heartbeat_now();
    let messages = node.take_messages();
    assert_eq!(messages.len(), 2);
    for m in &messages {
        assert_eq!(m.kind, MessageKind::Heartbeat, "{m}");
        assert_eq!((m.index, m.log_term), (0, 0), "{m}");
        let matched = node.progress(m.to).unwrap().match_index;
        assert_eq!(m.commit, committed.min(matched), "{m}");
        assert!(m.entries.is_empty(), "{m}");
    }
}

#[test]
fn recv_msg_beat() {
    // Only a leader answers its heartbeat tick with heartbeats.
    for (role, expected) in [(Role::Leader, 2), (Role::Candidate, 0), (Role::Follower, 0)] {
        let storage = storage_with_log(&[1, 2, 3], &entries(1, &[1, 1]), hard_state(1, None, 0));
        let mut node = new_test_raft(1, 10, 1, storage);
        match role {
            Role::Leader => become_leader(&mut node),
            Role::Candidate => become_candidate(&mut node),
            _ => {}
        }
        read_messages(&mut node);
        node.heartbeat_now();
        let messages = read_messages(&mut node);
        assert_eq!(messages.len(), expected, "{role:?}");
        assert!(messages.iter().all(|m| m.kind == MessageKind::Heartbeat));
    }
}

#[test]
fn leader_increase_next() {
    // Replicating, the leader moves a follower's next index on optimistically as it sends;
    // probing, it does not.
    let previous = entries(1, &[1, 2, 3]);
    for (state, expected_next) in [
        (ProgressState::Replicate, previous.len() as u64 + 1 + 1 + 1),
        (ProgressState::Probe, 2),
    ] {
        let storage = storage_with_log(&[1, 2], &previous, hard_state(0, None, 0));
        let mut node = new_test_raft(1, 10, 1, storage);
        become_leader(&mut node);
        let progress = node.progress_mut(2).unwrap();
        progress.state = state;
        progress.next_index = 2;
        node.propose(b"somedata".to_vec()).unwrap();
        assert_eq!(
            node.progress(2).unwrap().next_index,
            expected_next,
            "{state:?}"
        );
    }
}

#[test]
fn send_append_for_progress_probe() {
    // Probing, one append goes out and the follower is paused until it answers; a heartbeat
    // does not unpause it, a heartbeat response does.
    let mut node = drained_leader(&[1, 2]);
    node.progress_mut(2).unwrap().become_probe();
    for round in 0..3 {
        if round == 0 {
            node.propose(b"somedata".to_vec()).unwrap();
            let messages = read_messages(&mut node);
            assert_eq!(messages.len(), 1);
            assert_eq!(messages[0].index, 0);
        }
        assert!(node.progress(2).unwrap().append_flow_paused);
        for _ in 0..10 {
            node.propose(b"somedata".to_vec()).unwrap();
            assert!(read_messages(&mut node).is_empty());
        }
        node.heartbeat_now();
        assert!(node.progress(2).unwrap().append_flow_paused);
        let messages = read_messages(&mut node);
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].kind, MessageKind::Heartbeat);
    }
    node.step(heartbeat_response(&node, 2)).unwrap();
    let messages = read_messages(&mut node);
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].index, 0);
    assert!(node.progress(2).unwrap().append_flow_paused);
}

#[test]
fn send_append_for_progress_replicate() {
    // Replicating, every proposal goes out at once.
    let mut node = drained_leader(&[1, 2]);
    node.progress_mut(2).unwrap().become_replicate();
    for i in 0..10 {
        node.propose(b"somedata".to_vec()).unwrap();
        assert_eq!(read_messages(&mut node).len(), 1, "proposal {i}");
    }
}

#[test]
fn send_append_for_progress_snapshot() {
    // While a snapshot is pending, nothing is sent to that follower.
    let mut node = drained_leader(&[1, 2]);
    node.progress_mut(2).unwrap().become_snapshot(10);
    for i in 0..10 {
        node.propose(b"somedata".to_vec()).unwrap();
        assert!(read_messages(&mut node).is_empty(), "proposal {i}");
    }
}

#[test]
fn recv_msg_unreachable() {
    // A replicating follower reported unreachable is probed again from its match index.
    let storage = storage_with_log(&[1, 2], &entries(1, &[1, 2, 3]), hard_state(0, None, 0));
    let mut node = new_test_raft(1, 10, 1, storage);
    become_leader(&mut node);
    read_messages(&mut node);
    let progress = node.progress_mut(2).unwrap();
    progress.match_index = 3;
    progress.become_replicate();
    progress.next_index = 6;
    node.report_unreachable(2);
    let progress = node.progress(2).unwrap();
    assert_eq!(progress.state, ProgressState::Probe);
    assert_eq!(progress.next_index, progress.match_index + 1);
}

#[test]
fn msg_app_resp_wait_reset() {
    // An acknowledgement takes a follower out of its wait; one still probing keeps waiting.
    let mut node = new_test_raft(1, 5, 1, storage(&[1, 2, 3], &[]));
    become_leader(&mut node);
    next_ents(&mut node);
    node.step(ack(&node, 2, 1)).unwrap();
    assert_eq!(node.commit_index(), 1);
    read_messages(&mut node);
    node.propose(Vec::new()).unwrap();
    expect_append_of_entry_2(&mut node, 2);
    // 3 acknowledges the first entry: its wait ends and entry 2 goes out.
    node.step(ack(&node, 3, 1)).unwrap();
    expect_append_of_entry_2(&mut node, 3);
}

/// The node sends exactly one message: an append of entry 2 alone, to `to`.
fn expect_append_of_entry_2(node: &mut Node, to: u64) {
    let m = expect_one_message(node);
    assert_eq!(
        (m.kind, m.to, m.entries.len()),
        (MessageKind::Append, to, 1),
        "{m}"
    );
    assert_eq!(m.entries[0].index, 2, "{m}");
}

#[test]
fn handle_heartbeat_resp() {
    // A heartbeat response from a follower behind makes the leader send it an append, every
    // time; once it is caught up, heartbeat responses send nothing.
    let storage = storage_with_log(&[1, 2], &entries(1, &[1, 2, 3]), hard_state(0, None, 3));
    let mut node = new_test_raft(1, 5, 1, storage);
    become_leader(&mut node);
    node.step(heartbeat_response(&node, 2)).unwrap();
    let messages = read_messages(&mut node);
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].kind, MessageKind::Append);
    node.step(heartbeat_response(&node, 2)).unwrap();
    let messages = read_messages(&mut node);
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].kind, MessageKind::Append);
    let caught_up = messages[0].index + messages[0].entries.len() as u64;
    node.step(ack(&node, 2, caught_up)).unwrap();
    read_messages(&mut node);
    node.step(heartbeat_response(&node, 2)).unwrap();
    assert!(read_messages(&mut node).is_empty());
}

#[test]
fn fast_log_rejection() {
    // The leader finds where a follower's log diverges in few probes: the follower's hint
    // skips its entries of higher terms, the leader skips its own.
    struct Case {
        leader: &'static [u64],
        follower: &'static [u64],
        hint_term: u64,
        hint_index: u64,
        next_term: u64,
        next_index: u64,
    }
    let cases = [
        Case {
            leader: &[1, 2, 2, 4, 4, 4, 4],
            follower: &[1, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3],
            hint_term: 3,
            hint_index: 7,
            next_term: 2,
            next_index: 3,
        },
        Case {
            leader: &[1, 2, 2, 3, 4, 4, 4, 5],
            follower: &[1, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3],
            hint_term: 3,
            hint_index: 8,
            next_term: 3,
            next_index: 4,
        },
        Case {
            leader: &[1, 1, 1, 1],
            follower: &[1, 2, 2, 4],
            hint_term: 1,
            hint_index: 1,
            next_term: 1,
            next_index: 1,
        },
        Case {
            leader: &[1, 1, 1, 1, 1, 1],
            follower: &[1, 2, 2, 4],
            hint_term: 1,
            hint_index: 1,
            next_term: 1,
            next_index: 1,
        },
        Case {
            leader: &[1, 1, 1, 1],
            follower: &[1, 2, 2, 4, 4, 4],
            hint_term: 1,
            hint_index: 1,
            next_term: 1,
            next_index: 1,
        },
        Case {
            leader: &[1, 1, 1, 4, 5],
            follower: &[1, 1, 1, 4],
            hint_term: 4,
            hint_index: 4,
            next_term: 4,
            next_index: 4,
        },
        Case {
            leader: &[2, 5, 5, 5, 5, 5, 5, 5, 5],
            follower: &[2, 4, 4, 4, 4, 4],
            hint_term: 4,
            hint_index: 6,
            next_term: 2,
            next_index: 1,
        },
        Case {
            leader: &[2, 2, 2, 2, 2],
            follower: &[2, 4, 4, 4, 4, 4, 4, 4],
            hint_term: 2,
            hint_index: 1,
            next_term: 2,
            next_index: 1,
        },
    ];
    for case in cases {
        let leader_log = entries(1, case.leader);
        let last: &Entry = leader_log.last().unwrap();
        let leader_storage = storage_with_log(
            &[1, 2, 3],
            &leader_log,
            hard_state(last.term - 1, None, last.index),
        );
        let mut leader = new_test_raft(1, 10, 1, leader_storage);
        become_leader(&mut leader);
        let follower_storage = storage_with_log(
            &[1, 2, 3],
            &entries(1, case.follower),
            hard_state(last.term, Some(1), 0),
        );
        let mut follower = new_test_raft(2, 10, 1, follower_storage);
        let label = format!("leader {:?} follower {:?}", case.leader, case.follower);
        follower
            .step(message(MessageKind::Heartbeat, 1, 2, leader.term()))
            .unwrap();
        let messages = read_messages(&mut follower);
        assert_eq!(messages.len(), 1, "{label}");
        assert_eq!(messages[0].kind, MessageKind::HeartbeatResponse);
        leader.step(messages[0].clone()).unwrap();
        let messages = read_messages(&mut leader);
        assert_eq!(messages.len(), 1, "{label}");
        assert_eq!(messages[0].kind, MessageKind::Append);
        follower.step(messages[0].clone()).unwrap();
        let messages = read_messages(&mut follower);
        assert_eq!(messages.len(), 1, "{label}");
        let rejection = &messages[0];
        assert_eq!(rejection.kind, MessageKind::AppendResponse);
        assert!(rejection.reject, "{label}");
        assert_eq!(rejection.log_term, case.hint_term, "{label}: hint term");
        assert_eq!(
            rejection.reject_hint, case.hint_index,
            "{label}: hint index"
        );
        leader.step(rejection.clone()).unwrap();
        let messages = read_messages(&mut leader);
        assert_eq!(
            messages[0].log_term, case.next_term,
            "{label}: next probe term"
        );
        assert_eq!(
            messages[0].index, case.next_index,
            "{label}: next probe index"
        );
    }
}

#[test]
fn log_replication_with_reordered_message() {
    // A rejection delivered late, after the follower was probed again from its match index,
    // must not send the leader below that match index.
    let mut leader = new_test_raft(1, 10, 1, storage(&[1, 2], &[]));
    become_leader(&mut leader);
    read_messages(&mut leader);
    leader.progress_mut(2).unwrap().become_replicate();
    let mut follower = new_test_raft(2, 10, 1, storage(&[1, 2], &[]));
    leader.propose(b"somedata".to_vec()).unwrap();
    let request1 = expect_one_message(&mut leader);
    leader.propose(b"somedata".to_vec()).unwrap();
    let request2 = expect_one_message(&mut leader);
    // Reordered: the second append arrives first and is refused.
    follower.step(request2).unwrap();
    let response2 = expect_one_message(&mut follower);
    assert!(response2.reject);
    assert_eq!(response2.reject_hint, 0);
    assert_eq!(response2.index, 2);
    follower.step(request1).unwrap();
    let response1 = expect_one_message(&mut follower);
    assert!(!response1.reject);
    assert_eq!(response1.index, 2);
    leader.step(response1).unwrap();
    expect_one_message(&mut leader);
    assert_eq!(leader.progress(2).unwrap().match_index, 2);
    // A transient network problem: probing again.
    leader.report_unreachable(2);
    assert_eq!(leader.progress(2).unwrap().state, ProgressState::Probe);
    // The late rejection: the leader probes from the match index, not below.
    leader.step(response2).unwrap();
    let probe = expect_one_message(&mut leader);
    assert_eq!(probe.index, leader.progress(2).unwrap().match_index);
}

fn expect_one_message(node: &mut Node) -> raft::Message {
    let messages = read_messages(node);
    assert_eq!(messages.len(), 1, "{messages:?}");
    messages.into_iter().next().unwrap()
}
