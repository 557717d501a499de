//! The sharded service in the cluster: its Raft groups (the controller's and one per replica
//! group) on multi-raft servers, each judged by its own `Oracles` in the one observe step; what
//! the nemesis sees (each group's leader, the controller's leader and latest configuration);
//! which shards each group serves over time (reports); and when the service has converged.

use kv::StateMachine;
use raft::{MemStorage, RawNode, Role};
use shardkv::{GroupId, Host, ShardStatus};
use sim::NodeId;

use super::marks::HarnessMark;
use super::nodes::{ClientNode, ClusterNode};
use super::oracle::ServerView;
use super::{Cluster, ClusterView, Seen};
use crate::config::Violation;

/// Which Raft group's oracles (an index into `Cluster::oracles`): the controller's, or replica
/// group `g`'s at `g`. The KV service's one group is slot 0.
pub type Slot = usize;

/// The controller's slot.
pub const CONTROLLER: Slot = 0;

/// A replica group started or stopped serving shards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardChange {
    pub time_ns: u64,
    pub group: GroupId,
    /// The shards it serves from now on, ascending.
    pub served: Vec<usize>,
}

/// Picks one Raft group's replica out of a host, if the host is in that group.
struct Pick<S: StateMachine> {
    label: fn(GroupId) -> String,
    get: fn(&Host, GroupId) -> Option<&kv::Server<S>>,
    get_mut: fn(&mut Host) -> Option<&mut kv::Server<S>>,
}

/// Replica group `group`'s replica.
fn replica() -> Pick<shardkv::GroupStateMachine> {
    Pick {
        label: |group| format!("g{group}"),
        get: |host, group| (host.group() == group).then(|| host.replica()),
        get_mut: |host| Some(host.replica_mut()),
    }
}

fn controller() -> Pick<shardkv::CtrlStateMachine> {
    Pick {
        label: |_| "controller".to_string(),
        get: |host, _| host.controller(),
        get_mut: Host::controller_mut,
    }
}

impl Cluster {
    /// The running multi-raft servers, by address.
    pub fn hosts(&self) -> impl Iterator<Item = (NodeId, &Host)> {
        (0..self.servers).filter_map(|id| self.sim.node(id)?.as_host().map(|host| (id, host)))
    }

    fn layout_of_run(&self) -> &shardkv::Layout {
        self.layout
            .as_ref()
            .expect("the sharded service has a layout")
    }

    /// Every oracle on each Raft group the server hosts; its replica's role and vote.
    pub(super) fn observe_host(
        &mut self,
        node: NodeId,
        time_ns: u64,
    ) -> Result<Option<Seen>, Violation> {
        let Some(host) = self.sim.node(node).and_then(ClusterNode::as_host) else {
            return Ok(None);
        };
        let group = host.group();
        let raft = host.replica().raft();
        let (role, term, vote) = (raft.role(), raft.term(), raft.vote());
        let commit = raft.commit_index();
        self.note_role(node, Some(role), term, time_ns);
        self.check_group(node, group as Slot, group, time_ns, &replica())?;
        self.check_group(node, CONTROLLER, group, time_ns, &controller())?;
        self.note_served(group, time_ns);
        Ok(Some(Seen {
            role,
            vote: (term, vote),
            commit,
        }))
    }

    /// The oracles of `slot` on the server at `node` (nothing when it hosts no such group).
    fn check_group<S: StateMachine>(
        &mut self,
        node: NodeId,
        slot: Slot,
        group: GroupId,
        time_ns: u64,
        pick: &Pick<S>,
    ) -> Result<(), Violation> {
        // The label is built only for a violation: this runs after every event.
        let in_group = |violation: Violation| Violation {
            message: format!("{}: {}", (pick.label)(group), violation.message),
            ..violation
        };
        let host = self.sim.node_mut(node).and_then(ClusterNode::as_host_mut);
        let Some(server) = host.and_then(pick.get_mut) else {
            return Ok(());
        };
        let (role, term) = (server.raft().role(), server.raft().term());
        let commit = server.raft().commit_index();
        let oracles = &mut self.oracles[slot];
        oracles
            .check_leader(node, role, term, time_ns)
            .map_err(in_group)?;
        oracles
            .check(ServerView { node, server }, time_ns)
            .map_err(in_group)?;
        if role == Role::Leader && oracles.commit_unchecked(commit) {
            let running: Vec<Option<&RawNode<MemStorage>>> = (0..self.servers)
                .map(|id| self.sim.node(id).and_then(ClusterNode::as_host))
                .map(|host| host.and_then(|host| (pick.get)(host, group)))
                .map(|server| server.map(kv::Server::raft))
                .collect();
            oracles
                .check_commit_is_safe(node, &running, time_ns)
                .map_err(in_group)?;
        }
        Ok(())
    }

