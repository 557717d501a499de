//! Swarm testing (BRIEF §10): every campaign seed draws its own configuration, so one campaign
//! covers many cluster sizes, fault mixes, read modes and workloads instead of one fixed shape.
//!
//! The draw uses its own stream (`swarm`), so the configuration of a seed never depends on what
//! the run later draws, and `replay --seed S` rebuilds exactly the configuration the campaign used.
//! A sharded seed draws the KV seed's configuration first, then its groups and shards from
//! `swarm-sharded`, so the KV draws stay what they were.

use crate::config::Mutant;
use kv::{OpMix, ReadMode};
use sim::{NANOS_PER_MILLI, NANOS_PER_SEC, RngStream, SeedRng};

use super::faults::{FAULT_KINDS, SwarmDraw};
use super::{FaultMix, RunConfig, Service, ServiceKind, ShardedConfig};
use crate::engines::EngineChoice;

/// Which configurations a campaign draws from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Shape {
    /// A configuration drawn per seed.
    #[default]
    Swarm,
    /// BRIEF §12's standard run for every seed (5 servers, 5 clients, 10 s, default faults).
    Standard,
}

/// The configuration of campaign seed `seed` of `service` with `mutants` switched on.
pub fn config_for(seed: u64, shape: Shape, service: ServiceKind, mutants: &[Mutant]) -> RunConfig {
    let mut config = match (shape, service) {
        (Shape::Standard, service) => RunConfig::standard_of(service, seed),
        (Shape::Swarm, ServiceKind::Kv) => draw(seed),
        (Shape::Swarm, ServiceKind::Sharded) => draw_sharded(seed),
    };
    config.mutants = mutants.to_vec();
    config
}

/// Fits a drawn configuration to `engine`: an engine other than ours gets only what it can
/// express, so a configuration effective on append (ours alone has it) becomes etcd's
/// effective-when-applied, and the uncommitted-bytes limit is raised to at least the bytes per
/// append (raft-rs refuses a smaller one); every other draw stays what the seed drew.
pub fn fit_engine(config: &mut RunConfig, engine: &EngineChoice) {
    config.engine = engine.clone();
    if !engine.is_ours() {
        config.conf_change_on_append = false;
        let knobs = &mut config.raft;
        knobs.max_uncommitted_entries_size = knobs
            .max_uncommitted_entries_size
            .max(knobs.max_size_per_msg);
    }
}

/// Draws one swarm configuration of the sharded service from `seed`: the KV seed's timing,
/// faults, read mode and workload, then two to four groups of three or five servers, the
/// shards, which groups start joined (all, or all but one that may join later), and more keys,
/// so every shard sees traffic. Membership changes give way to controller changes.
pub fn draw_sharded(seed: u64) -> RunConfig {
    let mut config = draw(seed);
    let mut rng = SeedRng::new(seed).stream("swarm-sharded");
    let groups = rng.range_inclusive(2, 4) as usize;
    let group_sizes: Vec<usize> = (0..groups).map(|_| *rng.pick(&[3, 3, 5])).collect();
    let sharded = ShardedConfig {
        shards: *rng.pick(&[4, 10, 10, 16]),
        initial_groups: if rng.chance(0.5) { groups } else { groups - 1 },
        // Groups that poll the controller seldom start fewer migrations in a run.
        poll_ticks: *rng.pick(&[5, 5, 10, 10, 20]),
        group_sizes,
    };
    config.keys = rng.range_inclusive(6, 20) as usize;
    // Lost replies and lost pulls are what migration must survive: more seeds lose messages.
    config.faults.link_loss |= rng.chance(0.5);
    config.servers = sharded.server_count();
    config.service = Service::Sharded(sharded);
    config.faults.membership = false;
    config.faults.controller = true;
    // These motifs read the KV service's one leader and its servers' logs, which a sharded
    // view does not have.
    config.faults.double_vote = false;
    config.faults.snapshot_tail = false;
    config.conf_change_on_append = false;
    config.initial_voters = None;
    config.initial_learners = 0;
    draw_sharded_motifs(seed, &mut config);
    config
}

/// The shortest run a sharded seed draws.
const SHARDED_DURATION_NS_MIN: u64 = 8 * NANOS_PER_SEC;

/// The sharded service's motifs, from their own stream (`swarm-sharded-motifs`) so the draws
/// above stay what they were. A seed with the snapshot-over-tail motif compacts every one to
/// three entries: its successor's snapshot lands just past where the cut-off leader's log
/// forked, short of that log's end.
fn draw_sharded_motifs(seed: u64, config: &mut RunConfig) {
    // A migration bug needs a move, a client that wrote the shard around it, and a read after:
    // runs of at least eight seconds fit several moves.
    config.duration_ns = config.duration_ns.max(SHARDED_DURATION_NS_MIN);
    let mut rng = SeedRng::new(seed).stream("swarm-sharded-motifs");
    // Two clients seldom write a shard while it moves and read it after.
    config.clients = config.clients.max(3);
    config.faults.lost_reply_move = rng.chance(0.95);
    config.faults.snapshot_over_tail = rng.chance(0.4);
    if config.faults.snapshot_over_tail {
        config.snapshot_threshold_entries = *rng.pick(&[1, 2, 3]);
    }
}

