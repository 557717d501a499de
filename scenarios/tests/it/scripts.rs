//! Every scenario of the library (BRIEF §8) as a cargo test: the correct form must pass with no
//! violation, and each mutant form the script names must find its violation where the script
//! expects it. The traces are compared with `scripts/NAME.golden` and
//! `scripts/NAME.MUTANT.golden`; `UPDATE_GOLDEN=1 cargo test -p scenarios` rewrites them.

use std::path::PathBuf;

use scenarios::script::{self, ScriptOptions};

fn golden_path(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(file)
}

fn check_golden(file: &str, actual: &str) {
    let path = golden_path(file);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).expect("write golden");
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{} is missing: run with UPDATE_GOLDEN=1", path.display()));
    if expected != actual {
        let line = expected
            .lines()
            .zip(actual.lines())
            .position(|(e, a)| e != a)
            .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
        panic!(
            "{file} differs from the run at trace line {} (UPDATE_GOLDEN=1 to accept):\n--- golden\n{}\n--- actual\n{}",
            line + 1,
            expected.lines().nth(line).unwrap_or("<end>"),
            actual.lines().nth(line).unwrap_or("<end>")
        );
    }
}

fn scenario(name: &str) {
    let entry = script::find_in_library(name).expect("scenario in the library");
    let parsed = script::parse(entry.text).expect("library scripts parse");
    let outcome = script::run_script(&parsed, &ScriptOptions::default()).expect("runs");
    // The correct form: every expectation holds and no violation is found that the script does
    // not expect (only lease-read and lease-read-slow-clock expect one: lease reads are unsafe).
    assert!(
        outcome.expected_held(),
        "{name}: {:?}\n{}",
        outcome.failures,
        outcome.trace
    );
    check_golden(&format!("{name}.golden"), &outcome.trace);
    for mutant in parsed.mutant_forms() {
        let options = ScriptOptions {
            mutants: vec![mutant],
        };
        let outcome = script::run_script(&parsed, &options).expect("runs");
        assert!(
            outcome.expected_held(),
            "{name} --mutant {mutant}: {:?}\n{}",
            outcome.failures,
            outcome.trace
        );
        assert!(
            !outcome.violations.is_empty(),
            "{name} --mutant {mutant}: the mutant form finds no violation"
        );
        check_golden(&format!("{name}.{mutant}.golden"), &outcome.trace);
    }
}

#[test]
fn every_library_scenario_has_a_test() {
    let tested = [
        "figure7",
        "figure8",
        "figure8-safe",
        "figure10",
        "figure11",
        "single-server-change",
        "link-cut-no-checkquorum",
        "link-cut-checkquorum",
        "prevote-stranded-candidate",
        "prevote-smaller-term",
        "checkquorum-isolated-leader",
        "lease-read",
        "lease-read-slow-clock",
        "lease-read-index",
        "read-index-noop",
        "read-context-reuse",
    ];
    for entry in script::LIBRARY {
        assert!(tested.contains(&entry.name), "{} has no test", entry.name);
    }
}

#[test]
fn figure7() {
    scenario("figure7");
}

#[test]
fn figure8() {
    scenario("figure8");
}

#[test]
fn figure8_safe() {
    scenario("figure8-safe");
}

#[test]
fn figure10() {
    scenario("figure10");
}

#[test]
fn figure11() {
    scenario("figure11");
}

#[test]
fn single_server_change() {
    scenario("single-server-change");
}

#[test]
fn link_cut_no_checkquorum() {
    scenario("link-cut-no-checkquorum");
}

#[test]
fn link_cut_checkquorum() {
    scenario("link-cut-checkquorum");
}

#[test]
fn prevote_stranded_candidate() {
    scenario("prevote-stranded-candidate");
}

#[test]
fn prevote_smaller_term() {
    scenario("prevote-smaller-term");
}

#[test]
fn checkquorum_isolated_leader() {
    scenario("checkquorum-isolated-leader");
}

#[test]
fn lease_read() {
    scenario("lease-read");
}

#[test]
fn lease_read_slow_clock() {
    scenario("lease-read-slow-clock");
}

#[test]
fn lease_read_index() {
    scenario("lease-read-index");
}

#[test]
fn read_index_noop() {
    scenario("read-index-noop");
}

#[test]
fn read_context_reuse() {
    scenario("read-context-reuse");
}

/// A rendered seeded-run script replays the run exactly: same verdict, same trace hash.
#[test]
fn seeded_run_script_replays_the_run() {
    use scenarios::{RunConfig, RunOptions, run_with};
    let mut config = RunConfig::standard(21);
    config.servers = 3;
    config.clients = 2;
    config.duration_ns = 1_500_000_000;
    config.faults.count = 4;
    let direct = run_with(&config, None, RunOptions::default()).expect("runs");
    let expected = direct.violation.as_ref().map(|v| v.property);
    let text = script::render_seeded_run(&config, &direct.faults, expected, "Replay of seed 21.");
    let outcome = script::run_text(&text, &ScriptOptions::default()).expect("runs");
    assert!(outcome.expected_held(), "{:?}\n{text}", outcome.failures);
    assert!(
        outcome
            .trace
            .contains(&format!("trace hash {:016x}", direct.trace_hash)),
        "{}\n{text}",
        outcome.trace
    );
}
