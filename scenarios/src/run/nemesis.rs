//! Where a run's faults come from: a fixed schedule (replay, shrinking, scripts), or the nemesis,
//! which draws its faults as the run goes and aims them at the cluster's state: at the current
//! leader (a replica group's, for the sharded service), at elections in progress, at a leader
//! just elected; and for the sharded service, controller changes that move shards between
//! groups, sometimes cutting off the group that loses them.
//!
//! Both sources hand the harness actions with their times, and the harness applies them the same
//! way (before any event due at that time), so the schedule a nemesis run actually executed
//! replays to the identical trace as a fixed schedule.

use std::collections::BTreeMap;

use raft::Role;
use sim::{NANOS_PER_MILLI, NodeId, RngStream, SeedRng};

use shardkv::{Change, GroupId, OperatorChange};

use crate::config::RunConfig;
use crate::config::faults::{FaultKind as Kind, planned_kinds};
use crate::harness::{AdminCommand, ClusterView, Fault as FaultAction, FaultSchedule, Observed};

#[derive(Clone, Debug)]
enum Pending {
    /// A planned fault whose target is chosen when it starts.
    Start { kind: Kind, length_ns: u64 },
    /// A concrete action (an undo, or a reactive fault).
    Apply(FaultAction),
    /// A timed motif's start: it acts on the cluster as it is then.
    Motif(super::motifs::Timed),
    /// A sharded motif's start.
    ShardMotif(super::shard_motifs::ShardTimed),
}

pub enum FaultSource {
    Fixed {
        faults: Vec<sim::Fault<AdminCommand>>,
        next: usize,
    },
    Nemesis(Box<Nemesis>),
}

impl FaultSource {
    pub fn fixed(schedule: &FaultSchedule) -> Self {
        FaultSource::Fixed {
            faults: schedule.faults().to_vec(),
            next: 0,
        }
    }

    pub fn nemesis(config: &RunConfig, root: &SeedRng) -> Self {
        FaultSource::Nemesis(Box::new(Nemesis::new(config, root)))
    }

    /// Time of the next action, if any.
    pub fn peek_ns(&self) -> Option<u64> {
        match self {
            FaultSource::Fixed { faults, next } => faults.get(*next).map(|f| f.at_ns),
            FaultSource::Nemesis(nemesis) => nemesis.pending.keys().next().map(|&(t, _)| t),
        }
    }

    /// The actions due at `peek_ns()`, targets resolved against `view`.
    pub fn take(&mut self, view: &ClusterView) -> Vec<FaultAction> {
        match self {
            FaultSource::Fixed { faults, next } => {
                let action = faults[*next].action.clone();
                *next += 1;
                vec![action]
            }
            FaultSource::Nemesis(nemesis) => nemesis.take(view),
        }
    }

    /// A server changed role, or granted its vote to another, at `now_ns`: the nemesis may
    /// react.
    pub fn on_change(&mut self, now_ns: u64, observed: &Observed, view: &ClusterView) {
        if let FaultSource::Nemesis(nemesis) = self {
            nemesis.on_motifs(now_ns, observed, view);
            let Observed {
                node,
                role,
                role_changed,
                voted_for_other,
                ..
            } = *observed;
            if role_changed || voted_for_other {
                nemesis.on_change(now_ns, node, role, voted_for_other, view);
            }
        }
    }
}

pub struct Nemesis {
    pending: BTreeMap<(u64, u64), Pending>,
    seq: u64,
    rng: RngStream,
    aim_percent: u32,
    reactive_percent: u32,
    reactive_left: u32,
    /// Faults start no later than this; undos are clamped to it (the liveness phase heals).
    end_ns: u64,
    latency_max_ns: u64,
    sync_max_ns: u64,
    /// New leaders that may still be handed a membership change at once (with membership on).
    membership_reactions_left: u32,
    /// The motifs the mix switches on.
    motifs: super::motifs::Motifs,
    /// The sharded service's replica groups and shards (0 for the KV service).
    groups: usize,
    shards: usize,
    /// The operator's sequence number of the last controller change.
    controller_seq: u64,
    /// The sharded service's motifs the mix switches on.
    shard_motifs: super::shard_motifs::ShardMotifs,
}

