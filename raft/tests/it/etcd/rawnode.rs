//! etcd-raft's `rawnode_test.go`: the `RawNode` API as an application drives it (Ready,
//! persist, apply, advance), configuration changes through the log, restarts and limits.

use raft::{
    ConfChange, ConfChangeKind, ConfChangeTransition, ConfState, Entry, EntryKind, Error,
    HardState, MemStorage, Message, MessageKind, ProgressState, Ready, Role, Snapshot, Storage,
};

use super::support::*;

/// Persists a Ready (entries, snapshot, hard state) to the node's storage.
fn persist(node: &mut Node, ready: &Ready) {
    node.storage_mut().persist_ready(ready);
}

fn conf_state(
    voters: &[u64],
    outgoing: &[u64],
    learners: &[u64],
    learners_next: &[u64],
    auto_leave: bool,
) -> ConfState {
    ConfState {
        voters: voters.iter().copied().collect(),
        voters_outgoing: outgoing.iter().copied().collect(),
        learners: learners.iter().copied().collect(),
        learners_next: learners_next.iter().copied().collect(),
        auto_leave,
    }
}

#[test]
fn raw_node_step() {
    // etcd refuses to step its local message kinds; ours are methods, not messages, so the
    // check left is that `step` takes only messages addressed to this node.
    let mut node = new_test_raft(1, 10, 1, storage(&[1], &[]));
    for kind in [MessageKind::Append, MessageKind::Vote, MessageKind::Propose] {
        let stray = message(kind, 2, 3, 1);
        assert_eq!(
            node.step(stray),
            Err(Error::WrongRecipient { to: 3, id: 1 })
        );
    }
    assert_eq!(node.term(), 0, "nothing was stepped");
}

/// Drives a single-voter node until a configuration change it proposed (after `data`) as
/// soon as it led is applied; returns the configuration then.
fn propose_and_apply(node: &mut Node, change: &ConfChange, step_down_first: bool) -> ConfState {
    node.campaign();
    let mut proposed = false;
    for _ in 0..100 {
        let ready = node.ready();
        persist(node, &ready);
        let mut applied = None;
        for entry in &ready.committed_entries {
            if let Some(committed) = entry.conf_change() {
                if step_down_first {
                    // Force it to step down before applying.
                    let term = node.term() + 1;
                    node.step(message(MessageKind::HeartbeatResponse, 1, 1, term))
                        .unwrap();
                }
                applied = Some(node.apply_conf_change(&committed).unwrap());
            }
        }
        node.advance();
        if let Some(conf_state) = applied {
            return conf_state;
        }
        let leads = ready
            .soft_state
            .is_some_and(|s| s.leader == Some(node.id()));
        if !proposed && leads {
            node.propose(b"somedata".to_vec()).unwrap();
            node.propose_conf_change(change.clone()).unwrap();
            proposed = true;
        }
    }
    panic!("the configuration change never applied");
}

/// The last two entries in stable storage: the data and the change, down to the bits.
fn check_last_two_entries(node: &Node, change: &ConfChange) -> u64 {
    let last = node.storage().last_index();
    let entries = node
        .storage()
        .entries(last - 1, last + 1, usize::MAX)
        .unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(&entries[0].data[..], b"somedata");
    assert_eq!(entries[1].kind, EntryKind::ConfChange);
    assert_eq!(entries[1].data.to_vec(), change.encode());
    last
}

