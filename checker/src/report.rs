//! The text report: verdict, per-partition counts, and each failing partition's counterexample.

use std::fmt::Write;

use crate::check::{CheckResult, PartitionResult, Verdict};
use crate::history::{History, Operation};
use crate::kv::KvModel;
use crate::model::Model;
use crate::register::RegisterModel;

/// The partition column is at most this wide; longer labels overflow their row.
const LABEL_WIDTH_MAX: usize = 60;

/// Prefix operations shown before eliding the earlier ones.
const PREFIX_SHOWN_MAX: usize = 12;

/// Renders the report for a history of a built-in model.
pub fn render(history: &History, result: &CheckResult) -> String {
    match history {
        History::Kv(operations) => render_model(&KvModel, "kv", operations, result),
        History::Register(operations) => {
            render_model(&RegisterModel, "register", operations, result)
        }
    }
}

/// `#12 client 3 [40, 55] get("x") -> "1"`.
pub fn describe<M: Model>(
    model: &M,
    operations: &[Operation<M::Input, M::Output>],
    index: usize,
) -> String {
    let operation = &operations[index];
    let return_time = match (operation.is_indefinite(), operation.return_time) {
        (false, Some(return_time)) => return_time.to_string(),
        _ => "∞".to_owned(),
    };
    format!(
        "#{index} client {} [{}, {return_time}] {}",
        operation.client,
        operation.call,
        model.describe_operation(operation)
    )
}

pub fn render_model<M: Model>(
    model: &M,
    model_name: &str,
    operations: &[Operation<M::Input, M::Output>],
    result: &CheckResult,
) -> String {
    let mut out = String::new();
    let failed = operations
        .iter()
        .filter(|operation| operation.is_failed())
        .count();
    let indefinite = operations
        .iter()
        .filter(|operation| operation.is_indefinite())
        .count();
    let _ = writeln!(
        out,
        "model {model_name}: {} ({failed} failed, {indefinite} indefinite), {}",
        count(operations.len(), "operation"),
        count(result.partitions.len(), "partition")
    );
    let verdict = match &result.verdict {
        Verdict::Ok => "verdict: LINEARIZABLE".to_owned(),
        Verdict::Illegal => "verdict: NOT LINEARIZABLE".to_owned(),
        Verdict::Unknown { reason } => format!("verdict: UNKNOWN ({reason})"),
    };
    let _ = writeln!(out, "{verdict}");
    if result.partitions.is_empty() {
        return out;
    }
    // Padded by hand: a format width over 65,535 panics, and a key may be that long. A label
    // wider than the column overflows its row rather than widening every row.
    let label_width = result
        .partitions
        .iter()
        .map(|partition| partition.label.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(9, LABEL_WIDTH_MAX);
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{}  {:>6}  {:>6}  {:>10}  {:>10}  verdict",
        padded("partition", label_width),
        "ops",
        "failed",
        "indefinite",
        "steps"
    );
    for partition in &result.partitions {
        let _ = writeln!(
            out,
            "{}  {:>6}  {:>6}  {:>10}  {:>10}  {}",
            padded(&partition.label, label_width),
            partition.operation_count,
            partition.failed_count,
            partition.indefinite_count,
            partition.steps,
            partition.verdict.name()
        );
    }
    for partition in &result.partitions {
        render_partition(&mut out, model, operations, partition);
    }
    out
}

fn render_partition<M: Model>(
    out: &mut String,
    model: &M,
    operations: &[Operation<M::Input, M::Output>],
    partition: &PartitionResult,
) {
    if let Verdict::Unknown { reason } = &partition.verdict {
        let _ = writeln!(out, "\n{}: unknown: {reason}", partition.label);
        let _ = writeln!(
            out,
            "  the search had linearized {} operations when it stopped",
            partition.linearization.len()
        );
        return;
    }
    let Some(counterexample) = &partition.counterexample else {
        return;
    };
    let _ = writeln!(out, "\n{} is not linearizable", partition.label);
    let prefix = &counterexample.prefix;
    let _ = writeln!(
        out,
        "  longest linearizable prefix ({}):",
        count(prefix.len(), "operation")
    );
    let skipped = prefix.len().saturating_sub(PREFIX_SHOWN_MAX);
    if skipped > 0 {
        let _ = writeln!(out, "    ... {skipped} earlier operations");
    }
    for (position, &index) in prefix.iter().enumerate().skip(skipped) {
        let _ = writeln!(
            out,
            "    {:>4}. {}",
            position + 1,
            describe(model, operations, index)
        );
    }
    let _ = writeln!(
        out,
        "  state after the prefix: {}",
        counterexample.state_after_prefix
    );
    let _ = writeln!(
        out,
        "  cannot place: {}",
        describe(model, operations, counterexample.stuck)
    );
    if !counterexample.minimized.is_empty() {
        let note = if counterexample.minimized_complete {
            ""
        } else {
            ", minimizer budget reached"
        };
        let _ = writeln!(
            out,
            "  minimized illegal sub-history ({}{note}; illegal even if any other write of the partition did not happen):",
            count(counterexample.minimized.len(), "operation")
        );
        for &index in &counterexample.minimized {
            let _ = writeln!(out, "    {}", describe(model, operations, index));
        }
    }
}

/// `text` followed by spaces up to `width` characters.
fn padded(text: &str, width: usize) -> String {
    let mut line = text.to_owned();
    line.extend(std::iter::repeat_n(
        ' ',
        width.saturating_sub(text.chars().count()),
    ));
    line
}

/// "1 operation", "3 operations".
fn count(number: usize, noun: &str) -> String {
    if number == 1 {
        format!("1 {noun}")
    } else {
        format!("{number} {noun}s")
    }
}