impl Nemesis {
    fn new(config: &RunConfig, root: &SeedRng) -> Self {
        let mix = &config.faults;
        let mut plan_rng = root.stream("faults");
        let mut nemesis = Nemesis {
            pending: BTreeMap::new(),
            seq: 0,
            rng: root.stream("nemesis"),
            aim_percent: mix.aim_at_leader_percent,
            reactive_percent: mix.reactive_percent,
            reactive_left: mix.reactive_max,
            end_ns: config.duration_ns,
            latency_max_ns: config.link.latency_ns_max.max(NANOS_PER_MILLI),
            sync_max_ns: config.disk.sync_latency_ns_max,
            membership_reactions_left: if mix.membership {
                MEMBERSHIP_REACTIONS_MAX
            } else {
                0
            },
            motifs: super::motifs::Motifs::new(config, root),
            groups: config.service.sharded().map_or(0, |s| s.group_sizes.len()),
            shards: config.service.sharded().map_or(0, |s| s.shards),
            controller_seq: 0,
            shard_motifs: super::shard_motifs::ShardMotifs::new(config, root),
        };
        let kinds = planned_kinds(&config.faults);
        // Faults start between 200 ms in and 300 ms before the end: shorter runs get none.
        let earliest = 200 * NANOS_PER_MILLI;
        let latest = config.duration_ns.saturating_sub(300 * NANOS_PER_MILLI);
        if latest < earliest || config.servers < 2 {
            nemesis.reactive_left = 0;
            nemesis.membership_reactions_left = 0;
            return nemesis;
        }
        if kinds.is_empty() {
            nemesis.reactive_left = 0;
        } else {
            for _ in 0..mix.count {
                let at = plan_rng.range_inclusive(earliest, latest);
                let length_ns =
                    plan_rng.range_inclusive(200 * NANOS_PER_MILLI, 2_000 * NANOS_PER_MILLI);
                let kind = *plan_rng.pick(&kinds);
                nemesis.push(at, Pending::Start { kind, length_ns });
            }
        }
        for (at, motif) in nemesis.motifs.planned_starts(earliest) {
            nemesis.push(at, Pending::Motif(motif));
        }
        for (at, motif) in nemesis.shard_motifs.planned_starts(earliest) {
            nemesis.push(at, Pending::ShardMotif(motif));
        }
        // Membership changes come on top of the other faults, planned from their own stream,
        // so switching them on leaves the rest of the plan as it was.
        if mix.membership {
            let mut membership_rng = root.stream("faults-membership");
            for _ in 0..membership_rng.range_inclusive(1, MEMBERSHIP_CHANGES_MAX) {
                let at = membership_rng.range_inclusive(earliest, latest);
                let length_ns =
                    membership_rng.range_inclusive(200 * NANOS_PER_MILLI, 2_000 * NANOS_PER_MILLI);
                let kind = Kind::Membership;
                nemesis.push(at, Pending::Start { kind, length_ns });
            }
        }
        // Controller changes too, from their own stream.
        if mix.controller {
            let mut controller_rng = root.stream("faults-controller");
            let count =
                controller_rng.range_inclusive(CONTROLLER_CHANGES_MIN, CONTROLLER_CHANGES_MAX);
            for _ in 0..count {
                let at = controller_rng.range_inclusive(earliest, latest);
                let length_ns =
                    controller_rng.range_inclusive(200 * NANOS_PER_MILLI, 2_000 * NANOS_PER_MILLI);
                let kind = Kind::ControllerChange;
                nemesis.push(at, Pending::Start { kind, length_ns });
            }
        }
        nemesis
    }

    fn push(&mut self, at_ns: u64, pending: Pending) {
        self.seq += 1;
        self.pending.insert((at_ns, self.seq), pending);
    }