#[test]
fn raw_node_propose_and_conf_change() {
    // A simple or joint change applies with the expected configuration, and a joint one is
    // left, automatically or by an explicit proposal. (etcd proposes the change right after
    // winning: that needs etcd's rule, `conf_change_before_term_commit`.)
    use ConfChangeKind::{AddLearner, AddNode};
    use ConfChangeTransition::{Auto, JointExplicit, JointImplicit};
    type Case = (ConfChange, ConfState, Option<ConfState>);
    let demote = [(AddNode, 2), (AddLearner, 1), (AddLearner, 3)];
    let cases: Vec<Case> = vec![
        (
            ConfChange::single(AddNode, 2),
            conf_state(&[1, 2], &[], &[], &[], false),
            None,
        ),
        (
            ConfChange::joint(Auto, [(AddNode, 2)]),
            conf_state(&[1, 2], &[], &[], &[], false),
            None,
        ),
        (
            ConfChange::joint(Auto, [(AddLearner, 2)]),
            conf_state(&[1], &[], &[2], &[], false),
            None,
        ),
        (
            ConfChange::joint(JointExplicit, [(AddLearner, 2)]),
            conf_state(&[1], &[1], &[2], &[], false),
            Some(conf_state(&[1], &[], &[2], &[], false)),
        ),
        (
            ConfChange::joint(JointImplicit, [(AddLearner, 2)]),
            conf_state(&[1], &[1], &[2], &[], true),
            Some(conf_state(&[1], &[], &[2], &[], false)),
        ),
        (
            ConfChange::joint(Auto, demote),
            conf_state(&[2], &[1], &[3], &[1], true),
            Some(conf_state(&[2], &[], &[1, 3], &[], false)),
        ),
        (
            ConfChange::joint(JointExplicit, demote),
            conf_state(&[2], &[1], &[3], &[1], false),
            Some(conf_state(&[2], &[], &[1, 3], &[], false)),
        ),
        (
            ConfChange::joint(JointImplicit, demote),
            conf_state(&[2], &[1], &[3], &[1], true),
            Some(conf_state(&[2], &[], &[1, 3], &[], false)),
        ),
    ];
    for (change, expected, expected_after) in cases {
        let mut config = test_config(1, 10, 1);
        config.conf_change_before_term_commit = true;
        let mut node = new_node(config, storage(&[1], &[]));
        let applied = propose_and_apply(&mut node, &change, false);
        let last = check_last_two_entries(&node, &change);
        assert_eq!(applied, expected, "{change}");
        // An automatically left joint configuration has its leaving entry appended already.
        let auto_leaving = change.enters_joint() && change.auto_leave();
        let pending = last + u64::from(auto_leaving);
        assert_eq!(node.pending_conf_index(), pending, "{change}");
        let mut ready = node.ready();
        let mut context = Vec::new();
        if !expected.auto_leave {
            assert!(ready.entries.is_empty(), "{change}");
            node.advance();
            let Some(_) = expected_after else { continue };
            context = b"manual".to_vec();
            let leave = ConfChange {
                context: context.clone(),
                ..ConfChange::leave_joint()
            };
            node.propose_conf_change(leave).unwrap();
            ready = node.ready();
        }
        assert_eq!(ready.entries.len(), 1, "{change}");
        let leave = ready.entries[0]
            .conf_change()
            .expect("a configuration change");
        assert!(leave.is_leave_joint(), "{change}");
        assert_eq!(leave.context, context);
        // Pretend it applied (one node cannot commit under the joint quorum it needs).
        let after = node.apply_conf_change(&leave).unwrap();
        assert_eq!(Some(after), expected_after, "{change}");
        persist(&mut node, &ready);
        node.advance();
    }
}

#[test]
fn raw_node_joint_auto_leave() {
    // A joint configuration entered automatically is left by the leader even when it lost
    // and regained leadership in between. (Needs etcd's rule, as above.)
    let change = ConfChange::joint(
        ConfChangeTransition::JointImplicit,
        [(ConfChangeKind::AddLearner, 2)],
    );
    let mut config = test_config(1, 10, 1);
    config.conf_change_before_term_commit = true;
    let mut node = new_node(config, storage(&[1], &[]));
    let applied = propose_and_apply(&mut node, &change, true);
    check_last_two_entries(&node, &change);
    assert_eq!(applied, conf_state(&[1], &[1], &[2], &[], true));
    assert_eq!(node.pending_conf_index(), 0, "it stepped down");
    assert_eq!(node.role(), Role::Follower);
    // A follower does not leave the joint configuration.
    let ready = node.ready();
    assert!(ready.entries.is_empty());
    persist(&mut node, &ready);
    node.advance();
    // Leader again, it leaves once it has applied far enough.
    node.campaign();
    let mut leave = None;
    for _ in 0..4 {
        let ready = node.ready();
        persist(&mut node, &ready);
        node.advance();
        if let Some(entry) = ready
            .entries
            .iter()
            .find(|e| e.kind == EntryKind::ConfChange)
        {
            leave = entry.conf_change();
            break;
        }
    }
    let leave = leave.expect("the leader proposed leaving the joint configuration");
    assert_eq!(leave, ConfChange::leave_joint());
    let after = node.apply_conf_change(&leave).unwrap();
    assert_eq!(after, conf_state(&[1], &[], &[2], &[], false));
}

/// A single-voter node driven until it leads with its empty entry applied.
fn single_leader() -> Node {
    let mut node = new_test_raft(1, 10, 1, storage(&[1], &[]));
    node.campaign();
    for _ in 0..10 {
        let ready = node.ready();
        persist(&mut node, &ready);
        let applied_noop = !ready.committed_entries.is_empty();
        node.advance();
        if applied_noop {
            return node;
        }
    }
    panic!("no leader");
}

