//! Pause semantics: a paused node fires no timers and receives nothing until resumed; then it
//! gets what was held back, in order.

use super::support::{fixed_link, probes, send};
use sim::{FaultAction, NANOS_PER_MILLI};

#[test]
fn paused_node_fires_no_timers_and_receives_nothing_until_resumed() {
    let mut sim = probes(2, fixed_link(), 1);
    sim.run_until(0);
    sim.with_node(1, |_, ctx| ctx.set_timer(5 * NANOS_PER_MILLI, 9));
    sim.apply_fault(FaultAction::Pause { node: 1 })
        .expect("valid");
    for value in 0..3 {
        send(&mut sim, 0, 1, value);
    }
    sim.run_until(50 * NANOS_PER_MILLI);
    let node = sim.node(1).expect("paused, not crashed");
    assert!(
        node.messages().is_empty(),
        "paused node received {:?}",
        node.messages()
    );
    assert!(
        node.timers().is_empty(),
        "paused node fired {:?}",
        node.timers()
    );
    assert!(sim.is_paused(1));

    sim.apply_fault(FaultAction::Resume { node: 1 })
        .expect("valid");
    sim.run_until(51 * NANOS_PER_MILLI);
    let node = sim.node(1).expect("up");
    assert_eq!(node.timers(), vec![(9, 50 * NANOS_PER_MILLI)]);
    assert_eq!(node.messages(), vec![0, 1, 2]);
}

#[test]
fn crashing_a_paused_node_discards_what_it_held_back() {
    let mut sim = probes(2, fixed_link(), 1);
    sim.run_until(0);
    sim.apply_fault(FaultAction::Pause { node: 1 })
        .expect("valid");
    send(&mut sim, 0, 1, 5);
    sim.run_until(10 * NANOS_PER_MILLI);
    sim.apply_fault(FaultAction::Crash { node: 1 })
        .expect("valid");
    sim.apply_fault(FaultAction::Restart { node: 1 })
        .expect("valid");
    sim.run_until(20 * NANOS_PER_MILLI);
    assert!(sim.node(1).expect("up").messages().is_empty());
    assert!(!sim.is_paused(1));
}
