//! Recording a run for a report: the record changes nothing about the run, and it holds what
//! the report draws (roles, fault bands, messages with fates, the checker's verdict).

use scenarios::config::Mutant;
use scenarios::{RunConfig, RunOptions, run_with};

fn record_of(config: &RunConfig) -> (u64, reports::RunRecord) {
    let options = RunOptions {
        record: true,
        ..RunOptions::default()
    };
    let outcome = run_with(config, None, options).expect("valid configuration");
    (
        outcome.trace_hash,
        outcome.record.expect("record asked for"),
    )
}

#[test]
fn recording_does_not_change_the_run() {
    let config = RunConfig::standard(11);
    let plain = run_with(&config, None, RunOptions::default()).unwrap();
    let (hash, record) = record_of(&config);
    assert_eq!(hash, plain.trace_hash);
    assert_eq!(record.trace_hash, format!("{:016x}", plain.trace_hash));
    assert!(plain.record.is_none());
    let sent = plain.stats.messages_sent + plain.stats.messages_duplicated;
    assert_eq!(
        record.messages.len() as u64,
        sent,
        "one record per send, plus duplicates"
    );
}

#[test]
fn seed_2_no_dedup_record_names_the_failing_operation() {
    let config = RunConfig {
        mutants: vec![Mutant::Raft(raft::Mutant::NoDedup)],
        ..RunConfig::standard(2)
    };
    let (_, record) = record_of(&config);
    let violation = record.violation.as_ref().expect("no-dedup fails on seed 2");
    assert_eq!(violation.property, "linearizability");
    assert!(record.operations.iter().any(|op| op.stuck));
    assert!(record.roles.iter().any(|c| c.role == reports::Role::Leader));
    assert!(!record.faults.is_empty());
    assert!(
        record
            .faults
            .iter()
            .all(|band| band.start_ns <= band.end_ns)
    );
    assert!(
        record
            .messages
            .iter()
            .any(|m| matches!(m.fate, reports::MessageFate::Dropped { .. }))
    );
    assert!(record.messages.iter().any(|m| m.duplicate));
    let html = reports::render_html(&record);
    assert!(html.contains("cannot be placed"));
    assert!(!html.contains("http://") && !html.contains("https://"));
    let timeline = reports::render_timeline(&record);
    assert!(timeline.contains("VIOLATION linearizability"));
}
