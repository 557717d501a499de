//! The drawings of a report, as inline SVG (no namespace URL: HTML5 needs none, and the page
//! must not name any network address). Every string from the record goes through `escape`.
//!
//! - `overview`: the whole run, one lane per server (role colour, term), fault bands, message
//!   volume per column, the violation and the zoomed window marked. Aggregated per pixel, so its
//!   size does not grow with the number of events.
//! - `shards`: the sharded service's groups, one lane each, with the shards it served over time.
//! - `messages`: the window around the violation, every message an arrow between lanes.
//! - `history`: the failing partition's operations near the failing one, as bars.

use std::fmt::Write;

use crate::format::{escape, ms};
use crate::record::{FaultKind, Message, MessageFate, NodeId, Role, RunRecord};
use crate::roles::{Segment, role_segments};

pub const WIDTH: f64 = 1300.0;
const LEFT: f64 = 64.0;
const RIGHT_PAD: f64 = 16.0;
const LANE: f64 = 34.0;
/// Role segments narrower than this are merged into one "busy" segment.
const SEGMENT_PX_MIN: f64 = 2.0;
/// Width of one column of the message-volume histogram.
const VOLUME_PX: f64 = 4.0;
/// Messages drawn in the window at most.
pub const WINDOW_MESSAGES_MAX: usize = 120;

/// Maps virtual time in `[from, to]` onto `[LEFT, WIDTH - RIGHT_PAD]`.
#[derive(Clone, Copy)]
struct Scale {
    from: u64,
    to: u64,
}

impl Scale {
    fn x(self, time_ns: u64) -> f64 {
        let span = (self.to - self.from).max(1) as f64;
        let clamped = time_ns.clamp(self.from, self.to);
        LEFT + (clamped - self.from) as f64 / span * (WIDTH - LEFT - RIGHT_PAD)
    }

    fn ns_per_px(self) -> f64 {
        (self.to - self.from).max(1) as f64 / (WIDTH - LEFT - RIGHT_PAD)
    }
}

pub fn role_fill(role: Role) -> &'static str {
    match role {
        Role::Follower => "#dfe6ee",
        Role::PreCandidate => "#f7e08a",
        Role::Candidate => "#f5a24b",
        Role::Leader => "#3fa55b",
        Role::Down => "#333333",
    }
}

fn fault_fill(kind: FaultKind) -> &'static str {
    match kind {
        FaultKind::Partition => "#d9534f",
        FaultKind::Cut => "#e07b39",
        FaultKind::Crash => "#333333",
        FaultKind::Pause => "#4a7bd0",
        FaultKind::Clock => "#9b59b6",
        FaultKind::LinkLoss => "#b8860b",
        FaultKind::Admin => "#2e8b57",
    }
}

/// Ticks at 1, 2 or 5 times a power of ten, about ten over the span.
fn axis(svg: &mut String, scale: Scale, top: f64, bottom: f64) {
    let span = (scale.to - scale.from).max(1);
    let mut step = 1u64;
    while span / step > 12 {
        step = match step.to_string().as_bytes()[0] {
            b'1' => step * 2,
            b'2' => step / 2 * 5,
            _ => step * 2,
        };
    }
    let first = scale.from.div_ceil(step) * step;
    let mut tick = first;
    while tick <= scale.to {
        let x = scale.x(tick);
        let _ = writeln!(
            svg,
            "<line x1=\"{x:.1}\" y1=\"{top:.1}\" x2=\"{x:.1}\" y2=\"{bottom:.1}\" stroke=\"#e4e4e4\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" class=\"tick\" text-anchor=\"middle\">{}</text>",
            top - 4.0,
            tick_label(tick, step)
        );
        tick += step;
    }
}

fn tick_label(time_ns: u64, step: u64) -> String {
    if step >= 1_000_000_000 {
        format!("{}s", time_ns / 1_000_000_000)
    } else if step >= 1_000_000 {
        format!("{}ms", time_ns / 1_000_000)
    } else {
        format!("{:.3}ms", time_ns as f64 / 1e6)
    }
}