    /// Schedules `begin` at `at_ns` and `undo` `length_ns` later.
    fn push_fault(&mut self, at_ns: u64, length_ns: u64, begin: FaultAction, undo: FaultAction) {
        self.push(at_ns, Pending::Apply(begin));
        self.push_undo(at_ns, length_ns, undo);
    }

    /// Schedules `undo` `delay_ns` after `at_ns`, at the latest when the safety phase ends.
    fn push_undo(&mut self, at_ns: u64, delay_ns: u64, undo: FaultAction) {
        let end = (at_ns + delay_ns).min(self.end_ns);
        self.push(end, Pending::Apply(undo));
    }

    fn take(&mut self, view: &ClusterView) -> Vec<FaultAction> {
        let Some(((at_ns, _), pending)) = self.pending.pop_first() else {
            return Vec::new();
        };
        match pending {
            Pending::Apply(action) => vec![action],
            Pending::Motif(motif) => {
                let planned = self.motifs.start(motif, at_ns, view);
                self.schedule_motif(at_ns, planned)
            }
            Pending::ShardMotif(motif) => {
                let seq = &mut self.controller_seq;
                let planned = self.shard_motifs.start(motif, at_ns, view, seq);
                self.schedule_motif(at_ns, planned)
            }
            Pending::Start { kind, length_ns } => {
                let (begin, undos) = self.resolve(kind, length_ns, view);
                for (delay, undo) in undos {
                    self.push_undo(at_ns, delay, undo);
                }
                begin
            }
        }
    }

    /// What a motif started at `at_ns` does at once (returned), and the rest scheduled.
    fn schedule_motif(
        &mut self,
        at_ns: u64,
        mut planned: super::motifs::Planned,
    ) -> Vec<FaultAction> {
        let now: Vec<FaultAction> = planned
            .extract_if(.., |(delay, _)| *delay == 0)
            .map(|(_, action)| action)
            .collect();
        for (delay, action) in planned {
            self.push((at_ns + delay).min(self.end_ns), Pending::Apply(action));
        }
        now
    }

    /// The node a fault lands on: the leader (one of the replica groups' leaders, for the
    /// sharded service), as often as the mix asks, else any server.
    fn target(&mut self, view: &ClusterView) -> NodeId {
        if !view.group_leaders.is_empty() {
            if self.rng.below(100) < u64::from(self.aim_percent) {
                return *self.rng.pick(&view.group_leaders);
            }
            return self.rng.below(u64::from(view.servers)) as NodeId;
        }
        match view.leader {
            Some(leader) if self.rng.below(100) < u64::from(self.aim_percent) => leader,
            _ => self.rng.below(u64::from(view.servers)) as NodeId,
        }
    }

    /// Servers in random order, `first` first.
    fn order_with_first(&mut self, servers: NodeId, first: NodeId) -> Vec<NodeId> {
        let mut others: Vec<NodeId> = (0..servers).filter(|&n| n != first).collect();
        self.rng.shuffle(&mut others);
        std::iter::once(first).chain(others).collect()
    }

