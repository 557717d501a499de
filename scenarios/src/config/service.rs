//! Which service a run tests: the KV service on one Raft group (BRIEF §6), or the sharded KV on
//! multi-raft (BRIEF §14) with its groups, shards and controller.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{ConfigError, check_range};

/// The service and, for the sharded one, its shape.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Service {
    /// One Raft group of KV servers.
    #[default]
    Kv,
    /// Replica groups and a shard controller on multi-raft servers.
    Sharded(ShardedConfig),
}

impl Service {
    pub fn is_kv(&self) -> bool {
        matches!(self, Service::Kv)
    }

    pub fn kind(&self) -> ServiceKind {
        match self {
            Service::Kv => ServiceKind::Kv,
            Service::Sharded(_) => ServiceKind::Sharded,
        }
    }

    pub fn sharded(&self) -> Option<&ShardedConfig> {
        match self {
            Service::Kv => None,
            Service::Sharded(sharded) => Some(sharded),
        }
    }
}

/// The shape of the sharded service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardedConfig {
    /// Servers of each replica group: `g1` on the first `group_sizes[0]` servers, and so on.
    pub group_sizes: Vec<usize>,
    /// Shards the keys are split into.
    pub shards: usize,
    /// The groups `g1..` that configuration 1 holds; the others may join later.
    pub initial_groups: usize,
    /// A replica group's leader polls the controller and its migrations every this many ticks.
    pub poll_ticks: u64,
}

/// Bounds of the sharded service's settings.
pub mod bounds {
    /// Servers in one replica group.
    pub const GROUP_SIZE_MAX: u64 = 9;
    pub const POLL_TICKS_MAX: u64 = 1_000;
}

impl ShardedConfig {
    /// Three groups of three, ten shards, every group in configuration 1, polls every ten ticks
    /// (100 ms with 10 ms ticks, as the lab's servers poll).
    pub fn standard() -> Self {
        ShardedConfig {
            group_sizes: vec![3, 3, 3],
            shards: 10,
            initial_groups: 3,
            poll_ticks: 10,
        }
    }

    pub fn server_count(&self) -> usize {
        self.group_sizes.iter().sum()
    }

    pub fn layout(&self) -> shardkv::Layout {
        shardkv::Layout::new(&self.group_sizes, self.shards)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let groups = self.group_sizes.len() as u64;
        check_range("groups", groups, 1, shardkv::GROUPS_MAX as u64)?;
        for &size in &self.group_sizes {
            check_range("group size", size as u64, 1, bounds::GROUP_SIZE_MAX)?;
        }
        check_range("shards", self.shards as u64, 1, shardkv::SHARDS_MAX as u64)?;
        check_range("initial groups", self.initial_groups as u64, 1, groups)?;
        check_range("poll ticks", self.poll_ticks, 1, bounds::POLL_TICKS_MAX)?;
        Ok(())
    }
}

impl fmt::Display for ShardedConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sizes: Vec<String> = self.group_sizes.iter().map(usize::to_string).collect();
        write!(
            f,
            "groups={} shards={} initial_groups={} poll={}ticks",
            sizes.join("+"),
            self.shards,
            self.initial_groups,
            self.poll_ticks
        )
    }
}

/// `--service kv|sharded`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum ServiceKind {
    #[default]
    Kv,
    Sharded,
}

impl ServiceKind {
    pub fn name(self) -> &'static str {
        match self {
            ServiceKind::Kv => "kv",
            ServiceKind::Sharded => "sharded",
        }
    }
}

impl fmt::Display for ServiceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown service `{0}` (valid: kv, sharded)")]
pub struct UnknownService(pub String);

impl FromStr for ServiceKind {
    type Err = UnknownService;

    fn from_str(name: &str) -> Result<Self, UnknownService> {
        [ServiceKind::Kv, ServiceKind::Sharded]
            .into_iter()
            .find(|kind| kind.name() == name)
            .ok_or_else(|| UnknownService(sim::shorten(name)))
    }
}