    /// The running replica of `group` that has applied the most: what the group serves.
    fn most_applied(&self, group: GroupId) -> Option<&shardkv::GroupStateMachine> {
        let layout = self.layout_of_run();
        layout
            .servers_of(group)
            .iter()
            .filter_map(|&address| self.sim.node(address as NodeId)?.as_host())
            .map(|host| host.replica().state_machine())
            .max_by_key(|state| state.applied_index())
    }

    /// Notes a change of the shards `group` serves (for reports).
    fn note_served(&mut self, group: GroupId, time_ns: u64) {
        let Some(served) = self.most_applied(group).map(|state| state.served()) else {
            return;
        };
        if self.served[group as usize] == served {
            return;
        }
        if self.moved_with_unanswered_write(group, &served) {
            self.marks.hit(HarnessMark::MoveWithUnansweredWrite);
        }
        self.served[group as usize] = served.clone();
        if let Some(changes) = &mut self.shard_changes {
            changes.push(ShardChange {
                time_ns,
                group,
                served,
            });
        }
    }

    /// Whether `group`, now serving `served`, stopped serving a shard that a client's
    /// outstanding write went to after the group applied it: the client, its reply lost or
    /// late, retries the write at the shard's new owner.
    fn moved_with_unanswered_write(&self, group: GroupId, served: &[usize]) -> bool {
        let Some(state) = self.most_applied(group) else {
            return false;
        };
        let moved_away =
            |shard: usize| self.served[group as usize].contains(&shard) && !served.contains(&shard);
        self.clients()
            .filter_map(ClientNode::pending_write)
            .any(|write| {
                moved_away(write.shard)
                    && state
                        .shard(write.shard)
                        .store
                        .sessions
                        .seen(write.client_id, write.seq)
                        .is_some()
            })
    }

    /// Every change of the shards a group serves since `keep_role_changes`.
    pub fn take_shard_changes(&mut self) -> Vec<ShardChange> {
        self.shard_changes.take().unwrap_or_default()
    }

