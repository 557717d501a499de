//! Network semantics: one-way cuts, partitions, and loss/duplication rates.

use super::support::{fixed_link, probes, send};
use sim::{FaultAction, LinkConfig, NANOS_PER_MILLI};

#[test]
fn cut_link_delivers_nothing_in_its_direction_while_the_other_works() {
    let mut sim = probes(2, fixed_link(), 3);
    sim.apply_fault(FaultAction::CutLink { from: 0, to: 1 })
        .expect("valid");
    sim.run_until(0);
    for value in 0..10 {
        send(&mut sim, 0, 1, value);
        send(&mut sim, 1, 0, value);
    }
    sim.run_until(100 * NANOS_PER_MILLI);
    assert_eq!(sim.node(1).expect("up").messages(), Vec::<u64>::new());
    assert_eq!(
        sim.node(0).expect("up").messages(),
        (0..10).collect::<Vec<_>>()
    );
    sim.apply_fault(FaultAction::RestoreLink { from: 0, to: 1 })
        .expect("valid");
    send(&mut sim, 0, 1, 77);
    sim.run_until(200 * NANOS_PER_MILLI);
    assert_eq!(sim.node(1).expect("up").messages(), vec![77]);
}

#[test]
fn messages_in_flight_when_a_partition_forms_are_lost() {
    let mut sim = probes(3, fixed_link(), 3);
    sim.run_until(0);
    send(&mut sim, 0, 1, 1);
    sim.apply_fault(FaultAction::Partition {
        groups: vec![vec![0], vec![1, 2]],
    })
    .expect("ok");
    send(&mut sim, 1, 2, 2);
    sim.run_until(10 * NANOS_PER_MILLI);
    assert!(sim.node(1).expect("up").messages().is_empty());
    assert_eq!(sim.node(2).expect("up").messages(), vec![2]);
    sim.apply_fault(FaultAction::Heal).expect("ok");
    send(&mut sim, 0, 1, 3);
    sim.run_until(20 * NANOS_PER_MILLI);
    assert_eq!(sim.node(1).expect("up").messages(), vec![3]);
}

#[test]
fn drop_and_duplicate_rates_match_their_settings() {
    let link = LinkConfig {
        drop_probability: 0.2,
        duplicate_probability: 0.1,
        ..fixed_link()
    };
    let mut sim = probes(2, link, 11);
    sim.run_until(0);
    let sent = 20_000u64;
    for value in 0..sent {
        send(&mut sim, 0, 1, value);
    }
    sim.run_until(NANOS_PER_MILLI * 10);
    let stats = sim.stats();
    let dropped = stats.messages_dropped as f64 / sent as f64;
    let duplicated = stats.messages_duplicated as f64 / (sent - stats.messages_dropped) as f64;
    assert!((dropped - 0.2).abs() < 0.015, "drop rate {dropped}");
    assert!(
        (duplicated - 0.1).abs() < 0.015,
        "duplicate rate {duplicated}"
    );
    let received = sim.node(1).expect("up").messages().len() as u64;
    assert_eq!(
        received,
        sent - stats.messages_dropped + stats.messages_duplicated
    );
}

#[test]
fn latency_jitter_reorders_messages() {
    let link = LinkConfig {
        latency_ns_min: NANOS_PER_MILLI,
        latency_ns_max: 10 * NANOS_PER_MILLI,
        ..fixed_link()
    };
    let mut sim = probes(2, link, 4);
    sim.run_until(0);
    for value in 0..100 {
        send(&mut sim, 0, 1, value);
    }
    sim.run_until(20 * NANOS_PER_MILLI);
    let received = sim.node(1).expect("up").messages();
    assert_eq!(received.len(), 100);
    assert!(
        received.windows(2).any(|pair| pair[0] > pair[1]),
        "no reordering in {received:?}"
    );
}

#[test]
fn invalid_faults_are_errors_not_panics() {
    let mut sim = probes(3, fixed_link(), 1);
    for bad in [
        FaultAction::Crash { node: 9 },
        FaultAction::ClockRate { node: 0, rate: 3.0 },
        FaultAction::Partition {
            groups: vec![vec![0, 1], vec![1, 2]],
        },
        FaultAction::LinkLoss {
            from: None,
            to: None,
            drop_probability: 1.5,
            duplicate_probability: 0.0,
        },
    ] {
        assert!(sim.apply_fault(bad.clone()).is_err(), "{bad} accepted");
    }
}

#[test]
fn a_held_link_delivers_its_backlog_in_order_when_released() {
    let mut sim = probes(2, fixed_link(), 3);
    sim.run_until(0);
    sim.apply_fault(FaultAction::HoldLink { from: 0, to: 1 })
        .expect("valid");
    for value in 0..5 {
        send(&mut sim, 0, 1, value);
    }
    send(&mut sim, 1, 0, 99);
    sim.run_until(100 * NANOS_PER_MILLI);
    assert!(sim.node(1).expect("up").messages().is_empty(), "held");
    assert_eq!(sim.node(0).expect("up").messages(), vec![99]);
    sim.apply_fault(FaultAction::ReleaseLink { from: 0, to: 1 })
        .expect("valid");
    sim.run_until(200 * NANOS_PER_MILLI);
    assert_eq!(
        sim.node(1).expect("up").messages(),
        (0..5).collect::<Vec<_>>(),
        "late, and in order (a fixed latency keeps the order)"
    );
    // Heal releases every held link too.
    sim.apply_fault(FaultAction::HoldLink { from: 1, to: 0 })
        .expect("valid");
    send(&mut sim, 1, 0, 7);
    sim.run_until(300 * NANOS_PER_MILLI);
    assert_eq!(sim.node(0).expect("up").messages(), vec![99]);
    sim.apply_fault(FaultAction::Heal).expect("valid");
    sim.run_until(400 * NANOS_PER_MILLI);
    assert_eq!(sim.node(0).expect("up").messages(), vec![99, 7]);
}