fn svg_open(svg: &mut String, height: f64, class: &str) {
    let _ = writeln!(
        svg,
        "<svg class=\"{class}\" width=\"{WIDTH:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {WIDTH:.0} {height:.0}\">"
    );
}

fn lane_label(svg: &mut String, y: f64, text: &str, height: f64) {
    let _ = writeln!(
        svg,
        "<text x=\"6\" y=\"{:.1}\" class=\"lane\">{}</text>",
        y + height / 2.0 + 4.0,
        escape(text)
    );
}

/// Role segments of one lane, merging those under `SEGMENT_PX_MIN` into hatched "busy" spans.
fn role_lane(svg: &mut String, segments: &[Segment], scale: Scale, y: f64, height: f64) {
    let mut busy: Option<(u64, u64, usize)> = None;
    let flush = |svg: &mut String, busy: &mut Option<(u64, u64, usize)>| {
        if let Some((start, end, count)) = busy.take() {
            let (x0, x1) = (scale.x(start), scale.x(end));
            let _ = writeln!(
                svg,
                "<rect x=\"{x0:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{height:.1}\" fill=\"url(#busy)\"><title>{count} role changes from {} to {}</title></rect>",
                (x1 - x0).max(SEGMENT_PX_MIN),
                ms(start),
                ms(end)
            );
        }
    };
    for segment in segments
        .iter()
        .filter(|s| s.end_ns >= scale.from && s.start_ns <= scale.to)
    {
        let (x0, x1) = (scale.x(segment.start_ns), scale.x(segment.end_ns));
        if x1 - x0 < SEGMENT_PX_MIN {
            busy = Some(match busy {
                Some((start, _, count)) => (start, segment.end_ns, count + 1),
                None => (segment.start_ns, segment.end_ns, 1),
            });
            continue;
        }
        flush(svg, &mut busy);
        let title = format!(
            "{} term {} from {} to {}",
            segment.role.name(),
            segment.term,
            ms(segment.start_ns),
            ms(segment.end_ns)
        );
        let _ = write!(
            svg,
            "<rect x=\"{x0:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{height:.1}\" fill=\"{}\"><title>{}</title></rect>",
            x1 - x0,
            role_fill(segment.role),
            escape(&title)
        );
        let label = format!("t{}", segment.term);
        if x1 - x0 > 7.0 * label.len() as f64 + 6.0 && segment.role != Role::Down {
            let color = if segment.role == Role::Leader {
                "#fff"
            } else {
                "#333"
            };
            let _ = write!(
                svg,
                "<text x=\"{:.1}\" y=\"{:.1}\" class=\"term\" fill=\"{color}\">{label}</text>",
                x0 + 3.0,
                y + height / 2.0 + 4.0
            );
        }
        svg.push('\n');
    }
    flush(svg, &mut busy);
}

const DEFS: &str = "<defs><pattern id=\"busy\" width=\"4\" height=\"4\" patternUnits=\"userSpaceOnUse\">\
<rect width=\"4\" height=\"4\" fill=\"#f5a24b\"/><path d=\"M0,4 L4,0\" stroke=\"#3fa55b\" stroke-width=\"1.5\"/></pattern>\
<pattern id=\"paused\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\"><path d=\"M0,6 L6,0\" stroke=\"#4a7bd0\" stroke-width=\"2\"/></pattern>\
<marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\">\
<path d=\"M0,0 L10,5 L0,10 z\" fill=\"context-stroke\"/></marker></defs>\n";

