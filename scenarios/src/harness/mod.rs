//! The harness, the second layer: the cluster in the simulator. One factory builds it for
//! seeded runs and scripts alike ([`Cluster::new`] from a [`ClusterSpec`]), and one observe
//! step runs every oracle after every event ([`Cluster::observe`]), so a script is judged
//! exactly as a campaign run is.
//!
//! - `admin`: operator commands (membership and controller changes) as typed fault data.
//! - `nodes`: servers, multi-raft hosts and clients as simulator nodes; `SimEnv` adapts
//!   `kv::Env`.
//! - `oracle`: the online safety oracles of one Raft group, including the look-ahead
//!   completeness check.
//! - `sharded`: the sharded service's view of the cluster: its Raft groups, who serves which
//!   shard, convergence.
//! - `history`: the clients' history in the checker's terms and its verdict.
//! - `marks`: coverage marks, the rare and dangerous states a run reached.
//!
//! Servers are addresses `0..servers`, Raft ids `address + 1` (`kv::server::raft_id`) in every
//! Raft group they are in, and named `n1..` by `sim::names`, which makes a server's name its
//! Raft id. The KV service is one Raft group; the sharded service has one per replica group
//! and one for the controller, each judged by its own `Oracles`.

pub mod admin;
pub mod history;
pub mod marks;
pub mod nodes;
pub mod oracle;
pub mod sharded;

use std::collections::BTreeSet;

use engine::Engine;
use kv::{ClerkConfig, HistoryRecord, ServerConfig, WorkloadConfig};
use raft::{MemStorage, RawNode, Role};
use shardkv::HostConfig;
use sim::{EventKind, Names, NodeId, SeedRng, SimConfig, Simulation, Step};

use crate::config::{ConfigError, RunConfig, Service, Violation};
use crate::engines::{AnyEngine, EngineChoice};
pub use admin::{AdminCommand, Fault, FaultSchedule};
use marks::{HarnessMark, Marks};
use nodes::{ClientNode, ClusterNode, HostNode, ServerNode, SimEnv};
use oracle::{Oracles, ServerView};
pub use sharded::{ShardChange, Slot};

/// The servers of a cluster, by address: KV servers, or the sharded service's hosts.
#[derive(Clone, Debug)]
pub enum ServerSpecs {
    Kv(Vec<ServerConfig>),
    Sharded(Vec<HostConfig>),
}

