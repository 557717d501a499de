//! Rendering a recorded run: escaping, self-containment, bounded size, and the terminal timeline
//! as a golden. Records are built by hand so the tests do not depend on the simulator.

use expect_test::expect;
use reports::{
    CheckRecord, FaultBand, FaultKind, GroupRecord, IndexRow, Message, MessageFate, Operation,
    PartitionSummary, Role, RoleChange, RunRecord, ScheduledFault, ServerState, ShardRecord,
    ShardServing, ViolationRecord, render_html, render_index, render_timeline,
};

const MS: u64 = 1_000_000;

/// A 3-server, 1-client run of 1 s: an election, a partition, a crash and a failed read.
fn small_record() -> RunRecord {
    let roles = vec![
        RoleChange {
            time_ns: 150 * MS,
            node: 1,
            role: Role::Candidate,
            term: 1,
        },
        RoleChange {
            time_ns: 155 * MS,
            node: 1,
            role: Role::Leader,
            term: 1,
        },
        RoleChange {
            time_ns: 157 * MS,
            node: 0,
            role: Role::Follower,
            term: 1,
        },
        RoleChange {
            time_ns: 158 * MS,
            node: 2,
            role: Role::Follower,
            term: 1,
        },
        RoleChange {
            time_ns: 600 * MS,
            node: 2,
            role: Role::Down,
            term: 1,
        },
        RoleChange {
            time_ns: 700 * MS,
            node: 2,
            role: Role::Follower,
            term: 1,
        },
    ];
    let message = |from, to, sent, kind: &str, fate| Message {
        from,
        to,
        sent_ns: sent,
        kind: kind.to_string(),
        detail: "term=1".to_string(),
        duplicate: false,
        fate,
        drop_reason: None,
    };
    let messages = vec![
        message(
            1,
            0,
            150 * MS,
            "Vote",
            MessageFate::Delivered { at_ns: 152 * MS },
        ),
        message(
            0,
            1,
            152 * MS,
            "VoteResponse",
            MessageFate::Delivered { at_ns: 155 * MS },
        ),
        message(
            1,
            2,
            400 * MS,
            "Append",
            MessageFate::Dropped { at_ns: 400 * MS },
        ),
        message(
            3,
            1,
            800 * MS,
            "Request",
            MessageFate::Delivered { at_ns: 803 * MS },
        ),
        message(
            1,
            3,
            810 * MS,
            "Reply",
            MessageFate::Delivered { at_ns: 815 * MS },
        ),
    ];
    let operation = |seq, text: &str, call, ret, order, stuck| Operation {
        client: 3,
        seq,
        text: text.to_string(),
        call_ns: call,
        return_ns: ret,
        partition: 0,
        order,
        stuck,
        witness: true,
    };
    RunRecord {
        seed: 7,
        command: "raftsim run --seed 7 --nodes 3 --clients 1 --duration-ms 900".to_string(),
        config: vec![
            ("servers".into(), "3".into()),
            ("clients".into(), "1".into()),
        ],
        servers: 3,
        clients: 1,
        names: ["n1", "n2", "n3", "c1"].map(String::from).to_vec(),
        safety_end_ns: 900 * MS,
        end_ns: 1_000 * MS,
        schedule: vec![
            ScheduledFault {
                at_ns: 300 * MS,
                action: "partition {n3} | {n1,n2}".into(),
            },
            ScheduledFault {
                at_ns: 500 * MS,
                action: "heal".into(),
            },
            ScheduledFault {
                at_ns: 600 * MS,
                action: "crash n3".into(),
            },
            ScheduledFault {
                at_ns: 700 * MS,
                action: "restart n3".into(),
            },
        ],
        faults: vec![
            FaultBand {
                kind: FaultKind::Partition,
                start_ns: 300 * MS,
                end_ns: 500 * MS,
                nodes: vec![2],
                label: "partition {n3} | {n1,n2}".into(),
            },
            FaultBand {
                kind: FaultKind::Crash,
                start_ns: 600 * MS,
                end_ns: 700 * MS,
                nodes: vec![2],
                label: "crash n3".into(),
            },
        ],
        roles,
        messages,
        messages_not_kept: 0,
        operations: vec![
            operation(
                1,
                "put(\"x\", \"1\") -> ok",
                800 * MS,
                Some(815 * MS),
                Some(1),
                false,
            ),
            operation(
                2,
                "get(\"x\") -> \"\"",
                820 * MS,
                Some(840 * MS),
                None,
                true,
            ),
        ],
        check: Some(CheckRecord {
            verdict: "illegal".into(),
            partitions: vec![PartitionSummary {
                label: "key \"x\"".into(),
                verdict: "illegal".into(),
                operations: 2,
                state_after_prefix: Some("\"1\"".into()),
            }],
            text: "model kv: 2 operations".into(),
        }),
        violation: Some(ViolationRecord {
            property: "linearizability".into(),
            nodes: Vec::new(),
            term: None,
            index: None,
            time_ns: 1_000 * MS,
            message: "client history is not linearizable (failing: key \"x\")".into(),
            explanation: vec!["A read returned a value overwritten before it began.".into()],
        }),
        servers_at_end: vec![ServerState {
            node: 1,
            role: Role::Leader,
            term: 1,
            commit_index: 3,
            last_index: 3,
            applied_index: 3,
            log_tail: vec![(1, 1), (2, 1), (3, 1)],
        }],
        stats: vec![("events".into(), 42)],
        trace_hash: "00000000deadbeef".into(),
        shards: None,
    }
}

