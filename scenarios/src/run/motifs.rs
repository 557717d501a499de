//! Motifs: multi-step fault sequences that build the states classic bugs need, timed off the
//! cluster's state rather than the clock. Random faults seldom line up the several steps of,
//! say, Figure 8; a motif watches for the moment each step needs and acts then.
//!
//! Each motif draws from its own stream (`motif-NAME`), so switching one on leaves every other
//! draw of the seed as it was, and its actions are ordinary fault actions: the executed schedule
//! replays them exactly like any other.

use sim::{NANOS_PER_MILLI, NodeId, RngStream, SeedRng};

use crate::config::{FaultMix, RunConfig};
use crate::harness::{AdminCommand, ClusterView, Fault, Observed};

/// Times a motif runs, at most, per run.
const ROUNDS_MAX: u32 = 3;
/// Election timeouts a Figure 8 round waits for its second leader before it heals.
const ROUND_ELECTIONS_MAX: u64 = 6;
/// Times the crash-after-commit motif runs, at most, per run: a round lasts a few election
/// timeouts, and it shows a bug only when a client's read reaches the new leader in the short
/// window before its first commit, so a run has room for, and needs, more of them.
const CRASH_AFTER_COMMIT_ROUNDS_MAX: u32 = 6;

/// What a motif asks for: actions at a delay from now.
pub type Planned = Vec<(u64, Fault)>;

/// One to three start times in `earliest_ns..=latest_ns`, in order.
pub(super) fn plan_starts(rng: &mut RngStream, earliest_ns: u64, latest_ns: u64) -> Vec<u64> {
    if latest_ns < earliest_ns {
        return Vec::new();
    }
    let count = rng.range_inclusive(1, u64::from(ROUNDS_MAX));
    let mut starts: Vec<u64> = (0..count)
        .map(|_| rng.range_inclusive(earliest_ns, latest_ns))
        .collect();
    starts.sort_unstable();
    starts
}

/// Timing every motif works from (the sharded motifs' too).
#[derive(Clone, Copy, Debug)]
pub(super) struct Clock {
    /// The election timeout: how long followers wait for a leader they stopped hearing.
    pub(super) election_ns: u64,
    sync_max_ns: u64,
    pub(super) latency_max_ns: u64,
    /// No round starts after this (the liveness phase heals everything anyway).
    pub(super) last_start_ns: u64,
    /// Configurations take effect when appended, not when applied.
    conf_change_on_append: bool,
}

impl Clock {
    pub(super) fn new(config: &RunConfig) -> Self {
        let election_ns = config.tick_ns * config.election_tick;
        Clock {
            election_ns,
            sync_max_ns: config.disk.sync_latency_ns_max,
            latency_max_ns: config.link.latency_ns_max.max(NANOS_PER_MILLI),
            last_start_ns: config.duration_ns.saturating_sub(8 * election_ns),
            conf_change_on_append: config.conf_change_on_append,
        }
    }
}

/// A motif started at planned times, on the leader of the moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timed {
    StaleLeader,
    SplitVote,
    SingleChange,
    MultiChange,
    DoubleVote,
    SnapshotTail,
}

impl Timed {
    /// Every timed motif, in the order their start times are planned.
    const ALL: [Timed; 6] = [
        Timed::StaleLeader,
        Timed::SplitVote,
        Timed::SingleChange,
        Timed::MultiChange,
        Timed::DoubleVote,
        Timed::SnapshotTail,
    ];
}

/// What the run asks of a timed motif: its start times from its own stream, and a round begun
/// on the leader of the moment.
trait TimedMotif {
    /// The motif's stream and the latest time a round may start.
    fn schedule(&mut self) -> (&mut RngStream, u64);
    fn start_round(&mut self, leader: NodeId, now_ns: u64, view: &ClusterView) -> Planned;
}

/// Each timed motif keeps its stream in `rng`, its timing in `clock` and begins a round in its
/// own `start`.
macro_rules! timed_motif {
    ($($motif:ty),*) => {$(
        impl TimedMotif for $motif {
            fn schedule(&mut self) -> (&mut RngStream, u64) {
                (&mut self.rng, self.clock.last_start_ns)
            }

            fn start_round(&mut self, leader: NodeId, now_ns: u64, view: &ClusterView) -> Planned {
                self.start(leader, now_ns, view)
            }
        }
    )*};
}

timed_motif!(
    StaleLeader,
    SplitVote,
    SingleChange,
    MultiChange,
    DoubleVote,
    SnapshotTail
);

/// The motifs a run's mix switches on.
pub struct Motifs {
    figure8: Option<Figure8>,
    stale_leader: Option<StaleLeader>,
    crash_after_commit: Option<CrashAfterCommit>,
    split_vote: Option<SplitVote>,
    single_change: Option<SingleChange>,
    multi_change: Option<MultiChange>,
    double_vote: Option<DoubleVote>,
    snapshot_tail: Option<SnapshotTail>,
}

impl Motifs {
    pub fn new(config: &RunConfig, root: &SeedRng) -> Self {
        let mix: &FaultMix = &config.faults;
        let clock = Clock::new(config);
        let stream = |name: &str| root.stream(&format!("motif-{name}"));
        Motifs {
            figure8: mix.figure8.then(|| Figure8::new(clock, stream("figure8"))),
            stale_leader: mix
                .stale_leader
                .then(|| StaleLeader::new(clock, stream("stale-leader"))),
            crash_after_commit: mix
                .crash_after_commit
                .then(|| CrashAfterCommit::new(clock, stream("crash-after-commit"))),
            split_vote: mix
                .split_vote
                .then(|| SplitVote::new(clock, stream("split-vote"))),
            single_change: mix
                .single_change
                .then(|| SingleChange::new(clock, stream("single-change"))),
            multi_change: mix
                .multi_change
                .then(|| MultiChange::new(clock, stream("multi-change"))),
            double_vote: mix
                .double_vote
                .then(|| DoubleVote::new(clock, stream("double-vote"))),
            snapshot_tail: mix
                .snapshot_tail
                .then(|| SnapshotTail::new(clock, stream("snapshot-tail"))),
        }
    }

