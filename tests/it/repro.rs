//! Every replay line raftsim prints reproduces its run: each test runs a failing run of one
//! shape, runs the command it printed, and compares trace hashes; reports and timelines name the
//! same command.

use crate::common::{self, raftsim};
use std::path::PathBuf;
use std::process::Output;

fn scratch(name: &str) -> PathBuf {
    common::scratch("repro", name)
}

/// The value after `prefix` on the first stdout line that starts with it.
fn field(output: &Output, prefix: &str) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .find_map(|line| line.trim().strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` line in:\n{stdout}"))
        .to_string()
}

/// Runs a printed `raftsim ...` command line.
fn run_printed(command: &str) -> Output {
    let words: Vec<&str> = command.split_whitespace().collect();
    assert_eq!(words.first(), Some(&"raftsim"), "{command}");
    raftsim(&words[1..])
}

/// Runs `args` (which must fail), then its printed replay line; both give the same hash.
fn replay_reproduces(args: &[&str]) -> String {
    let first = raftsim(args);
    assert_eq!(first.status.code(), Some(1), "{args:?} must fail");
    let replay = field(&first, "replay: ");
    let again = run_printed(&replay);
    assert_eq!(again.status.code(), Some(1), "{replay}");
    assert_eq!(
        field(&first, "trace_hash="),
        field(&again, "trace_hash="),
        "{replay}"
    );
    replay
}

#[test]
fn a_run_with_every_flag_replays_from_its_printed_line() {
    let replay = replay_reproduces(&[
        "run",
        "--seed",
        "4",
        "--nodes",
        "3",
        "--clients",
        "3",
        "--duration-ms",
        "2000",
        "--mutant",
        "no-dedup",
        "--read-mode",
        "log",
        "--initial-voters",
        "2",
        "--conf-change-on-append",
    ]);
    for flag in [
        "--initial-voters 2",
        "--conf-change-on-append",
        "--read-mode log",
    ] {
        assert!(replay.contains(flag), "{replay}");
    }
}

#[test]
fn a_run_from_a_fault_file_replays_with_that_file() {
    let dir = scratch("faults");
    let faults = dir.join("f.json");
    let shape = [
        "--seed",
        "4",
        "--nodes",
        "3",
        "--clients",
        "3",
        "--duration-ms",
        "2000",
        "--mutant",
        "no-dedup",
        "--read-mode",
        "log",
        "--initial-voters",
        "2",
        "--conf-change-on-append",
    ];
    let mut save = vec!["run"];
    save.extend(shape);
    save.extend(["--save-faults", faults.to_str().unwrap()]);
    let drawn = raftsim(&save);
    assert_eq!(drawn.status.code(), Some(1));
    let mut from_file = vec!["run"];
    from_file.extend(shape);
    from_file.extend(["--faults", faults.to_str().unwrap()]);
    let replay = replay_reproduces(&from_file);
    assert!(replay.contains("--faults"), "{replay}");
    // The executed schedule, replayed, is the drawn run exactly.
    assert_eq!(
        field(&drawn, "trace_hash="),
        field(&raftsim(&from_file), "trace_hash=")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn campaign_seeds_replay_from_their_printed_lines() {
    let dir = scratch("campaign");
    let out = dir.join("out");
    let output = raftsim(&[
        "campaign",
        "--standard",
        "--duration-ms",
        "1000",
        "--seeds",
        "2",
        "--mutant",
        "no-dedup",
        "--quiet",
        "--max-reports",
        "0",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let results = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    let line: serde_json::Value = serde_json::from_str(results.lines().next().unwrap()).unwrap();
    let replay = line["replay"].as_str().unwrap();
    assert_eq!(
        replay,
        "raftsim replay --seed 2 --standard --duration-ms 1000 --mutant no-dedup"
    );
    let again = run_printed(replay);
    assert_eq!(
        field(&again, "trace_hash="),
        line["trace_hash"].as_str().unwrap()
    );
    // A swarm seed's replay prints itself as its replay line.
    let swarm = replay_reproduces(&[
        "replay",
        "--seed",
        "4",
        "--mutant",
        "vote-without-log-check",
    ]);
    assert_eq!(
        swarm,
        "raftsim replay --seed 4 --mutant vote-without-log-check"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn reports_and_timelines_name_the_printed_replay() {
    let dir = scratch("report");
    let report = dir.join("r.html");
    let output = raftsim(&[
        "run",
        "--seed",
        "4",
        "--nodes",
        "3",
        "--clients",
        "3",
        "--duration-ms",
        "2000",
        "--mutant",
        "no-dedup",
        "--read-mode",
        "log",
        "--initial-voters",
        "2",
        "--conf-change-on-append",
        "--report",
        report.to_str().unwrap(),
        "--timeline",
    ]);
    let replay = field(&output, "replay: ");
    assert_eq!(field(&output, "reproduce: "), replay);
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains(&replay), "the report names `{replay}`");
    std::fs::remove_dir_all(&dir).unwrap();
}
