//! One seed, one run: the same seed gives the same trace hash, another seed another hash, and
//! the named random streams do not disturb each other.

use sim::echo::{EchoConfig, run_echo};
use sim::{SeedRng, Simulation};

fn small_echo(seed: u64) -> sim::echo::EchoReport {
    run_echo(EchoConfig {
        exchanges_per_node: 300,
        seed,
        ..EchoConfig::default()
    })
    .expect("echo")
}

#[test]
fn same_seed_same_trace_hash() {
    assert_eq!(small_echo(42), small_echo(42));
}

#[test]
fn different_seed_different_trace_hash() {
    assert_ne!(small_echo(42).trace_hash, small_echo(43).trace_hash);
}

#[test]
fn workload_stream_draws_leave_network_draws_unchanged() {
    let root = SeedRng::new(9);
    let untouched: Vec<u64> = {
        let mut network = root.stream("network");
        (0..50).map(|_| network.next_u64()).collect()
    };
    let mut workload = root.stream("workload");
    for _ in 0..1000 {
        workload.next_u64();
    }
    let mut network = root.stream("network");
    let after: Vec<u64> = (0..50).map(|_| network.next_u64()).collect();
    assert_eq!(untouched, after);
}

#[test]
fn node_randomness_does_not_shift_network_latencies() {
    // Two runs of one seed where one node also draws from the node stream: the arrival times
    // (drawn from the network stream) must be the same.
    let arrivals = |draw_extra: bool| {
        let mut sim = super::support::probes(2, sim::LinkConfig::default(), 5);
        sim.run_until(0);
        for value in 0..20 {
            sim.with_node(0, |_, ctx| {
                if draw_extra {
                    ctx.rng().next_u64();
                }
                ctx.send(1, super::support::Probe::Ping(value));
            });
        }
        sim.run_until(sim::NANOS_PER_SEC);
        sim.node(1).expect("up").seen.clone()
    };
    assert_eq!(arrivals(false), arrivals(true));
}

#[test]
fn recorded_traces_locate_the_first_divergence() {
    let run = |extra_send_at: Option<u64>| {
        let mut sim: Simulation<super::support::ProbeNode> =
            super::support::probes(3, super::support::fixed_link(), 1);
        sim.record_trace();
        sim.run_until(0);
        for step in 0..10u64 {
            super::support::send(&mut sim, 0, 1, step);
            if extra_send_at == Some(step) {
                super::support::send(&mut sim, 0, 2, 99);
            }
            sim.run_until((step + 1) * sim::NANOS_PER_MILLI * 5);
        }
        sim.trace_entries().to_vec()
    };
    let left = run(None);
    assert_eq!(sim::first_divergence(&left, &run(None)), None);
    let right = run(Some(4));
    let divergence = sim::first_divergence(&left, &right).expect("runs differ");
    // Three starts, then one delivery per step: the extra message is the 5th delivery.
    assert_eq!(divergence.index, 3 + 5);
    assert_eq!(divergence.right.map(|entry| entry.node), Some(2));
}
