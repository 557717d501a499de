//! The self-contained HTML report of one run and the campaign index. Inline CSS, inline SVG and
//! a few lines of inline JS (a message-kind filter); no external resource and no network
//! address anywhere. Every string from the record is escaped.

use std::fmt::Write;

use crate::format::{escape, ms};
use crate::record::{IndexRow, RunRecord};
use crate::svg;

/// Operations drawn and listed in the history section at most.
const HISTORY_OPERATIONS_MAX: usize = 24;
/// Rows of the fault schedule table before eliding.
const SCHEDULE_ROWS_MAX: usize = 200;

pub fn render_html(record: &RunRecord) -> String {
    let mut html = String::new();
    let property = record
        .violation
        .as_ref()
        .map_or(String::new(), |v| format!(" {}", v.property));
    let title = format!(
        "raftsim seed {}: {}{property}",
        record.seed,
        record.verdict()
    );
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\n<style>{STYLE}</style></head>\n<body>\n",
        escape(&title)
    );
    let verdict_class = if record.violation.is_some() {
        "bad"
    } else {
        "ok"
    };
    let _ = writeln!(
        html,
        "<h1>raftsim seed {} &mdash; <span class=\"{verdict_class}\">{}</span>{}</h1>",
        record.seed,
        record.verdict(),
        escape(&property)
    );
    if !record.command.is_empty() {
        let _ = writeln!(
            html,
            "<p>Reproduce: <code>{}</code></p>",
            escape(&record.command)
        );
    }
    violation_section(&mut html, record);
    let (from, to, chosen) = svg::message_window(record);
    timeline_section(&mut html, record, (from, to));
    shards_section(&mut html, record, (from, to));
    messages_section(&mut html, record, (from, to), chosen.len());
    history_section(&mut html, record);
    servers_section(&mut html, record);
    run_section(&mut html, record);
    let _ = write!(html, "<script>{SCRIPT}</script>\n</body></html>\n");
    html
}

fn violation_section(html: &mut String, record: &RunRecord) {
    let Some(violation) = &record.violation else {
        html.push_str("<section class=\"passed\"><h2>Passed</h2><p>No oracle fired and the client history is linearizable.</p></section>\n");
        return;
    };
    let _ = writeln!(
        html,
        "<section class=\"violation\"><h2>What went wrong: {}</h2>",
        escape(&violation.property)
    );
    for sentence in &violation.explanation {
        let _ = writeln!(html, "<p>{}</p>", escape(sentence));
    }
    let nodes: Vec<String> = violation
        .nodes
        .iter()
        .map(|&n| record.node_name(n))
        .collect();
    let mut rows = vec![
        ("property", escape(&violation.property)),
        ("time", ms(violation.time_ns)),
    ];
    if !nodes.is_empty() {
        rows.push(("nodes", escape(&nodes.join(", "))));
    }
    if let Some(term) = violation.term {
        rows.push(("term", term.to_string()));
    }
    if let Some(index) = violation.index {
        rows.push(("index", index.to_string()));
    }
    rows.push(("detector said", escape(&violation.message)));
    html.push_str("<table class=\"kv\">");
    for (key, value) in rows {
        let _ = write!(html, "<tr><th>{key}</th><td>{value}</td></tr>");
    }
    html.push_str("</table></section>\n");
}

fn timeline_section(html: &mut String, record: &RunRecord, window: (u64, u64)) {
    html.push_str("<h2>Timeline of the whole run</h2>\n<p class=\"legend\">");
    for role in [
        crate::Role::Follower,
        crate::Role::PreCandidate,
        crate::Role::Candidate,
        crate::Role::Leader,
        crate::Role::Down,
    ] {
        let _ = write!(
            html,
            "<span class=\"sw\" style=\"background:{}\"></span>{} ",
            svg::role_fill(role),
            role.name()
        );
    }
    html.push_str("<span class=\"sw busy\"></span>many changes (zoom: hover) &nbsp; \
        Lanes show each server's role; <b>tN</b> is its term. Top row: network faults (partitions red, one-way cuts orange, loss/duplication gold). \
        In a lane: red strip on top = the server is cut off by a partition, blue hatching = paused, purple strip = clock rate changed. \
        Bottom: messages sent per column, the dropped part in red. Red line: the violation; dashed box: the window of the message diagram; green dashed line: every fault healed.</p>\n<div class=\"scroll\">");
    html.push_str(&svg::overview(record, window));
    html.push_str("</div>\n");
}

