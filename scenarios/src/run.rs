//! One whole seeded run (BRIEF §10): a cluster of KV servers and clients under a fault schedule
//! drawn from the seed (the safety phase), then every fault healed and a bounded wait for a
//! leader, completed operations and converged logs (the liveness phase), then the
//! linearizability check of the clients' history. Oracles watch every event throughout.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use kv::{ClerkConfig, HistoryRecord, Op, OpResult, ReadMode, ServerConfig, WorkloadConfig};
use raft::{Mutant, MutantSet, Role};
use serde::{Deserialize, Serialize};
use sim::{
    DiskConfig, EventKind, FaultAction, FaultSchedule, LinkConfig, NANOS_PER_MILLI, NANOS_PER_SEC,
    NodeId, SeedRng, SimConfig, Simulation, Step,
};

use crate::admin::AdminCommand;
use crate::cluster::{ClientNode, ClusterNode, ServerNode};
use crate::nemesis::{ClusterView, FaultSource};
use crate::oracle::{Oracles, Property, ServerView, Violation};
use crate::record::{self, Recorder};

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
}

impl fmt::Display for FaultMix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kinds: Vec<&str> = [
            (self.partitions, "partition"),
            (self.one_way_cuts, "cut"),
            (self.crashes, "crash"),
            (self.crashes && self.bounces, "bounce"),
            (self.crashes && self.power_loss, "power-loss"),
            (self.pauses, "pause"),
            (self.clock_drift, "clock"),
            (self.link_loss, "loss"),
            (self.link_loss && self.duplication, "duplication"),
            (self.membership, "membership"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
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
        }
    }

    /// How many kinds of fault are switched on, membership changes aside.
    pub fn kinds(&self) -> usize {
        [
            self.partitions,
            self.one_way_cuts,
            self.crashes,
            self.pauses,
            self.clock_drift,
            self.link_loss,
        ]
        .into_iter()
        .filter(|&on| on)
        .count()
    }

    pub fn none() -> Self {
        Self {
            count: 0,
            reactive_max: 0,
            membership: false,
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
    /// Linearizability-check budget in search steps; over it the verdict is unknown (a failure).
    pub checker_steps_max: u64,
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
            checker_steps_max: 20_000_000,
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        if !(1..=9).contains(&self.servers) {
            return Err(format!("--nodes {} is outside 1..=9", self.servers));
        }
        if !(1..=64).contains(&self.clients) {
            return Err(format!("--clients {} is outside 1..=64", self.clients));
        }
        if let Some(voters) = self.initial_voters
            && !(1..=self.servers).contains(&voters)
        {
            return Err(format!(
                "initial voters {voters} is outside 1..={}",
                self.servers
            ));
        }
        if self.duration_ns == 0 {
            return Err("the run's duration must be positive".into());
        }
        self.workload_config()
            .validate()
            .map_err(|error| error.to_string())?;
        if self.keys == 0 {
            return Err("the workload needs at least one key".into());
        }
        self.link.validate().map_err(|error| error.to_string())?;
        self.raft_config(1)
            .validate()
            .map_err(|error| format!("raft configuration: {error}"))
    }

    fn mutant_set(&self) -> MutantSet {
        let mut set = MutantSet::default();
        for &mutant in &self.mutants {
            set.insert(mutant);
        }
        set
    }

    fn raft_config(&self, id: u64) -> raft::Config {
        let mut config = raft::Config::new(id);
        config.election_tick = self.election_tick;
        config.heartbeat_tick = self.heartbeat_tick;
        config.pre_vote = true;
        config.check_quorum = true;
        if self.read_mode == ReadMode::Lease {
            config.read_only = raft::ReadOnlyOption::LeaseBased;
        }
        config.mutants = self.mutant_set();
        config.max_entries_per_msg = self.max_entries_per_msg;
        config.conf_change_on_append = self.conf_change_on_append;
        config
    }

    /// How many servers the initial configuration has.
    pub fn voters(&self) -> usize {
        self.initial_voters.unwrap_or(self.servers)
    }

    fn server_config(&self, address: NodeId) -> ServerConfig {
        ServerConfig {
            address: u64::from(address),
            voters: (0..self.voters() as u64).collect(),
            raft: self.raft_config(u64::from(address) + 1),
            tick_ns: self.tick_ns,
            read_mode: self.read_mode,
            snapshot_threshold_entries: self.snapshot_threshold_entries,
            no_dedup: self.mutants.contains(&Mutant::NoDedup),
        }
    }

    fn clerk_config(&self) -> ClerkConfig {
        let election_ns = self.tick_ns * self.election_tick;
        ClerkConfig {
            request_timeout_ns: election_ns,
            op_deadline_ns: 8 * election_ns,
            read_mode: self.read_mode,
            ..ClerkConfig::default()
        }
    }

    fn workload_config(&self) -> WorkloadConfig {
        WorkloadConfig {
            clients: self.clients,
            keys: self.keys,
            mix: self.mix,
            ops_per_client: self.ops_per_client,
            ..WorkloadConfig::default()
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
             voters={}{} faults={} mutants=[{}]",
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
            if self.conf_change_on_append {
                " conf-on-append"
            } else {
                ""
            },
            self.faults,
            mutants.join(",")
        )
    }
}

