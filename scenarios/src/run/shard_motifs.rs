//! The sharded service's motifs: fault sequences timed off the shard controller and the replica
//! groups, as `motifs` times its sequences off a Raft group's leader. Each draws from its own
//! stream (`motif-NAME`), so switching one on leaves every other draw of the seed as it was.
//!
//! Lost reply, then move (`LostReplyMove`): a migration that leaves the shard's client sessions
//! behind (`migrate-without-dedup`) needs a write the old owner applied whose reply the client
//! never got, then the move, then the client's retry (same sequence number) applied again by the
//! new owner. Random loss lines these up in about 3% of seeds; this motif lines them up on
//! purpose: it asks the controller to move a shard that holds keys (or the shard's group to
//! leave, so that all its shards move) and, at once, drops
//! everything the shard's group sends to clients (its links to servers keep working, so the
//! group still replicates, applies the move and hands the shard over) until the group has
//! applied the move. Clients writing the shard meanwhile time out, find the group refusing, and
//! retry at the new owner; an append applied twice shows in any later read. Correct code dedups
//! the retry with the sessions that moved with the shard.
//!
//! A snapshot over a divergent tail (`SnapshotOverTail`): a replica group's leader cut off alone
//! keeps appending the writes clients (who still reach it) send it; the rest of its group elects
//! a successor, and the partition heals as soon as the successor commits. A successor that
//! compacts every entry or few has a snapshot just past where the old leader's log forked, so
//! it catches the old leader up with a snapshot its longer, divergent log reaches past: the
//! snapshot must replace that whole log.

use sim::{NodeId, RngStream, SeedRng};

use shardkv::{Change, GroupId, OperatorChange};

use super::motifs::{Clock, Planned, plan_starts};
use crate::config::RunConfig;
use crate::harness::{AdminCommand, ClusterView, Fault, Observed};

/// A sharded motif started at planned times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShardTimed {
    LostReplyMove,
    SnapshotOverTail,
}

/// The sharded motifs a run's mix switches on (none for the KV service).
pub struct ShardMotifs {
    lost_reply_move: Option<LostReplyMove>,
    snapshot_over_tail: Option<SnapshotOverTail>,
}

impl ShardMotifs {
    pub fn new(config: &RunConfig, root: &SeedRng) -> Self {
        ShardMotifs {
            lost_reply_move: LostReplyMove::of_run(config, root),
            snapshot_over_tail: SnapshotOverTail::of_run(config, root),
        }
    }

    /// When the motifs start: one to three times each, from their own streams.
    pub fn planned_starts(&mut self, earliest_ns: u64) -> Vec<(u64, ShardTimed)> {
        let mut starts = Vec::new();
        if let Some(motif) = &mut self.lost_reply_move {
            let last_ns = motif.timing.last_start_ns;
            for at in plan_starts(&mut motif.rng, earliest_ns, last_ns) {
                starts.push((at, ShardTimed::LostReplyMove));
            }
        }
        if let Some(motif) = &mut self.snapshot_over_tail {
            let last_ns = motif.timing.last_start_ns;
            for at in plan_starts(&mut motif.rng, earliest_ns, last_ns) {
                starts.push((at, ShardTimed::SnapshotOverTail));
            }
        }
        starts
    }

    /// Starts a motif now; a controller change takes the operator's next sequence number from
    /// `controller_seq`.
    pub fn start(
        &mut self,
        motif: ShardTimed,
        now_ns: u64,
        view: &ClusterView,
        controller_seq: &mut u64,
    ) -> Planned {
        match motif {
            ShardTimed::LostReplyMove => self
                .lost_reply_move
                .as_mut()
                .map_or_else(Vec::new, |m| m.start(now_ns, view, controller_seq)),
            ShardTimed::SnapshotOverTail => self
                .snapshot_over_tail
                .as_mut()
                .map_or_else(Vec::new, |m| m.start(now_ns, view)),
        }
    }

    /// What the motifs do about what an event showed at `now_ns`.
    pub fn observe(&mut self, now_ns: u64, observed: &Observed, view: &ClusterView) -> Planned {
        let mut planned = Vec::new();
        if let Some(motif) = &mut self.lost_reply_move {
            planned.extend(motif.observe(now_ns, view));
        }
        if let Some(motif) = &mut self.snapshot_over_tail {
            planned.extend(motif.observe(now_ns, observed));
        }
        planned
    }
}

/// How long a round waits for the group to apply the move, in election timeouts, before it lets
/// the replies through anyway (the controller's leader may have lost the change).
const ROUND_ELECTIONS_MAX: u64 = 8;

