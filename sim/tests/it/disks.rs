//! Disk semantics: a crash loses exactly the unsynced writes; a sync completes only later.

use super::support::{ProbeNode, Seen, fixed_link, probes};
use sim::{DiskConfig, FaultAction, NANOS_PER_MILLI, SimConfig, Simulation};

#[test]
fn crash_loses_exactly_the_unsynced_writes() {
    let mut sim = probes(1, fixed_link(), 2);
    sim.run_until(0);
    sim.with_node(0, |_, ctx| {
        ctx.append("log", b"synced-".to_vec());
        ctx.sync(1);
    });
    sim.run_until(10 * NANOS_PER_MILLI);
    sim.with_node(0, |_, ctx| {
        ctx.append("log", b"lost".to_vec());
        ctx.replace("hardstate", b"lost too".to_vec());
    });
    assert_eq!(&*sim.disk(0).read("log"), b"synced-lost");
    sim.apply_fault(FaultAction::Crash { node: 0 })
        .expect("valid");
    assert!(
        sim.node(0).is_none(),
        "a crashed node has no volatile state"
    );
    sim.apply_fault(FaultAction::Restart { node: 0 })
        .expect("valid");
    let node = sim.node(0).expect("restarted");
    assert_eq!(
        node.seen,
        vec![Seen::Started {
            disk_log: b"synced-".to_vec()
        }]
    );
    assert_eq!(sim.disk(0).durable("hardstate"), b"");
}

#[test]
fn writes_after_a_sync_started_are_not_covered_by_it() {
    let mut sim = probes(1, fixed_link(), 2);
    sim.run_until(0);
    sim.with_node(0, |_, ctx| {
        ctx.append("log", b"a".to_vec());
        ctx.sync(7);
        ctx.append("log", b"b".to_vec());
    });
    sim.run_until(10 * NANOS_PER_MILLI);
    let synced = sim
        .node(0)
        .expect("up")
        .seen
        .iter()
        .any(|s| matches!(s, Seen::Synced { token: 7, .. }));
    assert!(synced);
    assert_eq!(sim.disk(0).durable("log"), b"a");
    assert_eq!(sim.disk(0).unsynced_writes(), 1);
}

#[test]
fn a_crash_before_the_sync_completes_loses_the_write_and_the_callback() {
    let mut sim = probes(1, fixed_link(), 2);
    sim.run_until(0);
    sim.with_node(0, |_, ctx| {
        ctx.append("log", b"a".to_vec());
        ctx.sync(1);
    });
    sim.apply_fault(FaultAction::Crash { node: 0 })
        .expect("valid");
    sim.apply_fault(FaultAction::Restart { node: 0 })
        .expect("valid");
    sim.run_until(10 * NANOS_PER_MILLI);
    assert_eq!(sim.disk(0).durable("log"), b"");
    let node = sim.node(0).expect("up");
    assert!(!node.seen.iter().any(|s| matches!(s, Seen::Synced { .. })));
}

#[test]
fn torn_writes_leave_a_strict_prefix_of_the_last_append() {
    let disk = DiskConfig {
        torn_write_probability: 1.0,
        ..DiskConfig::default()
    };
    let config = SimConfig {
        disk,
        link: fixed_link(),
        ..SimConfig::new(1)
    };
    let mut sim = Simulation::new(config, 8, |_| ProbeNode::default()).expect("valid");
    sim.run_until(0);
    sim.with_node(0, |_, ctx| {
        ctx.append("log", b"first".to_vec());
        ctx.append("log", b"0123456789".to_vec());
    });
    sim.apply_fault(FaultAction::Crash { node: 0 })
        .expect("valid");
    let durable = sim.disk(0).durable("log");
    assert!(
        !durable.is_empty() && durable.len() < 10,
        "torn tail {durable:?}"
    );
    assert!(b"0123456789".starts_with(durable));
    assert_eq!(sim.stats().torn_writes, 1);
}