/// Summary of the linearizability check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckSummary {
    pub verdict: String,
    pub partitions: usize,
    pub failing_partitions: Vec<String>,
    pub steps: u64,
}

pub struct RunOutcome {
    pub config: RunConfig,
    pub faults: FaultSchedule,
    pub violation: Option<Violation>,
    pub trace_hash: u64,
    pub stats: sim::Stats,
    pub simulated_ns: u64,
    pub operations_completed: usize,
    pub operations_indefinite: usize,
    pub check: Option<CheckSummary>,
    pub history: Vec<HistoryRecord>,
    pub log: Vec<sim::LogRecord>,
    /// Where the liveness phase ended, in words.
    pub final_state: String,
    /// (time, term, server) of every election observed.
    pub leaders: Vec<(u64, u64, NodeId)>,
    /// Every processed event, when `RunOptions::record_trace` was set (else empty).
    pub trace: Vec<sim::TraceEntry>,
    /// Everything a report draws, when `RunOptions::record` asked for it.
    pub record: Option<reports::RunRecord>,
}

impl RunOutcome {
    /// The leader elected most recently before `time_ns`, if any.
    pub fn leader_at(&self, time_ns: u64) -> Option<NodeId> {
        self.leaders
            .iter()
            .take_while(|(t, _, _)| *t <= time_ns)
            .last()
            .map(|&(_, _, node)| node)
    }
}

impl RunOutcome {
    pub fn passed(&self) -> bool {
        self.violation.is_none()
    }

    /// The history in the checker's terms.
    pub fn checker_history(&self) -> checker::History {
        to_checker_history(&self.history)
    }
}

/// Options that do not change what is simulated, only what is kept.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunOptions {
    /// Keep the structured event log (for `--trace`).
    pub keep_log: bool,
    /// Record every event for divergence search.
    pub record_trace: bool,
    /// Record roles, messages and the checker's linearization for a report.
    pub record: bool,
}

pub fn run(config: &RunConfig) -> Result<RunOutcome, String> {
    run_with(config, None, RunOptions::default())
}

/// Runs `config`, with `faults` instead of the drawn schedule when given (replays, shrinking).
pub fn run_with(
    config: &RunConfig,
    faults: Option<FaultSchedule>,
    options: RunOptions,
) -> Result<RunOutcome, String> {
    config.validate()?;
    let root = SeedRng::new(config.seed);
    let source = match &faults {
        Some(schedule) => {
            schedule
                .validate(config.servers)
                .map_err(|error| error.to_string())?;
            for fault in schedule.faults() {
                if let FaultAction::Admin { command, .. } = &fault.action {
                    AdminCommand::parse(command)?.validate(config.servers)?;
                }
            }
            FaultSource::fixed(schedule)
        }
        None => FaultSource::nemesis(config, &root),
    };
    let mut harness = Harness::new(config, root, source, options)?;
    let violation = harness.safety_phase().err();
    let violation = match violation {
        Some(violation) => Some(violation),
        None => harness.liveness_phase().err(),
    };
    harness.finish(violation)
}