/// The sharded service: each replica group's servers, and the shards it served over time.
fn shards_section(html: &mut String, record: &RunRecord, window: (u64, u64)) {
    let (Some(shards), Some(drawing)) = (&record.shards, svg::shards(record, window)) else {
        return;
    };
    let names = |nodes: &[crate::NodeId]| {
        nodes
            .iter()
            .map(|&node| record.node_name(node))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let groups: Vec<String> = shards
        .groups
        .iter()
        .map(|group| format!("{} on {}", group.name, names(&group.servers)))
        .collect();
    let _ = writeln!(
        html,
        "<h2>Shards served by each group</h2>\n<p class=\"legend\">{} shards; {}; the controller's replicas on {}. \
         A lane per replica group: the shards it served (owned and installed) from one change to the next.</p>\n<div class=\"scroll\">",
        shards.shard_count,
        escape(&groups.join("; ")),
        escape(&names(&shards.controller))
    );
    html.push_str(&drawing);
    html.push_str("</div>\n");
}

fn messages_section(html: &mut String, record: &RunRecord, window: (u64, u64), shown: usize) {
    let _ = writeln!(
        html,
        "<h2>Messages from {} to {}</h2>",
        ms(window.0),
        ms(window.1)
    );
    if record.messages.is_empty() {
        html.push_str("<p>No messages were recorded for this run.</p>\n");
        return;
    }
    let _ = writeln!(
        html,
        "<p class=\"legend\">{shown} of {} messages: those sent last before the moment of interest. Each arrow runs from sender at send time to receiver at delivery time (hover for its contents). \
         Dotted with a red &#215;: dropped (at the sender when it never left). Dashed with 2&#215;: the extra copy of a duplicated message. Faint dotted: never delivered. \
         Colours: <span style=\"color:#1f5fbf\">Append</span>, <span style=\"color:#6f9ad8\">AppendResponse</span>, <span style=\"color:#a0a0a0\">Heartbeat</span>, \
         <span style=\"color:#e07b00\">Vote</span>, <span style=\"color:#c9a400\">PreVote</span>, <span style=\"color:#008b8b\">ReadIndex</span>, \
         <span style=\"color:#17803d\">client Request</span>, <span style=\"color:#0d4d24\">Reply</span>.\
         {}</p>",
        record.messages.len() as u64 + record.messages_not_kept,
        if record.messages_not_kept > 0 {
            format!(
                " ({} sends over the recorder's bound were not kept.)",
                record.messages_not_kept
            )
        } else {
            String::new()
        }
    );
    html.push_str("<label><input type=\"checkbox\" id=\"hb\" onchange=\"toggleHeartbeats(this.checked)\"> hide heartbeats</label>\n<div class=\"scroll\">");
    html.push_str(&svg::messages(record));
    html.push_str("</div>\n");
}

fn history_section(html: &mut String, record: &RunRecord) {
    html.push_str("<h2>Client history</h2>\n");
    let Some(check) = &record.check else {
        let _ = writeln!(
            html,
            "<p>{} operations; the history was not checked.</p>",
            record.operations.len()
        );
        return;
    };
    let failing: Vec<&str> = check
        .partitions
        .iter()
        .filter(|p| p.verdict == "illegal")
        .map(|p| p.label.as_str())
        .collect();
    let indefinite = record
        .operations
        .iter()
        .filter(|op| op.return_ns.is_none())
        .count();
    let _ = writeln!(
        html,
        "<p>{} operations ({indefinite} indefinite) in {} partitions; checker verdict: <b class=\"{}\">{}</b>{}.</p>",
        record.operations.len(),
        check.partitions.len(),
        if check.verdict == "ok" { "ok" } else { "bad" },
        escape(&check.verdict),
        if failing.is_empty() {
            String::new()
        } else {
            escape(&format!(" (failing: {})", failing.join(", ")))
        }
    );
    let selection = svg::history_selection(record, HISTORY_OPERATIONS_MAX);
    if selection.is_empty() {
        return;
    }
    let stuck = record.operations.iter().find(|op| op.stuck);
    if let Some(stuck) = stuck {
        let partition = &check.partitions[stuck.partition];
        let _ = writeln!(
            html,
            "<p>The checker linearized the operations numbered below (the longest linearizable prefix of {}), reaching state <code>{}</code>, and then could not place <b class=\"bad\">{}</b> by {} (red): no order of the remaining operations explains its result. Thick blue outline: a minimized set of operations that is already not linearizable. Columns are distinct call and return times in order, not to scale; hover for exact times.</p>",
            escape(&partition.label),
            escape(partition.state_after_prefix.as_deref().unwrap_or("?")),
            escape(&stuck.text),
            escape(&record.node_name(stuck.client))
        );
    } else {
        let _ = writeln!(
            html,
            "<p>The last {} operations, numbered in the checker's linearization order (per partition). Columns are distinct call and return times, not to scale.</p>",
            selection.len()
        );
    }
    html.push_str("<div class=\"scroll\">");
    html.push_str(&svg::history(record, &selection));
    html.push_str("</div>\n<table class=\"ops\"><tr><th>order</th><th>client</th><th>seq</th><th>call</th><th>return</th><th>operation</th><th></th></tr>\n");
    for &index in &selection {
        let op = &record.operations[index];
        let mark = if op.stuck {
            "<b class=\"bad\">cannot be placed</b>"
        } else if op.witness {
            "minimized witness"
        } else {
            ""
        };
        let _ = writeln!(
            html,
            "<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{mark}</td></tr>",
            if op.stuck { " class=\"stuck\"" } else { "" },
            op.order.map_or("-".to_string(), |o| o.to_string()),
            escape(&record.node_name(op.client)),
            op.seq,
            ms(op.call_ns),
            op.return_ns.map_or("&infin; (indefinite)".to_string(), ms),
            escape(&op.text)
        );
    }
    html.push_str("</table>\n");
    if !check.text.is_empty() {
        let _ = writeln!(
            html,
            "<details><summary>Checker report</summary><pre>{}</pre></details>",
            escape(&check.text)
        );
    }
}

fn servers_section(html: &mut String, record: &RunRecord) {
    if record.servers_at_end.is_empty() {
        return;
    }
    html.push_str("<h2>Servers when the run stopped</h2>\n<table class=\"ops\"><tr><th>server</th><th>role</th><th>term</th><th>commit</th><th>last index</th><th>applied</th><th>last entries (index:term)</th></tr>\n");
    for server in &record.servers_at_end {
        let tail: Vec<String> = server
            .log_tail
            .iter()
            .map(|(index, term)| format!("{index}:{term}"))
            .collect();
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            escape(&record.node_name(server.node)),
            server.role.name(),
            server.term,
            server.commit_index,
            server.last_index,
            server.applied_index,
            escape(&tail.join(" "))
        );
    }
    html.push_str("</table>\n");
}

