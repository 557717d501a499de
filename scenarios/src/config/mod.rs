//! Configuration, the bottom layer: what one run is (`RunConfig`, `FaultMix`), which service it
//! tests (`service`), the planted bugs it may switch on (`mutant`), the kinds of fault
//! (`faults`), the configuration each campaign seed draws (`swarm`), what a failing run
//! violated (`property`), and the bounds every number from a user is checked against.

pub mod faults;
pub mod mutant;
pub mod property;
pub mod service;
pub mod swarm;

use std::fmt;

use kv::{ClerkConfig, ReadMode, ServerConfig, WorkloadConfig};
use raft::MutantSet;
use serde::{Deserialize, Serialize};
use sim::{DiskConfig, LinkConfig, NANOS_PER_MILLI, NANOS_PER_SEC, NodeId};

pub use crate::engines::{EngineChoice, UnknownEngine};
pub use faults::{FAULT_KINDS, FaultKind, FaultKindSpec};
pub use mutant::{Mutant, UnknownMutant};
pub use property::{Property, Violation};
pub use service::{Service, ServiceKind, ShardedConfig, UnknownService};

/// A configuration that cannot run: names the setting and its bounds.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{setting} {value} is outside {min}..={max}")]
    OutOfRange {
        setting: &'static str,
        value: u64,
        min: u64,
        max: u64,
    },
    #[error("{0}")]
    Workload(#[from] kv::WorkloadError),
    #[error("{0}")]
    Sim(#[from] sim::SimError),
    #[error("raft configuration: {0}")]
    Raft(#[from] raft::ConfigError),
    #[error("{0}")]
    Service(String),
    #[error("{0}")]
    Engine(String),
}

/// The bounds of every setting a user can give, checked in [`RunConfig::validate`]. They keep
/// every derived time (deadlines, timeouts, the end of a run) far from overflow and a run's
/// size within what one machine simulates.
pub mod bounds {
    use sim::{NANOS_PER_MILLI, NANOS_PER_SEC};

    pub const SERVERS_MAX: u64 = 9;
    /// Servers of the sharded service: every group at its largest.
    pub const SHARDED_SERVERS_MAX: u64 =
        shardkv::GROUPS_MAX as u64 * super::service::bounds::GROUP_SIZE_MAX;
    pub const CLIENTS_MAX: u64 = 64;
    /// A safety phase of at most a simulated day.
    pub const DURATION_NS_MAX: u64 = 86_400 * NANOS_PER_SEC;
    pub const LIVENESS_BOUND_NS_MAX: u64 = 3_600 * NANOS_PER_SEC;
    pub const TICK_NS_MIN: u64 = 100_000;
    pub const TICK_NS_MAX: u64 = NANOS_PER_SEC;
    pub const ELECTION_TICK_MAX: u64 = 10_000;
    pub const KEYS_MAX: u64 = 10_000;
    pub const FAULT_COUNT_MAX: u64 = 10_000;
    pub const SNAPSHOT_THRESHOLD_MAX: u64 = 1_000_000_000;
    pub const ENTRIES_PER_MSG_MAX: u64 = 1 << 20;
    pub const OPS_PER_CLIENT_MAX: u64 = 1_000_000_000;
    pub const CHECKER_STEPS_MAX: u64 = 1 << 40;
    pub const LATENCY_NS_MAX: u64 = 10 * NANOS_PER_SEC;
    pub const SYNC_LATENCY_NS_MAX: u64 = NANOS_PER_SEC;
    pub const MIN_DURATION_NS: u64 = NANOS_PER_MILLI;
    pub const INFLIGHT_MSGS_MAX: u64 = 1 << 20;
}

/// Checks `value` against `min..=max`.
pub fn check_range(
    setting: &'static str,
    value: u64,
    min: u64,
    max: u64,
) -> Result<(), ConfigError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::OutOfRange {
            setting,
            value,
            min,
            max,
        })
    }
}

