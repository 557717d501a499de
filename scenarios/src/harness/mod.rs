//! The harness, the second layer: the cluster in the simulator. One factory builds it for
//! seeded runs and scripts alike ([`Cluster::new`] from a [`ClusterSpec`]), and one observe
//! step runs every oracle after every event ([`Cluster::observe`]), so a script is judged
//! exactly as a campaign run is.
//!
//! - `admin`: operator commands (membership changes) as typed fault data.
//! - `nodes`: servers and clients as simulator nodes; `SimEnv` adapts `kv::Env`.
//! - `oracle`: the online safety oracles, including the look-ahead completeness check.
//! - `history`: the clients' history in the checker's terms and its verdict.
//! - `marks`: coverage marks, the rare and dangerous states a run reached.
//!
//! Servers are addresses `0..servers`, Raft ids `address + 1` (`kv::server::raft_id`), and
//! named `n1..` by `sim::names`, which makes a server's name its Raft id.

pub mod admin;
pub mod history;
pub mod marks;
pub mod nodes;
pub mod oracle;

use std::collections::BTreeSet;

use kv::{ClerkConfig, HistoryRecord, ServerConfig, WorkloadConfig};
use raft::{MemStorage, RawNode, Role};
use sim::{EventKind, Names, NodeId, SeedRng, SimConfig, Simulation, Step};

use crate::config::{ConfigError, RunConfig, Violation};
pub use admin::{AdminCommand, Fault, FaultSchedule};
use marks::{HarnessMark, Marks};
use nodes::{ClientNode, ClusterNode, ServerNode, SimEnv};
use oracle::{Oracles, ServerView};

/// Everything the cluster factory needs.
#[derive(Clone, Debug)]
pub struct ClusterSpec {
    pub seed: u64,
    pub sim: SimConfig,
    /// One per server, by address.
    pub servers: Vec<ServerConfig>,
    pub clients: usize,
    pub clerk: ClerkConfig,
    pub workload: WorkloadConfig,
    /// Clients start no operation of their own at or after this time.
    pub workload_end_ns: u64,
}

impl ClusterSpec {
    /// The cluster of a seeded run.
    pub fn of_run(config: &RunConfig) -> ClusterSpec {
        ClusterSpec {
            seed: config.seed,
            sim: config.sim_config(),
            servers: (0..config.servers as NodeId)
                .map(|address| config.server_config(address))
                .collect(),
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

/// What one observed event showed of a running server, for the nemesis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Observed {
    pub node: NodeId,
    pub role: Role,
    /// The role differs from the one after this server's previous event.
    pub role_changed: bool,
    /// The server granted its vote to another server.
    pub voted_for_other: bool,
    /// The server leads and its commit index advanced.
    pub leader_committed: bool,
}

/// What the nemesis and the liveness phase see of the cluster.
pub struct ClusterView<'a> {
    pub servers: NodeId,
    /// The network as it is, for reachability questions (`sim::Network`'s petgraph view).
    pub network: &'a sim::Network,
    /// The leader of the highest term among running servers, if any.
    pub leader: Option<NodeId>,
    /// The voters of that leader's configuration (addresses; the incoming half when joint).
    pub voters: Vec<NodeId>,
    /// Whether that configuration is joint.
    pub joint: bool,
}

/// The cluster in the simulator, with its oracles.
pub struct Cluster {
    pub sim: Simulation<ClusterNode>,
    pub oracles: Oracles,
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
    /// The coverage marks this run reached.
    pub marks: Marks,
    /// Unsynced writes lost to crashes so far (the simulator's count).
    writes_lost: u64,
}

impl Cluster {
    /// Builds the cluster: servers at addresses `0..`, then clients. A server's election jitter
    /// comes from stream `jitter-n{address}-start{k}` for its k-th start, a client's workload
    /// from `workload-client-{index}`.
    pub fn new(spec: ClusterSpec) -> Result<Cluster, ConfigError> {
        for server in &spec.servers {
            server.raft.validate()?;
        }
        let servers = spec.servers.len() as NodeId;
        let root = SeedRng::new(spec.seed);
        let mut starts = vec![0u32; spec.servers.len()];
        let server_addresses: Vec<u64> = (0..u64::from(servers)).collect();
        let sim_config = SimConfig {
            node_count: spec.servers.len() + spec.clients,
            names: Names::new(servers),
            ..spec.sim
        };
        let factory = move |id: NodeId| {
            if id < servers {
                let start = &mut starts[id as usize];
                let jitter = root.stream(&format!("jitter-n{id}-start{start}"));
                *start += 1;
                ClusterNode::Server(Box::new(ServerNode::new(
                    spec.servers[id as usize].clone(),
                    jitter,
                )))
            } else {
                let index = (id - servers) as usize;
                ClusterNode::Client(Box::new(ClientNode::new(
                    index,
                    u64::from(id),
                    server_addresses.clone(),
                    spec.clerk,
                    spec.workload.clone(),
                    spec.workload_end_ns,
                    root,
                )))
            }
        };
        let sim = Simulation::new(sim_config, spec.seed, factory)?;
        let count = servers as usize;
        Ok(Cluster {
            sim,
            oracles: Oracles::new(Names::new(servers)),
            servers,
            crashed: vec![false; count],
            roles: vec![Role::Follower; count],
            votes: vec![(0, None); count],
            commits: vec![0; count],
            role_changes: None,
            last_role: vec![None; count],
            marks: Marks::default(),
            writes_lost: 0,
        })
    }