fn run_section(html: &mut String, record: &RunRecord) {
    html.push_str("<div class=\"cols\"><div><h2>Configuration</h2>\n<table class=\"kv\">");
    for (key, value) in &record.config {
        let _ = write!(
            html,
            "<tr><th>{}</th><td>{}</td></tr>",
            escape(key),
            escape(value)
        );
    }
    let _ = write!(
        html,
        "<tr><th>seed</th><td>{}</td></tr><tr><th>trace hash</th><td>{}</td></tr></table>\n<h2>Counters</h2>\n<table class=\"kv\">",
        record.seed,
        escape(&record.trace_hash)
    );
    for (key, value) in &record.stats {
        let _ = write!(html, "<tr><th>{}</th><td>{value}</td></tr>", escape(key));
    }
    let _ = write!(
        html,
        "</table></div>\n<div><h2>Fault schedule ({})</h2>\n<table class=\"ops\"><tr><th>time</th><th>action</th></tr>",
        record.schedule.len()
    );
    for fault in record.schedule.iter().take(SCHEDULE_ROWS_MAX) {
        let _ = write!(
            html,
            "<tr><td>{}</td><td><code>{}</code></td></tr>",
            ms(fault.at_ns),
            escape(&fault.action)
        );
    }
    if record.schedule.len() > SCHEDULE_ROWS_MAX {
        let _ = write!(
            html,
            "<tr><td colspan=\"2\">... {} more</td></tr>",
            record.schedule.len() - SCHEDULE_ROWS_MAX
        );
    }
    html.push_str("</table></div></div>\n");
}

