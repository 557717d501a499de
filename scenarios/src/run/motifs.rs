//! Motifs: multi-step fault sequences that build the states classic bugs need, timed off the
//! cluster's state rather than the clock. Random faults seldom line up the several steps of,
//! say, Figure 8; a motif watches for the moment each step needs and acts then.
//!
//! Each motif draws from its own stream (`motif-NAME`), so switching one on leaves every other
//! draw of the seed as it was, and its actions are ordinary fault actions: the executed schedule
//! replays them exactly like any other.

use sim::{NodeId, RngStream, SeedRng};

use crate::config::RunConfig;
use crate::harness::{ClusterView, Fault};

/// Times a motif runs, at most, per run.
const ROUNDS_MAX: u32 = 3;
/// Election timeouts a Figure 8 round waits for its second leader before it heals.
const ROUND_ELECTIONS_MAX: u64 = 6;

/// What a motif asks for: actions at a delay from now.
pub type Planned = Vec<(u64, Fault)>;

/// The Figure 8 sequence (BRIEF §8 S2): a leader whose entries reach only a minority, a second
/// leader elected without them and cut off before its own entries leave it, then the first
/// leader back with the majority. Correct Raft commits the old entries only through an entry of
/// the new term; a leader that counts replicas of an older term commits entries the cut-off
/// leader could still overwrite, which the look-ahead completeness oracle reports.
pub struct Figure8 {
    rng: RngStream,
    stage: Stage,
    rounds_left: u32,
    /// The election timeout: how long the majority takes to replace a leader it stopped hearing.
    election_ns: u64,
    /// No round starts after this (the liveness phase heals everything anyway).
    last_start_ns: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// Waiting for a leader to cut off with a minority.
    Idle,
    /// `first` leads a minority since `since_ns`; waiting for the majority's next leader.
    FirstCut { first: NodeId, since_ns: u64 },
}

impl Figure8 {
    pub fn new(config: &RunConfig, root: &SeedRng) -> Self {
        Figure8 {
            rng: root.stream("motif-figure8"),
            stage: Stage::Idle,
            rounds_left: ROUNDS_MAX,
            election_ns: config.tick_ns * config.election_tick,
            last_start_ns: config
                .duration_ns
                .saturating_sub(3 * config.tick_ns * config.election_tick),
        }
    }

    /// A server became leader at `now_ns`.
    pub fn on_leader(&mut self, leader: NodeId, now_ns: u64, view: &ClusterView) -> Planned {
        let servers = view.servers;
        if servers < 3 || view.joint {
            return Vec::new();
        }
        match self.stage {
            Stage::Idle if self.rounds_left > 0 && now_ns <= self.last_start_ns => {
                // Half the time skip this leader: rounds spread over the run.
                if self.rng.chance(0.5) {
                    return Vec::new();
                }
                self.rounds_left -= 1;
                self.stage = Stage::FirstCut {
                    first: leader,
                    since_ns: now_ns,
                };
                // A round whose second leader never comes heals after a while all the same.
                let give_up_ns = ROUND_ELECTIONS_MAX * self.election_ns;
                // The leader keeps a minority (itself alone with three servers): its new
                // entries, the empty entry of its term first, reach only them.
                let minority = ((servers as usize - 1) / 2).max(1);
                let mut others: Vec<NodeId> = (0..servers).filter(|&n| n != leader).collect();
                self.rng.shuffle(&mut others);
                let mut side = vec![leader];
                side.extend(&others[..minority - 1]);
                let rest = others[minority - 1..].to_vec();
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
            Stage::FirstCut { first, since_ns } if leader != first => {
                self.stage = Stage::Idle;
                if now_ns > since_ns + ROUND_ELECTIONS_MAX * self.election_ns {
                    return Vec::new();
                }
                // Cut the second leader off at once, before its entries leave it; the first
                // leader rejoins the rest, wins the next term, and brings its old entries to a
                // majority.
                let rest: Vec<NodeId> = (0..servers).filter(|&n| n != leader).collect();
                let heal_ns = self
                    .rng
                    .range_inclusive(3 * self.election_ns, 8 * self.election_ns);
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
