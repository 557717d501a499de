//! Quorum arithmetic for majority and joint configurations: the commit index a set of match
//! indices supports, and the outcome of an election.

use std::collections::BTreeSet;

use crate::types::NodeId;

/// The outcome of a vote tally.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VoteResult {
    /// Still waiting for replies that could decide it.
    Pending,
    Lost,
    Won,
}

/// The largest index that a majority of `voters` has reached. An empty configuration imposes no
/// constraint (`u64::MAX`), so that a joint configuration with an empty half reduces to the other.
pub fn majority_committed_index(
    voters: &BTreeSet<NodeId>,
    index_of: impl Fn(NodeId) -> u64,
) -> u64 {
    majority_index(voters.iter().map(|&id| index_of(id)))
}

/// The largest index that a majority of `indices` (one per voter) has reached; `u64::MAX` for
/// no voters at all.
pub(crate) fn majority_index(indices: impl ExactSizeIterator<Item = u64>) -> u64 {
    let count = indices.len();
    if count == 0 {
        return u64::MAX;
    }
    // A leader asks on every append response: configurations of up to `ON_STACK` voters (all
    // that simulations build) sort on the stack, larger ones in a buffer.
    const ON_STACK: usize = 16;
    if count <= ON_STACK {
        let mut buffer = [0u64; ON_STACK];
        let slots = &mut buffer[..count];
        for (slot, index) in slots.iter_mut().zip(indices) {
            *slot = index;
        }
        return quorum_index(slots);
    }
    let mut buffer: Vec<u64> = indices.collect();
    quorum_index(&mut buffer)
}

/// The largest index that a majority of `indices` (one per voter) has reached.
fn quorum_index(indices: &mut [u64]) -> u64 {
    indices.sort_unstable_by(|a, b| b.cmp(a));
    indices[indices.len() / 2]
}

/// The election outcome among `voters` given each one's reply (`None`: no reply yet).
pub fn majority_vote_result(
    voters: &BTreeSet<NodeId>,
    vote_of: impl Fn(NodeId) -> Option<bool>,
) -> VoteResult {
    if voters.is_empty() {
        return VoteResult::Won;
    }
    let (mut granted, mut missing) = (0, 0);
    for &id in voters {
        match vote_of(id) {
            Some(true) => granted += 1,
            Some(false) => {}
            None => missing += 1,
        }
    }
    let quorum = voters.len() / 2 + 1;
    if granted >= quorum {
        VoteResult::Won
    } else if granted + missing >= quorum {
        VoteResult::Pending
    } else {
        VoteResult::Lost
    }
}

/// The voters of a configuration: `incoming`, and `outgoing` while joint (§6, Figure 11).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JointConfig {
    pub incoming: BTreeSet<NodeId>,
    pub outgoing: BTreeSet<NodeId>,
}

impl JointConfig {
    pub fn is_joint(&self) -> bool {
        !self.outgoing.is_empty()
    }

    pub fn contains(&self, id: NodeId) -> bool {
        self.incoming.contains(&id) || self.outgoing.contains(&id)
    }

    /// Every voter of either half.
    pub fn ids(&self) -> BTreeSet<NodeId> {
        self.incoming.union(&self.outgoing).copied().collect()
    }

    /// Committed in a joint configuration means committed in both halves.
    pub fn committed_index(&self, index_of: impl Fn(NodeId) -> u64) -> u64 {
        let incoming = majority_committed_index(&self.incoming, &index_of);
        let outgoing = majority_committed_index(&self.outgoing, &index_of);
        incoming.min(outgoing)
    }