/// The small run as if of the sharded service: n1, n2 in g1, n3 in g2, shards moving.
fn sharded_record(changes: usize) -> RunRecord {
    let mut record = small_record();
    let serving = (0..changes)
        .map(|i| ShardServing {
            time_ns: 100 * MS + i as u64 * 2 * MS,
            group: i % 2,
            shards: if i % 4 < 2 { vec![0, 1] } else { vec![2] },
        })
        .collect();
    record.shards = Some(ShardRecord {
        shard_count: 3,
        groups: vec![
            GroupRecord {
                name: "g1".into(),
                servers: vec![0, 1],
            },
            GroupRecord {
                name: "g<2>".into(),
                servers: vec![2],
            },
        ],
        controller: vec![0, 2],
        serving,
    });
    record
}

#[test]
fn a_sharded_run_shows_each_group_and_the_shards_it_served() {
    let html = render_html(&sharded_record(4));
    assert!(
        html.contains("<h2>Shards served by each group</h2>"),
        "no shard section"
    );
    assert!(
        html.contains("g1 on n1, n2; g&lt;2&gt; on n3"),
        "groups not named"
    );
    assert!(html.contains("the controller's replicas on n1, n3"));
    assert!(
        html.contains("<title>shards 0,1 from 100.000ms to "),
        "no span of shards 0 and 1"
    );
    assert!(
        html.contains(">n3 g&lt;2&gt;</text>"),
        "lanes name the server's group"
    );
    // The KV service's report has no such section.
    assert!(!render_html(&small_record()).contains("Shards served"));
}

#[test]
fn many_shard_changes_render_to_a_bounded_size() {
    let small = render_html(&sharded_record(4)).len();
    let large = render_html(&sharded_record(100_000)).len();
    assert!(large < small + 200_000, "{small} -> {large} bytes");
}