/// Network-wide faults (partitions, cuts, link loss) stacked in rows above the lanes.
fn network_rows(record: &RunRecord) -> Vec<Vec<usize>> {
    let mut rows: Vec<Vec<usize>> = Vec::new();
    let mut row_ends: Vec<u64> = Vec::new();
    for (index, band) in record.faults.iter().enumerate() {
        if !matches!(
            band.kind,
            FaultKind::Partition | FaultKind::Cut | FaultKind::LinkLoss
        ) {
            continue;
        }
        match row_ends.iter().position(|&end| end <= band.start_ns) {
            Some(row) => {
                rows[row].push(index);
                row_ends[row] = band.end_ns;
            }
            None => {
                rows.push(vec![index]);
                row_ends.push(band.end_ns);
            }
        }
    }
    rows
}

fn band_rect(svg: &mut String, scale: Scale, band: &crate::record::FaultBand, y: f64, h: f64) {
    let (x0, x1) = (scale.x(band.start_ns), scale.x(band.end_ns));
    let width = (x1 - x0).max(2.0);
    let title = format!(
        "{} from {} to {}",
        band.label,
        ms(band.start_ns),
        ms(band.end_ns)
    );
    let _ = write!(
        svg,
        "<g><title>{}</title><rect x=\"{x0:.1}\" y=\"{y:.1}\" width=\"{width:.1}\" height=\"{h:.1}\" fill=\"{}\" fill-opacity=\"0.75\" rx=\"2\"/>",
        escape(&title),
        fault_fill(band.kind)
    );
    let fits = ((width - 6.0) / 6.5).max(0.0) as usize;
    let label: String = band.label.chars().take(fits).collect();
    if !label.is_empty() {
        span_label(svg, (x0 + 3.0, y), h, "band", &label);
    }
    svg.push_str("</g>\n");
}

/// Per-node overlays inside a lane: pause hatching, clock-rate strip, partition side.
fn node_overlays(svg: &mut String, record: &RunRecord, node: NodeId, scale: Scale, y: f64) {
    for band in record.faults.iter().filter(|b| b.nodes.contains(&node)) {
        let (x0, x1) = (scale.x(band.start_ns), scale.x(band.end_ns));
        if x1 <= LEFT && x0 <= LEFT && band.end_ns < scale.from {
            continue;
        }
        let width = (x1 - x0).max(1.5);
        let title = escape(&format!(
            "{} from {} to {}",
            band.label,
            ms(band.start_ns),
            ms(band.end_ns)
        ));
        let (dy, h, fill) = match band.kind {
            FaultKind::Pause => (0.0, LANE - 6.0, "url(#paused)".to_string()),
            FaultKind::Clock => (LANE - 11.0, 5.0, fault_fill(band.kind).to_string()),
            FaultKind::Partition => {
                // The first group listed is the side this node is on when it is in `nodes`.
                (0.0, 4.0, fault_fill(band.kind).to_string())
            }
            FaultKind::Cut => (4.0, 3.0, fault_fill(band.kind).to_string()),
            FaultKind::Admin => (LANE - 16.0, 5.0, fault_fill(band.kind).to_string()),
            FaultKind::Crash | FaultKind::LinkLoss => continue,
        };
        let _ = writeln!(
            svg,
            "<rect x=\"{x0:.1}\" y=\"{:.1}\" width=\"{width:.1}\" height=\"{h:.1}\" fill=\"{fill}\"><title>{title}</title></rect>",
            y + dy
        );
    }
}

/// The whole run. `window` is the zoomed range to outline.
pub fn overview(record: &RunRecord, window: (u64, u64)) -> String {
    let scale = Scale {
        from: 0,
        to: record.end_ns.max(1),
    };
    let rows = network_rows(record);
    let top = 24.0;
    let net_height = 18.0;
    let lanes_top = top + rows.len().max(1) as f64 * (net_height + 2.0) + 6.0;
    let volume_top = lanes_top + record.servers as f64 * LANE + 6.0;
    let volume_height = 40.0;
    let height = volume_top + volume_height + 24.0;
    let mut svg = String::new();
    svg_open(&mut svg, height, "overview");
    svg.push_str(DEFS);
    axis(&mut svg, scale, top, height - 20.0);
    lane_label(&mut svg, top, "network", net_height);
    for (row, bands) in rows.iter().enumerate() {
        let y = top + row as f64 * (net_height + 2.0);
        for &index in bands {
            band_rect(&mut svg, scale, &record.faults[index], y, net_height);
        }
    }
    for node in 0..record.servers {
        let y = lanes_top + node as f64 * LANE;
        lane_label(&mut svg, y, &record.lane_name(node), LANE - 6.0);
        role_lane(&mut svg, &role_segments(record, node), scale, y, LANE - 6.0);
        node_overlays(&mut svg, record, node, scale, y);
    }
    lane_label(&mut svg, volume_top, "msgs", volume_height);
    volume(&mut svg, record, scale, volume_top, volume_height);
    markers(&mut svg, record, scale, top, height - 20.0, Some(window));
    svg.push_str("</svg>\n");
    svg
}