/// Which kinds of faults a run may draw, and how many.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultMix {
    pub partitions: bool,
    pub one_way_cuts: bool,
    pub crashes: bool,
    pub pauses: bool,
    pub clock_drift: bool,
    pub link_loss: bool,
    /// Faults drawn for the safety phase (each later undone).
    pub count: u32,
    /// With crashes: quick crash-restarts (a node bounced mid-operation).
    #[serde(default)]
    pub bounces: bool,
    /// With crashes: a majority crashing at once, losing every unsynced write.
    #[serde(default)]
    pub power_loss: bool,
    /// With link loss: heavy duplication without loss.
    #[serde(default)]
    pub duplication: bool,
    /// Percent of faults aimed at the current leader instead of a random server.
    #[serde(default)]
    pub aim_at_leader_percent: u32,
    /// Percent of elections and new leaders the nemesis reacts to (a bounce, a crash, a pause).
    #[serde(default)]
    pub reactive_percent: u32,
    /// At most this many reactive faults per run.
    #[serde(default)]
    pub reactive_max: u32,
    /// Membership changes proposed at the leader: voters added and removed, one at a time or
    /// several at once (joint consensus), some cut off right after, some by a leader just
    /// elected. The liveness phase restores every server as a voter.
    #[serde(default)]
    pub membership: bool,
    /// The Figure 8 motif: a leader cut off with a minority, the next leader cut off alone
    /// at once, then the first back with the majority (`run::motifs`).
    #[serde(default)]
    pub figure8: bool,
    /// The stale-leader motif: a leader that cannot send to the others, its clock jumped back
    /// (its ticks stop), the others' messages to it held and let through late.
    #[serde(default)]
    pub stale_leader: bool,
    /// The crash-after-commit motif: a leader crashed right after it commits, its successor
    /// kept from committing its term's first entry for a while.
    #[serde(default)]
    pub crash_after_commit: bool,
    /// The split-vote motif: two candidates cut off from each other, voters bounced right
    /// after they vote.
    #[serde(default)]
    pub split_vote: bool,
    /// The single-server change motif (BRIEF §8 S5): a leader adds a spare and is cut off with
    /// it; its successor removes it at once, cut off with one voter.
    #[serde(default)]
    pub single_change: bool,
    /// The Figure 10 motif: a leader adds several spares at once and is cut off with them.
    #[serde(default)]
    pub multi_change: bool,
    /// The double-vote motif: every voter loses the leader at once, the voters split in two
    /// sides that only one server bridges, and that server bounced once it votes in the new
    /// term, with the other side's requests held for it.
    #[serde(default)]
    pub double_vote: bool,
    /// The snapshot-tail motif: a leader frozen while nobody else can elect, taking writes it
    /// cannot commit, then cut off until the others' leader compacts past where they diverge.
    #[serde(default)]
    pub snapshot_tail: bool,
    /// Controller changes (the sharded service): groups joining and leaving, shards moved,
    /// some with the group losing a shard cut off right after.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub controller: bool,
    /// The lost-reply-move motif (the sharded service): a shard moved away from its group while
    /// that group's replies to clients are lost, so clients retry writes it applied at the new
    /// owner (`run::shard_motifs`).
    #[serde(default)]
    pub lost_reply_move: bool,
    /// The snapshot-over-tail motif (the sharded service): a replica group's leader cut off
    /// alone until its successor commits (`run::shard_motifs`).
    #[serde(default)]
    pub snapshot_over_tail: bool,
}

impl fmt::Display for FaultMix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kinds: Vec<&str> = FAULT_KINDS
            .iter()
            .filter(|spec| spec.enabled(self))
            .filter_map(|spec| spec.name)
            .collect();
        write!(
            f,
            "{}[{}] aim-leader={}% react={}%x{}",
            self.count,
            kinds.join(","),
            self.aim_at_leader_percent,
            self.reactive_percent,
            self.reactive_max
        )
    }
}

impl FaultMix {
    pub fn all(count: u32) -> Self {
        Self {
            partitions: true,
            one_way_cuts: true,
            crashes: true,
            pauses: true,
            clock_drift: true,
            link_loss: true,
            count,
            bounces: true,
            power_loss: true,
            duplication: true,
            aim_at_leader_percent: 50,
            reactive_percent: 30,
            reactive_max: count / 2,
            membership: true,
            figure8: true,
            stale_leader: true,
            crash_after_commit: true,
            split_vote: true,
            single_change: true,
            multi_change: true,
            double_vote: true,
            snapshot_tail: true,
            controller: false,
            lost_reply_move: false,
            snapshot_over_tail: false,
        }
    }