    /// The timed motif `motif`, when the run's mix switched it on.
    fn timed(&mut self, motif: Timed) -> Option<&mut dyn TimedMotif> {
        match motif {
            Timed::StaleLeader => self.stale_leader.as_mut().map(|m| m as _),
            Timed::SplitVote => self.split_vote.as_mut().map(|m| m as _),
            Timed::SingleChange => self.single_change.as_mut().map(|m| m as _),
            Timed::MultiChange => self.multi_change.as_mut().map(|m| m as _),
            Timed::DoubleVote => self.double_vote.as_mut().map(|m| m as _),
            Timed::SnapshotTail => self.snapshot_tail.as_mut().map(|m| m as _),
        }
    }

    /// When the timed motifs start: one to three times each, from their own streams.
    pub fn planned_starts(&mut self, earliest_ns: u64) -> Vec<(u64, Timed)> {
        let mut starts = Vec::new();
        for kind in Timed::ALL {
            if let Some(motif) = self.timed(kind) {
                let (rng, last_start_ns) = motif.schedule();
                for at in plan_starts(rng, earliest_ns, last_start_ns) {
                    starts.push((at, kind));
                }
            }
        }
        starts
    }

    /// Starts a timed motif now, on the current leader (none without one).
    pub fn start(&mut self, motif: Timed, now_ns: u64, view: &ClusterView) -> Planned {
        let Some(leader) = view.leader else {
            return Vec::new();
        };
        self.timed(motif)
            .map_or_else(Vec::new, |m| m.start_round(leader, now_ns, view))
    }

    /// What the motifs do about what an event showed at `now_ns`.
    pub fn observe(&mut self, now_ns: u64, observed: &Observed, view: &ClusterView) -> Planned {
        let mut planned = Vec::new();
        let new_leader = observed.role_changed && observed.role == raft::Role::Leader;
        if new_leader {
            if let Some(motif) = &mut self.figure8 {
                planned.extend(motif.on_leader(observed.node, now_ns, view));
            }
            if let Some(motif) = &mut self.crash_after_commit {
                planned.extend(motif.on_leader(observed.node, now_ns, view));
            }
            if let Some(motif) = &mut self.single_change {
                planned.extend(motif.on_leader(observed.node, now_ns, view));
            }
        }
        if observed.leader_committed
            && let Some(motif) = &mut self.crash_after_commit
        {
            planned.extend(motif.on_commit(observed.node, now_ns, view.servers));
        }
        if observed.voted_for_other
            && let Some(motif) = &mut self.split_vote
        {
            planned.extend(motif.on_vote(observed.node, now_ns));
        }
        if let Some(motif) = &mut self.double_vote {
            planned.extend(motif.observe(now_ns, observed, view));
        }
        if new_leader && let Some(motif) = &mut self.snapshot_tail {
            planned.extend(motif.on_leader(observed.node, now_ns, view));
        }
        if observed.leader_committed {
            if let Some(motif) = &mut self.multi_change {
                planned.extend(motif.on_commit(observed.node, now_ns, view));
            }
            if let Some(motif) = &mut self.snapshot_tail {
                planned.extend(motif.on_commit(observed.node, now_ns, view));
            }
        }
        planned
    }
}

/// The Figure 8 sequence (BRIEF §8 S2): a leader whose entries reach only a minority, a second
/// leader elected without them and cut off before its own entries leave it, then the first
/// leader back with the majority. Correct Raft commits the old entries only through an entry of
/// the new term; a leader that counts replicas of an older term commits entries the cut-off
/// leader could still overwrite, which the look-ahead completeness oracle reports.
struct Figure8 {
    rng: RngStream,
    clock: Clock,
    stage: Figure8Stage,
    rounds_left: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Figure8Stage {
    /// Waiting for a leader to cut off with a minority.
    Idle,
    /// `first` leads a minority since `since_ns`; waiting for the majority's next leader.
    FirstCut { first: NodeId, since_ns: u64 },
}

impl Figure8 {
    fn new(clock: Clock, rng: RngStream) -> Self {
        Figure8 {
            rng,
            clock,
            stage: Figure8Stage::Idle,
            rounds_left: ROUNDS_MAX,
        }
    }