/// A run that processes more events than this has a message storm: a liveness failure, reported
/// instead of running out of memory. Standard runs take about 40,000 events; the largest swarm
/// configurations a few hundred thousand.
const EVENTS_MAX: u64 = 3_000_000;

struct Harness<'a> {
    config: &'a RunConfig,
    sim: Simulation<ClusterNode>,
    oracles: Oracles,
    servers: NodeId,
    /// Servers seen crashed, so a restart can be told from other faults.
    crashed: Vec<bool>,
    /// Each server's role after its last event, so the nemesis can react to changes.
    roles: Vec<Role>,
    /// Entries up to here were checked by `check_commit_is_safe`.
    commit_checked: u64,
    /// Each server's (term, vote) after its last event.
    votes: Vec<(u64, Option<u64>)>,
    faults: FaultSource,
    /// The faults applied so far, with their times: replaying them gives the same run.
    executed: FaultSchedule,
    recorder: Option<Recorder>,
}

impl<'a> Harness<'a> {
    fn new(
        config: &'a RunConfig,
        root: SeedRng,
        faults: FaultSource,
        options: RunOptions,
    ) -> Result<Self, String> {
        let servers = config.servers as NodeId;
        let sim_config = SimConfig {
            link: config.link,
            disk: config.disk,
            ..SimConfig::new(config.servers + config.clients)
        };
        let factory_config = config.clone();
        let mut starts = vec![0u32; config.servers];
        let server_addresses: Vec<u64> = (0..config.servers as u64).collect();
        let factory = move |id: NodeId| {
            if id < servers {
                let start = &mut starts[id as usize];
                let jitter = root.stream(&format!("jitter-n{id}-start{start}"));
                *start += 1;
                ClusterNode::Server(Box::new(ServerNode::new(
                    factory_config.server_config(id),
                    jitter,
                )))
            } else {
                let index = (id - servers) as usize;
                ClusterNode::Client(Box::new(ClientNode::new(
                    index,
                    u64::from(id),
                    server_addresses.clone(),
                    factory_config.clerk_config(),
                    factory_config.workload_config(),
                    factory_config.duration_ns,
                    root,
                )))
            }
        };
        let mut sim =
            Simulation::new(sim_config, config.seed, factory).map_err(|e| e.to_string())?;
        sim.set_logging(options.keep_log);
        if options.record_trace {
            sim.record_trace();
        }
        if options.record {
            sim.record_messages(record::describe_wire);
        }
        Ok(Self {
            config,
            sim,
            oracles: Oracles::default(),
            servers,
            crashed: vec![false; config.servers],
            roles: vec![Role::Follower; config.servers],
            votes: vec![(0, None); config.servers],
            commit_checked: 0,
            faults,
            executed: FaultSchedule::default(),
            recorder: options.record.then(Recorder::default),
        })
    }