#[test]
fn timeline_of_a_small_run() {
    let actual = render_timeline(&small_record());
    expect![[r#"
        seed 7  FAIL linearizability
        reproduce: raftsim run --seed 7 --nodes 3 --clients 1 --duration-ms 900
        time 0 .. 1000.000ms (13.889ms per column; L leader, C candidate, p pre-candidate, . follower, x down, z paused, ! violation)
                                                                         !   |
        n1   ........................................................................  term 1
        n2   ..........CLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLL  term 1
        n3   ...........................................xxxxxxxx.....................  term 1
        faults:
                                  ===============                                      partition {n3} | {n1,n2}
                                                        ========                       crash n3
        events:
             155.000ms  n2 leader of term 1
             300.000ms  partition {n3} | {n1,n2}
             500.000ms  heal
             600.000ms  crash n3
             600.000ms  n3 down
             700.000ms  restart n3
             900.000ms  every fault healed
            1000.000ms  VIOLATION linearizability
        violation: client history is not linearizable (failing: key "x")
          A read returned a value overwritten before it began.
    "#]]
    .assert_eq(&actual);
}

#[test]
fn markup_in_record_strings_is_shown_as_text() {
    let mut record = small_record();
    let script = "<script>alert('x')</script>";
    record.config.push((script.to_string(), script.to_string()));
    record.operations[0].text = format!("put(\"{script}\", \"1\") -> ok");
    record.messages[0].detail = script.to_string();
    record.messages[0].kind = script.to_string();
    record.schedule[0].action = script.to_string();
    record.violation.as_mut().unwrap().message = script.to_string();
    record.command = script.to_string();
    let html = render_html(&record);
    assert!(
        !html.contains("<script>alert"),
        "unescaped markup in the report"
    );
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    // The page's own script is the only one.
    assert_eq!(html.matches("<script>").count(), 1);
}

#[test]
fn report_and_index_name_no_network_address() {
    let mut rows = vec![IndexRow {
        seed: 7,
        verdict: "fail".into(),
        kind: "linearizability".into(),
        summary: "<b>bold</b>".into(),
        report: Some("seed-7.html".into()),
    }];
    rows.push(IndexRow {
        seed: 8,
        verdict: "pass".into(),
        kind: String::new(),
        summary: String::new(),
        report: Some("javascript:alert(1)".into()),
    });
    for page in [
        render_html(&small_record()),
        render_index("campaign", &rows),
    ] {
        for forbidden in [
            "http://", "https://", "//cdn", "src=\"", "@import", "url(http",
        ] {
            assert!(!page.contains(forbidden), "page contains {forbidden:?}");
        }
    }
    let index = render_index("campaign", &rows);
    assert!(index.contains("<a href=\"seed-7.html\">report</a>"));
    assert!(!index.contains("href=\"javascript:"));
    assert!(index.contains("&lt;b&gt;bold&lt;/b&gt;"));
}

#[test]
fn a_long_run_renders_to_a_bounded_size() {
    let mut record = small_record();
    record.end_ns = 60_000 * MS;
    record.safety_end_ns = 50_000 * MS;
    // 50,000 role changes, 200,000 messages and 20,000 operations.
    record.roles = (0..50_000u64)
        .map(|i| RoleChange {
            time_ns: i * MS,
            node: (i % 3) as u32,
            role: if i % 2 == 0 {
                Role::Candidate
            } else {
                Role::Follower
            },
            term: i,
        })
        .collect();
    record.messages = (0..200_000u64)
        .map(|i| Message {
            from: (i % 3) as u32,
            to: ((i + 1) % 3) as u32,
            sent_ns: i * 300_000,
            kind: "Append".into(),
            detail: format!("term={i}"),
            duplicate: i % 7 == 0,
            fate: if i % 5 == 0 {
                MessageFate::Dropped { at_ns: i * 300_000 }
            } else {
                MessageFate::Delivered {
                    at_ns: i * 300_000 + 2 * MS,
                }
            },
            drop_reason: None,
        })
        .collect();
    record.operations = (0..20_000u64)
        .map(|i| Operation {
            client: 3,
            seq: i,
            text: format!("get(\"x\") -> \"{i}\""),
            call_ns: i * 3 * MS,
            return_ns: Some(i * 3 * MS + MS),
            partition: 0,
            order: Some(i as usize + 1),
            stuck: i == 15_000,
            witness: i % 2 == 0,
        })
        .collect();
    record.schedule = (0..5_000u64)
        .map(|i| ScheduledFault {
            at_ns: i * 10 * MS,
            action: format!("pause n{}", i % 3),
        })
        .collect();
    let html = render_html(&record);
    assert!(html.len() < 1_500_000, "report of {} bytes", html.len());
    let timeline = render_timeline(&record);
    assert!(
        timeline.lines().count() < 100,
        "{} lines",
        timeline.lines().count()
    );
}