    fn on_leader(&mut self, leader: NodeId, now_ns: u64, view: &ClusterView) -> Planned {
        let servers = view.servers;
        if servers < 3 || view.joint {
            return Vec::new();
        }
        let election_ns = self.clock.election_ns;
        match self.stage {
            Figure8Stage::Idle if self.rounds_left > 0 && now_ns <= self.clock.last_start_ns => {
                // Half the time skip this leader: rounds spread over the run.
                if self.rng.chance(0.5) {
                    return Vec::new();
                }
                self.rounds_left -= 1;
                self.stage = Figure8Stage::FirstCut {
                    first: leader,
                    since_ns: now_ns,
                };
                // The leader keeps a minority (itself alone with three servers): its new
                // entries, the empty entry of its term first, reach only them.
                let minority = ((servers as usize - 1) / 2).max(1);
                let mut others: Vec<NodeId> = (0..servers).filter(|&n| n != leader).collect();
                self.rng.shuffle(&mut others);
                let mut side = vec![leader];
                side.extend(&others[..minority - 1]);
                let rest = others[minority - 1..].to_vec();
                // A round whose second leader never comes heals after a while all the same.
                let give_up_ns = ROUND_ELECTIONS_MAX * election_ns;
                vec![
                    (
                        0,
                        Fault::Partition {
                            groups: vec![side, rest],
                        },
                    ),
                    (give_up_ns, Fault::Heal),
                ]
            }
            Figure8Stage::FirstCut { first, since_ns } if leader != first => {
                self.stage = Figure8Stage::Idle;
                if now_ns > since_ns + ROUND_ELECTIONS_MAX * election_ns {
                    return Vec::new();
                }
                // Cut the second leader off at once, before its entries leave it; the first
                // leader rejoins the rest, wins the next term, and brings its old entries to a
                // majority.
                let rest: Vec<NodeId> = (0..servers).filter(|&n| n != leader).collect();
                let heal_ns = self.rng.range_inclusive(3 * election_ns, 8 * election_ns);
                vec![
                    (
                        0,
                        Fault::Partition {
                            groups: vec![vec![leader], rest],
                        },
                    ),
                    (heal_ns, Fault::Heal),
                ]
            }
            _ => Vec::new(),
        }
    }
}

/// A stale leader (S7, S8): a leader that cannot send to the other servers, whose clock jumps
/// back (its ticks stop for a while, so it notices nothing: no CheckQuorum, no step-down), while
/// the others elect a successor and commit writes; what they send it is held and let through
/// late, while it still believes it leads. Clients still reach it. Correct ReadIndex confirms
/// each read with a fresh round nobody answers; a leader that answers reads from local state
/// (leader-local-read) or lets late acknowledgements of an earlier round confirm them
/// (read-context-reuse) serves a stale value.
struct StaleLeader {
    rng: RngStream,
    clock: Clock,
    /// No new round before this (one round at a time).
    busy_until_ns: u64,
}

impl StaleLeader {
    fn new(clock: Clock, rng: RngStream) -> Self {
        StaleLeader {
            rng,
            clock,
            busy_until_ns: 0,
        }
    }

    fn start(&mut self, leader: NodeId, now_ns: u64, view: &ClusterView) -> Planned {
        let election_ns = self.clock.election_ns;
        if view.servers < 3 || now_ns < self.busy_until_ns {
            return Vec::new();
        }
        // Its ticks stop this long; the others elect and commit meanwhile.
        let frozen_ns = self.rng.range_inclusive(3 * election_ns, 6 * election_ns);
        let release_ns = self
            .rng
            .range_inclusive(2 * election_ns, frozen_ns - election_ns / 2);
        let length_ns = frozen_ns + election_ns;
        self.busy_until_ns = now_ns + length_ns + election_ns;
        let mut planned = vec![(
            0,
            Fault::ClockJump {
                node: leader,
                delta_ns: -i64::try_from(frozen_ns).expect("election timeouts fit in i64"),
            },
        )];
        for other in (0..view.servers).filter(|&n| n != leader) {
            planned.extend([
                (
                    0,
                    Fault::CutLink {
                        from: leader,
                        to: other,
                    },
                ),
                (
                    0,
                    Fault::HoldLink {
                        from: other,
                        to: leader,
                    },
                ),
                (
                    release_ns,
                    Fault::ReleaseLink {
                        from: other,
                        to: leader,
                    },
                ),
                (
                    length_ns,
                    Fault::RestoreLink {
                        from: leader,
                        to: other,
                    },
                ),
            ]);
        }
        planned
    }
}

/// A leader crashed right after it commits (before its next heartbeat tells the followers), and
/// the next leader kept from committing its term's first entry for a while: its commit index
/// lags what was acknowledged to clients. Correct ReadIndex waits for that first commit; a
/// leader that answers ReadIndex before it (read-index-before-noop) serves a stale value.
struct CrashAfterCommit {
    rng: RngStream,
    clock: Clock,
    rounds_left: u32,
    /// The leader crashed by the round in progress, waiting for its successor.
    crashed: Option<NodeId>,
    busy_until_ns: u64,
}

impl CrashAfterCommit {
    fn new(clock: Clock, rng: RngStream) -> Self {
        CrashAfterCommit {
            rng,
            clock,
            rounds_left: CRASH_AFTER_COMMIT_ROUNDS_MAX,
            crashed: None,
            busy_until_ns: 0,
        }
    }

    fn on_commit(&mut self, leader: NodeId, now_ns: u64, servers: NodeId) -> Planned {
        let clock = self.clock;
        if self.rounds_left == 0
            || self.crashed.is_some()
            || now_ns < self.busy_until_ns
            || now_ns > clock.last_start_ns
            || !self.rng.chance(0.05)
        {
            return Vec::new();
        }
        self.rounds_left -= 1;
        self.crashed = Some(leader);
        // At once: the write's reply is out, and the messages that would tell the followers of
        // the commit are dropped with the leader's links.
        let down_ns = self
            .rng
            .range_inclusive(clock.election_ns, 3 * clock.election_ns);
        self.busy_until_ns = now_ns + down_ns + 2 * clock.election_ns;
        let mut planned = Vec::new();
        for other in 0..servers {
            if other != leader {
                planned.push((
                    0,
                    Fault::CutLink {
                        from: leader,
                        to: other,
                    },
                ));
                planned.push((
                    down_ns,
                    Fault::RestoreLink {
                        from: leader,
                        to: other,
                    },
                ));
            }
        }
        planned.push((0, Fault::Crash { node: leader }));
        planned.push((down_ns, Fault::Restart { node: leader }));
        planned
    }

