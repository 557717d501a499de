//! `campaign`, `merge` and `replay` through the binary, on short standard runs: the output files
//! do not depend on `--jobs` or sharding (apart from `wall_*`), failures carry a replay command
//! that reproduces the recorded hash, and bad input is one line with exit code 2.

use crate::common::raftsim;
use std::path::{Path, PathBuf};
use std::process::Output;

/// A folder path for one test, not yet created (some tests need it missing).
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("raftsim-it-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A quick campaign: standard runs cut to one simulated second unless `extra` says otherwise.
fn campaign(out: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["campaign", "--standard", "--quiet"];
    if !extra.contains(&"--duration-ms") {
        args.extend(["--duration-ms", "1000"]);
    }
    args.extend(["--out", out.to_str().unwrap()]);
    args.extend_from_slice(extra);
    raftsim(&args)
}

/// The result lines of `dir` with every `wall_*` field removed, in file order.
fn lines_without_wall(dir: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(dir.join("results.jsonl")).unwrap();
    text.lines()
        .map(|line| {
            let mut value: serde_json::Value = serde_json::from_str(line).unwrap();
            let object = value.as_object_mut().unwrap();
            object.retain(|key, _| !key.starts_with("wall_"));
            value
        })
        .collect()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn jobs_and_shards_do_not_change_the_results() {
    let one = scratch("jobs1");
    let two = scratch("jobs2");
    assert!(
        campaign(&one, &["--seeds", "0..6", "--jobs", "1"])
            .status
            .success()
    );
    assert!(
        campaign(&two, &["--seeds", "0..6", "--jobs", "2"])
            .status
            .success()
    );
    // Lines are written in seed order, so no sorting is needed.
    let reference = lines_without_wall(&one);
    assert_eq!(reference.len(), 6);
    assert_eq!(reference, lines_without_wall(&two));

    let shards: Vec<PathBuf> = (0..2).map(|i| scratch(&format!("shard{i}"))).collect();
    for (index, dir) in shards.iter().enumerate() {
        let shard = format!("{index}/2");
        let output = campaign(dir, &["--seeds", "0..6", "--shard", &shard]);
        assert!(output.status.success(), "{}", text(&output.stdout));
    }
    let merged = scratch("merged");
    let output = raftsim(&[
        "merge",
        shards[0].to_str().unwrap(),
        shards[1].to_str().unwrap(),
        "--out",
        merged.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(reference, lines_without_wall(&merged));
    let junit = std::fs::read_to_string(merged.join("junit.xml")).unwrap();
    assert_eq!(junit.matches("<testcase ").count(), 6);
    for dir in [one, two, merged].iter().chain(&shards) {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn a_failing_seed_prints_a_replay_that_reproduces_its_hash() {
    let out = scratch("mutant");
    let output = campaign(
        &out,
        &[
            "--seeds",
            "0..40",
            "--mutant",
            "no-dedup",
            "--duration-ms",
            "2000",
            "--fail-fast",
        ],
    );
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    let replay = stdout
        .lines()
        .find_map(|line| line.trim().strip_prefix("replay: "))
        .expect("a replay line")
        .to_string();
    assert!(replay.starts_with("raftsim replay --seed "), "{replay}");
    assert!(replay.contains("--mutant no-dedup"), "{replay}");
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert!(junit.contains("<failure type=\""), "{junit}");

    let seed = replay.split_whitespace().nth(3).unwrap().to_string();
    // The failing seed has its HTML report, linked from the campaign's index.
    let report = format!("reports/seed-{seed}.html");
    let html = std::fs::read_to_string(out.join(&report)).expect("a report per failing seed");
    assert!(
        html.contains("linearizability"),
        "the report names the violated property"
    );
    let index = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(index.contains(&report), "{index}");
    let results = out.join("results.jsonl");
    let output = raftsim(&[
        "replay",
        "--seed",
        &seed,
        "--results",
        results.to_str().unwrap(),
    ]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("verdict: FAIL"), "{stdout}");
    assert!(stdout.contains("trace hash matches"), "{stdout}");

    // The printed command alone (no results file) reruns the same configuration.
    let mut args: Vec<&str> = replay.split_whitespace().skip(1).collect();
    args.push("--history");
    let history = out.join("history.json");
    args.push(history.to_str().unwrap());
    let output = raftsim(&args);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert!(history.exists());
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn check_determinism_passes_on_correct_code() {
    let out = scratch("determinism");
    let output = campaign(&out, &["--seeds", "3..6", "--check-determinism"]);
    assert!(output.status.success(), "{}", text(&output.stdout));
    assert_eq!(lines_without_wall(&out).len(), 3);
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let missing = scratch("missing");
    let missing = missing.to_str().unwrap();
    let cases: Vec<Vec<&str>> = vec![
        vec!["campaign", "--seeds", "5..2"],
        vec!["campaign", "--seeds", "x"],
        vec!["campaign", "--shard", "3/2"],
        vec!["campaign", "--shard", "1/0"],
        vec!["campaign", "--mutant", "no-such-bug"],
        vec!["campaign", "--jobs", "0"],
        vec!["replay", "--seed", "1", "--results", missing],
        vec!["merge", missing],
        vec!["merge"],
        vec!["run", "--seed", "1", "--initial-voters", "0"],
        vec![
            "run",
            "--seed",
            "1",
            "--nodes",
            "3",
            "--initial-voters",
            "4",
        ],
    ];
    for args in cases {
        let output = raftsim(&args);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
    }
}

#[test]
fn fault_count_zero_means_no_fault_at_all() {
    let dir = scratch("no-faults");
    std::fs::create_dir_all(&dir).unwrap();
    let saved = dir.join("faults.json");
    let output = raftsim(&[
        "run",
        "--seed",
        "3",
        "--duration-ms",
        "2000",
        "--fault-count",
        "0",
        "--save-faults",
        saved.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let faults: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    assert_eq!(
        faults,
        serde_json::json!([]),
        "no reactive faults, no membership changes"
    );
}

#[test]
fn a_failing_sharded_seed_replays_and_reports_its_groups() {
    let out = scratch("sharded");
    let output = raftsim(&[
        "campaign",
        "--service",
        "sharded",
        "--seeds",
        "0..10",
        "--mutant",
        "serve-before-install",
        "--duration-ms",
        "3000",
        "--fail-fast",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    let replay = stdout
        .lines()
        .find_map(|line| line.trim().strip_prefix("replay: "))
        .expect("a replay line")
        .to_string();
    assert!(replay.contains(" --service sharded"), "{replay}");
    assert!(replay.contains("--mutant serve-before-install"), "{replay}");
    let seed = replay.split_whitespace().nth(3).unwrap().to_string();
    let html = std::fs::read_to_string(out.join(format!("reports/seed-{seed}.html"))).unwrap();
    assert!(
        html.contains("Shards served by each group"),
        "no shard section"
    );
    let results = out.join("results.jsonl");
    let output = raftsim(&[
        "replay",
        "--seed",
        &seed,
        "--results",
        results.to_str().unwrap(),
    ]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("trace hash matches"), "{stdout}");
    let mutants = text(&raftsim(&["mutants"]).stdout);
    let listed = mutants
        .lines()
        .find(|line| line.starts_with("serve-before-install "))
        .map(|line| line.split_whitespace().nth(1));
    assert_eq!(listed, Some(Some("sharded")), "{mutants}");
    std::fs::remove_dir_all(&out).unwrap();
}