impl ServerSpecs {
    pub fn len(&self) -> usize {
        match self {
            ServerSpecs::Kv(servers) => servers.len(),
            ServerSpecs::Sharded(hosts) => hosts.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Everything the cluster factory needs.
#[derive(Clone, Debug)]
pub struct ClusterSpec {
    pub seed: u64,
    pub sim: SimConfig,
    pub servers: ServerSpecs,
    /// The Raft implementation of the KV service's servers.
    pub engine: EngineChoice,
    pub clients: usize,
    pub clerk: ClerkConfig,
    pub workload: WorkloadConfig,
    /// Clients start no operation of their own at or after this time.
    pub workload_end_ns: u64,
}

impl ClusterSpec {
    /// The cluster of a seeded run.
    pub fn of_run(config: &RunConfig) -> ClusterSpec {
        let addresses = 0..config.servers as NodeId;
        let servers = match &config.service {
            Service::Kv => ServerSpecs::Kv(addresses.map(|a| config.server_config(a)).collect()),
            Service::Sharded(_) => {
                ServerSpecs::Sharded(addresses.map(|a| config.host_config(a)).collect())
            }
        };
        ClusterSpec {
            seed: config.seed,
            sim: config.sim_config(),
            servers,
            engine: config.engine.clone(),
            clients: config.clients,
            clerk: config.clerk_config(),
            workload: config.workload_config(),
            workload_end_ns: config.duration_ns,
        }
    }
}

/// A server's role change, or it going down, as the harness saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoleChange {
    pub time_ns: u64,
    pub node: NodeId,
    /// `None`: the server went down.
    pub role: Option<Role>,
    pub term: u64,
}

/// A KV clerk for the KV service's clients, a sharded one for the sharded service's.
fn client_clerk(spec: &ClusterSpec, address: u64) -> nodes::ClientClerk {
    match &spec.servers {
        ServerSpecs::Kv(servers) => {
            let addresses = (0..servers.len() as u64).collect();
            ClientNode::kv_clerk(address, addresses, spec.clerk)
        }
        ServerSpecs::Sharded(hosts) => {
            let layout = &hosts[0].layout;
            let clerk = shardkv::Clerk::new(
                address,
                layout.controller.clone(),
                layout.shard_count,
                spec.clerk,
            );
            nodes::ClientClerk::Sharded(clerk)
        }
    }
}

/// A server's Raft replica (its replica group's, on a multi-raft server) after an event.
struct Seen {
    role: Role,
    /// (term, vote).
    vote: (u64, Option<u64>),
    commit: u64,
}

/// What one observed event showed of a running server, for the nemesis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Observed {
    pub node: NodeId,
    pub role: Role,
    /// The role differs from the one after this server's previous event.
    pub role_changed: bool,
    /// The server granted its vote to another server.
    pub voted_for_other: bool,
    /// The server its vote of its current term went to (an address), if it voted.
    pub vote: Option<NodeId>,
    /// The server leads and its commit index advanced.
    pub leader_committed: bool,
}

/// What the nemesis and the liveness phase see of the cluster.
pub struct ClusterView<'a> {
    pub servers: NodeId,
    /// The network as it is, for reachability questions (`sim::Network`'s petgraph view).
    pub network: &'a sim::Network,
    /// The KV service's leader of the highest term among running servers, if any.
    pub leader: Option<NodeId>,
    /// The voters of that leader's configuration (addresses; the incoming half when joint).
    pub voters: Vec<NodeId>,
    /// The learners of that configuration (addresses).
    pub learners: Vec<NodeId>,
    /// Whether that configuration is joint.
    pub joint: bool,
    /// The sharded service: the leader of each replica group that has one.
    pub group_leaders: Vec<NodeId>,
    /// The sharded service: the controller's leader and its latest configuration.
    pub controller: Option<(NodeId, shardkv::Config)>,
    /// The sharded service: per replica group (`g1` first), the number of the configuration
    /// its most applied running replica is at (0 when none runs).
    pub group_configs: Vec<u64>,
    /// The KV service: each server's log as it is now (`None`: down); empty for the sharded
    /// service.
    pub logs: Vec<Option<LogEnd>>,
}

/// Where one server's log stands, as the nemesis sees it. Ordered as Raft compares logs for a
/// vote: by last term, then last index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LogEnd {
    pub last_term: u64,
    pub last_index: u64,
    pub commit: u64,
    /// The first index still in the log (entries before it are in the snapshot).
    pub first_index: u64,
}

/// The cluster in the simulator, with its oracles.
pub struct Cluster {
    pub sim: Simulation<ClusterNode>,
    /// One per Raft group, by [`Slot`]: the KV service's one group, or the sharded service's
    /// controller and replica groups.
    pub oracles: Vec<Oracles>,
    /// The sharded service's groups on servers (`None`: the KV service).
    layout: Option<shardkv::Layout>,
    servers: NodeId,
    /// Servers seen crashed, so a restart can be told from other faults.
    crashed: Vec<bool>,
    /// Each server's role and (term, vote) after its last event.
    roles: Vec<Role>,
    votes: Vec<(u64, Option<u64>)>,
    commits: Vec<u64>,
    /// Role changes, kept when asked for (reports).
    role_changes: Option<Vec<RoleChange>>,
    last_role: Vec<Option<(Option<Role>, u64)>>,
    /// The coverage marks this run reached, the Raft engines' as last gathered (see
    /// [`Cluster::marks`]).
    marks: Marks,
    /// Unsynced writes lost to crashes so far (the simulator's count).
    writes_lost: u64,
    /// The sharded service: the shards each replica group serves, as last noted, and the
    /// changes, kept when asked for (reports).
    served: Vec<Vec<usize>>,
    shard_changes: Option<Vec<ShardChange>>,
    /// The sharded service: the controller log's length when the wait for convergence began
    /// (see `sharded_converged`).
    controller_floor: Option<u64>,
}