    fn on_leader(&mut self, leader: NodeId, _now_ns: u64, view: &ClusterView) -> Planned {
        let Some(crashed) = self.crashed else {
            return Vec::new();
        };
        if leader == crashed {
            return Vec::new();
        }
        self.crashed = None;
        // Hold the followers' answers so the new leader's first entry cannot commit yet, for
        // less than an election timeout (CheckQuorum would depose it otherwise).
        let hold_ns = self
            .rng
            .range_inclusive(self.clock.election_ns / 3, 2 * self.clock.election_ns / 3);
        let mut planned = Vec::new();
        for other in (0..view.servers).filter(|&n| n != leader) {
            planned.push((
                0,
                Fault::HoldLink {
                    from: other,
                    to: leader,
                },
            ));
            planned.push((
                hold_ns,
                Fault::ReleaseLink {
                    from: other,
                    to: leader,
                },
            ));
        }
        planned
    }
}

/// Two candidates in one term, each cut off from the other, and every voter that grants a vote
/// bounced at once (crashed once the vote's sync is done, restarted soon after). A voter that
/// forgets its vote on restart (forget-vote-on-restart) grants the second candidate too, and
/// both win the term.
struct SplitVote {
    rng: RngStream,
    clock: Clock,
    /// While the round lasts, voters that grant a vote are bounced.
    bounce_until_ns: u64,
}

impl SplitVote {
    fn new(clock: Clock, rng: RngStream) -> Self {
        SplitVote {
            rng,
            clock,
            bounce_until_ns: 0,
        }
    }

    fn start(&mut self, leader: NodeId, now_ns: u64, view: &ClusterView) -> Planned {
        let clock = self.clock;
        if view.servers < 3 || now_ns < self.bounce_until_ns {
            return Vec::new();
        }
        let mut others: Vec<NodeId> = (0..view.servers).filter(|&n| n != leader).collect();
        self.rng.shuffle(&mut others);
        let (a, b) = (others[0], others[1]);
        let start = 0;
        // The leader goes away (its followers' timers run out close together); it comes back
        // as a voter while the candidates campaign.
        let down_ns = self
            .rng
            .range_inclusive(clock.election_ns, 2 * clock.election_ns);
        let length_ns = 4 * clock.election_ns;
        self.bounce_until_ns = now_ns + start + length_ns;
        vec![
            (start, Fault::CutLink { from: a, to: b }),
            (start, Fault::CutLink { from: b, to: a }),
            (start, Fault::Crash { node: leader }),
            (start + down_ns, Fault::Restart { node: leader }),
            (start + length_ns, Fault::RestoreLink { from: a, to: b }),
            (start + length_ns, Fault::RestoreLink { from: b, to: a }),
        ]
    }

    fn on_vote(&mut self, voter: NodeId, now_ns: u64) -> Planned {
        if now_ns >= self.bounce_until_ns {
            return Vec::new();
        }
        let clock = self.clock;
        let crash_ns =
            clock.sync_max_ns + self.rng.range_inclusive(1, clock.latency_max_ns / 4 + 1);
        let down_ns = self
            .rng
            .range_inclusive(NANOS_PER_MILLI / 10, clock.latency_max_ns);
        vec![
            (crash_ns, Fault::Crash { node: voter }),
            (crash_ns + down_ns, Fault::Restart { node: voter }),
        ]
    }
}

/// The single-server change bug (BRIEF §8 S5), in an even configuration with a spare and
/// configurations effective on append: a leader adds the spare and is cut off with it at once;
/// the rest elect a successor, which at once removes the old leader and is cut off with one
/// other voter. A leader that accepts a change before its term's first commit
/// (conf-change-before-noop) commits the removal with that one voter, though the old leader,
/// the spare and the voter left behind could still elect the old leader: the look-ahead
/// completeness oracle reports it.
struct SingleChange {
    rng: RngStream,
    clock: Clock,
    /// The old leader and when it was cut off, while waiting for its successor.
    first: Option<(NodeId, u64)>,
}

impl SingleChange {
    fn new(clock: Clock, rng: RngStream) -> Self {
        SingleChange {
            rng,
            clock,
            first: None,
        }
    }

    fn start(&mut self, leader: NodeId, now_ns: u64, view: &ClusterView) -> Planned {
        // A leader may lead without being a voter of its latest configuration (it appended its
        // own removal): it is never a spare.
        let spares: Vec<NodeId> = (0..view.servers)
            .filter(|&n| n != leader && !view.voters.contains(&n))
            .collect();
        if view.joint || self.first.is_some() || view.voters.len() < 4 || spares.is_empty() {
            return Vec::new();
        }
        let spare = spares[self.rng.below(spares.len() as u64) as usize];
        self.first = Some((leader, now_ns));
        let rest: Vec<NodeId> = (0..view.servers)
            .filter(|&n| n != leader && n != spare)
            .collect();
        vec![
            (0, AdminCommand::change_voters(&[spare], &[]).to(leader)),
            (
                0,
                Fault::Partition {
                    groups: vec![vec![leader, spare], rest],
                },
            ),
            (ROUND_ELECTIONS_MAX * self.clock.election_ns, Fault::Heal),
        ]
    }

    fn on_leader(&mut self, leader: NodeId, now_ns: u64, view: &ClusterView) -> Planned {
        let Some((first, since_ns)) = self.first else {
            return Vec::new();
        };
        if leader == first {
            return Vec::new();
        }
        self.first = None;
        if now_ns > since_ns + ROUND_ELECTIONS_MAX * self.clock.election_ns {
            return Vec::new();
        }
        let mut others: Vec<NodeId> = view
            .voters
            .iter()
            .copied()
            .filter(|&n| n != leader && n != first)
            .collect();
        let Some(&partner) = others.first() else {
            return Vec::new();
        };
        self.rng.shuffle(&mut others);
        let partner = others.first().copied().unwrap_or(partner);
        let rest: Vec<NodeId> = (0..view.servers)
            .filter(|&n| n != leader && n != partner)
            .collect();
        let heal_ns = self
            .rng
            .range_inclusive(2 * self.clock.election_ns, 5 * self.clock.election_ns);
        vec![
            (0, AdminCommand::change_voters(&[], &[first]).to(leader)),
            (
                0,
                Fault::Partition {
                    groups: vec![vec![leader, partner], rest],
                },
            ),
            (heal_ns, Fault::Heal),
        ]
    }
}

/// Figure 10: a leader adds several spares in one change, and the leader, the spares and as
/// few old voters as it takes to make a majority of the new configuration are cut off from an
/// old majority the moment the change is in effect at the leader: at once when configurations
/// take effect on append, else when the leader commits the change (before its followers hear
/// of the commit). Correct Raft enters joint consensus, which still needs a majority of the old
/// configuration; a leader that changes several voters in one step (direct-multi-change)
/// commits with its side alone while the old majority, cut off, elects another leader: the
/// look-ahead completeness oracle reports it.
struct MultiChange {
    rng: RngStream,
    clock: Clock,
    /// A change proposed under configurations applied when committed, waiting for its commit.
    pending: Option<PendingChange>,
}

#[derive(Clone, Debug)]
struct PendingChange {
    leader: NodeId,
    /// The index the change entry takes in the leader's log.
    index: u64,
    groups: Vec<Vec<NodeId>>,
    since_ns: u64,
}

impl MultiChange {
    fn new(clock: Clock, rng: RngStream) -> Self {
        MultiChange {
            rng,
            clock,
            pending: None,
        }
    }

