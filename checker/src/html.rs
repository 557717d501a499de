//! A self-contained HTML view of a history and its linearization: one SVG, inline CSS and a few
//! lines of inline JS (a partition filter), no network. Every string from the history is escaped.
//!
//! Time is drawn by rank (each distinct call or return time gets one column), so long idle gaps
//! do not squeeze the interesting part. Each client has a row (more lanes when its operations
//! overlap, e.g. after a timeout); each operation is a bar from call to return, an indefinite one
//! runs to the right edge. Dots joined by a line mark one linearization per partition, numbered
//! in order; the operation that cannot be placed is red, the minimized witness is outlined.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::check::{CheckResult, Verdict};
use crate::history::{History, Operation, Outcome};
use crate::kv::KvModel;
use crate::model::Model;
use crate::register::RegisterModel;
use crate::report;

const LANE_HEIGHT: f64 = 30.0;
const BAR_HEIGHT: f64 = 20.0;
const LEFT: f64 = 90.0;
const TOP: f64 = 40.0;

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

pub fn render(history: &History, result: &CheckResult, title: &str) -> String {
    match history {
        History::Kv(operations) => render_model(
            &KvModel,
            operations,
            result,
            title,
            &report::render(history, result),
        ),
        History::Register(operations) => render_model(
            &RegisterModel,
            operations,
            result,
            title,
            &report::render(history, result),
        ),
    }
}

/// What the drawing needs to know about one operation.
#[derive(Clone, Copy, Default)]
struct Role {
    partition: usize,
    /// 1-based position in its partition's linearization (or prefix).
    order: Option<usize>,
    stuck: bool,
    witness: bool,
}

fn roles(operation_count: usize, result: &CheckResult) -> Vec<Role> {
    let mut roles = vec![Role::default(); operation_count];
    for partition in &result.partitions {
        for (position, &index) in partition.linearization.iter().enumerate() {
            roles[index].order = Some(position + 1);
        }
        if let Some(counterexample) = &partition.counterexample {
            roles[counterexample.stuck].stuck = true;
            for &index in &counterexample.minimized {
                roles[index].witness = true;
            }
        }
    }
    roles
}

/// The partition of every operation, from the model (the result only lists linearized ones).
fn partition_of<M: Model>(model: &M, operations: &[Operation<M::Input, M::Output>]) -> Vec<usize> {
    let mut partition_of = vec![0; operations.len()];
    for (partition_index, partition) in model.partition(operations).iter().enumerate() {
        for &index in &partition.operations {
            partition_of[index] = partition_index;
        }
    }
    partition_of
}

/// Lanes per client so that no two bars in a lane overlap. Returns (row of each op, row count,
/// first row and lane count of each client).
fn layout<I, O>(
    operations: &[Operation<I, O>],
    end: u64,
) -> (Vec<usize>, usize, BTreeMap<u64, (usize, usize)>) {
    let mut by_client: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    for (index, operation) in operations.iter().enumerate() {
        by_client.entry(operation.client).or_default().push(index);
    }
    let mut row_of = vec![0; operations.len()];
    let mut rows = 0;
    let mut clients = BTreeMap::new();
    for (client, mut indices) in by_client {
        indices.sort_by_key(|&index| (operations[index].call, index));
        let mut lane_ends: Vec<u64> = Vec::new();
        for index in indices {
            let operation = &operations[index];
            let finish = if operation.is_indefinite() {
                end
            } else {
                operation.return_time.unwrap_or(end)
            };
            let lane = match lane_ends
                .iter()
                .position(|&lane_end| lane_end <= operation.call)
            {
                Some(lane) => lane,
                None => {
                    lane_ends.push(0);
                    lane_ends.len() - 1
                }
            };
            // A zero-length bar still occupies its instant.
            lane_ends[lane] = finish.max(operation.call + 1);
            row_of[index] = rows + lane;
        }
        clients.insert(client, (rows, lane_ends.len()));
        rows += lane_ends.len();
    }
    (row_of, rows, clients)
}

/// Partition hues, with red left out: red means "cannot be placed".
const HUES: [u32; 10] = [210, 130, 45, 275, 180, 25, 310, 95, 240, 160];

fn color(partition: usize) -> String {
    format!("hsl({}, 55%, 78%)", HUES[partition % HUES.len()])
}

fn line_color(partition: usize) -> String {
    format!("hsl({}, 70%, 30%)", HUES[partition % HUES.len()])
}