    /// Turns a planned fault into its actions now and its undos (with delays).
    #[allow(clippy::type_complexity)]
    fn resolve(
        &mut self,
        kind: Kind,
        length_ns: u64,
        view: &ClusterView,
    ) -> (Vec<FaultAction>, Vec<(u64, FaultAction)>) {
        let servers = view.servers;
        let node = self.target(view);
        match kind {
            Kind::Partition => {
                let order = self.order_with_first(servers, node);
                // The target ends up in a minority (possibly alone) when aimed at the leader,
                // anywhere otherwise.
                let split = if Some(node) == view.leader {
                    self.rng
                        .range_inclusive(1, (u64::from(servers - 1) / 2).max(1))
                } else {
                    self.rng.range_inclusive(1, u64::from(servers) - 1)
                } as usize;
                let split = split.max(1);
                let groups = vec![order[..split].to_vec(), order[split..].to_vec()];
                (
                    vec![FaultAction::Partition { groups }],
                    vec![(length_ns, FaultAction::Heal)],
                )
            }
            Kind::OneWayCut if Some(node) == view.leader && view.voters.len() >= 3 => {
                self.cut_leader_off(node, length_ns, view)
            }
            Kind::OneWayCut => {
                let other = (node + 1 + self.rng.below(u64::from(servers) - 1) as NodeId) % servers;
                let (from, to) = if self.rng.chance(0.5) {
                    (node, other)
                } else {
                    (other, node)
                };
                (
                    vec![FaultAction::CutLink { from, to }],
                    vec![(length_ns, FaultAction::RestoreLink { from, to })],
                )
            }
            Kind::Crash => (
                vec![FaultAction::Crash { node }],
                vec![(length_ns, FaultAction::Restart { node })],
            ),
            Kind::Bounce => {
                let down = self
                    .rng
                    .range_inclusive(NANOS_PER_MILLI, 2 * self.latency_max_ns);
                (
                    vec![FaultAction::Crash { node }],
                    vec![(down, FaultAction::Restart { node })],
                )
            }
            Kind::PowerLoss => {
                let majority = servers / 2 + 1;
                let count = self
                    .rng
                    .range_inclusive(u64::from(majority), u64::from(servers))
                    as usize;
                let order = self.order_with_first(servers, node);
                let mut begin = Vec::new();
                let mut undos = Vec::new();
                for &victim in &order[..count] {
                    begin.push(FaultAction::Crash { node: victim });
                    let down = self
                        .rng
                        .range_inclusive(20 * NANOS_PER_MILLI, 500 * NANOS_PER_MILLI);
                    undos.push((down, FaultAction::Restart { node: victim }));
                }
                (begin, undos)
            }
            Kind::Pause => (
                vec![FaultAction::Pause { node }],
                vec![(length_ns, FaultAction::Resume { node })],
            ),
            Kind::ClockDrift => {
                let rate = *self.rng.pick(&[0.5, 0.7, 1.5, 2.0]);
                (
                    vec![FaultAction::ClockRate { node, rate }],
                    vec![(length_ns, FaultAction::ClockRate { node, rate: 1.0 })],
                )
            }
            Kind::LinkLoss | Kind::Duplication => {
                // Three decimals: schedules read well and survive any text round trip.
                let (drop_probability, duplicate_probability) = if kind == Kind::LinkLoss {
                    (
                        (50 + self.rng.below(251)) as f64 / 1000.0,
                        self.rng.below(201) as f64 / 1000.0,
                    )
                } else {
                    (0.0, (300 + self.rng.below(501)) as f64 / 1000.0)
                };
                let on = FaultAction::LinkLoss {
                    from: None,
                    to: None,
                    drop_probability,
                    duplicate_probability,
                };
                let off = FaultAction::LinkLoss {
                    from: None,
                    to: None,
                    drop_probability: 0.0,
                    duplicate_probability: 0.0,
                };
                (vec![on], vec![(length_ns, off)])
            }
            Kind::Membership => self.membership(length_ns, view, false),
            Kind::NewLeaderChange => self.membership(length_ns, view, true),
            Kind::Figure8
            | Kind::StaleLeader
            | Kind::CrashAfterCommit
            | Kind::SplitVote
            | Kind::SingleChange
            | Kind::MultiChange
            | Kind::LostReplyMove
            | Kind::SnapshotOverTail
            | Kind::DoubleVote
            | Kind::SnapshotTail => {
                unreachable!("motifs are run off the cluster's state, never planned")
            }
            Kind::ControllerChange => self.controller_change(length_ns, view),
        }
    }