/// The campaign's index: every seed with its verdict and kind, linking to its report.
pub fn render_index(title: &str, rows: &[IndexRow]) -> String {
    let mut html = String::new();
    let failures = rows.iter().filter(|row| row.verdict != "pass").count();
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\n<style>{STYLE}</style></head>\n<body>\n<h1>{}</h1>\n<p>{} seeds, <span class=\"{}\">{failures} failing</span>.</p>\n",
        escape(title),
        escape(title),
        rows.len(),
        if failures == 0 { "ok" } else { "bad" }
    );
    html.push_str("<table class=\"ops\"><tr><th>seed</th><th>verdict</th><th>kind</th><th>summary</th><th>report</th></tr>\n");
    // Failures first, then by seed.
    let mut order: Vec<&IndexRow> = rows.iter().collect();
    order.sort_by_key(|row| (row.verdict == "pass", row.seed));
    for row in order {
        let class = if row.verdict == "pass" { "ok" } else { "bad" };
        let link = row.report.as_ref().map_or(String::new(), |path| {
            format!("<a href=\"{}\">report</a>", escape(&relative_link(path)))
        });
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td class=\"{class}\">{}</td><td>{}</td><td>{}</td><td>{link}</td></tr>",
            row.seed,
            escape(&row.verdict),
            escape(&row.kind),
            escape(&row.summary)
        );
    }
    html.push_str("</table>\n</body></html>\n");
    html
}

/// Only relative paths are linked: a scheme (`javascript:`, `https:`) is neutralised.
fn relative_link(path: &str) -> String {
    if path.contains(':') {
        format!("./{}", path.replace(':', "%3A"))
    } else {
        path.to_string()
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:16px;color:#111;font-size:14px}\
h1{font-size:22px;margin:4px 0 8px}h2{font-size:17px;margin:18px 0 6px}\
.ok{color:#17803d;font-weight:bold}.bad{color:#c00000;font-weight:bold}\
.legend{font-size:12.5px;color:#444;max-width:1360px;line-height:1.5}\
.sw{display:inline-block;width:14px;height:10px;margin:0 3px 0 6px;border:1px solid #999;vertical-align:middle}\
.sw.busy{background:repeating-linear-gradient(45deg,#f5a24b 0 2px,#3fa55b 2px 4px)}\
.scroll{overflow:auto;border:1px solid #ccc;max-width:100%}\
section.violation{border:2px solid #c00000;background:#fff3f3;padding:4px 14px 10px;max-width:1330px}\
section.passed{border:2px solid #17803d;background:#f1fbf4;padding:4px 14px;max-width:1330px}\
section p{font-size:15px;margin:6px 0}\
table{border-collapse:collapse;font-size:12.5px;margin:4px 0}th,td{border:1px solid #ddd;padding:2px 8px;text-align:left;vertical-align:top}\
th{background:#f4f4f4}table.kv th{font-weight:normal;color:#444}tr.stuck td{background:#ffe0e0}\
.cols{display:flex;gap:32px;flex-wrap:wrap}\
code{font-size:12.5px}pre{background:#f4f4f4;padding:8px;font-size:12px;overflow:auto;max-height:400px}\
svg text{font-family:ui-monospace,monospace;font-size:11px;fill:#333}\
svg text.lane{font-size:12px;font-weight:bold}svg text.term{font-size:10.5px}svg text.band{font-size:10.5px;fill:#fff}\
svg text.tick{fill:#777}svg text.mark{font-size:12px;font-weight:bold}svg text.bad{fill:#c00000}svg text.ok{fill:#17803d}\
svg text.dup{fill:#7a2d9b;font-weight:bold}svg text.op{fill:#111}\
.msg:hover line{stroke-width:3}.op:hover rect{stroke:#000}";

const SCRIPT: &str = "function toggleHeartbeats(hide){document.querySelectorAll('svg .k-Heartbeat, svg .k-HeartbeatResponse')\
.forEach(function(e){e.style.display=hide?'none':'';});}";