    /// How many of the main kinds of fault are switched on.
    pub fn kinds(&self) -> usize {
        FAULT_KINDS
            .iter()
            .filter(|spec| matches!(spec.swarm, faults::SwarmDraw::Main(_)))
            .filter(|spec| spec.enabled(self))
            .count()
    }

    pub fn none() -> Self {
        Self {
            count: 0,
            reactive_max: 0,
            membership: false,
            figure8: false,
            stale_leader: false,
            crash_after_commit: false,
            split_vote: false,
            single_change: false,
            multi_change: false,
            double_vote: false,
            snapshot_tail: false,
            ..Self::all(0)
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    pub seed: u64,
    pub servers: usize,
    pub clients: usize,
    /// Length of the safety phase; clients start no operation after it.
    pub duration_ns: u64,
    /// How long the liveness phase may take after every fault is healed.
    pub liveness_bound_ns: u64,
    pub read_mode: ReadMode,
    pub snapshot_threshold_entries: u64,
    pub mutants: Vec<Mutant>,
    pub faults: FaultMix,
    pub tick_ns: u64,
    pub election_tick: u64,
    pub heartbeat_tick: u64,
    pub keys: usize,
    /// Relative weights of get, put, append and cas.
    pub mix: kv::OpMix,
    pub link: LinkConfig,
    /// Disk sync latency and torn writes.
    #[serde(default)]
    pub disk: DiskConfig,
    /// Operations each client issues at most (`None`: until the safety phase ends); shrinking
    /// lowers it.
    #[serde(default)]
    pub ops_per_client: Option<u64>,
    /// Most entries in one append message.
    #[serde(default = "default_max_entries_per_msg")]
    pub max_entries_per_msg: usize,
    /// The first this many servers form the initial configuration; the others start as spares
    /// that membership changes may add (`None`: every server is a voter).
    #[serde(default)]
    pub initial_voters: Option<usize>,
    /// A configuration change takes effect when its entry is appended (the dissertation's rule)
    /// instead of when it is applied (etcd's).
    #[serde(default)]
    pub conf_change_on_append: bool,
    /// The service under test: the KV service (the default) or the sharded KV.
    #[serde(default, skip_serializing_if = "Service::is_kv")]
    pub service: Service,
    /// The Raft implementation the servers run (ours unless named: our runs serialize as
    /// before the choice existed).
    #[serde(default, skip_serializing_if = "EngineChoice::is_ours")]
    pub engine: EngineChoice,
    /// Linearizability-check budget in search steps; over it the verdict is unknown (a failure).
    pub checker_steps_max: u64,
    /// The first this many clients only read.
    #[serde(default)]
    pub readers: usize,
    /// The servers after the initial voters, this many of them, start as learners.
    #[serde(default)]
    pub initial_learners: usize,
    /// etcd-raft's knobs the swarm varies.
    #[serde(default)]
    pub raft: RaftKnobs,
}

/// The settings of etcd-raft's `Config` that change how Raft batches, paces and routes its
/// work (see `raft::Config` for each); the defaults are those of the standard run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RaftKnobs {
    pub pre_vote: bool,
    pub check_quorum: bool,
    pub max_size_per_msg: u64,
    pub max_inflight_msgs: usize,
    pub max_inflight_bytes: u64,
    pub max_committed_size_per_ready: u64,
    pub max_uncommitted_entries_size: u64,
    pub disable_proposal_forwarding: bool,
}

impl Default for RaftKnobs {
    fn default() -> Self {
        let defaults = raft::Config::new(1);
        RaftKnobs {
            pre_vote: true,
            check_quorum: true,
            max_size_per_msg: defaults.max_size_per_msg,
            max_inflight_msgs: defaults.max_inflight_msgs,
            max_inflight_bytes: defaults.max_inflight_bytes,
            max_committed_size_per_ready: defaults.max_committed_size_per_ready,
            max_uncommitted_entries_size: defaults.max_uncommitted_entries_size,
            disable_proposal_forwarding: defaults.disable_proposal_forwarding,
        }
    }
}

impl RaftKnobs {
    /// The knobs that differ from the defaults, as `name=value` words (empty when none do).
    fn changed(&self) -> Vec<String> {
        let defaults = RaftKnobs::default();
        let bytes = |value: u64| {
            if value == u64::MAX {
                "inf".to_string()
            } else {
                value.to_string()
            }
        };
        let mut words = Vec::new();
        for (name, value, default) in [
            ("pre-vote", self.pre_vote, defaults.pre_vote),
            ("check-quorum", self.check_quorum, defaults.check_quorum),
            (
                "no-forwarding",
                self.disable_proposal_forwarding,
                defaults.disable_proposal_forwarding,
            ),
        ] {
            if value != default {
                words.push(format!("{name}={value}"));
            }
        }
        for (name, value, default) in [
            (
                "max-size-per-msg",
                self.max_size_per_msg,
                defaults.max_size_per_msg,
            ),
            (
                "max-inflight-msgs",
                self.max_inflight_msgs as u64,
                defaults.max_inflight_msgs as u64,
            ),
            (
                "max-inflight-bytes",
                self.max_inflight_bytes,
                defaults.max_inflight_bytes,
            ),
            (
                "max-committed-size-per-ready",
                self.max_committed_size_per_ready,
                defaults.max_committed_size_per_ready,
            ),
            (
                "max-uncommitted-size",
                self.max_uncommitted_entries_size,
                defaults.max_uncommitted_entries_size,
            ),
        ] {
            if value != default {
                words.push(format!("{name}={}", bytes(value)));
            }
        }
        words
    }
}

fn default_max_entries_per_msg() -> usize {
    raft::Config::new(1).max_entries_per_msg
}

impl RunConfig {
    /// BRIEF §12's standard run: 5 servers, 5 clients, 10 simulated seconds, default faults.
    pub fn standard(seed: u64) -> Self {
        Self {
            seed,
            servers: 5,
            clients: 5,
            duration_ns: 10 * NANOS_PER_SEC,
            liveness_bound_ns: 20 * NANOS_PER_SEC,
            read_mode: ReadMode::ReadIndex,
            snapshot_threshold_entries: 200,
            mutants: Vec::new(),
            faults: FaultMix::all(8),
            tick_ns: 10 * NANOS_PER_MILLI,
            election_tick: 15,
            heartbeat_tick: 2,
            keys: 3,
            mix: kv::OpMix::default(),
            link: LinkConfig::default(),
            disk: DiskConfig::default(),
            max_entries_per_msg: default_max_entries_per_msg(),
            ops_per_client: None,
            initial_voters: None,
            conf_change_on_append: false,
            service: Service::Kv,
            engine: EngineChoice::Ours,
            checker_steps_max: 20_000_000,
            readers: 0,
            initial_learners: 0,
            raft: RaftKnobs::default(),
        }
    }