impl Cluster {
    /// Builds the cluster: servers at addresses `0..`, then clients. A server's election jitter
    /// comes from stream `jitter-n{address}-start{k}` for its k-th start (its controller
    /// replica's, on a multi-raft server, from `jitter-n{address}-start{k}-controller`), a
    /// client's workload from `workload-client-{index}`.
    pub fn new(spec: ClusterSpec) -> Result<Cluster, ConfigError> {
        let layout = match &spec.servers {
            ServerSpecs::Kv(servers) => {
                for server in servers {
                    server.raft.validate()?;
                }
                None
            }
            ServerSpecs::Sharded(hosts) => {
                for host in hosts {
                    host.replica.raft.validate()?;
                }
                hosts.first().map(|host| host.layout.clone())
            }
        };
        let servers = spec.servers.len() as NodeId;
        let seed = spec.seed;
        let root = SeedRng::new(seed);
        let mut starts = vec![0u32; spec.servers.len()];
        let sim_config = SimConfig {
            node_count: spec.servers.len() + spec.clients,
            names: Names::new(servers),
            ..spec.sim
        };
        let factory = move |id: NodeId| {
            if id >= servers {
                let index = (id - servers) as usize;
                return ClusterNode::Client(Box::new(ClientNode::new(
                    index,
                    client_clerk(&spec, u64::from(id)),
                    spec.workload.clone(),
                    spec.workload_end_ns,
                    root,
                )));
            }
            let start = &mut starts[id as usize];
            let stream = format!("jitter-n{id}-start{start}");
            *start += 1;
            let jitter = root.stream(&stream);
            match &spec.servers {
                ServerSpecs::Kv(configs) => ClusterNode::Server(Box::new(ServerNode::new(
                    configs[id as usize].clone(),
                    spec.engine.clone(),
                    jitter,
                ))),
                ServerSpecs::Sharded(hosts) => {
                    let host = hosts[id as usize].clone();
                    let controller = host
                        .controller
                        .as_ref()
                        .map(|_| root.stream(&format!("{stream}-controller")));
                    ClusterNode::Host(Box::new(HostNode::new(host, jitter, controller)))
                }
            }
        };
        let sim = Simulation::new(sim_config, seed, factory)?;
        let count = servers as usize;
        let slots = layout.as_ref().map_or(1, |layout| layout.group_count() + 1);
        Ok(Cluster {
            sim,
            oracles: (0..slots)
                .map(|_| Oracles::new(Names::new(servers)))
                .collect(),
            served: vec![Vec::new(); slots],
            layout,
            servers,
            crashed: vec![false; count],
            roles: vec![Role::Follower; count],
            votes: vec![(0, None); count],
            commits: vec![0; count],
            role_changes: None,
            last_role: vec![None; count],
            marks: Marks::default(),
            writes_lost: 0,
            shard_changes: None,
            controller_floor: None,
        })
    }

    /// The sharded service's layout of groups on servers; `None` for the KV service.
    pub fn layout(&self) -> Option<&shardkv::Layout> {
        self.layout.as_ref()
    }

    pub fn servers(&self) -> NodeId {
        self.servers
    }

    pub fn names(&self) -> Names {
        Names::new(self.servers)
    }

    /// Keep every role change (and, for the sharded service, every change of the shards a
    /// group serves) from now on (see [`Cluster::take_role_changes`]).
    pub fn keep_role_changes(&mut self) {
        self.role_changes = Some(Vec::new());
        if self.layout.is_some() {
            self.shard_changes = Some(Vec::new());
        }
    }

    pub fn take_role_changes(&mut self) -> Vec<RoleChange> {
        self.role_changes.take().unwrap_or_default()
    }

    /// Processes the next event and observes it; `None` when nothing is left.
    pub fn step(&mut self) -> Option<Result<Option<Observed>, Violation>> {
        let step = self.sim.step()?;
        Some(self.observe(step))
    }

    /// Applies a fault now and observes the server it targets.
    pub fn apply(&mut self, action: Fault) -> Result<Option<Observed>, Violation> {
        let node = action.node();
        if matches!(action, Fault::Partition { .. }) && self.view().joint {
            self.marks.hit(HarnessMark::JointPartition);
        }
        if let Fault::Crash { node } = action {
            // The engine's marks go with the process: gather them while it still runs.
            self.gather_raft_marks(node);
        }
        let backlog = self.sim.backlog_len();
        self.sim
            .apply_fault(action)
            .expect("fault actions are validated before they are applied");
        if self.sim.backlog_len() < backlog {
            self.marks.hit(HarnessMark::LateDelivery);
        }
        self.observe(Step {
            time_ns: self.sim.now_ns(),
            node,
            kind: EventKind::Fault,
        })
    }