/// Draws one swarm configuration from `seed`.
pub fn draw(seed: u64) -> RunConfig {
    let mut rng = SeedRng::new(seed).stream("swarm");
    let mut config = RunConfig::standard(seed);
    // Three servers leave no room for the membership motifs and give duplicated or stale
    // messages few voters to reach: a fifth of seeds, not a third.
    config.servers = *rng.pick(&[3, 5, 5, 5, 7]);
    config.clients = rng.range_inclusive(2, 7) as usize;
    // Four-second runs fit barely one motif round after the cluster settles.
    config.duration_ns = *rng.pick(&[6, 8, 10, 10]) * NANOS_PER_SEC;
    // No lease reads: a lease is unsafe by design once a leader is cut off or paused longer
    // than its clock allows (scenario S7 shows it), so a swarm run of it would fail on correct
    // code. `raftsim run --read-mode lease` still runs them.
    // Reads through the log exercise no read path of their own: a fifth of seeds.
    config.read_mode = *rng.pick(&[
        ReadMode::Log,
        ReadMode::ReadIndex,
        ReadMode::ReadIndex,
        ReadMode::Follower,
        ReadMode::Follower,
    ]);
    config.snapshot_threshold_entries = *rng.pick(&[10, 10, 30, 100, 200, 1_000]);
    // At least two keys: one key written by every client makes histories whose check can
    // exceed the checker's budget.
    config.keys = rng.range_inclusive(2, 5) as usize;
    config.mix = draw_mix(&mut rng);
    config.faults = draw_faults(&mut rng, config.read_mode);
    let latency_max_ms = *rng.pick(&[5, 10, 20]);
    config.link.latency_ns_max = latency_max_ms * NANOS_PER_MILLI;
    // Background duplication: every message may arrive twice (votes, acks, read confirmations).
    config.link.duplicate_probability = *rng.pick(&[0.0, 0.05, 0.2, 0.2]);
    // Slow disks widen every window between a write and its sync (a lost acknowledged write
    // needs one): half the seeds get the slowest.
    let sync_max_ms = *rng.pick(&[2, 10, 30, 30]);
    config.disk.sync_latency_ns_max = sync_max_ms * NANOS_PER_MILLI;
    config.disk.torn_write_probability = *rng.pick(&[0.0, 0.5]);
    // Small appends split a leader's catch-up over several messages (Figure 8's step c).
    config.max_entries_per_msg = *rng.pick(&[1, 4, 64, 1024]);
    draw_membership(seed, &mut config);
    draw_motifs(seed, &mut config);
    draw_readers(seed, &mut config);
    draw_learners(seed, &mut config);
    draw_raft_knobs(seed, &mut config);
    config
}

/// Learners, from their own stream: a third of the membership seeds start with some (a
/// one-voter cluster whose other servers learn, a fifth of those), which the nemesis promotes
/// and removes; the servers left for spares stay spares.
fn draw_learners(seed: u64, config: &mut RunConfig) {
    let mut rng = SeedRng::new(seed).stream("swarm-learners");
    if !config.faults.membership || !rng.chance(0.35) {
        return;
    }
    if rng.chance(0.2) && config.initial_voters.is_none() {
        config.initial_voters = Some(1);
        config.initial_learners = config.servers - 1;
        return;
    }
    let room = config.servers - config.voters();
    if room == 0 {
        // Every server votes: the last one or two learn instead.
        let learners = rng.range_inclusive(1, 2) as usize;
        config.initial_voters = Some(config.servers - learners);
        config.initial_learners = learners;
    } else {
        config.initial_learners = rng.range_inclusive(1, room as u64) as usize;
    }
}

/// etcd-raft's knobs, from their own stream: message and in-flight byte limits, the in-flight
/// window, committed bytes per Ready, the uncommitted-bytes limit, proposal forwarding, and
/// PreVote and CheckQuorum in every combination (PreVote on most often; CheckQuorum off in half
/// the seeds, where a stale leader keeps leading until it hears of a newer term).
fn draw_raft_knobs(seed: u64, config: &mut RunConfig) {
    const INF: u64 = u64::MAX;
    let mut rng = SeedRng::new(seed).stream("swarm-raft");
    let knobs = &mut config.raft;
    (knobs.pre_vote, knobs.check_quorum) = *rng.pick(&[
        (true, true),
        (true, true),
        (true, false),
        (true, false),
        (false, true),
        (false, false),
    ]);
    knobs.max_size_per_msg = *rng.pick(&[0, 256, 4096, INF, INF]);
    knobs.max_inflight_msgs = *rng.pick(&[1, 4, 256, 256]);
    knobs.max_inflight_bytes = *rng.pick(&[1024, 65536, INF, INF]);
    knobs.max_committed_size_per_ready = *rng.pick(&[0, 1024, INF, INF]);
    knobs.max_uncommitted_entries_size = *rng.pick(&[1024, INF, INF]);
    knobs.disable_proposal_forwarding = rng.chance(0.2);
}