#[test]
fn raw_node_propose_add_duplicate_node() {
    // Proposing to add a node that is already a voter does not block a later change. (etcd
    // turns the duplicate proposed while the first is pending into an empty entry; we refuse
    // it with an error, so it is proposed again once the first applied.)
    let mut node = single_leader();
    let propose_and_apply = |node: &mut Node, change: &ConfChange| {
        node.propose_conf_change(change.clone()).unwrap();
        for _ in 0..2 {
            let ready = node.ready();
            persist(node, &ready);
            for entry in &ready.committed_entries {
                if let Some(committed) = entry.conf_change() {
                    node.apply_conf_change(&committed).unwrap();
                }
            }
            node.advance();
        }
    };
    let add_1 = ConfChange::single(ConfChangeKind::AddNode, 1);
    propose_and_apply(&mut node, &add_1);
    propose_and_apply(&mut node, &add_1);
    let add_2 = ConfChange::single(ConfChangeKind::AddNode, 2);
    propose_and_apply(&mut node, &add_2);
    let last = node.storage().last_index();
    let entries = node
        .storage()
        .entries(last - 2, last + 1, usize::MAX)
        .unwrap();
    let data: Vec<Vec<u8>> = entries.into_iter().map(|e| e.data.to_vec()).collect();
    assert_eq!(data, vec![add_1.encode(), add_1.encode(), add_2.encode()]);
    assert_eq!(
        node.conf_state().voters.into_iter().collect::<Vec<_>>(),
        vec![1, 2]
    );
}

#[test]
fn raw_node_read_index() {
    // A ReadIndex request reaches Raft and its read state comes out in a Ready.
    let mut node = single_leader();
    node.read_index(b"somedata2".to_vec()).unwrap();
    assert!(node.has_ready());
    let ready = node.ready();
    assert_eq!(ready.read_states.len(), 1);
    assert_eq!(ready.read_states[0].request_ctx, b"somedata2");
    assert_eq!(ready.read_states[0].index, node.commit_index());
    node.advance();
    assert!(!node.has_ready(), "read states are handed out once");
}

#[test]
fn raw_node_start() {
    // A bootstrapped single voter campaigns, becomes leader only once its vote is durable,
    // and then appends, commits and applies its empty entry and a proposal.
    let mut storage = MemStorage::default();
    let bootstrap = Snapshot {
        metadata: raft::SnapshotMetadata {
            index: 1,
            term: 0,
            conf_state: ConfState::with_voters([1]),
        },
        data: Vec::new(),
    };
    storage.apply_snapshot(bootstrap).unwrap();
    let mut node = new_node(test_config(1, 10, 1), storage);
    assert!(!node.has_ready());
    node.campaign();
    let ready = node.ready();
    assert_eq!(
        node.role(),
        Role::Candidate,
        "not before its vote is durable"
    );
    assert!(ready.entries.is_empty());
    persist(&mut node, &ready);
    node.advance();
    assert_eq!(node.role(), Role::Leader);
    node.propose(b"foo".to_vec()).unwrap();
    assert!(node.has_ready());
    let ready = node.ready();
    let expected = vec![
        Entry {
            term: 1,
            index: 2,
            ..Entry::default()
        },
        Entry {
            term: 1,
            index: 3,
            data: b"foo".as_slice().into(),
            ..Entry::default()
        },
    ];
    assert_eq!(ready.entries, expected);
    persist(&mut node, &ready);
    node.advance();
    assert!(node.has_ready());
    let ready = node.ready();
    assert!(ready.entries.is_empty());
    assert!(!ready.must_sync);
    assert_eq!(
        ready.hard_state,
        Some(HardState {
            term: 1,
            vote: Some(1),
            commit: 3
        })
    );
    assert_eq!(ready.committed_entries, expected);
    node.advance();
    assert!(!node.has_ready());
}

#[test]
fn raw_node_restart() {
    // Restarted, a node hands out the committed entries its storage holds, and nothing else.
    let entries = vec![
        Entry {
            term: 1,
            index: 1,
            ..Entry::default()
        },
        Entry {
            term: 1,
            index: 2,
            data: b"foo".as_slice().into(),
            ..Entry::default()
        },
    ];
    let storage = storage_with_log(&[1], &entries, hard_state(1, None, 1));
    let mut node = new_node(test_config(1, 10, 1), storage);
    let ready = node.ready();
    let expected = Ready {
        committed_entries: entries[..1].to_vec(),
        ..Ready::default()
    };
    assert_eq!(ready, expected);
    node.advance();
    assert!(!node.has_ready());
}

#[test]
fn raw_node_restart_from_snapshot() {
    // Restarted from a snapshot, it hands out the committed entries after it.
    let snapshot = snapshot(2, 1, &[1, 2], &[]);
    let entries = vec![Entry {
        term: 1,
        index: 3,
        data: b"foo".as_slice().into(),
        ..Entry::default()
    }];
    let mut storage = storage_from_snapshot(snapshot);
    storage.append(&entries);
    storage.set_hard_state(hard_state(1, None, 3));
    let mut node = new_node(test_config(1, 10, 1), storage);
    let ready = node.ready();
    let expected = Ready {
        committed_entries: entries,
        ..Ready::default()
    };
    assert_eq!(ready, expected);
    node.advance();
    assert!(!node.has_ready());
}