    /// Acts on server `address`'s Raft node (as a script does), then observes it; `None`
    /// when it is down.
    pub fn with_raft<R>(
        &mut self,
        address: NodeId,
        act: impl FnOnce(&mut AnyEngine) -> R,
    ) -> Option<(R, Result<Option<Observed>, Violation>)> {
        let result = self.sim.with_node(address, |node, ctx| {
            let server = node.as_server_mut()?;
            Some(server.with_raft(&mut SimEnv { ctx }, act))
        })??;
        let observed = self.observe(Step {
            time_ns: self.sim.now_ns(),
            node: Some(address),
            kind: EventKind::Deliver,
        });
        Some((result, observed))
    }

    /// Runs every oracle on the server the event concerned: on each Raft group it is in.
    pub fn observe(&mut self, step: Step) -> Result<Option<Observed>, Violation> {
        let Some(node) = step.node.filter(|&node| node < self.servers) else {
            return Ok(None);
        };
        let time_ns = step.time_ns;
        if step.kind == EventKind::Fault {
            let up = self.sim.is_up(node);
            if up == self.crashed[node as usize] {
                // A crash, or a restart: a new incarnation with its own commit index.
                self.crashed[node as usize] = !up;
                for oracles in &mut self.oracles {
                    oracles.node_restarted(node);
                }
                if !up {
                    let term = self.last_role[node as usize].map_or(0, |(_, term)| term);
                    self.note_role(node, None, term, time_ns);
                    let lost = self.sim.stats().writes_lost;
                    if lost > std::mem::replace(&mut self.writes_lost, lost) {
                        self.marks.hit(HarnessMark::CrashLostWrites);
                    }
                }
            }
        }
        let seen = if self.layout.is_some() {
            self.observe_host(node, time_ns)?
        } else {
            self.observe_kv_server(node, time_ns)?
        };
        Ok(seen.map(|seen| self.observed(node, seen)))
    }

    /// The coverage marks the run reached so far: the harness's, and every Raft engine's,
    /// gathered from the running servers now (and from each server before it crashed).
    pub fn marks(&mut self) -> &Marks {
        for node in 0..self.servers {
            self.gather_raft_marks(node);
        }
        &self.marks
    }

    /// Adds the marks the Raft replicas of server `node` hit since they were last gathered.
    /// Marks are counts, so gathering late changes nothing as long as it happens before the
    /// process goes (a crash) and before the counts are read ([`Cluster::marks`]).
    fn gather_raft_marks(&mut self, node: NodeId) {
        let Some(server) = self.sim.node_mut(node) else {
            return;
        };
        let counts = match server {
            ClusterNode::Server(_) => server.as_server_mut().map(|s| {
                let retries = s.take_retries_applied();
                self.marks
                    .add(HarnessMark::RetryAlreadyApplied.name(), retries);
                [Some(s.take_marks()), None]
            }),
            ClusterNode::Host(_) => server.as_host_mut().map(|host| {
                let again = host.take_pulls_answered_again();
                self.marks.add(HarnessMark::PullAnsweredAgain.name(), again);
                let writes = host.take_writes_while_handing_off();
                self.marks
                    .add(HarnessMark::WriteWhileHandingOff.name(), writes);
                let requests = host.take_requests_while_pulling();
                self.marks
                    .add(HarnessMark::RequestWhilePulling.name(), requests);
                let controller = host.controller_mut().map(kv::Server::take_marks);
                [Some(host.replica_mut().take_marks()), controller]
            }),
            _ => None,
        };
        for replica in counts.into_iter().flatten().flatten() {
            for (mark, count) in replica.iter() {
                self.marks.add(mark.name(), count);
            }
        }
    }