    /// Leader completeness, looking ahead: when a leader counts entries committed, no running
    /// server that could win an election may lack them. A server could win when it may
    /// campaign (`promotable`) and, in each half of its own configuration (both when joint), a
    /// majority are running servers whose logs are no more up-to-date than its own (it
    /// campaigns by its own configuration; voters vote by logs alone). Correct Raft guarantees
    /// this at the moment of commit; counting replicas of an older term (Figure 8), or a
    /// quorum of a configuration the others never agreed to (Figure 10, the single-server
    /// change bug), breaks it before any new leader shows the loss.
    fn check_commit_is_safe(
        &mut self,
        leader: NodeId,
        commit: u64,
        time_ns: u64,
    ) -> Result<(), Violation> {
        let from = self.commit_checked + 1;
        self.commit_checked = commit;
        // Running servers only: a crashed server has no node (and will not vote until back).
        // Raft ids, as configurations name them.
        let logs: BTreeMap<u64, (u64, u64)> = self
            .servers()
            .map(|(id, s)| {
                let raft = s.raft();
                let last = raft.last_index();
                (u64::from(id) + 1, (raft.term_at(last).unwrap_or(0), last))
            })
            .collect();
        let Some(leader_raft) = self.sim.node(leader).and_then(ClusterNode::as_server) else {
            return Ok(());
        };
        let leader_raft = leader_raft.raft();
        for index in from..=commit {
            let Some(term) = leader_raft.term_at(index) else {
                continue;
            };
            for (&candidate, &candidate_log) in &logs {
                let address = (candidate - 1) as NodeId;
                let Some(server) = self.sim.node(address).and_then(ClusterNode::as_server) else {
                    continue;
                };
                let raft = server.raft();
                let holds = index < raft.first_index() || raft.term_at(index) == Some(term);
                if holds || raft.has_unapplied_conf_change() {
                    // A server that knows of a committed configuration change it has not
                    // applied does not campaign (its configuration is about to change).
                    continue;
                }
                if !raft.promotable() {
                    continue;
                }
                let Some(electors) = electing_quorum(&raft.conf_state(), |id| {
                    logs.get(&id).is_some_and(|&log| candidate_log >= log)
                }) else {
                    continue;
                };
                let names: Vec<String> = electors.iter().map(|v| format!("n{}", v - 1)).collect();
                let (last_term, last_index) = candidate_log;
                return Err(Violation {
                    property: Property::LeaderCompleteness,
                    nodes: vec![leader, address],
                    term: Some(leader_raft.term()),
                    index: Some(index),
                    time_ns,
                    message: format!(
                        "n{leader} (term {}) counts {index}@{term} committed, but n{address}, \
                         which lacks it, could be elected: its log ({last_index}@{last_term}) \
                         is at least as up-to-date as those of {}, a quorum of its configuration",
                        leader_raft.term(),
                        names.join(", ")
                    ),
                });
            }
        }
        Ok(())
    }

    /// What the nemesis sees: the leader of the highest term among running servers.
    fn view(&self) -> ClusterView {
        let leader = self
            .servers()
            .filter(|(_, s)| s.raft().role() == Role::Leader)
            .max_by_key(|(_, s)| s.raft().term());
        let conf = leader.map(|(_, s)| s.raft().conf_state());
        ClusterView {
            servers: self.servers,
            leader: leader.map(|(id, _)| id),
            voters: conf.as_ref().map_or_else(Vec::new, |conf| {
                conf.voters.iter().map(|&id| (id - 1) as NodeId).collect()
            }),
            joint: conf.is_some_and(|conf| !conf.voters_outgoing.is_empty()),
        }
    }

    /// Applies every fault due no later than the next event (faults first at equal times),
    /// as long as the safety phase lasts.
    fn apply_due_faults(&mut self) -> Result<(), Violation> {
        while let Some(at_ns) = self.faults.peek_ns() {
            let next_event = self.sim.peek_time_ns().unwrap_or(u64::MAX);
            if at_ns > next_event || at_ns > self.config.duration_ns {
                break;
            }
            self.sim
                .advance_to(at_ns.max(self.sim.now_ns()))
                .expect("no event is skipped");
            let view = self.view();
            for action in self.faults.take(&view) {
                let node = action.node();
                self.sim
                    .apply_fault(action.clone())
                    .expect("fault actions are validated");
                self.executed.push(self.sim.now_ns(), action);
                self.observe(Step {
                    time_ns: self.sim.now_ns(),
                    node,
                    kind: EventKind::Fault,
                })?;
            }
        }
        Ok(())
    }

    fn step(&mut self) -> Result<(), Violation> {
        let Some(step) = self.sim.step() else {
            return Ok(());
        };
        if self.sim.stats().events > EVENTS_MAX {
            return Err(Violation {
                property: Property::Liveness,
                nodes: (0..self.servers).collect(),
                term: None,
                index: None,
                time_ns: step.time_ns,
                message: format!(
                    "event storm: more than {EVENTS_MAX} events by {}ms ({} messages sent): {}",
                    step.time_ns / NANOS_PER_MILLI,
                    self.sim.stats().messages_sent,
                    self.describe_state()
                ),
            });
        }
        self.observe(step)
    }

