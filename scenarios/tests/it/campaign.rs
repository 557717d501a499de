//! Campaign machinery on short runs: the result lines do not depend on the number of jobs,
//! shards merge to the unsharded result, fail-fast and stopping leave a prefix of the seeds,
//! and the determinism double-run agrees with itself.

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use raft::Mutant;
use scenarios::campaign::{
    CampaignConfig, SeedPlan, SeedRange, SeedResult, Shard, Summary, Verdict, junit_xml, merge,
    read_results, run_campaign, write_output_dir,
};
use scenarios::config::swarm::Shape;
use scenarios::run::SeedShape;
use sim::NANOS_PER_SEC;

/// Swarm configurations cut to one simulated second, so a dozen seeds take well under a second.
fn short_swarm(range: &str, shard: Shard, jobs: usize) -> CampaignConfig {
    CampaignConfig {
        plan: SeedPlan {
            range: range.parse().unwrap(),
            shard,
        },
        shape: SeedShape {
            shape: Shape::Swarm,
            mutants: Vec::new(),
            duration_ns: Some(NANOS_PER_SEC),
        },
        jobs,
        check_determinism: false,
        fail_fast: false,
        allow_unknown: false,
    }
}

/// A stopwatch that never moves: wall fields are zero and the lines compare exactly.
fn frozen() -> Duration {
    Duration::ZERO
}

fn run(config: &CampaignConfig) -> Vec<SeedResult> {
    let mut streamed = Vec::new();
    let end = run_campaign(config, &AtomicBool::new(false), &frozen, &mut |result| {
        streamed.push(result.clone());
        Ok(())
    })
    .expect("the sink never fails");
    assert!(!end.interrupted);
    assert_eq!(
        streamed, end.results,
        "the sink sees every result, in order"
    );
    end.results
}

fn lines(results: &[SeedResult]) -> Vec<String> {
    results
        .iter()
        .map(|result| result.without_wall().to_json_line())
        .collect()
}

#[test]
fn one_job_and_two_jobs_give_the_same_lines_in_seed_order() {
    let one = run(&short_swarm("0..12", Shard::WHOLE, 1));
    let two = run(&short_swarm("0..12", Shard::WHOLE, 2));
    assert_eq!(lines(&one), lines(&two));
    let seeds: Vec<u64> = two.iter().map(|r| r.seed).collect();
    assert_eq!(seeds, (0..12).collect::<Vec<_>>());
    assert!(one.iter().all(|r| r.trace_hash.len() == 16 && r.events > 0));
}

#[test]
fn merging_shards_gives_the_unsharded_result() {
    let whole = run(&short_swarm("5..17", Shard::WHOLE, 2));
    let shards: Vec<Vec<SeedResult>> = (0..3)
        .map(|index| run(&short_swarm("5..17", Shard { index, count: 3 }, 1)))
        .collect();
    assert!(shards.iter().all(|shard| shard.len() == 4));
    let merged = merge(shards).expect("no conflicts");
    assert_eq!(lines(&merged), lines(&whole));
    assert_eq!(
        Summary::new(&merged, None, false),
        Summary::new(&whole, None, false)
    );
    assert_eq!(junit_xml(&merged), junit_xml(&whole));
}

#[test]
fn output_directory_round_trips_through_merge() {
    let results = run(&short_swarm("0..4", Shard::WHOLE, 2));
    let dir = std::env::temp_dir().join(format!("raftsim-campaign-test-{}", std::process::id()));
    let summary = Summary::new(&results, None, false);
    write_output_dir(&dir, &results, &summary).unwrap();
    let read = read_results(&dir.join("results.jsonl")).unwrap();
    assert_eq!(read, results);
    let summary_text = std::fs::read_to_string(dir.join("summary.json")).unwrap();
    let parsed: Summary = serde_json::from_str(&summary_text).unwrap();
    assert_eq!(parsed, summary);
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    assert_eq!(junit.matches("<testcase ").count(), 4);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_conflicting_duplicate_seed_is_refused() {
    let results = run(&short_swarm("0..1", Shard::WHOLE, 1));
    let mut changed = results.clone();
    changed[0].trace_hash = "0000000000000000".into();
    assert!(merge(vec![results.clone(), results.clone()]).is_ok());
    assert!(merge(vec![results, changed]).is_err());
}

#[test]
fn fail_fast_stops_after_the_first_failure_with_a_prefix_of_the_seeds() {
    let mut config = short_swarm("0..40", Shard::WHOLE, 2);
    config.shape.mutants = vec![Mutant::NoDedup];
    config.shape.shape = Shape::Standard;
    config.shape.duration_ns = Some(2 * NANOS_PER_SEC);
    config.fail_fast = true;
    let end = run_campaign(&config, &AtomicBool::new(false), &frozen, &mut |_| Ok(())).unwrap();
    assert!(
        end.stopped_at_failure,
        "no-dedup was caught within 40 seeds"
    );
    assert!(!end.interrupted);
    let seeds: Vec<u64> = end.results.iter().map(|r| r.seed).collect();
    assert_eq!(seeds, (0..seeds.len() as u64).collect::<Vec<_>>());
    let failure = end
        .results
        .iter()
        .find(|r| r.verdict != Verdict::Pass)
        .unwrap();
    assert!(
        failure.replay.contains("--mutant no-dedup"),
        "{}",
        failure.replay
    );
    assert_eq!(failure.mutants, vec!["no-dedup".to_string()]);
}

#[test]
fn a_raised_stop_flag_runs_no_seed() {
    let config = short_swarm("0..10", Shard::WHOLE, 2);
    let end = run_campaign(&config, &AtomicBool::new(true), &frozen, &mut |_| Ok(())).unwrap();
    assert!(end.results.is_empty());
    assert!(end.interrupted);
}

#[test]
fn determinism_double_run_agrees_on_correct_code() {
    let mut config = short_swarm("20..24", Shard::WHOLE, 2);
    config.check_determinism = true;
    let results = run(&config);
    let plain = run(&short_swarm("20..24", Shard::WHOLE, 1));
    assert_eq!(lines(&results), lines(&plain));
}

#[test]
fn the_range_parser_is_reachable_from_the_plan() {
    let plan = SeedPlan {
        range: SeedRange { start: 0, end: 10 },
        shard: "1/4".parse().unwrap(),
    };
    assert_eq!(
        (0..plan.len()).map(|k| plan.nth(k)).collect::<Vec<_>>(),
        [1, 5, 9]
    );
}