    /// The leader's side (the leader, `added`, and old voters enough for a majority of the new
    /// configuration) and the rest, when the rest still holds a majority of the old one.
    fn sides(
        &mut self,
        leader: NodeId,
        added: &[NodeId],
        view: &ClusterView,
    ) -> Option<Vec<Vec<NodeId>>> {
        let majority = |count: usize| count / 2 + 1;
        let mut old: Vec<NodeId> = view
            .voters
            .iter()
            .copied()
            .filter(|&n| n != leader)
            .collect();
        // A leader that appended its own removal leads without being a voter.
        let leader_votes = usize::from(view.voters.contains(&leader));
        let new_count = view.voters.len() + added.len();
        let extra = majority(new_count).saturating_sub(leader_votes + added.len());
        if old.len() < extra || old.len() - extra < majority(view.voters.len()) {
            return None;
        }
        self.rng.shuffle(&mut old);
        let mut side = vec![leader];
        side.extend_from_slice(added);
        side.extend_from_slice(&old[..extra]);
        let rest: Vec<NodeId> = (0..view.servers).filter(|n| !side.contains(n)).collect();
        Some(vec![side, rest])
    }

    fn start(&mut self, leader: NodeId, now_ns: u64, view: &ClusterView) -> Planned {
        let mut spares: Vec<NodeId> = (0..view.servers)
            .filter(|&n| n != leader && !view.voters.contains(&n))
            .collect();
        let waiting = self.pending.as_ref().is_some_and(|pending| {
            now_ns <= pending.since_ns + ROUND_ELECTIONS_MAX * self.clock.election_ns
        });
        if view.joint || spares.len() < 2 || waiting {
            return Vec::new();
        }
        self.pending = None;
        self.rng.shuffle(&mut spares);
        let count = self.rng.range_inclusive(2, spares.len() as u64) as usize;
        let Some(groups) = self
            .sides(leader, &spares[..count], view)
            .or_else(|| self.sides(leader, &spares, view))
        else {
            return Vec::new();
        };
        let added: Vec<NodeId> = groups[0]
            .iter()
            .copied()
            .filter(|n| spares.contains(n))
            .collect();
        let change = (0, AdminCommand::change_voters(&added, &[]).to(leader));
        if self.clock.conf_change_on_append {
            let mut planned = vec![change];
            planned.extend(self.cut(groups));
            return planned;
        }
        let Some(Some(log)) = view.logs.get(leader as usize) else {
            return vec![change];
        };
        self.pending = Some(PendingChange {
            leader,
            index: log.last_index + 1,
            groups,
            since_ns: now_ns,
        });
        vec![change]
    }

    /// The cut, and its heal a few election timeouts later.
    fn cut(&mut self, groups: Vec<Vec<NodeId>>) -> Planned {
        let heal_ns = self
            .rng
            .range_inclusive(2 * self.clock.election_ns, 5 * self.clock.election_ns);
        vec![(0, Fault::Partition { groups }), (heal_ns, Fault::Heal)]
    }

    fn on_commit(&mut self, leader: NodeId, now_ns: u64, view: &ClusterView) -> Planned {
        let Some(pending) = &self.pending else {
            return Vec::new();
        };
        if now_ns > pending.since_ns + ROUND_ELECTIONS_MAX * self.clock.election_ns {
            self.pending = None;
            return Vec::new();
        }
        let committed = view
            .logs
            .get(leader as usize)
            .copied()
            .flatten()
            .is_some_and(|log| log.commit >= pending.index);
        if leader != pending.leader || !committed {
            return Vec::new();
        }
        let groups = pending.groups.clone();
        self.pending = None;
        self.cut(groups)
    }
}

/// A vote given twice in one term (forget-vote-on-restart), built step by step. The leader is
/// bounced, so every voter loses it at once. When the first candidate appears, the voters
/// split in two sides cut off from each other, each one short of a majority, and one voter
/// (the one with the shortest log) bridges them. When the bridge votes, the candidate it
/// voted for is cut off from it (its appends would give the bridge a leader and an entry of the
/// new term), the bridge is bounced once its vote is synced, and the other side's requests to
/// it are held until it is back. Correct Raft refuses the other side's candidate from the vote
/// the bridge persisted; a bridge that forgot it elects a second leader in the same term.
struct DoubleVote {
    rng: RngStream,
    clock: Clock,
    stage: DoubleVoteStage,
    busy_until_ns: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum DoubleVoteStage {
    Idle,
    /// The leader of `voters` was bounced at `since_ns`; waiting for the first candidate.
    Leaderless {
        voters: Vec<NodeId>,
        since_ns: u64,
    },
    /// The voters split in `sides`, `bridge` reaching both; waiting for the bridge's vote.
    Split {
        bridge: NodeId,
        sides: [Vec<NodeId>; 2],
        since_ns: u64,
    },
}

impl DoubleVote {
    /// Election timeouts a stage waits for its next step before the round is abandoned.
    const STAGE_ELECTIONS_MAX: u64 = 3;
    /// Election timeouts the two sides stay cut off from each other.
    const SPLIT_ELECTIONS: u64 = 5;

