//! Fuzzing the harness's parsers and runners with arbitrary and mutated input (proptest, a
//! bounded number of cases each): scripts, fault actions and schedules, `run-config` lines and
//! results files. Each input gives a clean error or a verdict, never a panic, and every run
//! stays within its bounds. Mutations start from real inputs (the library's scripts, a real
//! run's schedule and result line) so they reach deep into the parsers.

use proptest::prelude::*;
use scenarios::campaign::output::read_results;
use scenarios::harness::{Fault, FaultSchedule};
use scenarios::script::{self, LIBRARY, ScriptOptions};
use scenarios::{RunConfig, RunOptions, run_with};
use sim::NANOS_PER_MILLI;

/// Tokens mutations splice in: the numbers and names that overflow, vanish or mislead.
const NASTY: [&str; 14] = [
    "0",
    "18446744073709551615",
    "4294967295",
    "99999999999999999999",
    "-1",
    "n0",
    "n10000000000",
    "c0",
    "all",
    "..",
    "{",
    "\u{7}",
    "",
    "1.5",
];

/// An edit of a text: (position, what to do, which nasty token).
fn edits() -> impl Strategy<Value = Vec<(usize, u8, usize)>> {
    proptest::collection::vec((any::<usize>(), 0u8..4, 0..NASTY.len()), 1..6)
}

/// Applies edits at char boundaries: delete a few chars, insert a nasty token, replace the
/// token at the position, or duplicate a line.
fn mutate(text: &str, edits: &[(usize, u8, usize)]) -> String {
    let mut text = text.to_string();
    for &(position, kind, token) in edits {
        let chars: Vec<char> = text.chars().collect();
        if chars.is_empty() {
            text = NASTY[token].to_string();
            continue;
        }
        let at = position % chars.len();
        let end = (at + 1 + position % 7).min(chars.len());
        let (head, tail) = (&chars[..at], &chars[end..]);
        let head: String = head.iter().collect();
        let tail: String = tail.iter().collect();
        text = match kind {
            0 => format!("{head}{tail}"),
            1 => format!("{head}{}{}", NASTY[token], &text[head.len()..]),
            2 => format!("{head}{}{tail}", NASTY[token]),
            _ => {
                let line = text.lines().nth(position % text.lines().count().max(1));
                format!("{text}\n{}", line.unwrap_or(""))
            }
        };
    }
    text
}

/// One command of a small cluster script, with arguments drawn to stay quick to run.
fn command() -> impl Strategy<Value = String> {
    let node = (1u32..6).prop_map(|n| format!("n{n}"));
    let client = (1u32..3).prop_map(|c| format!("c{c}"));
    prop_oneof![
        node.clone().prop_map(|n| format!("campaign {n}")),
        node.clone().prop_map(|n| format!("crash {n}")),
        node.clone().prop_map(|n| format!("restart {n}")),
        node.clone().prop_map(|n| format!("pause {n}")),
        node.clone().prop_map(|n| format!("resume {n}")),
        (node.clone(), node.clone()).prop_map(|(a, b)| format!("cut {a}->{b}")),
        (node.clone(), node.clone()).prop_map(|(a, b)| format!("partition {{{a}}} | {{{b}}}")),
        Just("heal".to_string()),
        (1u64..200).prop_map(|ms| format!("run {ms}ms")),
        (node.clone(), 1u64..30).prop_map(|(n, k)| format!("tick {n} {k}")),
        (node.clone(), "[a-c]{1,2}").prop_map(|(n, v)| format!("propose {n} put x {v}")),
        (client, node.clone()).prop_map(|(c, n)| format!("client {c} append x v at {n}")),
        (node.clone(), node.clone()).prop_map(|(a, b)| format!("conf-change {a} remove {b}")),
        (node.clone(), node.clone()).prop_map(|(a, b)| format!("transfer-leader {a} {b}")),
        Just("block type=app from=n1".to_string()),
        Just("deliver type=app,vote".to_string()),
        Just("drop from=n2".to_string()),
        Just("unblock".to_string()),
        Just("check-history".to_string()),
        node.prop_map(|n| format!("expect leader {n}")),
    ]
}

