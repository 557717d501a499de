//! Bad input of every kind the CI-gate issue found, through the binary: each is one short line on
//! stderr and exit code 2, never a panic (101), an abort or a hang. Files a user writes or edits
//! (fault schedules, scripts) are covered as well as flags.

use crate::common::{self, raftsim};
use std::path::PathBuf;

/// The longest error line raftsim prints.
const ERROR_LINE_CHARS_MAX: usize = 240;

fn scratch(name: &str) -> PathBuf {
    common::scratch("bad", name)
}

fn assert_bad_input(args: &[&str]) {
    let output = raftsim(args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
    let line = stderr.trim_end();
    assert!(line.starts_with("error: "), "{args:?}: {line}");
    assert!(
        line.chars().count() <= ERROR_LINE_CHARS_MAX,
        "{args:?}: {} characters: {line}",
        line.chars().count()
    );
}

/// Writes `text` to a file and runs `scenario run` on it.
fn bad_script(dir: &std::path::Path, name: &str, text: &str) {
    let path = dir.join(format!("{name}.scn"));
    std::fs::write(&path, text).unwrap();
    assert_bad_input(&["scenario", "run", path.to_str().unwrap()]);
}

#[test]
fn flags_out_of_range_are_refused() {
    let huge = "1".repeat(5_000);
    let cases: Vec<Vec<&str>> = vec![
        vec!["run"],
        vec![
            "run",
            "--seed",
            "1",
            "--duration-ms",
            "18446744073709551615",
        ],
        vec!["run", "--seed", "1", "--nodes", "10"],
        vec!["run", "--seed", "1", "--clients", "0"],
        vec!["campaign", "--duration-ms", "18446744073709551615"],
        vec!["campaign", "--seeds", &huge],
        vec!["campaign", "--jobs", "100000"],
        vec![
            "replay",
            "--seed",
            "1",
            "--duration-ms",
            "18446744073709551615",
        ],
        vec!["bench", "run", "--first-seed", "18446744073709551615"],
        vec!["bench", "run", "--seeds", "18446744073709551615"],
        vec!["bench", "echo", "--repeat", "18446744073709551615"],
        vec!["bench", "echo", "--exchanges", "18446744073709551615"],
        vec!["bench", "echo", "--nodes", "100000"],
    ];
    for args in cases {
        assert_bad_input(&args);
    }
}

#[test]
fn sharded_service_flags_that_cannot_run_are_refused() {
    let cases = [
        "run --seed 1 --service sharding",
        "run --seed 1 --groups 2",
        "run --seed 1 --service sharded --nodes 3",
        "run --seed 1 --service sharded --groups 0",
        "run --seed 1 --service sharded --groups 9",
        "run --seed 1 --service sharded --group-size 10",
        "run --seed 1 --service sharded --shards 0",
        "run --seed 1 --service sharded --shards 65",
        "run --seed 1 --mutant serve-before-install",
        "run --seed 1 --service sharded --initial-voters 2",
        "campaign --mutant write-after-handoff",
        "campaign --service kvs",
        "replay --seed 1 --mutant delete-before-confirm",
        "shrink --seed 1 --mutant migrate-without-dedup",
        "explore --seeds 0..5 --mutant serve-before-install",
        "explore --seeds 5..2",
        "explore --seeds 0..5 --service shard",
        "bench run --service shard",
        "mutants --score --service x",
    ];
    for case in cases {
        assert_bad_input(&case.split_whitespace().collect::<Vec<_>>());
    }
}

#[test]
fn a_prior_that_cannot_serve_the_explorer_is_refused() {
    let dir = scratch("prior");
    let run = |extra: &[&str], name: &str| {
        let out = dir.join(name);
        let mut args = vec!["campaign", "--seeds", "0..1", "--quiet", "--out"];
        args.push(out.to_str().unwrap());
        args.extend_from_slice(extra);
        raftsim(&args);
        out.join("results.jsonl").to_str().unwrap().to_string()
    };
    let standard = run(&["--standard", "--duration-ms", "500"], "standard");
    let mutated = run(
        &["--standard", "--duration-ms", "500", "--mutant", "no-dedup"],
        "mutated",
    );
    let text = dir.join("bad.prior");
    std::fs::write(
        &text,
        "# raftsim explore prior\nservice kv\nmarks a b\n1 zz\n",
    )
    .unwrap();
    let text = text.to_str().unwrap();
    let out = dir.join("out.prior");
    let out = out.to_str().unwrap();
    for args in [
        // Not the seed's swarm draw: its text form could not name it.
        vec!["explore", "--prior", &standard, "--write-prior", out],
        vec!["explore", "--seeds", "0..2", "--prior", &mutated],
        vec!["explore", "--seeds", "0..2", "--prior", text],
        vec![
            "explore",
            "--seeds",
            "0..2",
            "--service",
            "sharded",
            "--prior",
            &standard,
        ],
        vec!["explore", "--seeds", "0..2", "--prior", text, "--no-prior"],
        vec!["explore", "--write-prior", out],
        vec!["explore", "--prior", text],
    ] {
        assert_bad_input(&args);
    }
    assert!(!std::path::Path::new(out).exists());
}

#[test]
fn controller_changes_that_cannot_run_are_refused() {
    let dir = scratch("shardctl");
    let change = |command: &str| {
        format!(r#"[{{"at_ns": 5, "action": "admin", "node": "n1", "command": "{command}"}}]"#)
    };
    let cases = [
        (change("shardctl move 3 g2 seq=1"), "kv"),
        (change("shardctl join g4 seq=1"), "sharded"),
        (change("shardctl move 10 g2 seq=1"), "sharded"),
        (change("shardctl leave g1"), "sharded"),
        (change("conf-change remove n2"), "sharded"),
    ];
    for (index, (text, service)) in cases.iter().enumerate() {
        let path = dir.join(format!("f{index}.json"));
        std::fs::write(&path, text).unwrap();
        let path = path.to_str().unwrap();
        assert_bad_input(&["run", "--seed", "1", "--service", service, "--faults", path]);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn fault_schedules_that_cannot_run_are_refused() {
    let dir = scratch("faults");
    let cases = [
        // An admin command naming a server the cluster lacks.
        r#"[{"at_ns": 5, "action": "admin", "node": "n1", "command": "conf-change add n9"}]"#,
        r#"[{"at_ns": 5, "action": "crash", "node": "n6"}]"#,
        r#"[{"at_ns": 5, "action": "crash", "node": 3}]"#,
        r#"[{"at_ns": 5, "action": "clock-rate", "node": "n1", "rate": 9.0}]"#,
        "[{\"at_ns\": 5, \"action\": \"crash\", \"node\": \"n1\u{1}\"}]",
        "not json",
    ];
    for (index, text) in cases.iter().enumerate() {
        let path = dir.join(format!("f{index}.json"));
        std::fs::write(&path, text).unwrap();
        assert_bad_input(&["run", "--seed", "1", "--faults", path.to_str().unwrap()]);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_admin_command_at_time_zero_runs() {
    let dir = scratch("admin0");
    let path = dir.join("f.json");
    let schedule =
        r#"[{"at_ns": 0, "action": "admin", "node": "n1", "command": "conf-change remove n2"}]"#;
    std::fs::write(&path, schedule).unwrap();
    let output = raftsim(&[
        "run",
        "--seed",
        "1",
        "--duration-ms",
        "500",
        "--faults",
        path.to_str().unwrap(),
    ]);
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn scripts_that_cannot_run_are_refused() {
    let dir = scratch("scripts");
    let long_key = format!("cluster servers=3 {}=1\n", "k".repeat(65_000));
    let cases = [
        ("no-server", "cluster servers=3\nconf-change n1 add n7\n"),
        (
            "commit-past-log",
            "cluster servers=3\nlog n1 1 1\nhardstate n1 commit=5\nrun 1ms\n",
        ),
        ("voters-all", "cluster servers=3 voters=all\n"),
        ("huge-range", "cluster servers=3\ncrash n1..n10000000000\n"),
        ("tick-zero", "cluster servers=3 tick=0ms\n"),
        ("tick-huge", "cluster servers=3 tick=99999999999s\n"),
        (
            "election-huge",
            "cluster servers=3 election_tick=18446744073709551615\n",
        ),
        ("run-forever", "cluster servers=3\nrun 4294967295ms\n"),
        (
            "liveness-huge",
            "run-config seed=1 liveness_bound_ns=18446744073709551615\nexpect pass\n",
        ),
        (
            "tick-zero-run",
            "run-config seed=1 tick_ns=0\nexpect pass\n",
        ),
        (
            "admin-bad",
            "run-config seed=1\nat 1ms admin n1 conf-change add n99\nexpect pass\n",
        ),
        ("long-key", long_key.as_str()),
        (
            "shardctl-kv",
            "run-config seed=1\nat 1ms admin n1 shardctl move 1 g2 seq=1\nexpect pass\n",
        ),
        (
            "shardctl-group",
            "run-config seed=1 service=sharded\nat 1ms admin n1 shardctl join g7 seq=1\n\
             expect pass\n",
        ),
        (
            "service-unknown",
            "run-config seed=1 service=shard\nexpect pass\n",
        ),
        (
            "shard-mutant-cluster",
            "cluster servers=3 mutants=serve-before-install\nrun 1ms\n",
        ),
        ("control", "cluster servers=3\ncrash n1\u{7}\n"),
    ];
    for (name, text) in cases {
        bad_script(&dir, name, text);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn help_speaks_of_the_readme_not_internal_documents() {
    for command in [
        vec!["--help"],
        vec!["campaign", "--help"],
        vec!["run", "--help"],
        vec!["bench", "--help"],
        vec!["mutants", "--help"],
        vec!["scenario", "--help"],
    ] {
        let output = raftsim(&command);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{command:?}");
        assert!(!stdout.contains("BRIEF"), "{command:?}: {stdout}");
    }
}

#[test]
fn a_history_with_a_huge_key_is_checked_not_a_panic() {
    let dir = scratch("huge-key");
    let key = "k".repeat(65_000);
    let history = format!(
        r#"{{"model": "kv", "operations": [
  {{"client": 1, "input": {{"op": "put", "key": "{key}", "value": "1"}}, "output": {{"ok": true}}, "call": 1, "return": 2}},
  {{"client": 2, "input": {{"op": "get", "key": "{key}"}}, "output": {{"value": "2"}}, "call": 3, "return": 4}}
]}}"#
    );
    let path = dir.join("h.json");
    std::fs::write(&path, history).unwrap();
    let output = raftsim(&["check", path.to_str().unwrap()]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "not linearizable, and no panic"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