    fn observe(&mut self, step: Step) -> Result<(), Violation> {
        let Some(node) = step.node.filter(|&node| node < self.servers) else {
            return Ok(());
        };
        if step.kind == EventKind::Fault {
            let up = self.sim.is_up(node);
            if up == self.crashed[node as usize] {
                // A crash, or a restart: a new incarnation with its own commit index.
                self.crashed[node as usize] = !up;
                self.oracles.node_restarted(node);
                if let Some(recorder) = self.recorder.as_mut().filter(|_| !up) {
                    recorder.down(node, step.time_ns);
                }
            }
        }
        let time_ns = step.time_ns;
        let Some(server) = self.sim.node_mut(node).and_then(ClusterNode::as_server_mut) else {
            return Ok(());
        };
        let (role, term) = (server.raft().role(), server.raft().term());
        let vote = (term, server.raft().vote());
        let commit = server.raft().commit_index();
        if let Some(recorder) = &mut self.recorder {
            recorder.observe(node, role, term, time_ns);
        }
        self.oracles.check_leader(node, role, term, time_ns)?;
        self.oracles.check(ServerView { node, server }, time_ns)?;
        if role == Role::Leader && commit > self.commit_checked {
            self.check_commit_is_safe(node, commit, time_ns)?;
        }
        let voted_for_other = vote != self.votes[node as usize]
            && vote
                .1
                .is_some_and(|candidate| candidate != u64::from(node) + 1);
        self.votes[node as usize] = vote;
        if self.roles[node as usize] != role || voted_for_other {
            self.roles[node as usize] = role;
            let view = self.view();
            self.faults
                .on_change(time_ns, node, role, voted_for_other, &view);
        }
        Ok(())
    }

    fn safety_phase(&mut self) -> Result<(), Violation> {
        loop {
            self.apply_due_faults()?;
            if self
                .sim
                .peek_time_ns()
                .is_none_or(|t| t > self.config.duration_ns)
            {
                return Ok(());
            }
            self.step()?;
        }
    }

    /// Heals everything, then waits (bounded) for a leader, idle clients and converged logs.
    fn liveness_phase(&mut self) -> Result<(), Violation> {
        let now = self.config.duration_ns;
        self.sim.run_until(now);
        let mut heal = vec![
            FaultAction::Heal,
            FaultAction::LinkLoss {
                from: None,
                to: None,
                drop_probability: 0.0,
                duplicate_probability: 0.0,
            },
        ];
        for node in 0..self.servers {
            heal.push(FaultAction::Resume { node });
            heal.push(FaultAction::Restart { node });
            heal.push(FaultAction::ClockRate { node, rate: 1.0 });
        }
        for action in heal {
            let node = action.node();
            self.sim
                .apply_fault(action)
                .expect("healing actions are valid");
            if let Some(node) = node {
                self.observe(Step {
                    time_ns: now,
                    node: Some(node),
                    kind: EventKind::Fault,
                })?;
            }
        }
        let deadline = now + self.config.liveness_bound_ns;
        let poll_ns = 10 * NANOS_PER_MILLI;
        let mut next_poll = now;
        loop {
            if self.sim.now_ns() >= next_poll {
                if self.converged() {
                    return Ok(());
                }
                self.restore_membership()?;
                next_poll = self.sim.now_ns() + poll_ns;
            }
            match self.sim.peek_time_ns() {
                Some(t) if t <= deadline => self.step()?,
                _ => break,
            }
        }
        Err(Violation {
            property: Property::Liveness,
            nodes: (0..self.servers).collect(),
            term: None,
            index: None,
            time_ns: self.sim.now_ns(),
            message: format!(
                "no convergence within {}ms after healing: {}",
                self.config.liveness_bound_ns / NANOS_PER_MILLI,
                self.describe_state()
            ),
        })
    }