pub fn render_model<M: Model>(
    model: &M,
    operations: &[Operation<M::Input, M::Output>],
    result: &CheckResult,
    title: &str,
    text_report: &str,
) -> String {
    let mut times: Vec<u64> = operations
        .iter()
        .flat_map(|operation| [Some(operation.call), operation.return_time])
        .flatten()
        .collect();
    times.sort_unstable();
    times.dedup();
    let column = |time: u64| times.partition_point(|&other| other < time);
    let step = (1300.0 / times.len().max(1) as f64).clamp(16.0, 60.0);
    let x = |time: u64| LEFT + column(time) as f64 * step;
    let right = LEFT + times.len() as f64 * step + 40.0;
    let end = times.last().copied().unwrap_or(0) + 1;
    let (row_of, row_count, clients) = layout(operations, end);
    let mut roles = roles(operations.len(), result);
    for (index, partition) in partition_of(model, operations).into_iter().enumerate() {
        roles[index].partition = partition;
    }
    let height = TOP + row_count as f64 * LANE_HEIGHT + 30.0;

    let mut svg = String::new();
    let _ = writeln!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{right:.0}\" height=\"{height:.0}\" font-family=\"monospace\" font-size=\"11\">"
    );
    axis(&mut svg, &times, &x, height);
    for (client, (first_row, lanes)) in &clients {
        let y = TOP + *first_row as f64 * LANE_HEIGHT;
        let band = if first_row % 2 == 0 {
            "#f6f6f6"
        } else {
            "#ffffff"
        };
        let _ = writeln!(
            svg,
            "<rect x=\"0\" y=\"{y:.1}\" width=\"{right:.0}\" height=\"{:.1}\" fill=\"{band}\"/>",
            *lanes as f64 * LANE_HEIGHT
        );
        let _ = writeln!(
            svg,
            "<text x=\"6\" y=\"{:.1}\" fill=\"#333\">client {client}</text>",
            y + 19.0
        );
    }
    for (index, operation) in operations.iter().enumerate() {
        bar(
            &mut svg,
            model,
            operation,
            index,
            roles[index],
            row_of[index],
            &x,
            right,
        );
    }
    for (partition_index, partition) in result.partitions.iter().enumerate() {
        linearization_line(
            &mut svg,
            operations,
            &partition.linearization,
            partition_index,
            &row_of,
            &x,
        );
    }
    svg.push_str("</svg>\n");

    let mut html = String::new();
    let verdict = match &result.verdict {
        Verdict::Ok => "<span class=\"ok\">linearizable</span>".to_owned(),
        Verdict::Illegal => "<span class=\"bad\">NOT linearizable</span>".to_owned(),
        Verdict::Unknown { reason } => format!(
            "<span class=\"unknown\">unknown</span> ({})",
            escape(reason)
        ),
    };
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\n<style>{STYLE}</style></head>\n<body>\n<h1>{title}: {verdict}</h1>\n",
        title = escape(title)
    );
    html.push_str("<p class=\"legend\">Bars: operations from call to return (hover for details); dashed bars are indefinite and run to +&infin;; grey bars failed. \
                   Colour: partition (key). Dots joined by a line: the linearization found (for a failing partition, the longest linearizable prefix), numbered in order. <span class=\"bad\">Red</span>: the operation that cannot be placed; \
                   thick outline: the minimized illegal sub-history.</p>\n");
    // Open on the first failing partition, where the interesting part is.
    let first_failing = result
        .partitions
        .iter()
        .position(|partition| partition.verdict == Verdict::Illegal);
    html.push_str("<label>show partition <select id=\"partition\" onchange=\"filter(this.value)\"><option value=\"all\">all</option>");
    for (partition_index, partition) in result.partitions.iter().enumerate() {
        let selected = if Some(partition_index) == first_failing {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            html,
            "<option value=\"p{partition_index}\"{selected}>{} ({})</option>",
            escape(&partition.label),
            partition.verdict.name()
        );
    }
    html.push_str("</select></label>\n<div class=\"scroll\">\n");
    html.push_str(&svg);
    let _ = write!(
        html,
        "</div>\n<h2>Report</h2>\n<pre>{}</pre>\n<script>{SCRIPT}filter(document.getElementById('partition').value);</script>\n</body></html>\n",
        escape(text_report)
    );
    html
}

fn axis(svg: &mut String, times: &[u64], x: &impl Fn(u64) -> f64, height: f64) {
    let every = (times.len() / 20).max(1);
    for &time in times.iter().step_by(every) {
        let x = x(time);
        let _ = writeln!(
            svg,
            "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#ddd\"/>",
            TOP - 8.0,
            height - 20.0
        );
        let _ = writeln!(
            svg,
            "<text x=\"{x:.1}\" y=\"{:.1}\" fill=\"#666\" text-anchor=\"middle\">{time}</text>",
            TOP - 14.0
        );
    }
    let _ = writeln!(
        svg,
        "<text x=\"6\" y=\"{:.1}\" fill=\"#666\">time</text>",
        TOP - 14.0
    );
}

