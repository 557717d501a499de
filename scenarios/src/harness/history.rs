//! The clients' history in the checker's terms, and its linearizability check as a verdict on
//! the run: the same conversion and the same verdict for runs and scripts.

use kv::{HistoryRecord, Op, OpResult};
use serde::{Deserialize, Serialize};
use sim::NodeId;

use crate::config::{Property, Violation};

/// Summary of the linearizability check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckSummary {
    pub verdict: String,
    pub partitions: usize,
    pub failing_partitions: Vec<String>,
    pub steps: u64,
}

/// Client records in the checker's terms. Clients are numbered as people read them (`c1` is
/// client 1), not by their network address.
pub fn to_checker_history(records: &[HistoryRecord], servers: NodeId) -> checker::History {
    use checker::{KvInput, KvOutput, Operation};
    let operations = records
        .iter()
        .map(|record| {
            let client = record.client_id - u64::from(servers) + 1;
            let input = match &record.op {
                Op::Get { key } => KvInput::Get { key: key.clone() },
                Op::Put { key, value } => KvInput::Put {
                    key: key.clone(),
                    value: value.clone(),
                },
                Op::Append { key, value } => KvInput::Append {
                    key: key.clone(),
                    value: value.clone(),
                },
                Op::Cas { key, expected, new } => KvInput::Cas {
                    key: key.clone(),
                    expected: expected.clone(),
                    new: new.clone(),
                },
            };
            match (&record.result, record.return_ns) {
                (Some(result), Some(return_ns)) => {
                    let output = match result {
                        OpResult::Value(value) => KvOutput::Value(value.clone()),
                        OpResult::Written => KvOutput::Written,
                        OpResult::Cas(swapped) => KvOutput::Cas(*swapped),
                    };
                    Operation::returned(client, input, output, record.call_ns, return_ns)
                }
                _ => Operation::indefinite(client, input, record.call_ns),
            }
        })
        .collect();
    checker::History::Kv(operations)
}

/// Checks `history` within `steps_max` search steps: the checker's result, its summary, and
/// the violation it amounts to (none when linearizable). Minimizing a counterexample costs far
/// more than the verdict: `minimize` only when a report will show it.
pub fn check(
    history: &checker::History,
    steps_max: u64,
    minimize: bool,
    time_ns: u64,
) -> (checker::CheckResult, CheckSummary, Option<Violation>) {
    let options = checker::Options {
        steps_max,
        minimize,
        ..checker::Options::default()
    };
    let result = checker::check(history, &options);
    let failing: Vec<String> = result.failing().map(|p| p.label.clone()).collect();
    let steps = result.partitions.iter().map(|p| p.steps).sum();
    let operations = history.len();
    let violation = match &result.verdict {
        checker::Verdict::Ok => None,
        checker::Verdict::Illegal => Some(Violation::of_run(
            Property::Linearizability,
            time_ns,
            format!(
                "client history of {operations} operations is not linearizable (failing: {})",
                failing.join(", ")
            ),
        )),
        checker::Verdict::Unknown { reason } => Some(Violation::of_run(
            Property::CheckerUnknown,
            time_ns,
            format!("linearizability unknown: {reason}"),
        )),
    };
    let summary = CheckSummary {
        verdict: result.verdict.name().to_string(),
        partitions: result.partitions.len(),
        failing_partitions: failing,
        steps,
    };
    (result, summary, violation)
}