    /// A controller change at the controller's leader, against its latest configuration: a
    /// group that is out joins, a group leaves (never the last one), or a shard moves to
    /// another group (twice as likely: the most common operation). Soon after, while shards
    /// should be migrating, 40% of the time the group that loses shards is cut off from every
    /// other server (the new owner must wait, and must not serve what it has not installed),
    /// 30% of the time messages are lost for a while (replies to writes the old owner applied,
    /// pulls and their replies).
    #[allow(clippy::type_complexity)]
    fn controller_change(
        &mut self,
        length_ns: u64,
        view: &ClusterView,
    ) -> (Vec<FaultAction>, Vec<(u64, FaultAction)>) {
        let Some((leader, config)) = &view.controller else {
            return (Vec::new(), Vec::new());
        };
        let Some((change, losing)) = self.pick_change(config) else {
            return (Vec::new(), Vec::new());
        };
        self.controller_seq += 1;
        let operator = OperatorChange {
            seq: self.controller_seq,
            change,
        };
        let begin = vec![AdminCommand::Controller(operator).to(*leader)];
        let losing_servers: Vec<NodeId> = config
            .groups
            .get(&losing)
            .into_iter()
            .flatten()
            .map(|&address| address as NodeId)
            .collect();
        (
            begin,
            self.after_change(losing_servers, view.servers, length_ns),
        )
    }

    /// A change valid against `config`, and the group that loses shards by it.
    fn pick_change(&mut self, config: &shardkv::Config) -> Option<(Change, GroupId)> {
        let joined: Vec<GroupId> = config.groups.keys().copied().collect();
        let out: Vec<GroupId> = (1..=self.groups as GroupId)
            .filter(|group| !joined.contains(group))
            .collect();
        let mut options = Vec::new();
        if !out.is_empty() {
            options.push(Change::Join(vec![*self.rng.pick(&out)]));
        }
        if joined.len() >= 2 {
            options.push(Change::Leave(vec![*self.rng.pick(&joined)]));
            let shard = self.rng.below(self.shards as u64) as usize;
            let others: Vec<GroupId> = joined
                .iter()
                .copied()
                .filter(|&group| group != config.owner(shard))
                .collect();
            let group = *self.rng.pick(&others);
            options.push(Change::Move { shard, group });
            options.push(Change::Move { shard, group });
        }
        if options.is_empty() {
            return None;
        }
        let change = options.swap_remove(self.rng.below(options.len() as u64) as usize);
        let losing = match &change {
            Change::Join(_) => *self.rng.pick(&joined),
            Change::Leave(groups) => groups[0],
            Change::Move { shard, .. } => config.owner(*shard),
        };
        Some((change, losing))
    }

    /// What follows a controller change while shards migrate: the servers of the group losing
    /// shards cut off from the others, message loss, or nothing.
    fn after_change(
        &mut self,
        losing_servers: Vec<NodeId>,
        servers: NodeId,
        length_ns: u64,
    ) -> Vec<(u64, FaultAction)> {
        let delay = self.rng.below(3 * self.latency_max_ns);
        match self.rng.below(10) {
            0..4 if !losing_servers.is_empty() => {
                let rest: Vec<NodeId> = (0..servers)
                    .filter(|n| !losing_servers.contains(n))
                    .collect();
                let groups = vec![losing_servers, rest];
                vec![
                    (delay, FaultAction::Partition { groups }),
                    (delay + length_ns, FaultAction::Heal),
                ]
            }
            // Replies and pulls lost around the change: retries cross to the new owner, pulls
            // are asked again.
            4..7 => {
                let drop_probability = (100 + self.rng.below(201)) as f64 / 1000.0;
                let loss = |drop_probability| FaultAction::LinkLoss {
                    from: None,
                    to: None,
                    drop_probability,
                    duplicate_probability: 0.0,
                };
                vec![
                    (delay, loss(drop_probability)),
                    (delay + length_ns, loss(0.0)),
                ]
            }
            _ => Vec::new(),
        }
    }

