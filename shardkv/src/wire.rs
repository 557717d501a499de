//! What travels between the sharded service's processes: each Raft group's traffic tagged with
//! its group (multi-raft servers share one network address), and the migration messages
//! between replica groups.

use std::fmt;

use kv::Store;

use crate::config::GroupId;
use crate::controller::{CtrlOp, CtrlReply};

/// The controller's traffic: Raft messages between its replicas, queries and changes.
pub type CtrlWire = kv::Wire<CtrlOp, CtrlReply>;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Wire {
    /// Replica group `group`'s traffic: Raft messages between its replicas, clients' requests
    /// and the replies.
    Group { group: GroupId, wire: kv::Wire },
    /// The controller group's traffic.
    Controller(CtrlWire),
    /// Group `group`, new owner of `shards` in configuration `num`, asks their previous owner
    /// for them.
    Pull {
        group: GroupId,
        num: u64,
        shards: Vec<usize>,
    },
    /// The shards' data and sessions, as the previous owner froze them in configuration `num`.
    PullReply {
        num: u64,
        shards: Vec<(usize, Store)>,
    },
    /// The new owner installed `shards` of configuration `num`: the previous owner may drop them.
    Delete { num: u64, shards: Vec<usize> },
    /// The previous owner no longer holds `shards` of configuration `num`.
    DeleteReply { num: u64, shards: Vec<usize> },
}

fn shard_list(shards: impl Iterator<Item = usize>) -> String {
    shards.map(|s| s.to_string()).collect::<Vec<_>>().join(",")
}

/// `g2 app t4 prev=1@1 [2@2] commit=1`, `ctrl request seq=3 query latest`,
/// `pull g1 config=3 shards=1,4`: the one text of a message (the route is the caller's).
impl fmt::Display for Wire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Wire::Group { group, wire } => write!(f, "g{group} {wire}"),
            Wire::Controller(wire) => write!(f, "ctrl {wire}"),
            Wire::Pull { group, num, shards } => write!(
                f,
                "pull g{group} config={num} shards={}",
                shard_list(shards.iter().copied())
            ),
            Wire::PullReply { num, shards } => write!(
                f,
                "pull-reply config={num} shards={}",
                shard_list(shards.iter().map(|(shard, _)| *shard))
            ),
            Wire::Delete { num, shards } => write!(
                f,
                "delete config={num} shards={}",
                shard_list(shards.iter().copied())
            ),
            Wire::DeleteReply { num, shards } => write!(
                f,
                "deleted config={num} shards={}",
                shard_list(shards.iter().copied())
            ),
        }
    }
}
