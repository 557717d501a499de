//! The terminal timeline: one line of role letters per server over the whole run, the faults as
//! bars under it, then the notable events (faults, elections, crashes, the violation) around
//! the moment of interest. Fixed width, plain ASCII apart from the record's own text.

use std::fmt::Write;

use crate::format::ms;
use crate::record::{FaultKind, Role, RunRecord};
use crate::roles::{Segment, role_segments};

/// Columns of the lane strips.
const COLUMNS: usize = 72;
/// Events listed before eliding the earlier ones.
const EVENTS_SHOWN_MAX: usize = 40;
/// Fault bars drawn before eliding the rest.
const FAULT_ROWS_MAX: usize = 16;

pub fn render_timeline(record: &RunRecord) -> String {
    let mut out = String::new();
    let violation = record
        .violation
        .as_ref()
        .map_or(String::new(), |v| format!(" {}", v.property));
    let _ = writeln!(out, "seed {}  {}{violation}", record.seed, record.verdict());
    if !record.command.is_empty() {
        let _ = writeln!(out, "reproduce: {}", record.command);
    }
    let end_ns = record.end_ns.max(1);
    let column_ns = end_ns.div_ceil(COLUMNS as u64).max(1);
    let _ = writeln!(
        out,
        "time 0 .. {} ({} per column; L leader, C candidate, p pre-candidate, . follower, x down, z paused, ! violation)",
        ms(end_ns),
        ms(column_ns)
    );
    lanes(&mut out, record, column_ns);
    faults(&mut out, record, column_ns);
    events(&mut out, record);
    if let Some(violation) = &record.violation {
        let _ = writeln!(out, "violation: {}", violation.message);
        for sentence in &violation.explanation {
            let _ = writeln!(out, "  {sentence}");
        }
    }
    out
}

fn lanes(out: &mut String, record: &RunRecord, column_ns: u64) {
    let mut marker = vec![' '; COLUMNS];
    if let Some(violation) = &record.violation {
        marker[column(record.focus_ns().min(violation.time_ns), column_ns)] = '!';
    }
    let healed = column(record.safety_end_ns, column_ns);
    if record.safety_end_ns < record.end_ns && marker[healed] == ' ' {
        marker[healed] = '|';
    }
    let _ = writeln!(out, "     {}", marker.iter().collect::<String>().trim_end());
    for node in 0..record.servers {
        let segments = role_segments(record, node);
        let mut strip: Vec<char> = (0..COLUMNS)
            .map(|c| strongest(&segments, c as u64 * column_ns, (c as u64 + 1) * column_ns))
            .collect();
        for band in record
            .faults
            .iter()
            .filter(|b| b.kind == FaultKind::Pause && b.nodes.contains(&node))
        {
            let (first, last) = (
                column(band.start_ns, column_ns),
                column(band.end_ns, column_ns),
            );
            for letter in &mut strip[first..=last] {
                if *letter != Role::Down.letter() {
                    *letter = 'z';
                }
            }
        }
        let term = segments.last().map_or(0, |s| s.term);
        let _ = writeln!(
            out,
            "{:<4} {}  term {term}",
            record.node_name(node),
            strip.iter().collect::<String>()
        );
    }
}

/// The most telling role held during `[from, to)`: down, then leader, then candidates.
fn strongest(segments: &[Segment], from: u64, to: u64) -> char {
    segments
        .iter()
        .filter(|s| s.start_ns < to && s.end_ns > from)
        .map(|s| s.role)
        .max_by_key(|role| match role {
            Role::Follower => 0,
            Role::PreCandidate => 1,
            Role::Candidate => 2,
            Role::Leader => 3,
            Role::Down => 4,
        })
        .map_or(' ', Role::letter)
}

fn column(time_ns: u64, column_ns: u64) -> usize {
    ((time_ns / column_ns) as usize).min(COLUMNS - 1)
}

fn faults(out: &mut String, record: &RunRecord, column_ns: u64) {
    if record.faults.is_empty() {
        return;
    }
    let _ = writeln!(out, "faults:");
    for band in record.faults.iter().take(FAULT_ROWS_MAX) {
        let (start, end) = (
            column(band.start_ns, column_ns),
            column(band.end_ns, column_ns),
        );
        let mut bar = " ".repeat(start);
        bar.push_str(&"=".repeat(end - start + 1));
        let _ = writeln!(out, "     {bar:<COLUMNS$}  {}", band.label);
    }
    if record.faults.len() > FAULT_ROWS_MAX {
        let _ = writeln!(
            out,
            "     ... {} more faults",
            record.faults.len() - FAULT_ROWS_MAX
        );
    }
}

/// Faults, elections, crashes and the violation, in time order, ending at the violation.
fn events(out: &mut String, record: &RunRecord) {
    let mut events: Vec<(u64, u8, String)> = Vec::new();
    for fault in &record.schedule {
        events.push((fault.at_ns, 0, fault.action.clone()));
    }
    for change in &record.roles {
        let text = match change.role {
            Role::Leader => format!(
                "{} leader of term {}",
                record.node_name(change.node),
                change.term
            ),
            Role::Down => format!("{} down", record.node_name(change.node)),
            _ => continue,
        };
        events.push((change.time_ns, 1, text));
    }
    if record.safety_end_ns < record.end_ns {
        events.push((record.safety_end_ns, 2, "every fault healed".to_string()));
    }
    if let Some(violation) = &record.violation {
        events.push((
            violation.time_ns,
            3,
            format!("VIOLATION {}", violation.property),
        ));
    }
    events.sort_by_key(|&(time, order, _)| (time, order));
    let _ = writeln!(out, "events:");
    let skipped = events.len().saturating_sub(EVENTS_SHOWN_MAX);
    if skipped > 0 {
        let _ = writeln!(out, "  ... {skipped} earlier events");
    }
    for (time, _, text) in events.iter().skip(skipped) {
        let _ = writeln!(out, "  {:>12}  {text}", ms(*time));
    }
}