fn fault() -> impl Strategy<Value = Fault> {
    let node = 0u32..5;
    prop_oneof![
        node.clone().prop_map(|node| Fault::Crash { node }),
        node.clone().prop_map(|node| Fault::Restart { node }),
        node.clone().prop_map(|node| Fault::Pause { node }),
        (node.clone(), node.clone()).prop_map(|(from, to)| Fault::CutLink { from, to }),
        (node.clone(), 0.5f64..2.0).prop_map(|(node, rate)| Fault::ClockRate { node, rate }),
        (node.clone(), -5_000_000i64..5_000_000)
            .prop_map(|(node, delta_ns)| Fault::ClockJump { node, delta_ns }),
        (0u32..100, 0u32..100).prop_map(|(d, p)| Fault::LinkLoss {
            from: None,
            to: Some(1),
            drop_probability: f64::from(d) / 100.0,
            duplicate_probability: f64::from(p) / 100.0,
        }),
        Just(Fault::Heal),
    ]
}

/// A real history of a short run, in our JSON and in Jepsen's EDN.
const HISTORY_JSON: &str = r#"{"model": "kv", "operations": [
  {"client": 1, "input": {"op": "put", "key": "x", "value": "c1-0"}, "output": {"ok": true}, "call": 10, "return": 25},
  {"client": 2, "input": {"op": "append", "key": "x", "value": "c2-0;"}, "output": {"ok": true}, "call": 12, "return": 30},
  {"client": 1, "input": {"op": "get", "key": "x"}, "output": {"value": "c1-0c2-0;"}, "call": 31, "return": 40},
  {"client": 2, "input": {"op": "cas", "key": "y", "expected": "", "new": "c2-1"}, "output": {"ok": true}, "call": 33, "return": 50},
  {"client": 3, "input": {"op": "get", "key": "y"}, "output": null, "call": 35, "return": null}
]}"#;
const HISTORY_EDN: &str = r#"{:type :invoke, :f :write, :value 1, :process 0, :index 0}
{:type :ok, :f :write, :value 1, :process 0, :index 1}
{:type :invoke, :f :read, :value nil, :process 1, :index 2}
{:type :ok, :f :read, :value 1, :process 1, :index 3}
{:type :invoke, :f :cas, :value [1 2], :process 2, :index 4}
{:type :info, :f :cas, :value [1 2], :process 2, :index 5}
"#;

/// A short run: every fuzzed configuration or schedule runs in well under a second.
fn short(mut config: RunConfig) -> RunConfig {
    config.duration_ns = config.duration_ns.min(600 * NANOS_PER_MILLI);
    config.liveness_bound_ns = config.liveness_bound_ns.min(600 * NANOS_PER_MILLI);
    config.tick_ns = config.tick_ns.max(NANOS_PER_MILLI);
    config
}

