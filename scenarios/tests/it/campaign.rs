//! Campaign machinery on short runs: the result lines do not depend on the number of jobs,
//! shards merge to the unsharded result, fail-fast and stopping leave a prefix of the seeds,
//! and the determinism double-run agrees with itself.

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use scenarios::campaign::merge::{ShardOutput, merge};
use scenarios::campaign::output::{
    CampaignRequest, Summary, junit_xml, read_results, write_output_dir,
};
use scenarios::campaign::{
    CampaignConfig, SeedPlan, SeedRange, SeedResult, Shard, Verdict, run_campaign,
};
use scenarios::config::Mutant;
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
            ..SeedShape::default()
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

/// A shard's output as its campaign writes it.
fn output_of(config: &CampaignConfig, results: Vec<SeedResult>, interrupted: bool) -> ShardOutput {
    let request = CampaignRequest::new(&config.plan, &config.shape, false);
    ShardOutput {
        dir: format!("shard-{}", config.plan.shard).into(),
        summary: Some(Summary::new(
            &results,
            Some(request),
            None,
            interrupted,
            Vec::new(),
        )),
        results,
    }
}

fn shards_of(range: &str, count: u64) -> Vec<(CampaignConfig, Vec<SeedResult>)> {
    (0..count)
        .map(|index| {
            let config = short_swarm(range, Shard { index, count }, 1);
            let results = run(&config);
            (config, results)
        })
        .collect()
}

#[test]
fn merging_shards_gives_the_unsharded_result() {
    let whole_config = short_swarm("5..17", Shard::WHOLE, 2);
    let whole = run(&whole_config);
    let shards = shards_of("5..17", 3);
    assert!(shards.iter().all(|(_, results)| results.len() == 4));
    let merged = merge(
        shards
            .into_iter()
            .map(|(config, results)| output_of(&config, results, false))
            .collect(),
    )
    .expect("no conflicts");
    assert!(merged.incomplete.is_empty(), "{:?}", merged.incomplete);
    assert_eq!(lines(&merged.results), lines(&whole));
    let request = CampaignRequest::new(&whole_config.plan, &whole_config.shape, false);
    let summary = |results: &[SeedResult], request| {
        Summary::new(results, Some(request), None, false, Vec::new())
    };
    assert_eq!(merged.request, Some(request.clone()));
    assert_eq!(
        summary(&merged.results, request.clone()),
        summary(&whole, request.clone())
    );
    let whole_summary = summary(&whole, request);
    assert_eq!(
        junit_xml(&merged.results, &whole_summary),
        junit_xml(&whole, &whole_summary)
    );
}

#[test]
fn a_merge_short_of_a_seed_or_with_an_interrupted_shard_fails_the_gate() {
    let mut shards = shards_of("0..6", 2);
    // One shard alone: the other's seeds are named missing.
    let (config, results) = shards.remove(1);
    let alone = merge(vec![output_of(&config, results.clone(), false)]).unwrap();
    let reasons = alone.incomplete.join("; ");
    assert!(reasons.contains("shard 0/2 missing"), "{reasons}");
    assert!(
        reasons.contains("3 of 6 seeds missing: 0, 2, 4"),
        "{reasons}"
    );
    // Both shards, one interrupted after its first seed.
    let (first_config, mut first) = shards.remove(0);
    first.truncate(1);
    let merged = merge(vec![
        output_of(&first_config, first, true),
        output_of(&config, results, false),
    ])
    .unwrap();
    let reasons = merged.incomplete.join("; ");
    assert!(reasons.contains("interrupted after 1 seeds"), "{reasons}");
    assert!(reasons.contains("2 of 6 seeds missing: 2, 4"), "{reasons}");
    let summary = Summary::new(
        &merged.results,
        merged.request,
        None,
        false,
        merged.incomplete,
    );
    assert!(!summary.gate_passes(true));
    assert!(junit_xml(&merged.results, &summary).contains("errors=\"1\""));
    // Nothing at all never passes.
    let empty = merge(Vec::new()).unwrap();
    assert!(empty.incomplete.iter().any(|r| r == "no seed ran"));
}

#[test]
fn output_directory_round_trips_through_merge() {
    let results = run(&short_swarm("0..4", Shard::WHOLE, 2));
    let dir = std::env::temp_dir().join(format!("raftsim-campaign-test-{}", std::process::id()));
    let summary = Summary::new(&results, None, None, false, Vec::new());
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
    let config = short_swarm("0..1", Shard::WHOLE, 1);
    let results = run(&config);
    let mut changed = results.clone();
    changed[0].trace_hash = "0000000000000000".into();
    let same = merge(vec![
        output_of(&config, results.clone(), false),
        output_of(&config, results.clone(), false),
    ]);
    assert!(same.is_ok());
    let conflict = merge(vec![
        output_of(&config, results, false),
        output_of(&config, changed, false),
    ]);
    assert!(conflict.is_err());
}

#[test]
fn fail_fast_stops_after_the_first_failure_with_a_prefix_of_the_seeds() {
    let mut config = short_swarm("0..40", Shard::WHOLE, 2);
    config.shape.mutants = vec![Mutant::Raft(raft::Mutant::NoDedup)];
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

/// Every coverage mark, the harness's and the Raft core's, is reached by some seed of a
/// standard swarm campaign of three hundred seeds (README: the share of seeds reaching each):
/// a campaign that stops reaching one has gone blind to that danger.
#[test]
fn a_swarm_campaign_of_300_seeds_reaches_every_mark() {
    assert_every_mark_reached("0..300", SeedShape::default());
}

/// The same for the sharded service's marks (its Raft groups' and the migration marks), over
/// sixty seeds: its rarest mark is reached by about 5% of seeds.
#[test]
fn a_sharded_swarm_campaign_of_60_seeds_reaches_every_mark() {
    let shape = SeedShape {
        service: scenarios::config::ServiceKind::Sharded,
        ..SeedShape::default()
    };
    assert_every_mark_reached("0..60", shape);
}

fn assert_every_mark_reached(seeds: &str, shape: SeedShape) {
    let config = CampaignConfig {
        plan: SeedPlan {
            range: seeds.parse().unwrap(),
            shard: Shard::WHOLE,
        },
        shape,
        jobs: 2,
        check_determinism: false,
        fail_fast: false,
        allow_unknown: false,
    };
    let results = run(&config);
    let unreached: Vec<&str> = scenarios::harness::marks::all_names(config.shape.service, true)
        .into_iter()
        .filter(|&name| !results.iter().any(|result| result.marks.contains_key(name)))
        .collect();
    assert!(unreached.is_empty(), "no seed reached {unreached:?}");
    assert!(results.iter().all(|result| result.verdict == Verdict::Pass));
}
