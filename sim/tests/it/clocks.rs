//! Clock semantics: timers run on the node's own clock.

use super::support::{fixed_link, probes};
use sim::{FaultAction, NANOS_PER_MILLI};

fn fire_time(rate: Option<f64>) -> u64 {
    let mut sim = probes(1, fixed_link(), 1);
    if let Some(rate) = rate {
        sim.apply_fault(FaultAction::ClockRate { node: 0, rate })
            .expect("valid");
    }
    sim.run_until(0);
    sim.with_node(0, |_, ctx| ctx.set_timer(100 * NANOS_PER_MILLI, 1));
    sim.run_until(1_000 * NANOS_PER_MILLI);
    let timers = sim.node(0).expect("up").timers();
    assert_eq!(timers.len(), 1);
    timers[0].1
}

#[test]
fn a_fast_clock_fires_timers_proportionally_earlier() {
    assert_eq!(fire_time(None), 100 * NANOS_PER_MILLI);
    assert_eq!(fire_time(Some(2.0)), 50 * NANOS_PER_MILLI);
    assert_eq!(fire_time(Some(0.5)), 200 * NANOS_PER_MILLI);
    assert_eq!(fire_time(Some(1.25)), 80 * NANOS_PER_MILLI);
}

#[test]
fn a_rate_change_reschedules_pending_timers() {
    let mut sim = probes(1, fixed_link(), 1);
    sim.run_until(0);
    sim.with_node(0, |_, ctx| ctx.set_timer(100 * NANOS_PER_MILLI, 1));
    sim.run_until(40 * NANOS_PER_MILLI);
    // 60 ms of local time remain; at double speed they pass in 30 ms.
    sim.apply_fault(FaultAction::ClockRate { node: 0, rate: 2.0 })
        .expect("valid");
    sim.run_until(1_000 * NANOS_PER_MILLI);
    assert_eq!(
        sim.node(0).expect("up").timers(),
        vec![(1, 70 * NANOS_PER_MILLI)]
    );
}

#[test]
fn a_forward_jump_fires_overdue_timers_at_once() {
    let mut sim = probes(1, fixed_link(), 1);
    sim.run_until(0);
    sim.with_node(0, |_, ctx| ctx.set_timer(100 * NANOS_PER_MILLI, 1));
    sim.run_until(10 * NANOS_PER_MILLI);
    sim.apply_fault(FaultAction::ClockJump {
        node: 0,
        delta_ns: 500 * NANOS_PER_MILLI as i64,
    })
    .expect("valid");
    sim.run_until(1_000 * NANOS_PER_MILLI);
    assert_eq!(
        sim.node(0).expect("up").timers(),
        vec![(1, 10 * NANOS_PER_MILLI)]
    );
    assert_eq!(sim.local_time_ns(0), 1_500 * NANOS_PER_MILLI);
}

#[test]
fn cancelled_timers_never_fire() {
    let mut sim = probes(1, fixed_link(), 1);
    sim.run_until(0);
    let cancelled = sim.with_node(0, |_, ctx| {
        let id = ctx.set_timer(NANOS_PER_MILLI, 1);
        ctx.set_timer(2 * NANOS_PER_MILLI, 2);
        ctx.cancel_timer(id)
    });
    assert_eq!(cancelled, Some(true));
    sim.run_until(10 * NANOS_PER_MILLI);
    assert_eq!(
        sim.node(0).expect("up").timers(),
        vec![(2, 2 * NANOS_PER_MILLI)]
    );
}