/// Most seeds get a read-only client, from its own stream: a client that only reads keeps
/// asking the leader it knows, a stale one included.
fn draw_readers(seed: u64, config: &mut RunConfig) {
    let mut rng = SeedRng::new(seed).stream("swarm-readers");
    if config.clients >= 2 && rng.chance(0.9) {
        config.readers = 1;
    }
}

/// Motifs, from their own stream so the draws above stay what they were.
fn draw_motifs(seed: u64, config: &mut RunConfig) {
    let mut rng = SeedRng::new(seed).stream("swarm-motifs");
    config.faults.figure8 = rng.chance(0.5);
    // Figure 8 needs the old entry to reach the majority without the new term's entry: one
    // entry per append makes that the rule rather than luck.
    if config.faults.figure8 && rng.chance(0.8) {
        config.max_entries_per_msg = 1;
    }
    config.faults.stale_leader = rng.chance(0.7);
    config.faults.crash_after_commit = rng.chance(0.6);
    config.faults.split_vote = rng.chance(0.4);
    // The membership motifs need their configuration shape: changes on, an even configuration
    // with a spare and configurations effective on append (S5), or two spares (Figure 10).
    if config.servers >= 5 {
        // A third of these seeds each: the single-server shape, the two-spare shape, neither.
        match rng.below(3) {
            0 => {
                config.faults.membership = true;
                config.faults.single_change = true;
                config.conf_change_on_append = true;
                config.initial_voters = Some(config.servers - 1);
            }
            1 => {
                config.faults.membership = true;
                config.faults.multi_change = true;
                config.initial_voters = Some(config.servers - 2);
            }
            _ => {}
        }
    }
    // Drawn last, so the draws above stay what they were. The snapshot-tail motif needs a
    // leader that compacts within a few dozen entries; with larger thresholds it only adds
    // faults.
    config.faults.double_vote = rng.chance(0.5);
    let snapshot_tail = rng.chance(0.5);
    config.faults.snapshot_tail = snapshot_tail && config.snapshot_threshold_entries <= 30;
}

/// Membership knobs, from their own stream so the draws above stay what they were.
fn draw_membership(seed: u64, config: &mut RunConfig) {
    let mut rng = SeedRng::new(seed).stream("swarm-membership");
    config.faults.membership = rng.chance(0.5);
    if !config.faults.membership {
        return;
    }
    // Configurations apply on append half the time: the dissertation's rule, under which a
    // change before the term's first commit loses committed entries (BRIEF §8 S5).
    config.conf_change_on_append = rng.chance(0.5);
    // An even configuration with a spare to add is what S5 needs.
    if rng.chance(0.5) {
        config.initial_voters = Some(config.servers - 1);
    }
}

fn draw_mix(rng: &mut RngStream) -> OpMix {
    let mut weight = || rng.below(5) as u32;
    let mut mix = OpMix {
        get: weight() + 1,
        put: weight(),
        append: weight(),
        cas: weight(),
    };
    if mix.put + mix.append + mix.cas == 0 {
        mix.put = 1;
    }
    mix
}