    /// The leader of the highest term among the running replicas of `group` on `servers`.
    fn group_leader<'a, S: StateMachine>(
        &'a self,
        servers: &[u64],
        group: GroupId,
        pick: &Pick<S>,
    ) -> Option<(NodeId, &'a kv::Server<S>)> {
        servers
            .iter()
            .filter_map(|&address| {
                let host = self.sim.node(address as NodeId)?.as_host()?;
                Some((address as NodeId, (pick.get)(host, group)?))
            })
            .filter(|(_, server)| server.is_leader())
            .max_by_key(|(_, server)| server.raft().term())
    }

    pub(super) fn sharded_view(&self) -> ClusterView<'_> {
        let layout = self.layout_of_run();
        let group_leaders = (1..=layout.group_count() as GroupId)
            .filter_map(|group| self.group_leader(layout.servers_of(group), group, &replica()))
            .map(|(node, _)| node)
            .collect();
        let controller = self
            .group_leader(&layout.controller, 0, &controller())
            .map(|(node, server)| (node, server.state_machine().latest().clone()));
        let group_configs = (1..=layout.group_count() as GroupId)
            .map(|group| {
                self.most_applied(group)
                    .map_or(0, |state| state.config().num)
            })
            .collect();
        ClusterView {
            servers: self.servers,
            network: self.sim.network(),
            leader: None,
            voters: Vec::new(),
            learners: Vec::new(),
            joint: false,
            group_leaders,
            controller,
            group_configs,
            logs: Vec::new(),
        }
    }

    /// A leader whose log every running replica of `group` on `servers` holds and has applied;
    /// or, given a `floor`, one that committed at least that far with every replica applying
    /// it (a group whose log never stops growing).
    fn group_converged<S: StateMachine>(
        &self,
        servers: &[u64],
        group: GroupId,
        pick: &Pick<S>,
        floor: Option<u64>,
    ) -> bool {
        let replicas: Vec<&kv::Server<S>> = servers
            .iter()
            .filter_map(|&address| {
                let host = self.sim.node(address as NodeId)?.as_host()?;
                (pick.get)(host, group)
            })
            .collect();
        let max_term = replicas.iter().map(|s| s.raft().term()).max().unwrap_or(0);
        let Some(leader) = replicas
            .iter()
            .find(|s| s.is_leader() && s.raft().term() == max_term)
        else {
            return false;
        };
        let target = leader.raft().last_index();
        let quiet = leader.raft().commit_index() == target
            && replicas.iter().all(|s| {
                s.raft().last_index() == target && s.state_machine().applied_index() == target
            });
        quiet
            || floor.is_some_and(|floor| {
                leader.raft().commit_index() >= floor
                    && replicas
                        .iter()
                        .all(|s| s.state_machine().applied_index() >= floor)
            })
    }

    /// The longest controller log among running replicas now.
    fn controller_last_index(&self) -> u64 {
        let layout = self.layout_of_run();
        layout
            .controller
            .iter()
            .filter_map(|&address| self.sim.node(address as NodeId)?.as_host()?.controller())
            .map(|server| server.raft().last_index())
            .max()
            .unwrap_or(0)
    }

    /// Every Raft group converged, every replica group at the controller's latest
    /// configuration with every shard settled: each shard served by its owner there. The
    /// controller's log may never stop growing (groups polling it through the log, read mode
    /// `log`), so it counts as converged once everything in its longest log when the wait
    /// began is applied everywhere.
    pub(super) fn sharded_converged(&mut self) -> bool {
        let floor = match self.controller_floor {
            Some(floor) => floor,
            None => *self.controller_floor.insert(self.controller_last_index()),
        };
        let layout = self.layout_of_run();
        if !self.group_converged(&layout.controller, 0, &controller(), Some(floor)) {
            return false;
        }
        let Some((_, leader)) = self.group_leader(&layout.controller, 0, &controller()) else {
            return false;
        };
        let latest = leader.state_machine().latest().num;
        (1..=layout.group_count() as GroupId).all(|group| {
            self.group_converged(layout.servers_of(group), group, &replica(), None)
                && self
                    .most_applied(group)
                    .is_some_and(|state| state.config().num == latest && state.is_settled())
        })
    }

    /// Per running server: its replica (group, role, term, indices, configuration and shard
    /// statuses) and its controller replica; then the busy clients.
    pub(super) fn describe_sharded_state(&self) -> String {
        let describe = |raft: &RawNode<MemStorage>, applied: u64| {
            let role = match raft.role() {
                Role::Leader => "L",
                Role::Candidate => "C",
                Role::PreCandidate => "P",
                Role::Follower => "F",
            };
            format!(
                "{role}{} commit={} last={} applied={applied}{}",
                raft.term(),
                raft.commit_index(),
                raft.last_index(),
                super::describe_our_progress(raft)
            )
        };
        let hosts: Vec<String> = self
            .hosts()
            .map(|(id, host)| {
                let replica = host.replica();
                let state = replica.state_machine();
                let statuses: String = state.statuses().into_iter().map(status_letter).collect();
                let mut text = format!(
                    "{} g{} {} config={} shards={statuses}",
                    sim::names::server(id),
                    host.group(),
                    describe(replica.raft(), state.applied_index()),
                    state.config().num
                );
                if let Some(controller) = host.controller() {
                    let latest = controller.state_machine().latest().num;
                    let applied = controller.state_machine().applied_index();
                    let mut raft = describe(controller.raft(), applied);
                    if controller.is_syncing() {
                        raft += " syncing";
                    }
                    text += &format!(" controller {raft} latest={latest}");
                }
                text
            })
            .collect();
        let busy = self.clients().filter(|c| !c.is_idle()).count();
        format!(
            "{}; {busy} clients with an operation outstanding",
            hosts.join("; ")
        )
    }
}

/// `S` serving, `P` pulling, `H` handing off, `A` awaiting the previous owner's delete, `-`.
pub fn status_letter(status: ShardStatus) -> char {
    match status {
        ShardStatus::Absent => '-',
        ShardStatus::Serving => 'S',
        ShardStatus::Pulling => 'P',
        ShardStatus::HandingOff => 'H',
        ShardStatus::AwaitingDelete => 'A',
    }
}