/// A round in progress: the group whose replies are lost, until it reaches `num`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Round {
    group: GroupId,
    servers: Vec<NodeId>,
    num: u64,
    give_up_ns: u64,
}

struct LostReplyMove {
    rng: RngStream,
    timing: Clock,
    keys: usize,
    shards: usize,
    /// The links' own loss and duplication, which a round puts back.
    base_drop_probability: f64,
    base_duplicate_probability: f64,
    round: Option<Round>,
}

impl LostReplyMove {
    /// The motif of a sharded run whose mix switches it on.
    fn of_run(config: &RunConfig, root: &SeedRng) -> Option<Self> {
        let sharded = config.service.sharded()?;
        if !config.faults.lost_reply_move || !config.faults.controller {
            return None;
        }
        Some(LostReplyMove {
            rng: root.stream("motif-lost-reply-move"),
            timing: Clock::new(config),
            keys: config.keys,
            shards: sharded.shards,
            base_drop_probability: config.link.drop_probability,
            base_duplicate_probability: config.link.duplicate_probability,
            round: None,
        })
    }

    /// Starts a round now: the move at the controller's leader (under the operator's next
    /// sequence number, `controller_seq`) and the group's replies to clients dropped.
    fn start(&mut self, now_ns: u64, view: &ClusterView, controller_seq: &mut u64) -> Planned {
        if self.round.is_some() || self.keys == 0 {
            return Vec::new();
        }
        let Some((leader, config)) = &view.controller else {
            return Vec::new();
        };
        // A shard some key lives in, so clients write it.
        let key = format!("k{}", self.rng.below(self.keys as u64));
        let shard = shardkv::shard_of(&key, self.shards);
        let owner = config.owner(shard);
        let Some(servers) = config.groups.get(&owner) else {
            return Vec::new();
        };
        let others: Vec<GroupId> = config
            .groups
            .keys()
            .copied()
            .filter(|&g| g != owner)
            .collect();
        let change = if others.is_empty() {
            // The only group: one that is out joins and takes some of its shards.
            let out: Vec<GroupId> = (1..=view.group_configs.len() as GroupId)
                .filter(|group| !config.groups.contains_key(group))
                .collect();
            if out.is_empty() {
                return Vec::new();
            }
            Change::Join(vec![*self.rng.pick(&out)])
        } else if self.rng.chance(0.5) {
            // Every shard of the group moves: every client stuck on it retries elsewhere.
            Change::Leave(vec![owner])
        } else {
            let group = *self.rng.pick(&others);
            Change::Move { shard, group }
        };
        *controller_seq += 1;
        let operator = OperatorChange {
            seq: *controller_seq,
            change,
        };
        let servers: Vec<NodeId> = servers.iter().map(|&s| s as NodeId).collect();
        let mut planned = vec![(0, AdminCommand::Controller(operator).to(*leader))];
        for &from in &servers {
            planned.push((0, self.loss(from, None, 1.0)));
            // Every server still hears it: only the replies to clients are lost.
            for to in 0..view.servers {
                planned.push((0, self.loss(from, Some(to), self.base_drop_probability)));
            }
        }
        self.round = Some(Round {
            group: owner,
            servers,
            num: config.num + 1,
            give_up_ns: now_ns + ROUND_ELECTIONS_MAX * self.timing.election_ns,
        });
        planned
    }

    /// Ends the round once its group applied the move (or waited too long): its replies to
    /// clients go through again, soon after.
    fn observe(&mut self, now_ns: u64, view: &ClusterView) -> Planned {
        let Some(round) = &self.round else {
            return Vec::new();
        };
        let reached = view
            .group_configs
            .get(round.group as usize - 1)
            .is_some_and(|&num| num >= round.num);
        if !reached && now_ns < round.give_up_ns {
            return Vec::new();
        }
        let round = self.round.take().expect("checked above");
        let delay_ns = self.rng.below(self.timing.latency_max_ns);
        round
            .servers
            .iter()
            .map(|&from| (delay_ns, self.loss(from, None, self.base_drop_probability)))
            .collect()
    }

    fn loss(&self, from: NodeId, to: Option<NodeId>, drop_probability: f64) -> Fault {
        Fault::LinkLoss {
            from: Some(from),
            to,
            drop_probability,
            duplicate_probability: self.base_duplicate_probability,
        }
    }
}

/// A replica group's leader cut off alone, until its successor commits.
struct SnapshotOverTail {
    rng: RngStream,
    timing: Clock,
    /// Each replica group's servers.
    groups: Vec<Vec<NodeId>>,
    round: Option<TailRound>,
}