/// Each kind of fault on or off as the table says (at least one main kind on), and how many
/// faults the run draws.
fn draw_faults(rng: &mut RngStream, read_mode: ReadMode) -> FaultMix {
    let mut mix = FaultMix::all(0);
    let draw = |rng: &mut RngStream, mix: &mut FaultMix, main: bool| {
        for spec in &FAULT_KINDS {
            let chance = match (spec.swarm, main) {
                (SwarmDraw::Main(chance), true) | (SwarmDraw::Variant(chance), false) => chance,
                _ => continue,
            };
            // Leases rely on bounded clock drift: a lease leader whose clock runs slow really
            // can serve stale reads, so drift is left out where it would only find that known
            // limit.
            let allowed =
                !(spec.kind == super::FaultKind::ClockDrift && read_mode == ReadMode::Lease);
            *(spec.switch)(mix) = allowed && rng.chance(chance);
        }
    };
    loop {
        draw(rng, &mut mix, true);
        if mix.kinds() > 0 {
            break;
        }
    }
    mix.count = rng.range_inclusive(2, 16) as u32;
    draw(rng, &mut mix, false);
    mix.aim_at_leader_percent = *rng.pick(&[0, 30, 60, 90]);
    mix.reactive_percent = *rng.pick(&[0, 20, 50, 100]);
    mix.reactive_max = rng.range_inclusive(0, 8) as u32;
    mix
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RaftKnobs;

    #[test]
    fn a_seed_draws_the_same_configuration_every_time() {
        for seed in 0..50 {
            assert_eq!(draw(seed), draw(seed));
            draw(seed)
                .validate()
                .expect("drawn configurations are valid");
        }
    }

    #[test]
    fn seeds_cover_every_cluster_size_and_read_mode() {
        let configs: Vec<RunConfig> = (0..200).map(draw).collect();
        for servers in [3, 5, 7] {
            assert!(configs.iter().any(|c| c.servers == servers), "{servers}");
        }
        for mode in [ReadMode::Log, ReadMode::ReadIndex, ReadMode::Follower] {
            assert!(configs.iter().any(|c| c.read_mode == mode), "{mode}");
        }
        assert!(configs.iter().all(|c| c.read_mode != ReadMode::Lease));
    }

    #[test]
    fn seeds_cover_membership_changes_in_both_modes() {
        let configs: Vec<RunConfig> = (0..200).map(draw).collect();
        let membership = configs.iter().filter(|c| c.faults.membership);
        assert!(membership.clone().any(|c| c.conf_change_on_append));
        assert!(membership.clone().any(|c| !c.conf_change_on_append));
        assert!(membership.clone().any(|c| c.initial_voters.is_some()));
        assert!(configs.iter().any(|c| !c.faults.membership));
    }

    #[test]
    fn seeds_cover_learners_one_voter_clusters_and_every_knob_value() {
        let configs: Vec<RunConfig> = (0..400).map(draw).collect();
        for config in &configs {
            config.validate().expect("drawn configurations are valid");
        }
        assert!(configs.iter().any(|c| c.initial_learners > 0));
        assert!(
            configs
                .iter()
                .any(|c| c.voters() == 1 && c.initial_learners + 1 == c.servers)
        );
        let knobs: Vec<&RaftKnobs> = configs.iter().map(|c| &c.raft).collect();
        for combination in [(true, true), (true, false), (false, true), (false, false)] {
            assert!(
                knobs
                    .iter()
                    .any(|k| (k.pre_vote, k.check_quorum) == combination),
                "{combination:?}"
            );
        }
        for inflight in [1, 4, 256] {
            assert!(knobs.iter().any(|k| k.max_inflight_msgs == inflight));
        }
        for size in [0, 256, 4096, u64::MAX] {
            assert!(knobs.iter().any(|k| k.max_size_per_msg == size));
        }
        assert!(knobs.iter().any(|k| k.disable_proposal_forwarding));
        assert!(knobs.iter().any(|k| k.max_committed_size_per_ready == 0));
        assert!(knobs.iter().any(|k| k.max_uncommitted_entries_size == 1024));
    }

    #[test]
    fn standard_shape_is_the_standard_run_with_the_mutants() {
        let no_dedup = Mutant::Raft(raft::Mutant::NoDedup);
        let config = config_for(7, Shape::Standard, ServiceKind::Kv, &[no_dedup]);
        assert_eq!(config.servers, 5);
        assert_eq!(config.mutants, vec![no_dedup]);
    }

    #[test]
    fn sharded_seeds_draw_valid_shapes_and_leave_the_kv_draw_alone() {
        let configs: Vec<RunConfig> = (0..200).map(draw_sharded).collect();
        for (seed, config) in configs.iter().enumerate() {
            config.validate().expect("drawn configurations are valid");
            let sharded = config.service.sharded().expect("sharded");
            assert!((2..=4).contains(&sharded.group_sizes.len()), "seed {seed}");
            assert_eq!(config.read_mode, draw(seed as u64).read_mode, "seed {seed}");
        }
        let partly_joined = |c: &&RunConfig| {
            let sharded = c.service.sharded().expect("sharded");
            sharded.initial_groups < sharded.group_sizes.len()
        };
        assert!(configs.iter().any(|c| partly_joined(&c)));
        assert!(configs.iter().any(|c| !partly_joined(&c)));
        assert!(configs.iter().any(|c| c.faults.lost_reply_move));
        let tails = configs.iter().filter(|c| c.faults.snapshot_over_tail);
        assert!(tails.clone().count() > 0);
        assert!(tails.clone().all(|c| c.snapshot_threshold_entries <= 3));
        let kv_motifs = |c: RunConfig| c.faults.lost_reply_move || c.faults.snapshot_over_tail;
        assert!(
            !(0..200).map(draw).any(kv_motifs),
            "the KV service has neither"
        );
    }
}
