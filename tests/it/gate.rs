//! The CI gate cannot go green by accident: an interrupted campaign (SIGTERM, as CI runners and
//! Kubernetes send) writes its summary and exits 130 with its JUnit marked incomplete; a merge
//! of a partial or interrupted campaign fails; a reused output folder holds only the new
//! campaign's outputs.

use crate::common::{self, raftsim};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn scratch(name: &str) -> PathBuf {
    common::scratch("gate", name)
}

fn short_campaign(out: &Path, seeds: &str, shard: Option<&str>) -> Output {
    let mut args = vec![
        "campaign",
        "--standard",
        "--duration-ms",
        "500",
        "--quiet",
        "--seeds",
        seeds,
        "--out",
        out.to_str().unwrap(),
    ];
    if let Some(shard) = shard {
        args.extend(["--shard", shard]);
    }
    raftsim(&args)
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn a_merge_of_a_partial_campaign_fails_and_names_what_is_missing() {
    let dir = scratch("partial");
    let (a, b) = (dir.join("a"), dir.join("b"));
    assert!(short_campaign(&a, "0..6", Some("0/2")).status.success());
    // One shard alone is not the campaign.
    let merged = dir.join("merged");
    let output = raftsim(&[
        "merge",
        a.to_str().unwrap(),
        "--out",
        merged.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let text = stdout(&output);
    assert!(text.contains("shard 1/2 missing"), "{text}");
    assert!(text.contains("3 of 6 seeds missing: 1, 3, 5"), "{text}");
    assert!(text.contains("gate: FAIL"), "{text}");
    let summary = std::fs::read_to_string(merged.join("summary.json")).unwrap();
    assert!(summary.contains("seeds missing"), "{summary}");
    assert!(
        merged.join("index.html").exists(),
        "merge writes the index it reports"
    );
    // A shard directory that never wrote a summary did not finish.
    assert!(short_campaign(&b, "0..6", Some("1/2")).status.success());
    std::fs::remove_file(b.join("summary.json")).unwrap();
    let output = raftsim(&[
        "merge",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--out",
        merged.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).contains("did not finish"),
        "{}",
        stdout(&output)
    );
    // An empty results file never passes.
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(empty.join("results.jsonl"), "").unwrap();
    let output = raftsim(&[
        "merge",
        empty.to_str().unwrap(),
        "--out",
        merged.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_reused_output_folder_holds_only_the_new_campaign() {
    let dir = scratch("reuse");
    let out = dir.join("out");
    let failing = raftsim(&[
        "campaign",
        "--standard",
        "--duration-ms",
        "1000",
        "--quiet",
        "--seeds",
        "2",
        "--mutant",
        "no-dedup",
        "--out",
        out.to_str().unwrap(),
    ]);
    // Seed 2's standard run fails under no-dedup (seed 1's stopped failing when the flow
    // control's gap resend changed its run).
    assert_eq!(failing.status.code(), Some(1));
    assert!(out.join("reports").join("seed-2.html").exists());
    assert!(short_campaign(&out, "5..7", None).status.success());
    assert!(
        !out.join("reports").exists(),
        "the old campaign's reports are gone"
    );
    let summary = std::fs::read_to_string(out.join("summary.json")).unwrap();
    assert!(summary.contains("\"seeds\": 2"), "{summary}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
#[allow(clippy::disallowed_methods)] // waiting on another process, not a simulated path
fn sigterm_stops_a_campaign_with_its_summary_and_exit_130() {
    let dir = scratch("sigterm");
    let out = dir.join("out");
    let mut child = Command::new(env!("CARGO_BIN_EXE_raftsim"))
        .args([
            "campaign",
            "--standard",
            "--duration-ms",
            "500",
            "--quiet",
            "--jobs",
            "1",
            "--seeds",
            "0..100000",
            "--out",
            out.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    // Wait (bounded) until at least one seed is on disk.
    let results = out.join("results.jsonl");
    for _ in 0..600 {
        let lines = std::fs::read_to_string(&results).map_or(0, |t| t.lines().count());
        if lines > 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // SAFETY: sending a signal to our own child process, whose pid is valid until we wait.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let status = child.wait().expect("the campaign ends");
    assert_eq!(status.code(), Some(130));
    let summary = std::fs::read_to_string(out.join("summary.json")).expect("a summary");
    assert!(summary.contains("\"interrupted\": true"), "{summary}");
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert!(junit.contains("<error type=\"incomplete\""), "{junit}");
    let merged = dir.join("merged");
    let output = raftsim(&[
        "merge",
        out.to_str().unwrap(),
        "--out",
        merged.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).contains("interrupted after"),
        "{}",
        stdout(&output)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_mutant_gate_fails_when_a_planted_bug_escapes_and_passes_when_it_is_caught() {
    // direct-multi-change needs membership seeds: seed 0 alone never shows it.
    let escaped = raftsim(&[
        "mutants",
        "--score",
        "--seeds",
        "0",
        "--mutant",
        "direct-multi-change",
        "--gate",
    ]);
    assert_eq!(escaped.status.code(), Some(1), "{}", stdout(&escaped));
    let stderr = String::from_utf8_lossy(&escaped.stderr);
    assert!(
        stderr.contains("gate: mutant direct-multi-change escaped seeds 0..1"),
        "{stderr}"
    );
    // no-dedup is caught on swarm seed 1.
    let caught = raftsim(&[
        "mutants", "--score", "--seeds", "0..2", "--mutant", "no-dedup", "--gate",
    ]);
    assert!(caught.status.success(), "{}", stdout(&caught));
}