    /// One-way cuts aimed at the leader: its links to the other voters, all in one direction
    /// (it cannot send, or cannot hear), cut in random order until the network graph says it no
    /// longer talks both ways with a quorum of its configuration. Half-working links are where
    /// leases, CheckQuorum and PreVote disagree: followers may still hear a leader that hears
    /// nobody, or the reverse.
    #[allow(clippy::type_complexity)]
    fn cut_leader_off(
        &mut self,
        leader: NodeId,
        length_ns: u64,
        view: &ClusterView,
    ) -> (Vec<FaultAction>, Vec<(u64, FaultAction)>) {
        let outbound = self.rng.chance(0.5);
        let mut others: Vec<NodeId> = view
            .voters
            .iter()
            .copied()
            .filter(|&v| v != leader)
            .collect();
        self.rng.shuffle(&mut others);
        let mut network = view.network.clone();
        let mut begin = Vec::new();
        let mut undos = Vec::new();
        for other in others {
            if !network.can_reach_majority(leader, &view.voters) {
                break;
            }
            let (from, to) = if outbound {
                (leader, other)
            } else {
                (other, leader)
            };
            network.cut_link(from, to);
            begin.push(FaultAction::CutLink { from, to });
            undos.push((length_ns, FaultAction::RestoreLink { from, to }));
        }
        (begin, undos)
    }

    /// A membership change at the leader: a voter added or removed, or several at once (which
    /// correct Raft turns into joint consensus), relative to the leader's configuration. Half
    /// the time the leader and the changed servers are cut off from the rest soon after, while
    /// the change is in flight: the moment Figure 10 and the single-server change bug need.
    #[allow(clippy::type_complexity)]
    fn membership(
        &mut self,
        length_ns: u64,
        view: &ClusterView,
        single_only: bool,
    ) -> (Vec<FaultAction>, Vec<(u64, FaultAction)>) {
        let Some(leader) = view.leader.filter(|_| !view.joint) else {
            return (Vec::new(), Vec::new());
        };
        let mut voters = view.voters.clone();
        let mut spares: Vec<NodeId> = (0..view.servers).filter(|n| !voters.contains(n)).collect();
        self.rng.shuffle(&mut voters);
        self.rng.shuffle(&mut spares);
        if let Some(change) = self.learner_change(view, &spares) {
            return (vec![change.to(leader)], Vec::new());
        }
        // (added, removed), each option valid against the leader's configuration.
        let mut options: Vec<(Vec<NodeId>, Vec<NodeId>)> = Vec::new();
        if let Some(&spare) = spares.first() {
            options.push((vec![spare], Vec::new()));
        }
        if voters.len() >= 2 {
            // A just-elected leader removes another server (S5: the old leader, say).
            let removed = match voters.iter().find(|&&v| v != leader) {
                Some(&other) if single_only => other,
                _ => voters[0],
            };
            options.push((Vec::new(), vec![removed]));
        }
        if spares.len() >= 2 && !single_only {
            let count = self.rng.range_inclusive(2, spares.len() as u64) as usize;
            options.push((spares[..count].to_vec(), Vec::new()));
        }
        if voters.len() >= 3 && !single_only {
            let count =
                self.rng
                    .range_inclusive(2, (voters.len() as u64 - 1).min(3)) as usize;
            options.push((Vec::new(), voters[..count].to_vec()));
        }
        if !spares.is_empty() && voters.len() >= 2 && !single_only {
            options.push((vec![spares[0]], vec![voters[0]]));
        }
        if options.is_empty() {
            return (Vec::new(), Vec::new());
        }
        // The single-server changes (the first options) half the time: with a cut right after,
        // they set up the single-server change bug; else any option.
        let single = options.len().min(if spares.is_empty() { 1 } else { 2 });
        let pick = if self.rng.chance(0.5) {
            self.rng.below(single as u64)
        } else {
            self.rng.below(options.len() as u64)
        };
        let (added, removed) = options.swap_remove(pick as usize);
        let begin = vec![AdminCommand::change_voters(&added, &removed).to(leader)];
        let mut later = Vec::new();
        if !single_only && self.rng.chance(0.5) {
            let mut side: Vec<NodeId> = std::iter::once(leader)
                .chain(added.iter().chain(&removed).copied())
                .collect();
            side.sort_unstable();
            side.dedup();
            let rest: Vec<NodeId> = (0..view.servers).filter(|n| !side.contains(n)).collect();
            if !rest.is_empty() {
                // At once half the time: only the cut-off side has the entry then.
                let delay = if self.rng.chance(0.5) {
                    0
                } else {
                    self.rng.below(3 * self.latency_max_ns)
                };
                later.push((
                    delay,
                    FaultAction::Partition {
                        groups: vec![side, rest],
                    },
                ));
                later.push((delay + length_ns, FaultAction::Heal));
            }
        }
        (begin, later)
    }