    fn new(clock: Clock, rng: RngStream) -> Self {
        DoubleVote {
            rng,
            clock,
            stage: DoubleVoteStage::Idle,
            busy_until_ns: 0,
        }
    }

    fn start(&mut self, leader: NodeId, now_ns: u64, view: &ClusterView) -> Planned {
        let voters = &view.voters;
        if now_ns < self.busy_until_ns
            || view.joint
            || voters.len() < 3
            || voters.len().is_multiple_of(2)
            || !voters.contains(&leader)
        {
            return Vec::new();
        }
        let election_ns = self.clock.election_ns;
        self.busy_until_ns = now_ns + (Self::SPLIT_ELECTIONS + 3) * election_ns;
        self.stage = DoubleVoteStage::Leaderless {
            voters: voters.clone(),
            since_ns: now_ns,
        };
        // Back before anyone campaigns: it votes like the others.
        let down_ns = self
            .rng
            .range_inclusive(NANOS_PER_MILLI / 10, self.clock.latency_max_ns);
        vec![
            (0, Fault::Crash { node: leader }),
            (down_ns, Fault::Restart { node: leader }),
        ]
    }

    fn observe(&mut self, now_ns: u64, observed: &Observed, view: &ClusterView) -> Planned {
        let deadline =
            |since_ns: u64| since_ns + Self::STAGE_ELECTIONS_MAX * self.clock.election_ns;
        match &self.stage {
            DoubleVoteStage::Idle => Vec::new(),
            DoubleVoteStage::Leaderless { since_ns, .. }
            | DoubleVoteStage::Split { since_ns, .. }
                if now_ns > deadline(*since_ns) =>
            {
                self.stage = DoubleVoteStage::Idle;
                Vec::new()
            }
            DoubleVoteStage::Leaderless { voters, .. } => {
                let candidate = observed.node;
                if !(observed.role_changed
                    && observed.role == raft::Role::Candidate
                    && voters.contains(&candidate))
                {
                    return Vec::new();
                }
                let voters = voters.clone();
                self.split(candidate, &voters, now_ns, view)
            }
            DoubleVoteStage::Split { bridge, sides, .. } => {
                let (bridge, sides) = (*bridge, sides.clone());
                let Some(candidate) = observed.vote.filter(|_| observed.voted_for_other) else {
                    return Vec::new();
                };
                if observed.node != bridge {
                    return Vec::new();
                }
                let Some(side) = sides.iter().position(|s| s.contains(&candidate)) else {
                    return Vec::new();
                };
                self.stage = DoubleVoteStage::Idle;
                self.bounce_bridge(bridge, candidate, &sides[1 - side])
            }
        }
    }

    /// Splits `voters` around the first candidate: the bridge is a voter with the shortest
    /// log (it must find both candidates' logs up to date), the other side gets the longest
    /// logs (its candidate must win the bridge and its side).
    fn split(
        &mut self,
        candidate: NodeId,
        voters: &[NodeId],
        now_ns: u64,
        view: &ClusterView,
    ) -> Planned {
        let log_of = |n: &NodeId| view.logs.get(*n as usize).copied().flatten();
        let mut others: Vec<NodeId> = voters.iter().copied().filter(|&n| n != candidate).collect();
        self.rng.shuffle(&mut others);
        // Longest first, servers that are down last; a stable sort leaves equal logs in
        // shuffled order.
        others.sort_by_key(|n| std::cmp::Reverse(log_of(n)));
        let bridge_at = others
            .iter()
            .rposition(|n| log_of(n).is_some())
            .unwrap_or(others.len() - 1);
        let bridge = others.remove(bridge_at);
        let half = voters.len() / 2;
        let other_side = others[..half].to_vec();
        let mut own_side = vec![candidate];
        own_side.extend_from_slice(&others[half..]);
        self.stage = DoubleVoteStage::Split {
            bridge,
            sides: [own_side.clone(), other_side.clone()],
            since_ns: now_ns,
        };
        vec![
            (
                0,
                Fault::Partition {
                    groups: vec![own_side, other_side],
                },
            ),
            (Self::SPLIT_ELECTIONS * self.clock.election_ns, Fault::Heal),
        ]
    }

    /// The bridge voted for `candidate`: cut the candidate's messages to it, hold the other
    /// side's, and bounce it once the vote is synced; the other side's requests arrive when it
    /// is back.
    fn bounce_bridge(
        &mut self,
        bridge: NodeId,
        candidate: NodeId,
        other_side: &[NodeId],
    ) -> Planned {
        let clock = self.clock;
        let crash_ns =
            2 * clock.sync_max_ns + self.rng.range_inclusive(1, clock.latency_max_ns / 4 + 1);
        let back_ns = crash_ns
            + self
                .rng
                .range_inclusive(NANOS_PER_MILLI / 10, clock.latency_max_ns);
        let restore_ns = Self::SPLIT_ELECTIONS * clock.election_ns;
        let mut planned = vec![
            (
                0,
                Fault::CutLink {
                    from: candidate,
                    to: bridge,
                },
            ),
            (crash_ns, Fault::Crash { node: bridge }),
            (back_ns, Fault::Restart { node: bridge }),
            (
                restore_ns,
                Fault::RestoreLink {
                    from: candidate,
                    to: bridge,
                },
            ),
        ];
        for &other in other_side {
            planned.push((
                0,
                Fault::HoldLink {
                    from: other,
                    to: bridge,
                },
            ));
            planned.push((
                back_ns + 1,
                Fault::ReleaseLink {
                    from: other,
                    to: bridge,
                },
            ));
        }
        planned
    }
}

/// A snapshot installed over a longer log (`snapshot-over-longer-log`). The leader's clock is
/// frozen (no ticks: it neither steps down nor campaigns) while every server is cut off from
/// every other: nobody else can elect, so clients keep coming back to the leader, whose log
/// grows a tail it cannot commit. Then the others are joined up without it and elect a leader;
/// once that leader has compacted past where the old leader's log left off, everything heals,
/// and the old leader, its tail longer than the snapshot, is sent the snapshot.
struct SnapshotTail {
    rng: RngStream,
    clock: Clock,
    stage: SnapshotTailStage,
    busy_until_ns: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SnapshotTailStage {
    Idle,
    /// `old` leads alone, its log `diverged_at` entries long when it was cut off; waiting for
    /// the others' leader to compact past that.
    Growing {
        old: NodeId,
        diverged_at: u64,
        since_ns: u64,
    },
}

impl SnapshotTail {
    /// Election timeouts the round lasts at most.
    const ROUND_ELECTIONS_MAX: u64 = 14;

