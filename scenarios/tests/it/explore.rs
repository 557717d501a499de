//! The explorer: it finds a planted bug, its failure script replays the failure exactly, and
//! an exploration is itself deterministic.

use scenarios::campaign::SeedRange;
use scenarios::config::{Mutant, ServiceKind};
use scenarios::explore::{ExploreConfig, explore};
use scenarios::script::{ScriptOptions, run_text};

fn config(mutant: raft::Mutant, seeds: &str, runs_max: u64) -> ExploreConfig {
    ExploreConfig {
        seeds: seeds.parse::<SeedRange>().unwrap(),
        service: ServiceKind::Kv,
        mutants: vec![Mutant::Raft(mutant)],
        runs_max,
        prior: None,
    }
}

#[test]
fn the_explorer_finds_a_planted_bug_and_its_script_replays_it() {
    let mut log = Vec::new();
    let end = explore(&config(raft::Mutant::NoDedup, "0..20", 40), &mut |run| {
        log.push((run.run, run.seed, run.how.clone(), run.marks_reached));
    })
    .expect("runs");
    let (run, failure) = end.failure.expect("no-dedup is found within 40 runs");
    assert_eq!(run, end.runs);
    let script = failure.script.expect("a failing run has its script");
    let outcome = run_text(&script, &ScriptOptions::default()).expect("the script runs");
    assert!(outcome.found(failure.property), "{script}");
    assert!(outcome.expected_held(), "{script}");
    // The same exploration makes the same runs.
    let mut again = Vec::new();
    explore(&config(raft::Mutant::NoDedup, "0..20", 40), &mut |run| {
        again.push((run.run, run.seed, run.how.clone(), run.marks_reached));
    })
    .expect("runs");
    assert_eq!(log, again);
}

#[test]
fn derived_runs_mutate_kept_schedules_and_marks_only_grow() {
    // Correct code: nothing to find, so the budget is spent; some runs are derived, with the
    // built-in prior too, while fresh seeds remain (with no bug named it has no danger to steer
    // to, so the explorer goes by the rare marks).
    let builtin = std::sync::Arc::new(scenarios::explore::Prior::builtin(ServiceKind::Kv));
    for (prior, seeds, runs, derived_min) in
        [(None, "0..6", 12, 6), (Some(builtin), "0..40", 40, 1)]
    {
        let mut derived = 0;
        let mut reached = 0;
        let end = explore(
            &ExploreConfig {
                mutants: Vec::new(),
                prior,
                ..config(raft::Mutant::NoDedup, seeds, runs)
            },
            &mut |run| {
                derived += usize::from(run.how != "seed");
                assert!(run.marks_reached >= reached);
                reached = run.marks_reached;
            },
        )
        .expect("runs");
        assert!(end.failure.is_none());
        assert_eq!(end.runs, runs);
        assert!(derived >= derived_min, "{seeds}: {derived} derived runs");
    }
}

#[test]
fn compare_counts_both_searches_and_the_explorer_starts_where_swarm_does() {
    use scenarios::explore::compare::{CompareConfig, compare, swarm_search, windows};
    let config = CompareConfig {
        seeds: "0..40".parse().unwrap(),
        windows: 2,
        service: ServiceKind::Kv,
        mutants: vec![Mutant::Raft(raft::Mutant::NoDedup)],
        jobs: 2,
        prior: None,
    };
    let mut seen = 0;
    let rows = compare(&config, &mut |_| seen += 1).expect("runs");
    assert_eq!((rows.len(), seen), (1, 1));
    let row = &rows[0];
    for (w, window) in windows(config.seeds, 2).into_iter().enumerate() {
        let swarm = swarm_search(window, ServiceKind::Kv, config.mutants[0]);
        assert_eq!(row.swarm[w], swarm);
        let explorer = row.explorer[w].expect("no-dedup is found within 20 runs");
        // With nothing learned the explorer's first run is the window's first seed.
        assert_eq!(swarm == Some(1), explorer == 1, "{row:?}");
    }
}

#[test]
fn hunting_a_bug_with_a_prior_every_run_is_a_fresh_seed_and_an_exploration_replays() {
    use scenarios::campaign::evaluate;
    use scenarios::explore::Prior;
    use scenarios::run::SeedShape;
    let results: Vec<_> = (100..110)
        .map(|seed| evaluate(seed, &SeedShape::default(), false))
        .collect();
    let prior = Prior::from_results(&results, ServiceKind::Kv).expect("correct-code results");
    let config = ExploreConfig {
        prior: Some(std::sync::Arc::new(prior)),
        ..config(raft::Mutant::ReadIndexBeforeNoop, "0..6", 12)
    };
    let mut log = Vec::new();
    let end = explore(&config, &mut |run| log.push((run.seed, run.how.clone()))).expect("runs");
    // Six seeds, each once: no derived runs while fresh seeds remain.
    let fresh: Vec<u64> = log.iter().take(6).map(|(seed, _)| *seed).collect();
    assert!(log.iter().take(6).all(|(_, how)| how == "seed"), "{log:?}");
    let mut sorted = fresh.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..6).collect::<Vec<_>>());
    assert!(end.runs == 12 || end.failure.is_some(), "{log:?}");
    let mut again = Vec::new();
    explore(&config, &mut |run| again.push((run.seed, run.how.clone()))).expect("runs");
    assert_eq!(log, again);
}