    /// Asks the leader to make every server a voter again, when a membership change left some
    /// out; refused (and asked again at the next poll) while another change is under way.
    fn restore_membership(&mut self) -> Result<(), Violation> {
        let view = self.view();
        let Some(leader) = view.leader else {
            return Ok(());
        };
        if view.joint || view.voters.len() == self.servers as usize {
            return Ok(());
        }
        let missing: Vec<NodeId> = (0..self.servers)
            .filter(|n| !view.voters.contains(n))
            .collect();
        self.sim
            .apply_fault(AdminCommand::change_voters(&missing, &[]).to(leader))
            .expect("admin commands to a server are valid");
        self.observe(Step {
            time_ns: self.sim.now_ns(),
            node: Some(leader),
            kind: EventKind::Fault,
        })
    }

    fn servers(&self) -> impl Iterator<Item = (NodeId, &kv::Server)> {
        (0..self.servers).filter_map(|id| self.sim.node(id)?.as_server().map(|s| (id, s)))
    }

    fn converged(&self) -> bool {
        let clients_idle = (self.servers..self.sim.node_count() as NodeId).all(|id| {
            self.sim
                .node(id)
                .and_then(ClusterNode::as_client)
                .is_some_and(ClientNode::is_idle)
        });
        if !clients_idle {
            return false;
        }
        let max_term = self
            .servers()
            .map(|(_, s)| s.raft().term())
            .max()
            .unwrap_or(0);
        let Some((_, leader)) = self
            .servers()
            .find(|(_, s)| s.raft().role() == Role::Leader && s.raft().term() == max_term)
        else {
            return false;
        };
        let conf = leader.raft().conf_state();
        if conf.voters.len() != self.servers as usize || !conf.voters_outgoing.is_empty() {
            return false;
        }
        let target = leader.raft().last_index();
        leader.raft().commit_index() == target
            && self.servers().all(|(_, s)| {
                s.raft().last_index() == target && s.state_machine().applied_index() == target
            })
    }

    fn describe_state(&self) -> String {
        let servers: Vec<String> = self
            .servers()
            .map(|(id, s)| {
                let raft = s.raft();
                let conf = raft.conf_state();
                let names = |ids: &BTreeSet<u64>| {
                    ids.iter()
                        .map(|id| format!("n{}", id - 1))
                        .collect::<Vec<_>>()
                        .join(",")
                };
                let outgoing = if conf.voters_outgoing.is_empty() {
                    String::new()
                } else {
                    format!("&{{{}}}", names(&conf.voters_outgoing))
                };
                format!(
                    "n{id} {:?} term={} commit={} last={} applied={} voters={{{}}}{outgoing}",
                    raft.role(),
                    raft.term(),
                    raft.commit_index(),
                    raft.last_index(),
                    s.state_machine().applied_index(),
                    names(&conf.voters)
                )
            })
            .collect();
        let busy = (self.servers..self.sim.node_count() as NodeId)
            .filter(|&id| {
                !self
                    .sim
                    .node(id)
                    .and_then(ClusterNode::as_client)
                    .is_some_and(ClientNode::is_idle)
            })
            .count();
        format!(
            "{}; {busy} clients with an operation outstanding",
            servers.join("; ")
        )
    }

    fn finish(mut self, violation: Option<Violation>) -> Result<RunOutcome, String> {
        let faults = std::mem::take(&mut self.executed);
        let final_state = self.describe_state();
        let mut history = Vec::new();
        for id in self.servers..self.sim.node_count() as NodeId {
            if let Some(client) = self.sim.node_mut(id).and_then(ClusterNode::as_client_mut) {
                client.finish();
                history.extend(client.history.iter().cloned());
            }
        }
        history.sort_by_key(|record| (record.call_ns, record.client_id));
        let operations_indefinite = history.iter().filter(|r| r.is_indefinite()).count();
        let mut outcome = RunOutcome {
            config: self.config.clone(),
            faults,
            violation,
            trace_hash: self.sim.trace_hash().value(),
            stats: self.sim.stats().clone(),
            simulated_ns: self.sim.now_ns(),
            operations_completed: history.len() - operations_indefinite,
            operations_indefinite,
            check: None,
            history,
            log: self.sim.log_mut().take(),
            final_state,
            leaders: std::mem::take(&mut self.oracles.leaders),
            trace: self.sim.trace_entries().to_vec(),
            record: None,
        };
        // Minimizing a counterexample costs far more than the verdict: only for a report.
        let minimize = self.recorder.is_some();
        let check = outcome
            .violation
            .is_none()
            .then(|| check_history(&mut outcome, minimize));
        if let Some(recorder) = self.recorder.take() {
            let (messages, messages_not_kept) = self.sim.take_message_events();
            let servers_at_end = self
                .servers()
                .map(|(id, server)| record::server_state(id, server))
                .collect();
            let finished = record::Finished {
                recorder,
                messages,
                messages_not_kept,
                servers_at_end,
                check,
            };
            outcome.record = Some(record::build(&outcome, finished));
        }
        Ok(outcome)
    }
}