#[test]
fn raw_node_status() {
    // The status: no progress before leading; leader, role, its own progress and the
    // configuration after.
    let mut node = new_test_raft(1, 10, 1, storage(&[1], &[]));
    assert_eq!(node.leader(), None);
    node.campaign();
    let ready = node.ready();
    persist(&mut node, &ready);
    node.advance();
    assert_eq!(node.leader(), Some(1));
    assert_eq!(node.role(), Role::Leader);
    let own = node.progress(1).expect("the leader's own progress");
    assert_eq!(own.state, ProgressState::Replicate);
    assert!(own.recent_active);
    assert_eq!(node.progresses().count(), 1);
    assert_eq!(node.conf_state(), ConfState::with_voters([1]));
}

#[test]
fn raw_node_commit_pagination_after_restart() {
    // Committed entries handed out a page at a time (max_committed_size_per_ready) are all
    // applied, in order and without a gap, across a restart and a commit index that moves
    // meanwhile.
    let mut entries: Vec<Entry> = (1..=10)
        .map(|index| Entry {
            term: 1,
            index,
            data: b"a".as_slice().into(),
            ..Entry::default()
        })
        .collect();
    entries.push(Entry {
        term: 1,
        index: 11,
        data: b"boom".as_slice().into(),
        ..Entry::default()
    });
    let storage = storage_with_log(&[1], &entries, hard_state(1, Some(1), 10));
    let mut config = test_config(1, 10, 1);
    // Less than the ten committed entries' payload: the last one comes in a later Ready.
    config.max_committed_size_per_ready = 8;
    let mut node = new_node(config, storage);
    let mut highest_applied = 0;
    while highest_applied != 11 {
        let ready = node.ready();
        let committed = &ready.committed_entries;
        assert!(
            !committed.is_empty(),
            "stopped applying at {highest_applied}"
        );
        let next = committed[0].index;
        assert!(
            highest_applied == 0 || highest_applied + 1 == next,
            "applying {next} after {highest_applied}: a gap"
        );
        highest_applied = committed.last().unwrap().index;
        persist(&mut node, &ready);
        node.advance();
        let mut heartbeat = message(MessageKind::Heartbeat, 2, 1, 1);
        heartbeat.commit = 11;
        node.step(heartbeat).unwrap();
    }
}

#[test]
fn raw_node_bounded_log_growth_with_partition() {
    // A leader cut off from its quorum does not grow its log without bound: proposals beyond
    // max_uncommitted_entries_size are dropped until entries commit and apply.
    const ENTRIES_MAX: u64 = 16;
    let data = b"testdata".to_vec();
    let limit = ENTRIES_MAX * data.len() as u64;
    let mut config = test_config(1, 10, 1);
    config.max_uncommitted_entries_size = limit;
    let mut node = new_node(config, storage(&[1], &[]));
    node.campaign();
    loop {
        let ready = node.ready();
        persist(&mut node, &ready);
        node.advance();
        if !ready.committed_entries.is_empty() {
            break;
        }
    }
    // Partitioned: nothing commits while proposals come.
    for _ in 0..1024 {
        let _ = node.propose(data.clone());
    }
    assert_eq!(node.uncommitted_size(), limit);
    // The partition heals: the tail is appended, committed, then applied.
    let ready = node.ready();
    assert_eq!(ready.entries.len() as u64, ENTRIES_MAX);
    persist(&mut node, &ready);
    node.advance();
    assert_eq!(node.uncommitted_size(), limit, "appended, not yet applied");
    let ready = node.ready();
    assert!(ready.entries.is_empty());
    assert_eq!(ready.committed_entries.len() as u64, ENTRIES_MAX);
    node.advance();
    assert_eq!(node.uncommitted_size(), 0);
}

#[test]
fn raw_node_consume_ready() {
    // A Ready hands out its messages once; messages produced before the next `advance` are
    // kept for the next Ready.
    let mut node = new_test_raft(1, 3, 1, storage(&[1, 2], &[]));
    node.step(message(MessageKind::Heartbeat, 2, 1, 1)).unwrap();
    let ready = node.ready();
    let responses: Vec<&Message> = ready.persisted_messages.iter().collect();
    assert_eq!(responses.len(), 1);
    assert_eq!(responses[0].kind, MessageKind::HeartbeatResponse);
    // Another heartbeat while the Ready is outstanding: its answer waits.
    node.step(message(MessageKind::Heartbeat, 2, 1, 1)).unwrap();
    persist(&mut node, &ready);
    node.advance();
    let next = node.ready();
    assert_eq!(next.persisted_messages.len(), 1);
    assert_eq!(
        next.persisted_messages[0].kind,
        MessageKind::HeartbeatResponse
    );
    node.advance();
    assert!(!node.has_ready());
}