    /// The standard run of the sharded service: three groups of three servers, ten shards,
    /// ten keys, the standard faults with controller changes instead of membership changes.
    pub fn standard_sharded(seed: u64) -> Self {
        let sharded = ShardedConfig::standard();
        let mut config = Self::standard(seed);
        config.servers = sharded.server_count();
        config.keys = 10;
        config.faults.membership = false;
        config.faults.controller = true;
        config.service = Service::Sharded(sharded);
        config
    }

    /// The standard run of `service`.
    pub fn standard_of(service: ServiceKind, seed: u64) -> Self {
        match service {
            ServiceKind::Kv => Self::standard(seed),
            ServiceKind::Sharded => Self::standard_sharded(seed),
        }
    }

    /// Every setting within [`bounds`], and a configuration the simulator, Raft and the
    /// workload accept.
    pub fn validate(&self) -> Result<(), ConfigError> {
        use bounds::*;
        self.validate_engine()?;
        self.validate_service()?;
        let servers_max = match self.service {
            Service::Kv => SERVERS_MAX,
            Service::Sharded(_) => SHARDED_SERVERS_MAX,
        };
        check_range("servers", self.servers as u64, 1, servers_max)?;
        check_range("clients", self.clients as u64, 1, CLIENTS_MAX)?;
        if let Some(voters) = self.initial_voters {
            check_range("initial voters", voters as u64, 1, self.servers as u64)?;
        }
        check_range(
            "initial learners",
            self.initial_learners as u64,
            0,
            (self.servers - self.voters()) as u64,
        )?;
        check_range(
            "max inflight messages",
            self.raft.max_inflight_msgs as u64,
            1,
            bounds::INFLIGHT_MSGS_MAX,
        )?;
        check_range(
            "duration (ns)",
            self.duration_ns,
            MIN_DURATION_NS,
            DURATION_NS_MAX,
        )?;
        check_range(
            "liveness bound (ns)",
            self.liveness_bound_ns,
            MIN_DURATION_NS,
            LIVENESS_BOUND_NS_MAX,
        )?;
        check_range("tick (ns)", self.tick_ns, TICK_NS_MIN, TICK_NS_MAX)?;
        check_range("election_tick", self.election_tick, 2, ELECTION_TICK_MAX)?;
        check_range(
            "heartbeat_tick",
            self.heartbeat_tick,
            1,
            self.election_tick - 1,
        )?;
        check_range("keys", self.keys as u64, 1, KEYS_MAX)?;
        check_range("readers", self.readers as u64, 0, self.clients as u64 - 1)?;
        check_range(
            "snapshot threshold",
            self.snapshot_threshold_entries,
            1,
            SNAPSHOT_THRESHOLD_MAX,
        )?;
        check_range(
            "entries per message",
            self.max_entries_per_msg as u64,
            1,
            ENTRIES_PER_MSG_MAX,
        )?;
        check_range(
            "fault count",
            u64::from(self.faults.count),
            0,
            FAULT_COUNT_MAX,
        )?;
        for percent in [
            self.faults.aim_at_leader_percent,
            self.faults.reactive_percent,
        ] {
            check_range("percent", u64::from(percent), 0, 100)?;
        }
        check_range(
            "reactive faults",
            u64::from(self.faults.reactive_max),
            0,
            FAULT_COUNT_MAX,
        )?;
        if let Some(ops) = self.ops_per_client {
            check_range("operations per client", ops, 0, OPS_PER_CLIENT_MAX)?;
        }
        check_range(
            "checker steps",
            self.checker_steps_max,
            1,
            CHECKER_STEPS_MAX,
        )?;
        check_range("latency (ns)", self.link.latency_ns_max, 0, LATENCY_NS_MAX)?;
        check_range(
            "disk sync latency (ns)",
            self.disk.sync_latency_ns_max,
            0,
            SYNC_LATENCY_NS_MAX,
        )?;
        self.workload_config().validate()?;
        self.link.validate()?;
        self.sim_config().validate()?;
        self.raft_config(1).validate()?;
        Ok(())
    }