    /// Learner changes: with learners about, half the time a learner promoted to voter (most
    /// often), removed, or a server in no role added as a learner; without, a fifth of the time
    /// a server in no role added as a learner. `spares` are the non-voters, shuffled.
    fn learner_change(&mut self, view: &ClusterView, spares: &[NodeId]) -> Option<AdminCommand> {
        let learner = spares.iter().copied().find(|n| view.learners.contains(n));
        let outsider = spares.iter().copied().find(|n| !view.learners.contains(n));
        match (learner, outsider) {
            (Some(learner), outsider) if self.rng.chance(0.5) => Some(match self.rng.below(4) {
                0 => AdminCommand::change_voters(&[], &[learner]),
                1 if outsider.is_some() => AdminCommand::add_learners(&[outsider?]),
                _ => AdminCommand::change_voters(&[learner], &[]),
            }),
            (None, Some(outsider)) if self.rng.chance(0.2) => {
                Some(AdminCommand::add_learners(&[outsider]))
            }
            _ => None,
        }
    }

    /// Lets the motifs act on what an event showed.
    fn on_motifs(&mut self, now_ns: u64, observed: &Observed, view: &ClusterView) {
        if now_ns >= self.end_ns {
            return;
        }
        let mut planned = self.motifs.observe(now_ns, observed, view);
        planned.extend(self.shard_motifs.observe(now_ns, observed, view));
        for (delay, action) in planned {
            let at = reaction_time(now_ns, delay);
            if at < self.end_ns {
                self.push(at, Pending::Apply(action));
            } else {
                // The liveness phase heals and resumes everything; a motif's undo past the
                // safety phase's end happens there.
                self.push(self.end_ns, Pending::Apply(action));
            }
        }
    }