    /// The KV service's one Raft group.
    fn observe_kv_server(&mut self, node: NodeId, time_ns: u64) -> Result<Option<Seen>, Violation> {
        let Some(server) = self.sim.node_mut(node).and_then(ClusterNode::as_server_mut) else {
            return Ok(None);
        };
        let (role, term) = (server.raft().role(), server.raft().term());
        let vote = (term, server.raft().vote());
        let commit = server.raft().commit_index();
        self.note_role(node, Some(role), term, time_ns);
        let oracles = &mut self.oracles[0];
        oracles.check_leader(node, role, term, time_ns)?;
        let server = self
            .sim
            .node_mut(node)
            .and_then(ClusterNode::as_server_mut)
            .expect("checked running above");
        oracles.check(ServerView { node, server }, time_ns)?;
        if role == Role::Leader && oracles.commit_unchecked(commit) {
            let running: Vec<Option<&AnyEngine>> = (0..self.servers)
                .map(|id| self.sim.node(id).and_then(ClusterNode::as_server))
                .map(|server| server.map(kv::Server::raft))
                .collect();
            oracles.check_commit_is_safe(node, &running, time_ns)?;
        }
        Ok(Some(Seen { role, vote, commit }))
    }

    /// What the nemesis sees of a server's event: its role, and whether it voted for another.
    fn observed(&mut self, node: NodeId, seen: Seen) -> Observed {
        let Seen { role, vote, commit } = seen;
        let voted_for_other = vote != self.votes[node as usize]
            && vote
                .1
                .is_some_and(|candidate| candidate != kv::server::raft_id(u64::from(node)));
        self.votes[node as usize] = vote;
        let role_changed = std::mem::replace(&mut self.roles[node as usize], role) != role;
        let committed = std::mem::replace(&mut self.commits[node as usize], commit) < commit;
        if role == Role::Leader {
            self.mark_leader_states(node, role_changed);
        }
        Observed {
            node,
            role,
            role_changed,
            voted_for_other,
            vote: vote.1.map(|raft_id| kv::server::address(raft_id) as NodeId),
            leader_committed: committed && role == Role::Leader,
        }
    }

    /// Marks the dangerous states a leader's view of its Raft group shows: Figure 8's (see
    /// [`HarnessMark::Figure8Danger`]), a second leader, a leader outside its configuration.
    fn mark_leader_states(&mut self, leader: NodeId, elected_now: bool) {
        let hits = if self.layout.is_none() {
            let Some(raft) = self.sim.node(leader).and_then(ClusterNode::as_server) else {
                return;
            };
            leader_states(raft.raft(), leader, elected_now, || {
                self.running().map(|(id, s)| (id, s.raft())).collect()
            })
        } else {
            let Some(host) = self.sim.node(leader).and_then(ClusterNode::as_host) else {
                return;
            };
            leader_states(host.replica().raft(), leader, elected_now, || {
                self.sharded_group_of(leader)
            })
        };
        let (outside, danger, two_leaders) = hits;
        for (hit, mark) in [
            (outside, HarnessMark::LeaderOutsideConfiguration),
            (danger, HarnessMark::Figure8Danger),
            (two_leaders, HarnessMark::TwoLeaders),
        ] {
            if hit {
                self.marks.hit(mark);
            }
        }
    }

    /// The running replicas of the sharded service's replica group `node` is in, by server.
    fn sharded_group_of(&self, node: NodeId) -> Vec<(NodeId, &RawNode<MemStorage>)> {
        let group = |id: NodeId| Some(self.sim.node(id)?.as_host()?.group());
        let Some(own) = group(node) else {
            return Vec::new();
        };
        (0..self.servers)
            .filter(|&id| group(id) == Some(own))
            .filter_map(|id| Some((id, self.sim.node(id)?.as_host()?.replica().raft())))
            .collect()
    }

    /// Keeps a role change (or the server going down, `role` `None`) when asked to.
    fn note_role(&mut self, node: NodeId, role: Option<Role>, term: u64, time_ns: u64) {
        let Some(changes) = &mut self.role_changes else {
            return;
        };
        let now = (role, term);
        if self.last_role[node as usize].replace(now) != Some(now) {
            changes.push(RoleChange {
                time_ns,
                node,
                role,
                term,
            });
        }
    }

