//! Admin commands: the simulator hands an operator's command to a running node at the
//! scheduled time; a crashed or paused node misses it; a malformed one is refused up front.

use super::support::{Seen, fixed_link, probes};
use sim::{FaultAction, FaultSchedule, NANOS_PER_MILLI};

fn admin(node: sim::NodeId, command: &str) -> FaultAction {
    FaultAction::Admin {
        node,
        command: command.to_string(),
    }
}

fn admins(seen: &[Seen]) -> Vec<(String, u64)> {
    seen.iter()
        .filter_map(|seen| match seen {
            Seen::Admin { command, at_ns } => Some((command.clone(), *at_ns)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_running_node_gets_its_command_when_it_is_applied() {
    let mut sim = probes(2, fixed_link(), 3);
    sim.run_until(7 * NANOS_PER_MILLI);
    sim.apply_fault(admin(1, "conf-change add n0"))
        .expect("valid command");
    sim.run_until(20 * NANOS_PER_MILLI);
    assert_eq!(
        admins(&sim.node(1).expect("up").seen),
        vec![("conf-change add n0".to_string(), 7 * NANOS_PER_MILLI)]
    );
    assert!(admins(&sim.node(0).expect("up").seen).is_empty());
}

#[test]
fn crashed_and_paused_nodes_miss_their_commands() {
    let mut sim = probes(2, fixed_link(), 3);
    sim.run_until(0);
    sim.apply_fault(FaultAction::Pause { node: 0 })
        .expect("valid");
    sim.apply_fault(admin(0, "hello")).expect("valid");
    sim.apply_fault(FaultAction::Resume { node: 0 })
        .expect("valid");
    sim.apply_fault(FaultAction::Crash { node: 1 })
        .expect("valid");
    sim.apply_fault(admin(1, "hello")).expect("valid");
    sim.apply_fault(FaultAction::Restart { node: 1 })
        .expect("valid");
    sim.run_until(10 * NANOS_PER_MILLI);
    assert!(admins(&sim.node(0).expect("up").seen).is_empty());
    assert!(admins(&sim.node(1).expect("up").seen).is_empty());
}

#[test]
fn admin_commands_are_validated_and_round_trip_through_json() {
    assert!(admin(2, "x").validate(2).is_err());
    assert!(admin(0, " ").validate(2).is_err());
    assert!(admin(0, "a\nb").validate(2).is_err());
    let mut schedule = FaultSchedule::default();
    schedule.push(5, admin(1, "conf-change remove n0,n2"));
    let text = schedule.to_json();
    assert_eq!(FaultSchedule::from_json(&text).expect("parses"), schedule);
    assert_eq!(
        schedule.faults()[0].action.to_string(),
        "admin n2 conf-change remove n0,n2"
    );
}