    /// Reacts to a vote granted (a bounce of the voter once the vote is out), an election
    /// starting (a bounce of a voter while votes are in flight) or a new leader (a crash, pause
    /// or isolation of it soon after it took over).
    fn on_change(
        &mut self,
        now_ns: u64,
        node: NodeId,
        role: Role,
        voted: bool,
        view: &ClusterView,
    ) {
        if now_ns >= self.end_ns || view.servers < 2 {
            return;
        }
        if role == Role::Leader && self.membership_reactions_left > 0 && self.rng.chance(0.5) {
            // A change handed to the new leader before its first entry can commit: correct
            // Raft refuses it until then (BRIEF §8 S5). Its own budget, apart from the
            // reactive faults, so every membership seed gets a few.
            self.membership_reactions_left -= 1;
            let at = reaction_time(now_ns, self.rng.below(self.latency_max_ns / 2 + 1));
            let length_ns = self
                .rng
                .range_inclusive(100 * NANOS_PER_MILLI, 1_000 * NANOS_PER_MILLI);
            let kind = Kind::NewLeaderChange;
            self.push(at, Pending::Start { kind, length_ns });
            return;
        }
        if self.reactive_left == 0 {
            return;
        }
        if !voted && !matches!(role, Role::Candidate | Role::Leader) {
            return;
        }
        if self.rng.below(100) >= u64::from(self.reactive_percent) {
            return;
        }
        self.reactive_left -= 1;
        let latency = self.latency_max_ns;
        if voted {
            // A voter bounced just after its vote went out (once the vote's sync is done):
            // whatever it forgets, it may be asked again in the same term.
            let at = reaction_time(now_ns, self.sync_max_ns + self.rng.below(latency / 2 + 1));
            let down = self.rng.range_inclusive(NANOS_PER_MILLI / 10, latency);
            self.push_fault(
                at,
                down,
                FaultAction::Crash { node },
                FaultAction::Restart { node },
            );
            return;
        }
        if role == Role::Candidate {
            let voter =
                (node + 1 + self.rng.below(u64::from(view.servers) - 1) as NodeId) % view.servers;
            let at = reaction_time(now_ns, self.rng.below(latency));
            let down = self.rng.range_inclusive(NANOS_PER_MILLI / 2, 2 * latency);
            self.push_fault(
                at,
                down,
                FaultAction::Crash { node: voter },
                FaultAction::Restart { node: voter },
            );
            return;
        }
        let at = reaction_time(now_ns, self.rng.below(3 * latency));
        let length = self
            .rng
            .range_inclusive(100 * NANOS_PER_MILLI, 1_000 * NANOS_PER_MILLI);
        let (begin, undo) = match self.rng.below(3) {
            0 => (FaultAction::Crash { node }, FaultAction::Restart { node }),
            1 => (FaultAction::Pause { node }, FaultAction::Resume { node }),
            _ => {
                let order = self.order_with_first(view.servers, node);
                let groups = vec![order[..1].to_vec(), order[1..].to_vec()];
                (FaultAction::Partition { groups }, FaultAction::Heal)
            }
        };
        self.push_fault(at, length, begin, undo);
    }
}

/// When a reaction to an event at `now_ns` takes effect: `delay_ns` later, and never at
/// `now_ns` itself. A replay applies the faults due at a time before the events of that time,
/// so a fault at the very time of the event it reacts to would replay before that event.
fn reaction_time(now_ns: u64, delay_ns: u64) -> u64 {
    now_ns + delay_ns.max(1)
}

/// Planned membership changes per run, at most (at least one when switched on).
const MEMBERSHIP_CHANGES_MAX: u64 = 3;

/// Controller changes per run (the sharded service).
const CONTROLLER_CHANGES_MIN: u64 = 3;
const CONTROLLER_CHANGES_MAX: u64 = 10;

/// New leaders handed a membership change at once, at most, per run.
const MEMBERSHIP_REACTIONS_MAX: u32 = 4;

#[cfg(test)]
mod tests {
    use sim::{LinkConfig, Network};

    use super::*;

    #[test]
    fn a_cut_aimed_at_the_leader_leaves_it_without_a_quorum() {
        let mut config = RunConfig::standard(3);
        config.faults = crate::config::FaultMix::none();
        for seed in 0..20 {
            let mut nemesis = Nemesis::new(&config, &SeedRng::new(seed));
            let network = Network::new(5, LinkConfig::default());
            let view = ClusterView {
                servers: 5,
                network: &network,
                leader: Some(2),
                voters: vec![0, 1, 2, 3, 4],
                learners: Vec::new(),
                joint: false,
                group_leaders: Vec::new(),
                controller: None,
                group_configs: Vec::new(),
                logs: Vec::new(),
            };
            let (begin, undos) = nemesis.cut_leader_off(2, NANOS_PER_MILLI, &view);
            let mut after = network.clone();
            for action in &begin {
                let FaultAction::CutLink { from, to } = *action else {
                    panic!("{action} is not a cut");
                };
                assert!(from == 2 || to == 2, "{action} misses the leader");
                after.cut_link(from, to);
            }
            assert!(!after.can_reach_majority(2, &view.voters), "seed {seed}");
            // The fewest cuts that do it: a quorum of five less the leader, plus one.
            assert_eq!(begin.len(), 3, "seed {seed}");
            assert_eq!(undos.len(), begin.len());
        }
    }
}