/// One lane per replica group of the sharded service: which shards it served, from one change
/// to the next. Spans narrower than `SEGMENT_PX_MIN` are merged into hatched "busy" spans, so the
/// drawing stays bounded whatever the number of changes.
pub fn shards(record: &RunRecord, window: (u64, u64)) -> Option<String> {
    let shards = record.shards.as_ref()?;
    let scale = Scale {
        from: 0,
        to: record.end_ns.max(1),
    };
    let top = 24.0;
    let height = top + shards.groups.len() as f64 * LANE + 24.0;
    let mut svg = String::new();
    svg_open(&mut svg, height, "shards");
    svg.push_str(DEFS);
    axis(&mut svg, scale, top, height - 20.0);
    for (index, group) in shards.groups.iter().enumerate() {
        let y = top + index as f64 * LANE;
        lane_label(&mut svg, y, &group.name, LANE - 6.0);
        let mut changes = shards
            .serving
            .iter()
            .filter(|s| s.group == index)
            .peekable();
        let mut current: (u64, &[usize]) = (0, &[]);
        let mut busy: Option<(u64, u64)> = None;
        loop {
            let next = changes.peek().map(|s| s.time_ns);
            let end = next.unwrap_or(scale.to);
            let (start, served) = current;
            if scale.x(end) - scale.x(start) < SEGMENT_PX_MIN && next.is_some() {
                busy = Some((busy.map_or(start, |(from, _)| from), end));
            } else {
                if let Some((from, to)) = busy.take() {
                    shard_span(&mut svg, scale, (from, to), None, y);
                }
                shard_span(&mut svg, scale, (start, end), Some(served), y);
            }
            let Some(change) = changes.next() else { break };
            current = (change.time_ns, &change.shards);
        }
    }
    markers(&mut svg, record, scale, top, height - 20.0, Some(window));
    svg.push_str("</svg>\n");
    Some(svg)
}

/// One span of a group's lane: the shards it served then (`None`: several changes, merged).
fn shard_span(
    svg: &mut String,
    scale: Scale,
    (from, to): (u64, u64),
    served: Option<&[usize]>,
    y: f64,
) {
    let (x0, x1) = (scale.x(from), scale.x(to));
    let width = (x1 - x0).max(SEGMENT_PX_MIN);
    let height = LANE - 6.0;
    let Some(served) = served else {
        let _ = writeln!(
            svg,
            "<rect x=\"{x0:.1}\" y=\"{y:.1}\" width=\"{width:.1}\" height=\"{height:.1}\" fill=\"url(#busy)\"><title>several changes from {} to {}</title></rect>",
            ms(from),
            ms(to)
        );
        return;
    };
    let list: Vec<String> = served.iter().map(usize::to_string).collect();
    let text = if list.is_empty() {
        "none".to_string()
    } else {
        list.join(",")
    };
    let fill = if served.is_empty() {
        "#f4f4f4"
    } else {
        "#cfe8d5"
    };
    let _ = writeln!(
        svg,
        "<rect x=\"{x0:.1}\" y=\"{y:.1}\" width=\"{width:.1}\" height=\"{height:.1}\" fill=\"{fill}\" stroke=\"#fff\"><title>shards {} from {} to {}</title></rect>",
        escape(&text),
        ms(from),
        ms(to)
    );
    // About 6 px per character.
    if width > 6.0 * text.len() as f64 + 8.0 {
        span_label(svg, (x0 + 4.0, y), height, "term", &text);
    }
}