    /// What only one service allows: the sharded service's shape, its mutants, no membership
    /// changes inside its groups.
    /// What only our engine can do: planted bugs (they are switches in our code), configurations
    /// applied on append, and (for now) the sharded service's multi-raft hosts.
    fn validate_engine(&self) -> Result<(), ConfigError> {
        if self.engine.is_ours() {
            return Ok(());
        }
        let refuse = |feature: &str| Err(ConfigError::Engine(self.engine.refuses(feature)));
        if let Some(mutant) = self.mutants.first() {
            return refuse(&format!(
                "mutants (planted bugs are our engine's): {mutant}"
            ));
        }
        if self.conf_change_on_append {
            return refuse("conf-change-on-append (configurations applied when appended)");
        }
        if !self.service.is_kv() {
            return refuse("the sharded service (its multi-raft hosts run our engine only)");
        }
        Ok(())
    }

    fn validate_service(&self) -> Result<(), ConfigError> {
        let refuse = |message: String| Err(ConfigError::Service(message));
        let Service::Sharded(sharded) = &self.service else {
            if let Some(mutant) = self.shard_mutants().next() {
                return refuse(format!("mutant {mutant} needs the sharded service"));
            }
            if self.faults.controller || self.faults.lost_reply_move {
                return refuse("controller changes need the sharded service".into());
            }
            if self.faults.snapshot_over_tail {
                return refuse("the snapshot-over-tail motif needs the sharded service".into());
            }
            return Ok(());
        };
        sharded.validate()?;
        if self.servers != sharded.server_count() {
            return refuse(format!(
                "servers {} differs from the {} servers of the groups",
                self.servers,
                sharded.server_count()
            ));
        }
        if self.faults.membership || self.initial_voters.is_some() || self.initial_learners > 0 {
            return refuse("the sharded service's groups keep their members".into());
        }
        Ok(())
    }

