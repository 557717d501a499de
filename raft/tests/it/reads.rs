//! §6.4 linearizable reads: ReadIndex gating, quorum confirmation, follower reads, lease reads.

use raft::{MessageKind, ReadOnlyOption, ReadState};

use crate::support::*;

fn read(index: u64, context: &[u8]) -> ReadState {
    ReadState {
        index,
        request_ctx: context.to_vec(),
    }
}

#[test]
fn read_index_waits_for_the_first_commit_of_the_term() {
    // Goal: no answer before the leader's no-op commits. Method: the followers' acks of the
    // no-op are dropped; a read is queued; once the no-op commits the read is answered.
    let mut network = Network::new(&[1, 2, 3]);
    network.elect(1);
    network.propose(1, b"x");
    network.filter = Some(Box::new(|m| m.kind == MessageKind::AppendResponse));
    network.elect(2);
    assert!(!network.get(2).committed_entry_in_current_term());
    network.node(2).read_index(b"r1".to_vec()).unwrap();
    network.settle();
    assert!(
        network.read_states.get(&2).is_none_or(Vec::is_empty),
        "no answer before the no-op commits"
    );
    network.filter = None;
    network.tick(2, 3);
    assert!(network.get(2).committed_entry_in_current_term());
    assert_eq!(network.read_states[&2], vec![read(3, b"r1")]);
}

#[test]
fn read_index_needs_a_quorum_round() {
    // Goal: a read is confirmed by a fresh quorum heartbeat round. Method: heartbeat acks are
    // dropped; no answer; then delivered; answered with the commit index.
    let mut network = Network::new(&[1, 2, 3]);
    network.elect(1);
    network.filter = Some(Box::new(|m| m.kind == MessageKind::HeartbeatResponse));
    network.node(1).read_index(b"r".to_vec()).unwrap();
    network.settle();
    assert!(network.read_states.get(&1).is_none_or(Vec::is_empty));
    network.filter = None;
    network.tick(1, 1);
    assert_eq!(network.read_states[&1], vec![read(1, b"r")]);
}

#[test]
fn one_ack_is_enough_in_three_nodes() {
    let mut network = Network::new(&[1, 2, 3]);
    network.elect(1);
    network.isolate(3);
    network.node(1).read_index(b"r".to_vec()).unwrap();
    network.settle();
    assert_eq!(network.read_states[&1], vec![read(1, b"r")]);
}

#[test]
fn isolated_leader_never_answers() {
    let mut network = Network::new(&[1, 2, 3]);
    network.elect(1);
    network.isolate(1);
    network.node(1).read_index(b"r".to_vec()).unwrap();
    network.tick(1, 5);
    assert!(network.read_states.get(&1).is_none_or(Vec::is_empty));
}

#[test]
fn read_rounds_are_unique_and_increasing() {
    // Goal: each request gets its own heartbeat round. Method: two reads produce heartbeats
    // with increasing rounds, and a stale ack of the first round does not confirm the second.
    let mut network = Network::new(&[1, 2, 3]);
    network.elect(1);
    network.delivered.clear();
    network.node(1).read_index(b"a".to_vec()).unwrap();
    network.settle();
    network.node(1).read_index(b"b".to_vec()).unwrap();
    network.settle();
    let rounds: Vec<u64> = network
        .delivered
        .iter()
        .filter(|m| m.kind == MessageKind::Heartbeat && m.to == 2)
        .map(|m| m.read_round)
        .collect();
    assert_eq!(rounds, vec![1, 2]);
    // A third read, with only a replayed ack of round 2 arriving: not confirmed.
    network.isolate(1);
    network.node(1).read_index(b"c".to_vec()).unwrap();
    let stale_ack = network
        .delivered
        .iter()
        .rev()
        .find(|m| m.kind == MessageKind::HeartbeatResponse)
        .unwrap()
        .clone();
    network.node(1).step(stale_ack).unwrap();
    network.settle();
    assert_eq!(
        network.read_states[&1].len(),
        2,
        "c is not confirmed by a replayed ack"
    );
}

#[test]
fn follower_read_is_forwarded_to_the_leader() {
    let mut network = Network::new(&[1, 2, 3]);
    network.elect(1);
    network.propose(1, b"x");
    network.node(3).read_index(b"f".to_vec()).unwrap();
    network.settle();
    assert_eq!(network.read_states[&3], vec![read(2, b"f")]);
    assert!(
        network.count_delivered(|m| m.kind == MessageKind::ReadIndex && m.from == 3 && m.to == 1)
            == 1
    );
    // Without a known leader a follower refuses.
    let mut fresh = Network::new(&[1, 2, 3]);
    assert!(fresh.node(2).read_index(b"f".to_vec()).is_err());
}

#[test]
fn lease_reads_answer_at_once() {
    // Goal: the opt-in lease read answers without a round (and is documented unsafe).
    let mut network = Network::with_config(&[1, 2, 3], |config| {
        config.check_quorum = true;
        config.read_only = ReadOnlyOption::LeaseBased;
    });
    network.elect(1);
    network.isolate(1);
    network.node(1).read_index(b"lease".to_vec()).unwrap();
    network.settle();
    assert_eq!(network.read_states[&1], vec![read(1, b"lease")]);
}

#[test]
fn single_node_reads_answer_at_once() {
    let mut network = Network::new(&[1]);
    network.elect(1);
    network.node(1).read_index(b"s".to_vec()).unwrap();
    network.settle();
    assert_eq!(network.read_states[&1], vec![read(1, b"s")]);
}
