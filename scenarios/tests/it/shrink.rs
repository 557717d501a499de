//! Shrinking failing campaign seeds of several mutants: the shrunk scenario still fails the same
//! way, is a small fraction of the original, and shrinking is deterministic and a fixpoint.

use raft::Mutant;
use scenarios::script::{ScriptOptions, run_text};
use scenarios::shrink::{ShrinkError, shrink, shrink_with};
use scenarios::swarm::{self, Shape};

fn check(seed: u64, mutant: Mutant) {
    let config = swarm::config_for(seed, Shape::Swarm, &[mutant]);
    let shrunk = shrink(&config, 400).expect("the seed fails");
    assert!(
        shrunk.after.weight() * 4 <= shrunk.before.weight(),
        "{mutant}: {} is not a small fraction of {}",
        shrunk.after,
        shrunk.before
    );
    // The script replays the minimal failure, with the same violated property.
    let script = shrunk.script("test");
    let outcome = run_text(&script, &ScriptOptions::default()).expect("the script runs");
    assert!(outcome.found(shrunk.property), "{mutant}:\n{script}");
    assert!(outcome.expected_held(), "{mutant}:\n{script}");
    // Deterministic: the same failure shrinks to the same script.
    let again = shrink(&config, 400).expect("the seed fails");
    assert_eq!(again.script("test"), script);
    // A fixpoint: shrinking the shrunk run finds nothing more to remove.
    let twice = shrink_with(&shrunk.config, Some(shrunk.faults.clone()), 400).expect("fails");
    assert_eq!(twice.after, shrunk.after, "{mutant}");
}

#[test]
fn vote_without_log_check_seed_2_shrinks() {
    check(2, Mutant::VoteWithoutLogCheck);
}

#[test]
fn no_dedup_seed_0_shrinks() {
    check(0, Mutant::NoDedup);
}

#[test]
fn no_truncate_on_conflict_seed_0_shrinks() {
    check(0, Mutant::NoTruncateOnConflict);
}

#[test]
fn leader_local_read_seed_1_shrinks() {
    check(1, Mutant::LeaderLocalRead);
}

#[test]
fn a_passing_seed_has_nothing_to_shrink() {
    let config = swarm::config_for(0, Shape::Swarm, &[]);
    assert_eq!(shrink(&config, 10).err(), Some(ShrinkError::Passes));
}