    /// The sharded KV's mutants switched on.
    pub fn shard_mutants(&self) -> impl Iterator<Item = shardkv::Mutant> + '_ {
        self.mutants.iter().filter_map(|mutant| match mutant {
            Mutant::Shard(mutant) => Some(*mutant),
            Mutant::Raft(_) => None,
        })
    }

    pub fn raft_config(&self, id: u64) -> raft::Config {
        let mut config = raft::Config::new(id);
        config.election_tick = self.election_tick;
        config.heartbeat_tick = self.heartbeat_tick;
        let knobs = &self.raft;
        config.pre_vote = knobs.pre_vote;
        config.check_quorum = knobs.check_quorum;
        config.max_size_per_msg = knobs.max_size_per_msg;
        config.max_inflight_msgs = knobs.max_inflight_msgs;
        config.max_inflight_bytes = knobs.max_inflight_bytes;
        config.max_committed_size_per_ready = knobs.max_committed_size_per_ready;
        config.max_uncommitted_entries_size = knobs.max_uncommitted_entries_size;
        config.disable_proposal_forwarding = knobs.disable_proposal_forwarding;
        if self.read_mode == ReadMode::Lease {
            config.read_only = raft::ReadOnlyOption::LeaseBased;
        }
        config.mutants = raft_mutants(&self.mutants);
        config.max_entries_per_msg = self.max_entries_per_msg;
        config.conf_change_on_append = self.conf_change_on_append;
        config
    }

    /// How many servers the initial configuration has.
    pub fn voters(&self) -> usize {
        self.initial_voters.unwrap_or(self.servers)
    }

    pub fn server_config(&self, address: NodeId) -> ServerConfig {
        let address = u64::from(address);
        ServerConfig {
            address,
            voters: (0..self.voters() as u64).collect(),
            learners: (self.voters() as u64..(self.voters() + self.initial_learners) as u64)
                .collect(),
            raft: self.raft_config(kv::server::raft_id(address)),
            tick_ns: self.tick_ns,
            read_mode: self.read_mode,
            snapshot_threshold_entries: self.snapshot_threshold_entries,
            state_machine: state_machine_config(&self.mutants),
        }
    }

    /// The multi-raft server at `address` of the sharded service: its replica group's replica
    /// and, on the servers the layout gives it, a controller replica.
    pub fn host_config(&self, address: NodeId) -> shardkv::HostConfig {
        let sharded = self
            .service
            .sharded()
            .expect("hosts belong to the sharded service");
        let layout = sharded.layout();
        let replica = self.server_config(address);
        let address = u64::from(address);
        let group = layout.group_of(address);
        let options = shardkv::GroupOptions {
            group,
            shard_count: sharded.shards,
            mutants: shardkv::MutantSet::of(self.shard_mutants()),
        };
        let replica_config = ServerConfig {
            address,
            voters: layout.servers_of(group).to_vec(),
            learners: Vec::new(),
            raft: replica.raft.clone(),
            tick_ns: replica.tick_ns,
            read_mode: replica.read_mode,
            snapshot_threshold_entries: replica.snapshot_threshold_entries,
            state_machine: options,
        };
        let controller = layout.hosts_controller(address).then(|| ServerConfig {
            address,
            voters: layout.controller.clone(),
            learners: Vec::new(),
            raft: replica.raft.clone(),
            tick_ns: replica.tick_ns,
            read_mode: replica.read_mode,
            snapshot_threshold_entries: replica.snapshot_threshold_entries,
            state_machine: layout.first_config(sharded.initial_groups),
        });
        shardkv::HostConfig {
            address,
            replica: replica_config,
            controller,
            tick_ns: self.tick_ns,
            poll_ticks: sharded.poll_ticks,
            layout,
        }
    }