/// A round in progress: `old_leader` cut off, its group electing (then `successor` leads).
#[derive(Clone, Debug, PartialEq, Eq)]
struct TailRound {
    old_leader: NodeId,
    servers: Vec<NodeId>,
    successor: Option<NodeId>,
    give_up_ns: u64,
}

impl SnapshotOverTail {
    fn of_run(config: &RunConfig, root: &SeedRng) -> Option<Self> {
        let sharded = config.service.sharded()?;
        if !config.faults.snapshot_over_tail {
            return None;
        }
        let layout = sharded.layout();
        let groups = (1..=layout.group_count() as GroupId)
            .map(|group| {
                let servers = layout.servers_of(group).iter();
                servers.map(|&s| s as NodeId).collect()
            })
            .collect();
        Some(SnapshotOverTail {
            rng: root.stream("motif-snapshot-over-tail"),
            timing: Clock::new(config),
            groups,
            round: None,
        })
    }

    /// Cuts a replica group's leader off from every other server (clients still reach it),
    /// healing after a while in any case.
    fn start(&mut self, now_ns: u64, view: &ClusterView) -> Planned {
        if self.round.is_some() || view.group_leaders.is_empty() {
            return Vec::new();
        }
        let leader = *self.rng.pick(&view.group_leaders);
        let Some(servers) = self.groups.iter().find(|servers| servers.contains(&leader)) else {
            return Vec::new();
        };
        let give_up_ns = ROUND_ELECTIONS_MAX * self.timing.election_ns;
        self.round = Some(TailRound {
            old_leader: leader,
            servers: servers.clone(),
            successor: None,
            give_up_ns: now_ns + give_up_ns,
        });
        let rest: Vec<NodeId> = (0..view.servers).filter(|&n| n != leader).collect();
        vec![
            (
                0,
                Fault::Partition {
                    groups: vec![vec![leader], rest],
                },
            ),
            (give_up_ns, Fault::Heal),
        ]
    }