    /// (time, term, server) of every election observed, in order of time (every Raft group's,
    /// for the sharded service).
    pub fn leaders(&self) -> Vec<(u64, u64, NodeId)> {
        let mut leaders: Vec<(u64, u64, NodeId)> = self
            .oracles
            .iter()
            .flat_map(|oracles| oracles.leaders.iter().copied())
            .collect();
        leaders.sort_by_key(|&(time_ns, _, _)| time_ns);
        leaders
    }

    /// The running servers, by address.
    pub fn running(&self) -> impl Iterator<Item = (NodeId, &nodes::Server)> {
        (0..self.servers).filter_map(|id| self.sim.node(id)?.as_server().map(|s| (id, s)))
    }

    /// The client nodes, by index.
    pub fn clients(&self) -> impl Iterator<Item = &ClientNode> {
        (self.servers..self.sim.node_count() as NodeId)
            .filter_map(|id| self.sim.node(id).and_then(ClusterNode::as_client))
    }

    /// The leader of the highest term among running servers, and its configuration (the
    /// sharded service: each replica group's leader, and the controller's).
    pub fn view(&self) -> ClusterView<'_> {
        if self.layout.is_some() {
            return self.sharded_view();
        }
        let leader = self
            .running()
            .filter(|(_, s)| s.raft().role() == Role::Leader)
            .max_by_key(|(_, s)| s.raft().term());
        let voters = leader.map(|(_, s)| s.raft().voters());
        ClusterView {
            servers: self.servers,
            network: self.sim.network(),
            leader: leader.map(|(id, _)| id),
            voters: voters.as_ref().map_or_else(Vec::new, |voters| {
                voters
                    .incoming
                    .iter()
                    .map(|&id| kv::server::address(id) as NodeId)
                    .collect()
            }),
            learners: leader.map_or_else(Vec::new, |(_, s)| {
                s.raft()
                    .learners()
                    .iter()
                    .map(|&id| kv::server::address(id) as NodeId)
                    .collect()
            }),
            joint: voters.as_ref().is_some_and(|voters| voters.is_joint()),
            group_leaders: Vec::new(),
            controller: None,
            group_configs: Vec::new(),
            logs: (0..self.servers)
                .map(|id| {
                    let raft = self.sim.node(id).and_then(ClusterNode::as_server)?.raft();
                    let last_index = raft.last_index();
                    Some(LogEnd {
                        last_term: raft.term_at(last_index).unwrap_or(0),
                        last_index,
                        commit: raft.commit_index(),
                        first_index: raft.first_index(),
                    })
                })
                .collect(),
        }
    }

    /// Every client idle, a leader of the highest term whose configuration holds every server,
    /// and every server holding and having applied exactly the leader's log (the sharded
    /// service: so for every Raft group, and every shard served where the latest configuration
    /// says).
    pub fn converged(&mut self) -> bool {
        if !self.clients().all(ClientNode::is_idle) {
            return false;
        }
        if self.layout.is_some() {
            return self.sharded_converged();
        }
        let max_term = self
            .running()
            .map(|(_, s)| s.raft().term())
            .max()
            .unwrap_or(0);
        let Some((_, leader)) = self
            .running()
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
            && self.running().all(|(_, s)| {
                s.raft().last_index() == target && s.state_machine().applied_index() == target
            })
    }

    /// Servers that applied the same log hold the same state: every running server that has
    /// applied as far as the most advanced one has the same state-machine digest.
    pub fn check_replicas(&self, time_ns: u64) -> Result<(), Violation> {
        let applied = |s: &nodes::Server| s.state_machine().applied_index();
        let Some(top) = self.running().map(|(_, s)| applied(s)).max() else {
            return Ok(());
        };
        let mut first: Option<(NodeId, u64)> = None;
        for (node, server) in self.running().filter(|(_, s)| applied(s) == top) {
            let digest = server.state_machine().digest();
            match first {
                None => first = Some((node, digest)),
                Some((other, expected)) if expected != digest => {
                    return Err(Violation {
                        property: crate::config::Property::ReplicaDivergence,
                        nodes: vec![other, node],
                        term: None,
                        index: Some(top),
                        time_ns,
                        message: format!(
                            "{} and {} both applied up to index {top} but hold different \
                             states (digests {expected:016x} and {digest:016x})",
                            sim::names::server(other),
                            sim::names::server(node)
                        ),
                    });
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// Every running server's role, term, indices and voters (a leader's view of each
    /// follower too), and the busy clients, in words.
    pub fn describe_state(&self) -> String {
        if self.layout.is_some() {
            return self.describe_sharded_state();
        }
        let servers: Vec<String> = self
            .running()
            .map(|(id, s)| {
                let raft = s.raft();
                let conf = raft.conf_state();
                let names = |ids: &BTreeSet<u64>| {
                    ids.iter()
                        .map(|id| format!("n{id}"))
                        .collect::<Vec<_>>()
                        .join(",")
                };
                let outgoing = if conf.voters_outgoing.is_empty() {
                    String::new()
                } else {
                    format!("&{{{}}}", names(&conf.voters_outgoing))
                };
                format!(
                    "{} {:?} term={} commit={} last={} applied={} voters={{{}}}{outgoing}{}",
                    sim::names::server(id),
                    raft.role(),
                    raft.term(),
                    raft.commit_index(),
                    raft.last_index(),
                    s.state_machine().applied_index(),
                    names(&conf.voters),
                    describe_progress(raft)
                )
            })
            .collect();
        let busy = self.clients().filter(|c| !c.is_idle()).count();
        format!(
            "{}; {busy} clients with an operation outstanding",
            servers.join("; ")
        )
    }

    /// Every client's records so far in call order; with `finish`, an operation still
    /// outstanding is recorded as indefinite first (the run is over).
    pub fn history(&mut self, finish: bool) -> Vec<HistoryRecord> {
        let mut history = Vec::new();
        for id in self.servers..self.sim.node_count() as NodeId {
            if let Some(client) = self.sim.node_mut(id).and_then(ClusterNode::as_client_mut) {
                if finish {
                    client.finish();
                }
                history.extend(client.history.iter().cloned());
            }
        }
        history.sort_by_key(|record| (record.call_ns, record.client_id));
        history
    }
}

/// For leader `raft` (server `leader`) and its Raft group (`group`, gathered only when needed):
/// whether it leads outside its configuration, is in Figure 8's danger (see
/// [`HarnessMark::Figure8Danger`]), or is a second leader.
fn leader_states<'a, E: Engine + 'a>(
    raft: &E,
    leader: NodeId,
    elected_now: bool,
    group: impl FnOnce() -> Vec<(NodeId, &'a E)>,
) -> (bool, bool, bool) {
    let (term, commit) = (raft.term(), raft.commit_index());
    let outside = !raft.is_voter(raft.id());
    let old_entry = (commit < raft.last_index())
        .then(|| Some((commit + 1, raft.term_at(commit + 1)?)))
        .flatten()
        .filter(|&(_, entry_term)| entry_term < term);
    let mut danger = false;
    let mut two_leaders = false;
    // Most of a leader's events show neither: the group is gathered only when one does.
    if old_entry.is_some() || elected_now {
        for (_, other_raft) in group().into_iter().filter(|&(other, _)| other != leader) {
            let last_term = other_raft.term_at(other_raft.last_index()).unwrap_or(0);
            // Figure 8 (c): another server lacks the entry and its log ends in a term
            // between the entry's and the leader's, so it could still win and overwrite it.
            danger |= old_entry.is_some_and(|(index, entry_term)| {
                other_raft.term_at(index) != Some(entry_term)
                    && entry_term < last_term
                    && last_term < term
            });
            two_leaders |= elected_now && other_raft.role() == Role::Leader;
        }
    }
    (outside, danger, two_leaders)
}

/// A leader's flow-control view of its followers, ` (n2: replicate match=5 next=6, ...)`, where
/// a stuck replication shows; nothing for other roles.
pub(crate) fn describe_progress(raft: &AnyEngine) -> String {
    match raft {
        AnyEngine::Ours(raft) => describe_our_progress(raft),
        AnyEngine::Other(_) => String::new(),
    }
}

pub(crate) fn describe_our_progress(raft: &RawNode<MemStorage>) -> String {
    if raft.role() != Role::Leader {
        return String::new();
    }
    let own = raft.id();
    let followers: Vec<String> = raft
        .progresses()
        .filter(|&(id, _)| id != own)
        .map(|(id, progress)| format!("n{id}: {progress}"))
        .collect();
    format!(" ({})", followers.join(", "))
}