    fn new(clock: Clock, rng: RngStream) -> Self {
        SnapshotTail {
            rng,
            clock,
            stage: SnapshotTailStage::Idle,
            busy_until_ns: 0,
        }
    }

    fn start(&mut self, leader: NodeId, now_ns: u64, view: &ClusterView) -> Planned {
        let Some(Some(log)) = view.logs.get(leader as usize) else {
            return Vec::new();
        };
        if now_ns < self.busy_until_ns || view.servers < 3 || view.voters.len() < 3 {
            return Vec::new();
        }
        let election_ns = self.clock.election_ns;
        let round_ns = Self::ROUND_ELECTIONS_MAX * election_ns;
        self.busy_until_ns = now_ns + round_ns + election_ns;
        self.stage = SnapshotTailStage::Growing {
            old: leader,
            diverged_at: log.last_index,
            since_ns: now_ns,
        };
        // Each client's write waits at the leader for a request timeout (an election
        // timeout), then tries the others, who send it back: a few entries per client.
        let alone_ns = self.rng.range_inclusive(4 * election_ns, 7 * election_ns);
        let rest: Vec<NodeId> = (0..view.servers).filter(|&n| n != leader).collect();
        vec![
            (
                0,
                Fault::ClockJump {
                    node: leader,
                    delta_ns: -i64::try_from(alone_ns).expect("election timeouts fit in i64"),
                },
            ),
            (
                0,
                Fault::Partition {
                    groups: (0..view.servers).map(|n| vec![n]).collect(),
                },
            ),
            (
                alone_ns,
                Fault::Partition {
                    groups: vec![vec![leader], rest],
                },
            ),
            (round_ns, Fault::Heal),
        ]
    }

    /// A leader of the others: it already compacted past the old leader's log, or will as it
    /// commits.
    fn on_leader(&mut self, leader: NodeId, now_ns: u64, view: &ClusterView) -> Planned {
        self.on_commit(leader, now_ns, view)
    }

    fn on_commit(&mut self, leader: NodeId, now_ns: u64, view: &ClusterView) -> Planned {
        let SnapshotTailStage::Growing {
            old,
            diverged_at,
            since_ns,
        } = self.stage
        else {
            return Vec::new();
        };
        if now_ns > since_ns + Self::ROUND_ELECTIONS_MAX * self.clock.election_ns {
            self.stage = SnapshotTailStage::Idle;
            return Vec::new();
        }
        let compacted_past = view
            .logs
            .get(leader as usize)
            .copied()
            .flatten()
            .is_some_and(|log| log.first_index > diverged_at + 1);
        if leader == old || !compacted_past {
            return Vec::new();
        }
        self.stage = SnapshotTailStage::Idle;
        vec![(0, Fault::Heal)]
    }
}

#[cfg(test)]
mod tests {
    use sim::{LinkConfig, Network};

    use super::*;
    use crate::config::Property;
    use crate::harness::LogEnd;

    fn clock() -> Clock {
        Clock::new(&RunConfig::standard(1))
    }

    /// A four-second standard run with no faults but one motif, and `mutant` planted.
    fn motif_config(
        seed: u64,
        motif: fn(&mut FaultMix) -> &mut bool,
        mutant: Option<raft::Mutant>,
    ) -> RunConfig {
        let mut config = RunConfig::standard(seed);
        config.duration_ns = 4 * sim::NANOS_PER_SEC;
        config.faults = FaultMix::none();
        *motif(&mut config.faults) = true;
        config.mutants = mutant
            .map(crate::config::Mutant::Raft)
            .into_iter()
            .collect();
        config
    }

    /// Runs `configs`: how many reached `mark`, and the properties violated.
    fn outcomes(configs: impl Iterator<Item = RunConfig>, mark: &str) -> (usize, Vec<Property>) {
        let mut reached = 0;
        let mut violated = Vec::new();
        for config in configs {
            let outcome = crate::run::run(&config).expect("a valid configuration");
            reached += usize::from(outcome.marks.contains_key(mark));
            violated.extend(outcome.violation.map(|v| v.property));
        }
        (reached, violated)
    }

    fn view_of(
        network: &Network,
        leader: Option<NodeId>,
        logs: Vec<Option<LogEnd>>,
    ) -> ClusterView<'_> {
        ClusterView {
            servers: logs.len() as NodeId,
            network,
            leader,
            voters: (0..logs.len() as NodeId).collect(),
            learners: Vec::new(),
            joint: false,
            group_leaders: Vec::new(),
            controller: None,
            group_configs: Vec::new(),
            logs,
        }
    }

    fn log_end(last_term: u64, last_index: u64) -> Option<LogEnd> {
        Some(LogEnd {
            last_term,
            last_index,
            commit: 0,
            first_index: 1,
        })
    }