/// `text` from `x`, centred in the lane of `height` at `y`.
fn span_label(svg: &mut String, (x, y): (f64, f64), height: f64, class: &str, text: &str) {
    let _ = write!(
        svg,
        "<text x=\"{x:.1}\" y=\"{:.1}\" class=\"{class}\">{}</text>",
        y + height / 2.0 + 4.0,
        escape(text)
    );
}

/// Messages sent per column, dropped ones in red on top.
fn volume(svg: &mut String, record: &RunRecord, scale: Scale, top: f64, height: f64) {
    let columns = ((WIDTH - LEFT - RIGHT_PAD) / VOLUME_PX) as usize;
    let column_ns = (scale.ns_per_px() * VOLUME_PX).max(1.0);
    let mut sent = vec![0u32; columns];
    let mut dropped = vec![0u32; columns];
    for message in &record.messages {
        let column = (((message.sent_ns - scale.from.min(message.sent_ns)) as f64 / column_ns)
            as usize)
            .min(columns - 1);
        sent[column] += 1;
        if matches!(message.fate, MessageFate::Dropped { .. }) {
            dropped[column] += 1;
        }
    }
    let peak = sent.iter().copied().max().unwrap_or(0).max(1) as f64;
    for column in 0..columns {
        if sent[column] == 0 {
            continue;
        }
        let x = LEFT + column as f64 * VOLUME_PX;
        let h = sent[column] as f64 / peak * height;
        let hd = dropped[column] as f64 / peak * height;
        let _ = writeln!(
            svg,
            "<g><title>{} sent, {} dropped</title><rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"#9bb3cc\"/><rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{hd:.1}\" fill=\"#d9534f\"/></g>",
            sent[column],
            dropped[column],
            top + height - h,
            VOLUME_PX - 0.5,
            top + height - hd,
            VOLUME_PX - 0.5
        );
    }
}

/// The violation, the healing point and (in the overview) the zoomed window.
fn markers(
    svg: &mut String,
    record: &RunRecord,
    scale: Scale,
    top: f64,
    bottom: f64,
    window: Option<(u64, u64)>,
) {
    if let Some((from, to)) = window {
        let (x0, x1) = (scale.x(from), scale.x(to));
        let _ = writeln!(
            svg,
            "<rect x=\"{:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"none\" stroke=\"#1f5fbf\" stroke-width=\"2\" stroke-dasharray=\"4 2\"><title>window of the message diagram</title></rect>",
            x0 - 2.0,
            (x1 - x0 + 4.0).max(4.0),
            bottom - top
        );
    }
    if record.safety_end_ns > scale.from && record.safety_end_ns < scale.to {
        let x = scale.x(record.safety_end_ns);
        let _ = writeln!(
            svg,
            "<line x1=\"{x:.1}\" y1=\"{top:.1}\" x2=\"{x:.1}\" y2=\"{bottom:.1}\" stroke=\"#17803d\" stroke-dasharray=\"6 3\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" class=\"mark ok\">faults healed</text>",
            x + 3.0,
            bottom + 12.0
        );
    }
    if let Some(violation) = &record.violation {
        let time = record.focus_ns();
        if time >= scale.from && time <= scale.to {
            let x = scale.x(time);
            let anchor = if x > WIDTH - 200.0 { "end" } else { "start" };
            let _ = writeln!(
                svg,
                "<line x1=\"{x:.1}\" y1=\"{top:.1}\" x2=\"{x:.1}\" y2=\"{bottom:.1}\" stroke=\"#c00000\" stroke-width=\"2\"/>\
                 <text x=\"{x:.1}\" y=\"{:.1}\" class=\"mark bad\" text-anchor=\"{anchor}\">{} {}</text>",
                bottom + 12.0,
                escape(&violation.property),
                ms(time)
            );
        }
    }
}

