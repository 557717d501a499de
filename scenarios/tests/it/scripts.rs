//! Every scenario script is a test, walked from its directory: `scripts/*.scn` (the library of
//! BRIEF §8) and `regressions/*.scn` (campaign seeds that once failed). Each script runs in its
//! correct form and in every mutant form its conditions name; every expectation must hold, each
//! mutant form must find a violation, and what each line printed must match the block under it.
//! `UPDATE_EXPECT=1 cargo test -p scenarios` rewrites the blocks.

use std::path::{Path, PathBuf};

use scenarios::script::{self, ScriptOptions};

fn scripts_in(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("readable directory").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "scn"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no scripts in {}", dir.display());
    paths
}

/// Checks one script file; returns what went wrong, in words.
fn check(path: &Path) -> Vec<String> {
    let name = path.display();
    let text = std::fs::read_to_string(path).expect("readable script");
    let check = match script::check_file(&text) {
        Ok(check) => check,
        Err(error) => return vec![format!("{name}: {error}")],
    };
    let mut problems = Vec::new();
    for (form, outcome) in &check.forms {
        let form_name = form.map_or("correct form".to_string(), |m| format!("--mutant {m}"));
        let mutants: Vec<_> = form.iter().copied().collect();
        if !outcome.expected_held() {
            problems.push(format!(
                "{name} ({form_name}): {:?}\n{}",
                outcome.failures,
                outcome.transcript(&check.script, &mutants)
            ));
        }
        if form.is_some() && outcome.violations.is_empty() {
            problems.push(format!(
                "{name} ({form_name}): the mutant form finds no violation"
            ));
        }
    }
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        if check.rewritten != text {
            std::fs::write(path, &check.rewritten).expect("writable script");
        }
    } else {
        for difference in check.differences {
            problems.push(format!(
                "{name}: {difference}\n(UPDATE_EXPECT=1 cargo test -p scenarios to accept)"
            ));
        }
    }
    problems
}

fn check_dir(dir: &str) {
    let problems: Vec<String> = scripts_in(dir).iter().flat_map(|p| check(p)).collect();
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn every_library_script_holds_in_every_form() {
    check_dir("scripts");
}

#[test]
fn every_regression_script_holds() {
    check_dir("regressions");
}

#[test]
fn the_library_embeds_every_script_file() {
    let mut files: Vec<String> = scripts_in("scripts")
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let embedded: Vec<&str> = script::LIBRARY.iter().map(|s| s.name).collect();
    assert_eq!(files, embedded);
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
    let parsed = script::parse(&text).expect("parses");
    let outcome = script::run_script(&parsed, &ScriptOptions::default()).expect("runs");
    assert!(outcome.expected_held(), "{:?}\n{text}", outcome.failures);
    let transcript = outcome.transcript(&parsed, &[]);
    assert!(
        transcript.contains(&format!("trace hash {:016x}", direct.trace_hash)),
        "{transcript}\n{text}"
    );
}
