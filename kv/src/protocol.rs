//! What travels over the simulated network between clerks and servers, and the read modes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::op::{Op, OpResult};

/// A clerk's request for one operation. A retry is the same request again: same client id,
/// same sequence number, same operation. `O` is the service's operation: a KV [`Op`] by
/// default (a service built on [`crate::Server`] brings its own).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ClientRequest<O = Op> {
    pub client_id: u64,
    pub seq: u64,
    pub op: O,
}

/// A server's answer to a [`ClientRequest`], echoing its client id and sequence number so the
/// clerk can drop answers to requests it no longer waits for.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ClientReply<R = OpResult> {
    pub client_id: u64,
    pub seq: u64,
    pub outcome: ReplyOutcome<R>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ReplyOutcome<R = OpResult> {
    /// The operation took effect (or was read) with this result.
    Ok(R),
    /// This server cannot serve the request (not the leader, or a follower asked for a write);
    /// `leader_hint` is the leader it believes in, if any. The operation did not take effect
    /// through this server, but it may still take effect through an earlier attempt.
    WrongLeader { leader_hint: Option<u64> },
    /// The server accepted the request but could not finish it (it lost leadership or its term
    /// changed before the entry committed, or it is not ready to serve reads yet). The outcome
    /// is unknown: the clerk retries with the same sequence number.
    NotReady,
    /// A replica group of the sharded KV that does not serve the key's shard now (it does not
    /// own it in its current configuration, or has not installed it yet). The operation did not
    /// take effect there; the clerk asks the controller for a newer configuration and retries.
    /// Never sent by the plain KV service.
    WrongGroup,
}

/// How a server answers `Get` (BRIEF §6). Writes always go through the log.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum ReadMode {
    /// Reads are proposed and applied like writes: linearizable, and as slow as a write.
    Log,
    /// The leader records its commit index, confirms its leadership with a quorum round and
    /// answers once it has applied up to that index (after its first commit in its term):
    /// linearizable without a log entry.
    #[default]
    ReadIndex,
    /// The leader answers from local state while its lease (shorter than the election timeout,
    /// renewed by quorum acks) lasts. Documented unsafe: it trusts clocks, and a slow or jumping
    /// clock on an old leader yields stale reads (scenario S7).
    Lease,
    /// Followers serve reads: a follower asks the leader for a read index, waits until it has
    /// applied that far, then answers locally. Linearizable; spreads the read load.
    Follower,
}

impl ReadMode {
    /// Every read mode, in declaration order.
    pub const ALL: [ReadMode; 4] = [
        ReadMode::Log,
        ReadMode::ReadIndex,
        ReadMode::Lease,
        ReadMode::Follower,
    ];

    /// The kebab-case name used on the command line and in recorded configurations.
    pub fn as_str(self) -> &'static str {
        match self {
            ReadMode::Log => "log",
            ReadMode::ReadIndex => "read-index",
            ReadMode::Lease => "lease",
            ReadMode::Follower => "follower",
        }
    }
}

impl fmt::Display for ReadMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("unknown read mode {given:?}: expected one of log, read-index, lease, follower")]
pub struct ParseReadModeError {
    pub given: String,
}

impl FromStr for ReadMode {
    type Err = ParseReadModeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        ReadMode::ALL
            .into_iter()
            .find(|mode| mode.as_str() == text)
            .ok_or_else(|| ParseReadModeError {
                given: text.to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_mode_names_round_trip_and_match_serde() {
        for mode in ReadMode::ALL {
            assert_eq!(mode.to_string().parse::<ReadMode>(), Ok(mode));
            let json = serde_json::to_string(&mode).unwrap();
            assert_eq!(json, format!("\"{mode}\""));
        }
        assert_eq!(ReadMode::default(), ReadMode::ReadIndex);
    }

    #[test]
    fn unknown_read_mode_is_a_one_line_error() {
        let error = "ReadIndex".parse::<ReadMode>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown read mode \"ReadIndex\": expected one of log, read-index, lease, follower"
        );
    }
}