#[allow(clippy::too_many_arguments)]
fn bar<M: Model>(
    svg: &mut String,
    model: &M,
    operation: &Operation<M::Input, M::Output>,
    index: usize,
    role: Role,
    row: usize,
    x: &impl Fn(u64) -> f64,
    right: f64,
) {
    let y = TOP + row as f64 * LANE_HEIGHT + (LANE_HEIGHT - BAR_HEIGHT) / 2.0;
    let start = x(operation.call);
    let finish = match (&operation.outcome, operation.return_time) {
        (Outcome::Indefinite, _) | (_, None) => right - 10.0,
        (_, Some(return_time)) => x(return_time),
    };
    let width = (finish - start).max(4.0);
    let (fill, stroke, dash, stroke_width) = match (&operation.outcome, role.stuck, role.witness) {
        (_, true, _) => ("#f26b6b".to_owned(), "#b00000", "", 3.0),
        (Outcome::Failed, _, _) => (
            "#dddddd".to_owned(),
            "#999999",
            " stroke-dasharray=\"2 2\"",
            1.0,
        ),
        (Outcome::Indefinite, _, witness) => (
            color(role.partition),
            "#555555",
            " stroke-dasharray=\"5 3\" fill-opacity=\"0.45\"",
            if witness { 3.0 } else { 1.0 },
        ),
        (Outcome::Returned(_), _, witness) => (
            color(role.partition),
            "#444444",
            "",
            if witness { 3.0 } else { 1.0 },
        ),
    };
    let description = report::describe(model, std::slice::from_ref(operation), 0).replacen(
        "#0",
        &format!("#{index}"),
        1,
    );
    let mut label = model.describe_operation(operation);
    if let Some(order) = role.order {
        label = format!("{order}: {label}");
    }
    let fits = ((width - 8.0) / 6.6).max(0.0) as usize;
    let shown: String = if label.chars().count() <= fits {
        label
    } else if fits > 1 {
        format!("{}…", label.chars().take(fits - 1).collect::<String>())
    } else {
        String::new()
    };
    let _ = writeln!(
        svg,
        "<g class=\"op p{partition}\"><title>{title}</title><rect x=\"{start:.1}\" y=\"{y:.1}\" width=\"{width:.1}\" height=\"{BAR_HEIGHT}\" rx=\"3\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"{stroke_width}\"{dash}/><text x=\"{:.1}\" y=\"{:.1}\" fill=\"#111\">{}</text></g>",
        start + 6.0,
        y + 14.0,
        escape(&shown),
        partition = role.partition,
        title = escape(&description),
    );
}

/// Dots at linearization points joined in order. The earliest point consistent with the order is
/// each operation's call or the previous point, whichever is later; for a valid linearization it
/// never passes the operation's return.
fn linearization_line<I, O>(
    svg: &mut String,
    operations: &[Operation<I, O>],
    order: &[usize],
    partition: usize,
    row_of: &[usize],
    x: &impl Fn(u64) -> f64,
) {
    if order.is_empty() {
        return;
    }
    let mut point = 0u64;
    let mut previous_x = f64::MIN;
    let mut points = Vec::with_capacity(order.len());
    for &index in order {
        point = point.max(operations[index].call);
        // Several operations at one instant: nudge the dots apart so the order stays visible.
        let dot_x = x(point).max(previous_x + 3.0);
        previous_x = dot_x;
        let dot_y = TOP + row_of[index] as f64 * LANE_HEIGHT + LANE_HEIGHT / 2.0;
        points.push((dot_x, dot_y));
    }
    let path: Vec<String> = points
        .iter()
        .map(|(x, y)| format!("{x:.1},{y:.1}"))
        .collect();
    let stroke = line_color(partition);
    let _ = writeln!(
        svg,
        "<g class=\"p{partition} lin\"><polyline points=\"{}\" fill=\"none\" stroke=\"{stroke}\" stroke-width=\"1.5\" stroke-opacity=\"0.7\"/>",
        path.join(" ")
    );
    for (x, y) in points {
        let _ = writeln!(
            svg,
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3\" fill=\"{stroke}\"/>"
        );
    }
    svg.push_str("</g>\n");
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:16px;color:#111}\
h1{font-size:20px}h2{font-size:16px}.ok{color:#17803d;font-weight:bold}.bad{color:#c00000;font-weight:bold}\
.unknown{color:#b36b00;font-weight:bold}.legend{font-size:13px;color:#444;max-width:1100px}\
.scroll{overflow:auto;border:1px solid #ccc;margin-top:8px;max-height:80vh}\
pre{background:#f4f4f4;padding:8px;font-size:12px;overflow:auto}.op:hover rect{stroke:#000;stroke-width:2}";

const SCRIPT: &str = "function filter(v){document.querySelectorAll('svg .op, svg .lin').forEach(function(e){\
e.style.display=(v==='all'||e.classList.contains(v))?'':'none';});}";