/// The messages to draw and the window they span: those sent nearest before the focus (and a
/// few after), at most `WINDOW_MESSAGES_MAX`.
pub fn message_window(record: &RunRecord) -> (u64, u64, &[Message]) {
    let focus = record.focus_ns();
    let messages = &record.messages;
    let after = messages.partition_point(|m| m.sent_ns <= focus);
    let end = (after + WINDOW_MESSAGES_MAX / 8).min(messages.len());
    let start = end.saturating_sub(WINDOW_MESSAGES_MAX);
    let chosen = &messages[start..end];
    let from = chosen.first().map_or(focus, |m| m.sent_ns).min(focus);
    let last = chosen
        .iter()
        .map(|m| m.end_ns().unwrap_or(m.sent_ns))
        .max()
        .unwrap_or(focus);
    let to = last.max(focus).max(from + 1_000_000);
    (from, to.min(record.end_ns.max(from + 1)), chosen)
}

fn kind_color(kind: &str) -> &'static str {
    match kind {
        "Append" => "#1f5fbf",
        "AppendResponse" => "#6f9ad8",
        "Heartbeat" | "HeartbeatResponse" => "#a0a0a0",
        "Vote" | "VoteResponse" => "#e07b00",
        "PreVote" | "PreVoteResponse" => "#c9a400",
        "Snapshot" => "#8b4513",
        "TimeoutNow" => "#9b59b6",
        "ReadIndex" | "ReadIndexResponse" => "#008b8b",
        "Request" => "#17803d",
        "Reply" => "#0d4d24",
        _ => "#555555",
    }
}

/// Lanes of the message diagram: servers, then the clients that sent or received in the window.
fn window_lanes(record: &RunRecord, messages: &[Message]) -> Vec<NodeId> {
    let mut lanes: Vec<NodeId> = (0..record.servers).collect();
    let mut clients: Vec<NodeId> = messages
        .iter()
        .flat_map(|m| [m.from, m.to])
        .filter(|&n| n >= record.servers)
        .collect();
    clients.sort_unstable();
    clients.dedup();
    lanes.extend(clients);
    lanes
}

pub fn messages(record: &RunRecord) -> String {
    let (from, to, chosen) = message_window(record);
    let scale = Scale { from, to };
    let lanes = window_lanes(record, chosen);
    let lane = 44.0;
    let top = 24.0;
    let height = top + lanes.len() as f64 * lane + 28.0;
    let y_of = |node: NodeId| {
        let row = lanes.iter().position(|&n| n == node).unwrap_or(0);
        top + row as f64 * lane + lane / 2.0
    };
    let mut svg = String::new();
    svg_open(&mut svg, height, "messages");
    svg.push_str(DEFS);
    axis(&mut svg, scale, top, height - 20.0);
    for (row, &node) in lanes.iter().enumerate() {
        let y = top + row as f64 * lane;
        lane_label(&mut svg, y, &record.node_name(node), lane);
        if node < record.servers {
            let segments = role_segments(record, node);
            role_lane(&mut svg, &segments, scale, y + lane / 2.0 - 5.0, 10.0);
            node_overlays(&mut svg, record, node, scale, y + 4.0);
        } else {
            let _ = writeln!(
                svg,
                "<line x1=\"{LEFT}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#ccc\"/>",
                y + lane / 2.0,
                WIDTH - RIGHT_PAD,
                y + lane / 2.0
            );
        }
    }
    for message in chosen {
        arrow(
            &mut svg,
            record,
            message,
            scale,
            y_of(message.from),
            y_of(message.to),
        );
    }
    markers(&mut svg, record, scale, top, height - 20.0, None);
    svg.push_str("</svg>\n");
    svg
}

