//! A node's configuration.

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;
use crate::mutant::MutantSet;
use crate::tracker::InflightLimits;
use crate::types::NodeId;

/// How the leader confirms it is still the leader before answering a ReadIndex.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ReadOnlyOption {
    /// A fresh heartbeat round acknowledged by a quorum, after the request arrived (§6.4).
    #[default]
    Safe,
    /// Answer at once, trusting the CheckQuorum lease: a leader that heard from a quorum within
    /// the last election timeout assumes no other leader can exist yet.
    ///
    /// **Unsafe.** The lease is measured in the leader's own ticks, while the followers that may
    /// elect a new leader measure the same timeout in theirs. If the leader's clock runs slow, or
    /// the leader process is paused (GC, VM migration, a stalled disk) between its last quorum
    /// check and the read, the others can time out, elect a new leader and commit new writes while
    /// the old leader still believes its lease holds and serves stale reads. Even with perfect
    /// clocks the lease spans up to two election timeouts on the leader's side versus one on the
    /// followers' (BRIEF §8 S7). Only use it when bounded clock drift and no pauses can be assumed.
    LeaseBased,
}

/// A node's configuration. Ticks are the driver's unit of time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    pub id: NodeId,
    /// Followers campaign after `election_tick + jitter` ticks without hearing from a leader,
    /// where the jitter (in `0..election_tick`) is drawn by the driver.
    pub election_tick: u64,
    /// The leader sends heartbeats every `heartbeat_tick` ticks.
    pub heartbeat_tick: u64,
    /// Run a PreVote round before incrementing the term (§9.6).
    pub pre_vote: bool,
    /// A leader steps down when it has not heard from a quorum within an election timeout, and
    /// followers that heard from a leader recently refuse to vote.
    pub check_quorum: bool,
    pub read_only: ReadOnlyOption,
    /// Appends in flight per follower while replicating optimistically.
    pub max_inflight_msgs: usize,
    /// Payload bytes in flight per follower while replicating optimistically (etcd's
    /// `MaxInflightBytes`); `u64::MAX`, the default, is no limit. Sizes are entry data lengths.
    #[serde(default = "no_limit")]
    pub max_inflight_bytes: u64,
    /// Entries per append message (ours; etcd limits only bytes).
    pub max_entries_per_msg: usize,
    /// Payload bytes per append message (etcd's `MaxSizePerMsg`); an append always carries at
    /// least one entry, so 0 means one entry per message. `u64::MAX`, the default, is no limit.
    #[serde(default = "no_limit")]
    pub max_size_per_msg: u64,
    /// Payload bytes of committed entries handed out in one `Ready` (etcd's
    /// `MaxCommittedSizePerReady`); at least one entry is. `u64::MAX`, the default, is no limit.
    #[serde(default = "no_limit")]
    pub max_committed_size_per_ready: u64,
    /// Payload bytes a leader may hold uncommitted in its log; a proposal beyond is dropped
    /// (etcd's `MaxUncommittedEntriesSize`). An empty entry is never dropped, and neither is a
    /// proposal while nothing is uncommitted. `u64::MAX`, the default, is no limit.
    #[serde(default = "no_limit")]
    pub max_uncommitted_entries_size: u64,
    /// Followers drop proposals instead of forwarding them to the leader (etcd's
    /// `DisableProposalForwarding`; off by default: followers forward).
    #[serde(default)]
    pub disable_proposal_forwarding: bool,
    /// A leader that applies a configuration removing or demoting it steps down (etcd's
    /// `StepDownOnRemoval`, off by default: it keeps leading, without counting itself, and drops
    /// proposals). With `conf_change_on_append` a removed leader always steps down once its
    /// removal commits.
    #[serde(default)]
    pub step_down_on_removal: bool,
    /// The leader does not check a proposed configuration change against the state of the
    /// configuration (one change pending at a time, joint or not, valid for the configuration
    /// in effect): the application guarantees it is valid where it will apply (etcd's
    /// `DisableConfChangeValidation`). A change invalid when applied is still refused then.
    #[serde(default)]
    pub disable_conf_change_validation: bool,
    /// Accept a configuration change as soon as the changes before this leader's election are
    /// applied, even before the leader committed an entry of its own term (etcd's rule). By
    /// default we wait for that first commit, which is needed when configurations take effect
    /// on append (the single-server change bug, BRIEF §8 S5); the two may not be combined.
    #[serde(default)]
    pub conf_change_before_term_commit: bool,
    /// Planted bugs; empty for the correct protocol.
    pub mutants: MutantSet,
    /// A configuration takes effect as soon as its entry is appended to the log (the Raft
    /// paper's rule, §6) instead of when it is applied (etcd's rule, the default). Scenario S5
    /// needs it to reproduce the single-server change bug. A node always runs the latest
    /// configuration in its log: truncating a conf-change entry away reverts to the one before,
    /// a snapshot carries the configuration as of its index, and a leader that removed itself
    /// keeps leading until that change commits.
    #[serde(default)]
    pub conf_change_on_append: bool,
}

