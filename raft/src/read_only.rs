//! ReadIndex confirmation (§6.4): a read request is answered once a quorum has acknowledged a
//! heartbeat sent after the request arrived.
//!
//! Each request gets a confirmation round, a number that increases with every request, and the
//! leader's heartbeats carry the latest round. An acknowledgement of round `r` proves the follower
//! still followed this leader after every request of round `≤ r` arrived, so a request of round
//! `r` is confirmed when a quorum has acknowledged some round `≥ r`. Rounds never repeat, so a
//! delayed or duplicated acknowledgement of an earlier heartbeat cannot confirm a later request.

use std::collections::{BTreeMap, VecDeque};

use crate::quorum::JointConfig;
use crate::types::NodeId;

/// A read waiting for confirmation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadRequest {
    /// Who asked: the leader itself or a follower that forwarded it.
    pub from: NodeId,
    pub context: Vec<u8>,
    /// The commit index when the request arrived: the read may be served once it is applied.
    pub index: u64,
    pub round: u64,
}

/// Pending reads and the acknowledged rounds of one leadership term.
#[derive(Clone, Debug, Default)]
pub struct ReadOnly {
    pending: VecDeque<ReadRequest>,
    /// Per follower: one past the highest round it acknowledged.
    acked_round: BTreeMap<NodeId, u64>,
}

impl ReadOnly {
    pub fn add_request(&mut self, request: ReadRequest) {
        if let Some(last) = self.pending.back() {
            assert!(
                last.round <= request.round,
                "read rounds went back: {} then {}",
                last.round,
                request.round
            );
        }
        self.pending.push_back(request);
    }

    /// Records an acknowledgement of `round` by `from`. Stored as `round + 1` (rounds below
    /// it are acknowledged), so that a missing entry acknowledges nothing, not round 0.
    pub fn receive_ack(&mut self, from: NodeId, round: u64) {
        let acked = self.acked_round.entry(from).or_insert(0);
        *acked = (*acked).max(round + 1);
    }

    /// Whether an acknowledgement of `round` by `from` comes after one of a later round.
    pub fn is_out_of_order(&self, from: NodeId, round: u64) -> bool {
        self.acked_round
            .get(&from)
            .is_some_and(|&acked| round + 1 < acked)
    }

    /// Removes and returns the requests now confirmed by a quorum of `voters`. The leader
    /// `self_id` counts as acknowledging every round.
    pub fn take_confirmed(&mut self, voters: &JointConfig, self_id: NodeId) -> Vec<ReadRequest> {
        let quorum_round = voters.committed_index(|id| {
            if id == self_id {
                u64::MAX
            } else {
                self.acked_round.get(&id).copied().unwrap_or(0)
            }
        });
        let mut confirmed = Vec::new();
        while self
            .pending
            .front()
            .is_some_and(|request| request.round < quorum_round)
        {
            confirmed.extend(self.pending.pop_front());
        }
        confirmed
    }

    pub fn pending_count(&self) -> usize {
        self.pending.len()
    }

    /// Forgets everything (a new term, or losing leadership).
    pub fn reset(&mut self) {
        self.pending.clear();
        self.acked_round.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn voters(ids: &[NodeId]) -> JointConfig {
        JointConfig {
            incoming: ids.iter().copied().collect(),
            outgoing: Default::default(),
        }
    }

    fn request(round: u64) -> ReadRequest {
        ReadRequest {
            from: 1,
            context: vec![round as u8],
            index: 7,
            round,
        }
    }

    #[test]
    fn request_needs_quorum_ack_of_its_round_or_later() {
        let mut read_only = ReadOnly::default();
        let config = voters(&[1, 2, 3]);
        read_only.receive_ack(2, 1); // an ack of an earlier round
        read_only.add_request(request(2));
        read_only.add_request(request(3));
        assert!(
            read_only.take_confirmed(&config, 1).is_empty(),
            "round-1 ack confirms nothing"
        );
        read_only.receive_ack(3, 2);
        let confirmed = read_only.take_confirmed(&config, 1);
        assert_eq!(confirmed, vec![request(2)]);
        read_only.receive_ack(2, 5);
        assert_eq!(read_only.take_confirmed(&config, 1), vec![request(3)]);
        assert_eq!(read_only.pending_count(), 0);
    }

    #[test]
    fn single_voter_confirms_at_once() {
        let mut read_only = ReadOnly::default();
        read_only.add_request(request(1));
        assert_eq!(read_only.take_confirmed(&voters(&[1]), 1).len(), 1);
    }
}