fn arrow(svg: &mut String, record: &RunRecord, message: &Message, scale: Scale, y0: f64, y1: f64) {
    let x0 = scale.x(message.sent_ns);
    let color = kind_color(&message.kind);
    let (x1, y_end, dropped) = match message.fate {
        MessageFate::Delivered { at_ns } => (scale.x(at_ns), y1, false),
        MessageFate::Dropped { at_ns } => {
            let x = scale.x(at_ns);
            if at_ns == message.sent_ns {
                // Lost at the sender: a short stub towards the receiver.
                (x + 10.0, y0 + (y1 - y0).signum() * 12.0, true)
            } else {
                (x, y0 + (y1 - y0) * 0.85, true)
            }
        }
        MessageFate::InFlight => (WIDTH - RIGHT_PAD, y0 + (y1 - y0) * 0.5, false),
    };
    let fate = match (message.fate, &message.drop_reason) {
        (MessageFate::Delivered { at_ns }, _) => format!("delivered at {}", ms(at_ns)),
        (MessageFate::Dropped { at_ns }, reason) => format!(
            "DROPPED at {} ({})",
            ms(at_ns),
            reason.as_deref().unwrap_or("dropped")
        ),
        (MessageFate::InFlight, _) => "never delivered".to_string(),
    };
    let title = format!(
        "{} {} -> {}{}: {} | sent {} | {fate}",
        message.kind,
        record.node_name(message.from),
        record.node_name(message.to),
        if message.duplicate {
            " (duplicate copy)"
        } else {
            ""
        },
        message.detail,
        ms(message.sent_ns)
    );
    let dash = if message.duplicate {
        " stroke-dasharray=\"5 2\""
    } else if dropped {
        " stroke-dasharray=\"2 2\""
    } else if matches!(message.fate, MessageFate::InFlight) {
        " stroke-dasharray=\"1 3\""
    } else {
        ""
    };
    let marker = if dropped {
        ""
    } else {
        " marker-end=\"url(#arrow)\""
    };
    let width = if message.kind.starts_with("Heartbeat") {
        1.0
    } else {
        1.6
    };
    let _ = write!(
        svg,
        "<g class=\"msg k-{}\"><title>{}</title><line x1=\"{x0:.1}\" y1=\"{y0:.1}\" x2=\"{x1:.1}\" y2=\"{y_end:.1}\" stroke=\"{color}\" stroke-width=\"{width}\"{dash}{marker}/>",
        escape(&message.kind),
        escape(&title)
    );
    if dropped {
        let _ = write!(
            svg,
            "<path d=\"M{:.1},{:.1} l8,8 m0,-8 l-8,8\" stroke=\"#c00000\" stroke-width=\"2\"/>",
            x1 - 4.0,
            y_end - 4.0
        );
    }
    if message.duplicate {
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" class=\"dup\">2&#215;</text>",
            x1 + 3.0,
            y_end - 3.0
        );
    }
    svg.push_str("</g>\n");
}

/// Operations to show: around the failing one in its partition, or the last ones.
pub fn history_selection(record: &RunRecord, max: usize) -> Vec<usize> {
    let operations = &record.operations;
    let Some(stuck) = operations.iter().position(|op| op.stuck) else {
        let start = operations.len().saturating_sub(max);
        return (start..operations.len()).collect();
    };
    let partition = operations[stuck].partition;
    let same: Vec<usize> = (0..operations.len())
        .filter(|&i| operations[i].partition == partition)
        .collect();
    // The failing operation and its neighbours in call order within its partition.
    let at = same.iter().position(|&i| i == stuck).unwrap_or(0);
    let before = (max * 3 / 4).min(at);
    let start = at - before;
    let mut chosen: Vec<usize> = same[start..(start + max).min(same.len())].to_vec();
    chosen.sort_unstable();
    chosen
}