    /// Clerks give up on a server after one election timeout and on an operation after eight.
    pub fn clerk_config(&self) -> ClerkConfig {
        let election_ns = self.tick_ns * self.election_tick;
        ClerkConfig {
            request_timeout_ns: election_ns,
            op_deadline_ns: 8 * election_ns,
            read_mode: self.read_mode,
            ..ClerkConfig::default()
        }
    }

    pub fn workload_config(&self) -> WorkloadConfig {
        WorkloadConfig {
            clients: self.clients,
            keys: self.keys,
            mix: self.mix,
            ops_per_client: self.ops_per_client,
            readers: self.readers,
            ..WorkloadConfig::default()
        }
    }

    pub fn sim_config(&self) -> sim::SimConfig {
        sim::SimConfig {
            link: self.link,
            disk: self.disk,
            names: sim::Names::new(self.servers as NodeId),
            ..sim::SimConfig::new(self.servers + self.clients)
        }
    }
}

impl fmt::Display for RunConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mutants: Vec<&str> = self.mutants.iter().map(|m| m.name()).collect();
        write!(
            f,
            "servers={} clients={} duration={}ms read_mode={} snapshot_threshold={} keys={} mix={} \
             election={}x{}ms heartbeat={}x{}ms latency={}-{}ms sync<={}ms entries/msg={} \
             voters={}{}{}{} faults={} mutants=[{}]",
            self.servers,
            self.clients,
            self.duration_ns / NANOS_PER_MILLI,
            self.read_mode,
            self.snapshot_threshold_entries,
            self.keys,
            self.mix,
            self.election_tick,
            self.tick_ns / NANOS_PER_MILLI,
            self.heartbeat_tick,
            self.tick_ns / NANOS_PER_MILLI,
            self.link.latency_ns_min / NANOS_PER_MILLI,
            self.link.latency_ns_max / NANOS_PER_MILLI,
            self.disk.sync_latency_ns_max / NANOS_PER_MILLI,
            self.max_entries_per_msg,
            self.voters(),
            if self.initial_learners > 0 {
                format!(" learners={}", self.initial_learners)
            } else {
                String::new()
            },
            if self.conf_change_on_append {
                " conf-on-append"
            } else {
                ""
            },
            match &self.service {
                Service::Kv => String::new(),
                Service::Sharded(sharded) => format!(" sharded {sharded}"),
            },
            self.faults,
            mutants.join(",")
        )?;
        for knob in self.raft.changed() {
            write!(f, " {knob}")?;
        }
        Ok(())
    }
}

/// The Raft mutants among `mutants`, as a Raft configuration takes them.
pub(crate) fn raft_mutants(mutants: &[Mutant]) -> MutantSet {
    let mut set = MutantSet::default();
    for &mutant in mutants {
        if let Mutant::Raft(mutant) = mutant {
            set.insert(mutant);
        }
    }
    set
}

/// The KV state machine's settings under `mutants` (no-dedup is the state machine's bug).
pub(crate) fn state_machine_config(mutants: &[Mutant]) -> kv::StateMachineConfig {
    kv::StateMachineConfig {
        no_dedup: mutants.contains(&Mutant::Raft(raft::Mutant::NoDedup)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_run_is_valid_and_out_of_range_settings_are_not() {
        RunConfig::standard(1).validate().expect("valid");
        let bad: [fn(&mut RunConfig); 8] = [
            |c| c.servers = 0,
            |c| c.servers = 10,
            |c| c.tick_ns = 0,
            |c| c.tick_ns = u64::MAX,
            |c| c.election_tick = u64::MAX,
            |c| c.liveness_bound_ns = u64::MAX,
            |c| c.duration_ns = u64::MAX,
            |c| c.initial_voters = Some(6),
        ];
        for (position, change) in bad.into_iter().enumerate() {
            let mut config = RunConfig::standard(1);
            change(&mut config);
            assert!(config.validate().is_err(), "change {position} accepted");
        }
    }

    #[test]
    fn the_mix_prints_the_kinds_of_the_table() {
        assert_eq!(
            FaultMix::all(8).to_string(),
            "8[partition,cut,crash,bounce,power-loss,pause,clock,loss,duplication,membership,\
             figure8,stale-leader,crash-after-commit,split-vote,single-change,multi-change,\
             double-vote,snapshot-tail] aim-leader=50% react=30%x4"
        );
    }
}