impl Config {
    /// Sensible defaults for node `id`.
    pub fn new(id: NodeId) -> Config {
        Config {
            id,
            election_tick: 10,
            heartbeat_tick: 1,
            pre_vote: true,
            check_quorum: true,
            read_only: ReadOnlyOption::Safe,
            max_inflight_msgs: 256,
            max_inflight_bytes: u64::MAX,
            max_entries_per_msg: 1024,
            max_size_per_msg: u64::MAX,
            max_committed_size_per_ready: u64::MAX,
            max_uncommitted_entries_size: u64::MAX,
            disable_proposal_forwarding: false,
            step_down_on_removal: false,
            conf_change_before_term_commit: false,
            disable_conf_change_validation: false,
            mutants: MutantSet::EMPTY,
            conf_change_on_append: false,
        }
    }

    /// The in-flight window of each follower.
    pub(crate) fn inflight_limits(&self) -> InflightLimits {
        InflightLimits {
            messages: self.max_inflight_msgs,
            bytes: self.max_inflight_bytes,
        }
    }

    /// Checks that the values are possible.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.id == 0 {
            return Err(ConfigError::ZeroId);
        }
        if self.heartbeat_tick == 0 {
            return Err(ConfigError::ZeroHeartbeatTick);
        }
        if self.election_tick <= self.heartbeat_tick {
            return Err(ConfigError::ElectionNotAboveHeartbeat {
                election_tick: self.election_tick,
                heartbeat_tick: self.heartbeat_tick,
            });
        }
        if self.max_inflight_msgs == 0 {
            return Err(ConfigError::ZeroInflight);
        }
        if self.max_entries_per_msg == 0 {
            return Err(ConfigError::ZeroEntriesPerMessage);
        }
        if self.read_only == ReadOnlyOption::LeaseBased && !self.check_quorum {
            return Err(ConfigError::LeaseWithoutCheckQuorum);
        }
        if self.max_inflight_bytes == 0 {
            return Err(ConfigError::ZeroInflightBytes);
        }
        if self.conf_change_on_append && self.conf_change_before_term_commit {
            return Err(ConfigError::ConfChangeBeforeTermCommitOnAppend);
        }
        Ok(())
    }
}

fn no_limit() -> u64 {
    u64::MAX
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_table() {
        let ok = Config::new(1);
        assert_eq!(ok.validate(), Ok(()));
        type Case = (fn(&mut Config), ConfigError);
        let cases: [Case; 8] = [
            (|c| c.id = 0, ConfigError::ZeroId),
            (|c| c.heartbeat_tick = 0, ConfigError::ZeroHeartbeatTick),
            (
                |c| c.election_tick = 1,
                ConfigError::ElectionNotAboveHeartbeat {
                    election_tick: 1,
                    heartbeat_tick: 1,
                },
            ),
            (|c| c.max_inflight_msgs = 0, ConfigError::ZeroInflight),
            (
                |c| c.max_entries_per_msg = 0,
                ConfigError::ZeroEntriesPerMessage,
            ),
            (
                |c| {
                    c.read_only = ReadOnlyOption::LeaseBased;
                    c.check_quorum = false;
                },
                ConfigError::LeaseWithoutCheckQuorum,
            ),
            (|c| c.max_inflight_bytes = 0, ConfigError::ZeroInflightBytes),
            (
                |c| {
                    c.conf_change_on_append = true;
                    c.conf_change_before_term_commit = true;
                },
                ConfigError::ConfChangeBeforeTermCommitOnAppend,
            ),
        ];
        for (edit, expected) in cases {
            let mut config = ok.clone();
            edit(&mut config);
            assert_eq!(config.validate(), Err(expected.clone()), "{expected}");
        }
    }
}