/// A fixed seed and case count: the fuzz tests are as deterministic as every other test, and
/// `PROPTEST_CASES` / `PROPTEST_RNG_SEED` widen a local hunt.
fn config() -> ProptestConfig {
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse().ok());
    ProptestConfig {
        cases: env("PROPTEST_CASES").map_or(200, |cases: u64| cases as u32),
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(env("PROPTEST_RNG_SEED").unwrap_or(1)),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_text_never_panics_the_script_parser(text in "(?s).{0,300}") {
        let _ = script::parse(&text);
    }

    #[test]
    fn mutated_library_scripts_parse_or_fail_cleanly(index in 0..LIBRARY.len(), edits in edits()) {
        let text = mutate(LIBRARY[index].text, &edits);
        if let Err(error) = script::parse(&text) {
            prop_assert!(error.to_string().chars().count() < 300, "{error}");
        }
    }

    #[test]
    fn generated_cluster_scripts_run_or_fail_cleanly(
        servers in 1u32..6,
        lines in proptest::collection::vec(command(), 1..10),
    ) {
        let text = format!("cluster servers={servers} clients=2\n{}\n", lines.join("\n"));
        if let Ok(parsed) = script::parse(&text) {
            let _ = script::run_script(&parsed, &ScriptOptions::default());
        }
    }

    #[test]
    fn fault_actions_round_trip_through_their_text(action in fault()) {
        let text = action.to_string();
        prop_assert_eq!(text.parse::<Fault>(), Ok(action), "{}", text);
    }

    #[test]
    fn arbitrary_fault_text_never_panics(text in "(?s).{0,80}", edits in edits()) {
        let _ = text.parse::<Fault>();
        let _ = mutate("partition {n1,n2} | {n3}", &edits).parse::<Fault>();
        let _ = mutate("admin n1 conf-change add n4 remove n2", &edits).parse::<Fault>();
    }

    #[test]
    fn mutated_fault_schedules_load_or_fail_cleanly(actions in proptest::collection::vec((0u64..500, fault()), 0..6), edits in edits()) {
        let mut schedule = FaultSchedule::default();
        for (at_ms, action) in actions {
            schedule.push(at_ms * NANOS_PER_MILLI, action);
        }
        let text = mutate(&schedule.to_json(), &edits);
        let mut config = short(RunConfig::standard(3));
        config.servers = 3;
        if let Ok(loaded) = FaultSchedule::from_json(&text) {
            let _ = run_with(&config, Some(loaded), RunOptions::default());
        }
    }

    #[test]
    fn run_config_lines_parse_or_fail_cleanly(
        pairs in proptest::collection::vec((0usize..12, 0..NASTY.len(), 0u64..20), 0..5),
    ) {
        const KEYS: [&str; 12] = [
            "servers", "clients", "tick_ns", "election_tick", "heartbeat_tick", "keys",
            "duration_ns", "liveness_bound_ns", "faults.count", "initial_voters",
            "max_entries_per_msg", "checker_steps_max",
        ];
        let fields: Vec<String> = pairs
            .iter()
            .map(|&(key, nasty, small)| {
                let value = if small % 2 == 0 { NASTY[nasty].to_string() } else { small.to_string() };
                format!("{}={value}", KEYS[key])
            })
            .collect();
        let text = format!("run-config seed=5 {}\nexpect pass\n", fields.join(" "));
        if let Ok(parsed) = script::parse(&text)
            && let Ok((config, schedule, _)) = script::seeded_parts(&parsed, &ScriptOptions::default())
        {
            let _ = run_with(&short(config), Some(schedule), RunOptions::default());
        }
    }

    #[test]
    fn mutated_histories_parse_and_check_or_fail_cleanly(edits in edits(), edn in any::<bool>()) {
        let text = if edn { HISTORY_EDN } else { HISTORY_JSON };
        let mutated = mutate(text, &edits);
        let parsed = if edn {
            checker::edn::parse_history(&mutated, None)
        } else {
            checker::json::parse(&mutated, None)
        };
        match parsed {
            Ok(history) => {
                let options = checker::Options { steps_max: 100_000, ..checker::Options::default() };
                let _ = checker::check(&history, &options);
            }
            Err(error) => prop_assert!(error.to_string().chars().count() < 300, "{error}"),
        }
    }

    #[test]
    fn mutated_results_files_read_or_fail_cleanly(edits in edits()) {
        let line = include_str!("result-line.json");
        let dir = std::env::temp_dir().join(format!("raftsim-fuzz-results-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("r{}.jsonl", edits[0].0 % 1000));
        std::fs::write(&path, mutate(line, &edits)).unwrap();
        if let Err(error) = read_results(&path) {
            prop_assert!(error.to_string().chars().count() < 400, "{error}");
        }
    }
}