    /// The split leaves the bridge outside both sides, each side one short of a majority, the
    /// bridge the voter with the shortest log and the other side with the longest.
    #[test]
    fn double_vote_splits_the_voters_around_a_bridge_with_the_shortest_log() {
        let network = Network::new(5, LinkConfig::default());
        let logs = vec![
            log_end(2, 9),
            log_end(2, 7),
            log_end(1, 12),
            log_end(2, 9),
            log_end(2, 8),
        ];
        let view = view_of(&network, None, logs);
        for seed in 0..20 {
            let mut motif = DoubleVote::new(clock(), SeedRng::new(seed).stream("test"));
            let planned = motif.split(3, &[0, 1, 2, 3, 4], 0, &view);
            let DoubleVoteStage::Split { bridge, sides, .. } = &motif.stage else {
                panic!("seed {seed}: no split");
            };
            assert_eq!(*bridge, 2, "seed {seed}: n3's log ends in the oldest term");
            assert_eq!(sides[0][0], 3, "seed {seed}: the candidate's side first");
            assert_eq!(sides[0].len(), 2, "seed {seed}");
            assert_eq!(sides[1].len(), 2, "seed {seed}");
            let mut other = sides[1].clone();
            other.sort_unstable();
            assert_eq!(
                other,
                [0, 4],
                "seed {seed}: the two longest logs after the candidate's"
            );
            let Fault::Partition { groups } = &planned[0].1 else {
                panic!("seed {seed}: {}", planned[0].1);
            };
            assert!(!groups.iter().flatten().any(|n| n == bridge), "seed {seed}");
        }
    }

    /// Built from the cluster's state, the double vote asks a restarted bridge for its vote a
    /// second time in one term (without PreVote: with it, the vote the bridge persisted already
    /// refuses the pre-vote). Correct code refuses; a node that forgets its vote elects two
    /// leaders in one term, with PreVote or without.
    #[test]
    fn double_vote_asks_a_restarted_bridge_for_a_second_vote_in_one_term() {
        let motif: fn(&mut FaultMix) -> &mut bool = |mix| &mut mix.double_vote;
        let config = |seed, mutant, pre_vote| {
            let mut config = motif_config(seed, motif, mutant);
            config.raft.pre_vote = pre_vote;
            config
        };
        let mark = "vote-after-restart";
        let (reached, violated) = outcomes((0..6).map(|seed| config(seed, None, false)), mark);
        assert_eq!(violated, []);
        assert!(reached >= 3, "{reached} of 6 seeds");
        let (_, violated) = outcomes((0..6).map(|seed| config(seed, None, true)), mark);
        assert_eq!(violated, []);
        let forget = Some(raft::Mutant::ForgetVoteOnRestart);
        for pre_vote in [false, true] {
            let (_, violated) = outcomes((0..6).map(|seed| config(seed, forget, pre_vote)), mark);
            let two_leaders = violated
                .iter()
                .filter(|&&property| property == Property::ElectionSafety)
                .count();
            assert!(two_leaders >= 2, "pre-vote {pre_vote}: {violated:?}");
        }
    }

    /// Under configurations applied when committed, the cut comes when the leader commits the
    /// change: correct Raft is then joint with a partition splitting the old and the new
    /// majorities; a direct change commits on the new side while the old side elects.
    #[test]
    fn multi_change_cuts_the_cluster_when_the_change_commits() {
        let motif: fn(&mut FaultMix) -> &mut bool = |mix| &mut mix.multi_change;
        let config = |seed, mutant| {
            let mut config = motif_config(seed, motif, mutant);
            config.initial_voters = Some(3);
            config
        };
        let (reached, violated) =
            outcomes((0..6).map(|seed| config(seed, None)), "joint-partition");
        assert_eq!(violated, []);
        assert!(reached >= 3, "{reached} of 6 seeds");
        let direct = Some(raft::Mutant::DirectMultiChange);
        let (_, violated) = outcomes((0..6).map(|seed| config(seed, direct)), "joint-partition");
        assert!(violated.len() >= 2, "{violated:?}");
    }

    /// A leader that takes writes alone while nobody else can elect, then meets a successor
    /// that compacted past it: it installs a snapshot over its longer log.
    #[test]
    fn snapshot_tail_installs_a_snapshot_over_a_deposed_leaders_tail() {
        let motif: fn(&mut FaultMix) -> &mut bool = |mix| &mut mix.snapshot_tail;
        let config = |seed| {
            let mut config = motif_config(seed, motif, None);
            config.snapshot_threshold_entries = 10;
            config
        };
        let (reached, violated) = outcomes((0..6).map(config), "snapshot-over-longer-log");
        assert_eq!(violated, []);
        assert!(reached >= 3, "{reached} of 6 seeds");
    }

    /// Campaign seed 782: a leader that appended its own removal leads without being a voter of
    /// its latest configuration; it must not be counted among the spares it adds.
    #[test]
    fn seed_782_a_leader_outside_its_configuration_is_no_spare() {
        let network = Network::new(7, LinkConfig::default());
        let view = ClusterView {
            servers: 7,
            network: &network,
            leader: Some(2),
            voters: vec![0, 1, 3, 4, 5],
            learners: Vec::new(),
            joint: false,
            group_leaders: Vec::new(),
            controller: None,
            group_configs: Vec::new(),
            logs: Vec::new(),
        };
        for seed in 0..20 {
            let mut motif = MultiChange::new(clock(), SeedRng::new(seed).stream("test"));
            for (_, action) in motif.start(2, 0, &view) {
                if let Fault::Partition { groups } = &action {
                    let mut all: Vec<NodeId> = groups.iter().flatten().copied().collect();
                    all.sort_unstable();
                    let before = all.len();
                    all.dedup();
                    assert_eq!(all.len(), before, "seed {seed}: {action}");
                }
                action.validate(7).expect("a valid action");
            }
        }
    }
}