/// The voters of `conf` that would elect a candidate (those for which `would_vote` holds),
/// when they make a quorum of each half of the configuration. The candidate campaigns when
/// `promotable`; with configurations applied on append that includes a server whose removal is
/// not known committed, which then wins without its own vote.
fn electing_quorum(conf: &raft::ConfState, would_vote: impl Fn(u64) -> bool) -> Option<Vec<u64>> {
    let voters = raft::JointConfig {
        incoming: conf.voters.clone(),
        outgoing: conf.voters_outgoing.clone(),
    };
    let won = voters.vote_result(|id| Some(would_vote(id))) == raft::VoteResult::Won;
    won.then(|| {
        voters
            .ids()
            .into_iter()
            .filter(|&id| would_vote(id))
            .collect()
    })
}

fn check_history(outcome: &mut RunOutcome, minimize: bool) -> checker::CheckResult {
    let options = checker::Options {
        steps_max: outcome.config.checker_steps_max,
        minimize,
        ..checker::Options::default()
    };
    let result = checker::check(&outcome.checker_history(), &options);
    let failing: Vec<String> = result.failing().map(|p| p.label.clone()).collect();
    let steps = result.partitions.iter().map(|p| p.steps).sum();
    outcome.violation = match &result.verdict {
        checker::Verdict::Ok => None,
        checker::Verdict::Illegal => Some(Violation {
            property: Property::Linearizability,
            nodes: Vec::new(),
            term: None,
            index: None,
            time_ns: outcome.simulated_ns,
            message: format!(
                "client history is not linearizable (failing: {})",
                failing.join(", ")
            ),
        }),
        checker::Verdict::Unknown { reason } => Some(Violation {
            property: Property::CheckerUnknown,
            nodes: Vec::new(),
            term: None,
            index: None,
            time_ns: outcome.simulated_ns,
            message: format!("linearizability unknown: {reason}"),
        }),
    };
    outcome.check = Some(CheckSummary {
        verdict: result.verdict.name().to_string(),
        partitions: result.partitions.len(),
        failing_partitions: failing,
        steps,
    });
    result
}

/// Client records in the checker's terms.
pub fn to_checker_history(records: &[HistoryRecord]) -> checker::History {
    use checker::{KvInput, KvOutput, Operation};
    let operations = records
        .iter()
        .map(|record| {
            let input = match &record.op {
                Op::Get { key } => KvInput::Get { key: key.clone() },
                Op::Put { key, value } => KvInput::Put {
                    key: key.clone(),
                    value: value.clone(),
                },
                Op::Append { key, value } => KvInput::Append {
                    key: key.clone(),
                    value: value.clone(),
                },
                Op::Cas { key, expected, new } => KvInput::Cas {
                    key: key.clone(),
                    expected: expected.clone(),
                    new: new.clone(),
                },
            };
            match (&record.result, record.return_ns) {
                (Some(result), Some(return_ns)) => {
                    let output = match result {
                        OpResult::Value(value) => KvOutput::Value(value.clone()),
                        OpResult::Written => KvOutput::Written,
                        OpResult::Cas(swapped) => KvOutput::Cas(*swapped),
                    };
                    Operation::returned(record.client_id, input, output, record.call_ns, return_ns)
                }
                _ => Operation::indefinite(record.client_id, input, record.call_ns),
            }
        })
        .collect();
    checker::History::Kv(operations)
}