    /// Notes the group's next leader; heals soon after that leader's first commit.
    fn observe(&mut self, now_ns: u64, observed: &Observed) -> Planned {
        let Some(round) = &mut self.round else {
            return Vec::new();
        };
        if now_ns >= round.give_up_ns {
            // The heal planned at the start comes now.
            self.round = None;
            return Vec::new();
        }
        let node = observed.node;
        match round.successor {
            None if observed.role_changed
                && observed.role == raft::Role::Leader
                && node != round.old_leader
                && round.servers.contains(&node) =>
            {
                round.successor = Some(node);
                Vec::new()
            }
            Some(successor) if node == successor && observed.leader_committed => {
                self.round = None;
                let delay_ns = self.rng.below(self.timing.latency_max_ns);
                vec![(delay_ns, Fault::Heal)]
            }
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use sim::{LinkConfig, Network};

    use super::*;
    use crate::config::ServiceKind;
    use crate::config::swarm::{Shape, config_for};

    /// The servers whose links to every node `planned` sets to `drop_probability`.
    fn losing_all(planned: &Planned, drop_probability: f64) -> Vec<NodeId> {
        let to_all = |action: &Fault| match *action {
            Fault::LinkLoss {
                from: Some(from),
                to: None,
                drop_probability: p,
                ..
            } if p == drop_probability => Some(from),
            _ => None,
        };
        planned
            .iter()
            .filter_map(|(_, action)| to_all(action))
            .collect()
    }

    /// A round moves a shard away from its owner at the controller's leader and drops only what
    /// the owner's servers send to clients, until the owner applies the move.
    #[test]
    fn a_round_moves_a_shard_and_drops_its_groups_replies_until_the_move_applies() {
        let seed = (0..200)
            .find(|&seed| {
                let config = config_for(seed, Shape::Swarm, ServiceKind::Sharded, &[]);
                config.faults.lost_reply_move
                    && config
                        .service
                        .sharded()
                        .is_some_and(|s| s.initial_groups >= 2)
            })
            .expect("some seed draws the motif with two groups joined");
        let config = config_for(seed, Shape::Swarm, ServiceKind::Sharded, &[]);
        let sharded = config.service.sharded().expect("sharded");
        let layout = sharded.layout();
        let first = layout.first_config(sharded.initial_groups);
        let root = SeedRng::new(seed);
        let starts = ShardMotifs::new(&config, &root).planned_starts(0);
        assert!(starts.iter().any(|&(_, m)| m == ShardTimed::LostReplyMove));
        let mut motif = LostReplyMove::of_run(&config, &root).expect("switched on");
        let network = Network::new(config.servers, LinkConfig::default());
        let mut view = ClusterView {
            servers: config.servers as NodeId,
            network: &network,
            leader: None,
            voters: Vec::new(),
            learners: Vec::new(),
            joint: false,
            group_leaders: Vec::new(),
            controller: Some((0, first.clone())),
            group_configs: vec![first.num; sharded.group_sizes.len()],
            logs: Vec::new(),
        };
        let mut seq = 4;
        let planned = motif.start(1_000, &view, &mut seq);
        assert_eq!(seq, 5);
        let Some((0, Fault::Admin { node: 0, command })) = planned.first() else {
            panic!("the move first, at the controller's leader: {planned:?}");
        };
        let AdminCommand::Controller(operator) = command else {
            panic!("a controller change: {command}");
        };
        assert_eq!(operator.seq, 5);
        let owner = match &operator.change {
            Change::Move { shard, group } => {
                assert_ne!(*group, first.owner(*shard));
                first.owner(*shard)
            }
            Change::Leave(groups) => groups[0],
            change => panic!("a move or a leave: {change:?}"),
        };
        assert!(first.groups.contains_key(&owner));
        let owners: Vec<NodeId> = first.groups[&owner].iter().map(|&s| s as NodeId).collect();
        assert_eq!(losing_all(&planned, 1.0), owners);
        for (_, action) in &planned {
            action.validate(config.servers).expect("valid");
        }
        // A second round waits for the first to end; the first ends when the owner applies
        // the move, not before.
        assert!(motif.start(2_000, &view, &mut seq).is_empty());
        assert!(motif.observe(3_000, &view).is_empty());
        view.group_configs[owner as usize - 1] = first.num + 1;
        let restored = motif.observe(4_000, &view);
        assert_eq!(losing_all(&restored, config.link.drop_probability), owners);
        assert!(motif.round.is_none());
    }

    /// A round cuts a group's leader off alone, notes its group's next leader, and heals soon
    /// after that leader's first commit (not at another server's).
    #[test]
    fn a_round_cuts_a_group_leader_off_until_its_successor_commits() {
        let seed = (0..200)
            .find(|&seed| {
                let config = config_for(seed, Shape::Swarm, ServiceKind::Sharded, &[]);
                config.faults.snapshot_over_tail
            })
            .expect("some seed draws the motif");
        let config = config_for(seed, Shape::Swarm, ServiceKind::Sharded, &[]);
        assert!(config.snapshot_threshold_entries <= 3);
        let root = SeedRng::new(seed);
        let starts = ShardMotifs::new(&config, &root).planned_starts(0);
        assert!(
            starts
                .iter()
                .any(|&(_, m)| m == ShardTimed::SnapshotOverTail)
        );
        let mut motif = SnapshotOverTail::of_run(&config, &root).expect("switched on");
        let network = Network::new(config.servers, LinkConfig::default());
        // g1 runs on n1..: its leader n2.
        let servers = config.servers as NodeId;
        let view = ClusterView {
            servers,
            network: &network,
            leader: None,
            voters: Vec::new(),
            learners: Vec::new(),
            joint: false,
            group_leaders: vec![1],
            controller: None,
            group_configs: Vec::new(),
            logs: Vec::new(),
        };
        let planned = motif.start(1_000, &view);
        let rest: Vec<NodeId> = (0..servers).filter(|&n| n != 1).collect();
        let partition = Fault::Partition {
            groups: vec![vec![1], rest],
        };
        assert_eq!(planned.first(), Some(&(0, partition)));
        assert!(matches!(planned.last(), Some((_, Fault::Heal))));
        assert!(motif.start(2_000, &view).is_empty(), "one round at a time");
        let event = |node, role, role_changed, leader_committed| Observed {
            node,
            role,
            role_changed,
            voted_for_other: false,
            vote: None,
            leader_committed,
        };
        let leader = raft::Role::Leader;
        // A leader elected in another group, and commits before g1 has a successor, do nothing.
        let other_group = motif.groups[1][0];
        assert!(
            motif
                .observe(3_000, &event(other_group, leader, true, false))
                .is_empty()
        );
        assert!(
            motif
                .observe(3_500, &event(0, leader, false, true))
                .is_empty()
        );
        assert!(
            motif
                .observe(4_000, &event(0, leader, true, false))
                .is_empty()
        );
        assert!(
            motif
                .observe(5_000, &event(2, leader, false, true))
                .is_empty()
        );
        let heal = motif.observe(6_000, &event(0, leader, false, true));
        assert!(matches!(heal.as_slice(), [(_, Fault::Heal)]), "{heal:?}");
        assert!(motif.round.is_none());
    }
}