    pub fn servers(&self) -> NodeId {
        self.servers
    }

    pub fn names(&self) -> Names {
        Names::new(self.servers)
    }

    /// Keep every role change from now on (see [`Cluster::take_role_changes`]).
    pub fn keep_role_changes(&mut self) {
        self.role_changes = Some(Vec::new());
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
        act: impl FnOnce(&mut RawNode<MemStorage>) -> R,
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

    /// Runs every oracle on the server the event concerned.
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
                self.oracles.node_restarted(node);
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
        let Some(server) = self.sim.node_mut(node).and_then(ClusterNode::as_server_mut) else {
            return Ok(None);
        };
        let (role, term) = (server.raft().role(), server.raft().term());
        let vote = (term, server.raft().vote());
        let commit = server.raft().commit_index();
        self.note_role(node, Some(role), term, time_ns);
        self.oracles.check_leader(node, role, term, time_ns)?;
        let server = self
            .sim
            .node_mut(node)
            .and_then(ClusterNode::as_server_mut)
            .expect("checked running above");
        self.oracles.check(ServerView { node, server }, time_ns)?;
        if role == Role::Leader && self.oracles.commit_unchecked(commit) {
            let running: Vec<Option<&RawNode<MemStorage>>> = (0..self.servers)
                .map(|id| self.sim.node(id).and_then(ClusterNode::as_server))
                .map(|server| server.map(kv::Server::raft))
                .collect();
            self.oracles.check_commit_is_safe(node, &running, time_ns)?;
        }
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
        Ok(Some(Observed {
            node,
            role,
            role_changed,
            voted_for_other,
            leader_committed: committed && role == Role::Leader,
        }))
    }

    /// Marks the dangerous states a leader's view shows: Figure 8's (an uncommitted entry of an
    /// earlier term while another server's log ends in a later term), a second leader, a leader
    /// outside its configuration.
    fn mark_leader_states(&mut self, leader: NodeId, elected_now: bool) {
        let Some(raft) = self
            .sim
            .node(leader)
            .and_then(ClusterNode::as_server)
            .map(kv::Server::raft)
        else {
            return;
        };
        let (term, commit) = (raft.term(), raft.commit_index());
        let conf = raft.conf_state();
        let id = kv::server::raft_id(u64::from(leader));
        let outside = !conf.voters.contains(&id) && !conf.voters_outgoing.contains(&id);
        let old_entry_term = (commit < raft.last_index())
            .then(|| raft.term_at(commit + 1))
            .flatten()
            .filter(|&entry_term| entry_term < term);
        let mut danger = false;
        let mut two_leaders = false;
        if old_entry_term.is_some() || elected_now {
            for (_, server) in self.running().filter(|&(other, _)| other != leader) {
                let other_raft = server.raft();
                let last_term = other_raft.term_at(other_raft.last_index()).unwrap_or(0);
                danger |= old_entry_term.is_some_and(|entry_term| last_term > entry_term);
                two_leaders |= elected_now && other_raft.role() == Role::Leader;
            }
        }
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

    /// The running servers, by address.
    pub fn running(&self) -> impl Iterator<Item = (NodeId, &kv::Server)> {
        (0..self.servers).filter_map(|id| self.sim.node(id)?.as_server().map(|s| (id, s)))
    }

    /// The client nodes, by index.
    pub fn clients(&self) -> impl Iterator<Item = &ClientNode> {
        (self.servers..self.sim.node_count() as NodeId)
            .filter_map(|id| self.sim.node(id).and_then(ClusterNode::as_client))
    }

    /// The leader of the highest term among running servers, and its configuration.
    pub fn view(&self) -> ClusterView<'_> {
        let leader = self
            .running()
            .filter(|(_, s)| s.raft().role() == Role::Leader)
            .max_by_key(|(_, s)| s.raft().term());
        let conf = leader.map(|(_, s)| s.raft().conf_state());
        ClusterView {
            servers: self.servers,
            network: self.sim.network(),
            leader: leader.map(|(id, _)| id),
            voters: conf.as_ref().map_or_else(Vec::new, |conf| {
                conf.voters
                    .iter()
                    .map(|&id| kv::server::address(id) as NodeId)
                    .collect()
            }),
            joint: conf.is_some_and(|conf| !conf.voters_outgoing.is_empty()),
        }
    }

    /// Every client idle, a leader of the highest term whose configuration holds every server,
    /// and every server holding and having applied exactly the leader's log.
    pub fn converged(&self) -> bool {
        if !self.clients().all(ClientNode::is_idle) {
            return false;
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
        let applied = |s: &kv::Server| s.state_machine().applied_index();
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

    /// Every running server's role, term, indices and voters, and the busy clients, in words.
    pub fn describe_state(&self) -> String {
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
                    "{} {:?} term={} commit={} last={} applied={} voters={{{}}}{outgoing}",
                    sim::names::server(id),
                    raft.role(),
                    raft.term(),
                    raft.commit_index(),
                    raft.last_index(),
                    s.state_machine().applied_index(),
                    names(&conf.voters)
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