/// Bars by client, columns by rank of distinct times (idle gaps do not squeeze the picture).
pub fn history(record: &RunRecord, selection: &[usize]) -> String {
    let operations = &record.operations;
    let mut times: Vec<u64> = selection
        .iter()
        .flat_map(|&i| [Some(operations[i].call_ns), operations[i].return_ns])
        .flatten()
        .collect();
    times.sort_unstable();
    times.dedup();
    let column = |t: u64| times.partition_point(|&other| other < t);
    let step = ((WIDTH - LEFT - 80.0) / times.len().max(1) as f64).clamp(14.0, 90.0);
    let right = LEFT + times.len() as f64 * step + 60.0;
    let x = |t: u64| LEFT + column(t) as f64 * step;
    let mut clients: Vec<NodeId> = selection.iter().map(|&i| operations[i].client).collect();
    clients.sort_unstable();
    clients.dedup();
    let row_height = 30.0;
    let top = 24.0;
    let height = top + clients.len() as f64 * row_height * 2.0 + 10.0;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        "<svg class=\"history\" width=\"{:.0}\" height=\"{height:.0}\">",
        right.max(400.0)
    );
    // Per client two sub-rows, so an operation overlapping the previous one (a retry after a
    // restart) still shows.
    let mut row_end: Vec<[u64; 2]> = vec![[0, 0]; clients.len()];
    for (row, client) in clients.iter().enumerate() {
        let y = top + row as f64 * row_height * 2.0;
        let fill = if row % 2 == 0 { "#f6f6f6" } else { "#fff" };
        let _ = writeln!(
            svg,
            "<rect x=\"0\" y=\"{y:.1}\" width=\"{:.0}\" height=\"{:.1}\" fill=\"{fill}\"/><text x=\"6\" y=\"{:.1}\" class=\"lane\">{}</text>",
            right.max(400.0),
            row_height * 2.0,
            y + row_height,
            escape(&record.node_name(*client))
        );
    }
    for &index in selection {
        let op = &operations[index];
        let row = clients.iter().position(|&c| c == op.client).unwrap_or(0);
        let end = op.return_ns.unwrap_or(u64::MAX);
        let sub = usize::from(row_end[row][0] > op.call_ns);
        row_end[row][sub] = end;
        let y = top + row as f64 * row_height * 2.0 + sub as f64 * row_height + 5.0;
        let x0 = x(op.call_ns);
        let x1 = op.return_ns.map_or(right - 10.0, &x).max(x0 + 6.0);
        let (fill, stroke, stroke_width) = if op.stuck {
            ("#f26b6b", "#b00000", 3.0)
        } else if op.witness {
            ("#cfe0f5", "#1f3f7f", 3.0)
        } else {
            ("#e4ecf5", "#777", 1.0)
        };
        let dash = if op.return_ns.is_none() {
            " stroke-dasharray=\"5 3\""
        } else {
            ""
        };
        let mut label = op.text.clone();
        if let Some(order) = op.order {
            label = format!("{order}: {label}");
        }
        let fits = ((x1 - x0 - 6.0) / 6.6).max(0.0) as usize;
        let shown: String = if label.chars().count() <= fits {
            label.clone()
        } else if fits > 1 {
            format!("{}…", label.chars().take(fits - 1).collect::<String>())
        } else {
            String::new()
        };
        let title = format!(
            "{} seq {}: {} | call {} | return {}{}{}",
            record.node_name(op.client),
            op.seq,
            label,
            ms(op.call_ns),
            op.return_ns.map_or("never (indefinite)".to_string(), ms),
            if op.stuck { " | CANNOT BE PLACED" } else { "" },
            if op.witness {
                " | in the minimized illegal sub-history"
            } else {
                ""
            }
        );
        let _ = writeln!(
            svg,
            "<g class=\"op\"><title>{}</title><rect x=\"{x0:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"3\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"{stroke_width}\"{dash}/><text x=\"{:.1}\" y=\"{:.1}\" class=\"op\">{}</text></g>",
            escape(&title),
            x1 - x0,
            row_height - 10.0,
            x0 + 4.0,
            y + 14.0,
            escape(&shown)
        );
    }
    svg.push_str("</svg>\n");
    svg
}