    /// Won in a joint configuration means won in both halves; lost in either is lost.
    pub fn vote_result(&self, vote_of: impl Fn(NodeId) -> Option<bool>) -> VoteResult {
        let incoming = majority_vote_result(&self.incoming, &vote_of);
        let outgoing = majority_vote_result(&self.outgoing, &vote_of);
        match (incoming, outgoing) {
            (VoteResult::Won, VoteResult::Won) => VoteResult::Won,
            (VoteResult::Lost, _) | (_, VoteResult::Lost) => VoteResult::Lost,
            _ => VoteResult::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn set(ids: &[NodeId]) -> BTreeSet<NodeId> {
        ids.iter().copied().collect()
    }

    #[test]
    fn majority_commit_table() {
        // (voters, match indices by voter; missing voters have 0, expected commit index)
        type Case = (&'static [NodeId], &'static [(NodeId, u64)], u64);
        let cases: [Case; 7] = [
            (&[1], &[(1, 5)], 5),
            (&[1, 2], &[(1, 5), (2, 3)], 3),
            (&[1, 2, 3], &[(1, 5), (2, 3), (3, 1)], 3),
            (&[1, 2, 3], &[(1, 5)], 0),
            (&[1, 2, 3, 4], &[(1, 9), (2, 8), (3, 2), (4, 1)], 2),
            (&[1, 2, 3, 4, 5], &[(1, 9), (2, 8), (3, 7), (4, 1)], 7),
            (&[], &[], u64::MAX),
        ];
        for (voters, matches, expected) in cases {
            let matches: BTreeMap<_, _> = matches.iter().copied().collect();
            let commit =
                majority_committed_index(&set(voters), |id| matches.get(&id).copied().unwrap_or(0));
            assert_eq!(commit, expected, "voters {voters:?} matches {matches:?}");
        }
    }

    #[test]
    fn joint_commit_table() {
        // (incoming, outgoing, matches, expected): both halves must agree.
        type Case = (
            &'static [NodeId],
            &'static [NodeId],
            &'static [(NodeId, u64)],
            u64,
        );
        let cases: [Case; 4] = [
            (&[1, 2, 3], &[], &[(1, 7), (2, 6), (3, 1)], 6),
            (
                &[1, 2, 3],
                &[1, 4, 5],
                &[(1, 7), (2, 6), (3, 5), (4, 2), (5, 1)],
                2,
            ),
            (
                &[4, 5, 6],
                &[1, 2, 3],
                &[(1, 9), (2, 9), (3, 9), (4, 3), (5, 4), (6, 0)],
                3,
            ),
            (&[1, 2], &[1, 2, 3], &[(1, 5), (2, 4), (3, 8)], 4),
        ];
        for (incoming, outgoing, matches, expected) in cases {
            let config = JointConfig {
                incoming: set(incoming),
                outgoing: set(outgoing),
            };
            let matches: BTreeMap<_, _> = matches.iter().copied().collect();
            let commit = config.committed_index(|id| matches.get(&id).copied().unwrap_or(0));
            assert_eq!(commit, expected, "{config:?} matches {matches:?}");
        }
    }

    #[test]
    fn vote_result_table() {
        use VoteResult::*;
        // (incoming, outgoing, votes (id, granted), expected)
        type Case = (
            &'static [NodeId],
            &'static [NodeId],
            &'static [(NodeId, bool)],
            VoteResult,
        );
        let cases: [Case; 10] = [
            (&[1], &[], &[(1, true)], Won),
            (&[1, 2, 3], &[], &[(1, true)], Pending),
            (&[1, 2, 3], &[], &[(1, true), (2, true)], Won),
            (&[1, 2, 3], &[], &[(1, true), (2, false), (3, false)], Lost),
            (&[1, 2, 3, 4], &[], &[(1, true), (2, true)], Pending),
            (
                &[1, 2, 3, 4],
                &[],
                &[(1, true), (2, false), (3, false)],
                Lost,
            ),
            (&[1, 2, 3], &[1, 4, 5], &[(1, true), (2, true)], Pending),
            (
                &[1, 2, 3],
                &[1, 4, 5],
                &[(1, true), (2, true), (4, true)],
                Won,
            ),
            (
                &[1, 2, 3],
                &[1, 4, 5],
                &[(1, true), (2, true), (4, false), (5, false)],
                Lost,
            ),
            (&[], &[], &[], Won),
        ];
        for (incoming, outgoing, votes, expected) in cases {
            let config = JointConfig {
                incoming: set(incoming),
                outgoing: set(outgoing),
            };
            let votes: BTreeMap<_, _> = votes.iter().copied().collect();
            assert_eq!(
                config.vote_result(|id| votes.get(&id).copied()),
                expected,
                "{config:?} {votes:?}"
            );
        }
    }
}
