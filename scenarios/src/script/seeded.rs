//! Seeded-run scripts: one whole campaign run, replayed exactly.
//!
//! ```text
//! # Shrunk from seed 42.
//! run-config seed=42 servers=3 duration_ns=2000000000 mutants=commit-previous-term
//! at 1200.5ms partition {n1,n2} | {n3}
//! at 1800ms heal
//! expect violation state-machine-safety
//! ```
//!
//! `run-config` lists the fields of `RunConfig` that differ from `RunConfig::standard(seed)`,
//! named by their serde paths (`faults.count=3`, `link.latency_ns_max=5000000`); `mutants` takes
//! kebab-case names. The fault lines are fault actions in their one text form
//! (`sim::FaultAction`'s), at exact virtual times. The run's verdict and trace hash are the
//! `expect` line's output, so a regression script pins the exact run it replays.

use crate::config::Mutant;
use serde_json::Value;
use sim::shorten;
use sim::text::{format_duration, format_time};

use super::parse::{Command, Expectation, parse_mutants};
use super::{Script, ScriptError, ScriptOptions, ScriptOutcome};
use crate::config::{EngineChoice, Property, RunConfig, ServiceKind, UnknownEngine};
use crate::harness::FaultSchedule;
use crate::run::{RunOptions, catch_panic, check_action, run_with};

/// The outcome a seeded-run script expects.
pub type Expected = Option<Property>;

/// Renders a run as a script: `expected` is the violation it should find, or `None` for a pass.
pub fn render_seeded_run(
    config: &RunConfig,
    schedule: &FaultSchedule,
    expected: Option<Property>,
    description: &str,
) -> String {
    let mut out = String::new();
    for line in description.lines() {
        out.push_str(&format!("# {line}\n"));
    }
    out.push_str(&format!("run-config {}\n", render_config(config).join(" ")));
    for fault in schedule.faults() {
        out.push_str(&format!(
            "at {} {}\n",
            format_duration(fault.at_ns),
            fault.action
        ));
    }
    match expected {
        Some(property) => out.push_str(&format!("expect violation {property}\n")),
        None => out.push_str("expect pass\n"),
    }
    out
}

/// `seed=S` (and `service=sharded`) then every field that differs from the standard run of
/// that seed and service.
fn render_config(config: &RunConfig) -> Vec<String> {
    let service = config.service.kind();
    let actual = to_value(config);
    let standard = to_value(&RunConfig::standard_of(service, config.seed));
    let mut actual_fields = Vec::new();
    flatten("", &actual, &mut actual_fields);
    let mut standard_fields = Vec::new();
    flatten("", &standard, &mut standard_fields);
    let mut out = vec![format!("seed={}", config.seed)];
    if service != ServiceKind::Kv {
        out.push(format!("service={service}"));
    }
    for (key, value) in actual_fields {
        let same = standard_fields
            .iter()
            .any(|(k, v)| *k == key && *v == value);
        if key == "seed" || same {
            continue;
        }
        let text = if key == "mutants" {
            let names: Vec<&str> = config.mutants.iter().map(|m| m.name()).collect();
            names.join(",")
        } else {
            scalar_text(&value)
        };
        out.push(format!("{key}={text}"));
    }
    out
}

fn to_value(config: &RunConfig) -> Value {
    serde_json::to_value(config).expect("run configurations serialize")
}

fn flatten(prefix: &str, value: &Value, out: &mut Vec<(String, Value)>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&path, inner, out);
            }
        }
        _ => out.push((prefix.to_string(), value.clone())),
    }
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(scalar_text).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// Parses `run-config` arguments onto the standard run of the given seed.
pub fn parse_run_config(args: &[&str]) -> Result<RunConfig, String> {
    let mut fields = Vec::new();
    for token in args {
        let (key, value) = token
            .split_once('=')
            .ok_or_else(|| format!("`{}` is not key=value", shorten(token)))?;
        fields.push((key, value));
    }
    let seed = match fields.iter().find(|(k, _)| *k == "seed") {
        Some((_, v)) => v
            .parse()
            .map_err(|_| format!("seed: `{}` is not a number", shorten(v)))?,
        None => return Err("run-config needs seed=S".into()),
    };
    let service = match fields.iter().find(|(k, _)| *k == "service") {
        Some((_, name)) => name.parse::<ServiceKind>().map_err(|e| e.to_string())?,
        None => ServiceKind::Kv,
    };
    let mut value = to_value(&RunConfig::standard_of(service, seed));
    for (key, text) in fields {
        if key == "seed" || key == "service" {
            continue;
        }
        if key == "engine" {
            // Ours is the standard run's and is not serialized; any engine is named in full.
            let engine: EngineChoice = text.parse().map_err(|e: UnknownEngine| e.to_string())?;
            let map = value.as_object_mut().expect("a configuration is an object");
            map.insert("engine".to_string(), Value::String(engine.to_string()));
            continue;
        }
        let slot = field_mut(&mut value, key)
            .ok_or_else(|| format!("unknown run-config key `{}`", shorten(key)))?;
        *slot = if key == "mutants" {
            let mutants: Vec<Mutant> = parse_mutants(text)?;
            serde_json::to_value(mutants).expect("mutants serialize")
        } else {
            parse_scalar(key, text, slot)?
        };
    }
    let config: RunConfig = serde_json::from_value(value)
        .map_err(|e| format!("run-config: {}", shorten(&e.to_string())))?;
    config.validate().map_err(|e| format!("run-config: {e}"))?;
    Ok(config)
}

fn field_mut<'a>(value: &'a mut Value, path: &str) -> Option<&'a mut Value> {
    let mut slot = value;
    for part in path.split('.') {
        slot = match slot {
            Value::Object(map) => map.get_mut(part)?,
            _ => return None,
        };
    }
    (!slot.is_object()).then_some(slot)
}

/// A value of the same JSON type as the standard one.
fn parse_scalar(key: &str, text: &str, template: &Value) -> Result<Value, String> {
    let bad = || format!("{key}: `{}` is not a valid value", shorten(text));
    match template {
        Value::String(_) => Ok(Value::String(text.to_string())),
        Value::Null => Ok(serde_json::from_str(text).unwrap_or(Value::String(text.to_string()))),
        Value::Array(_) => Ok(Value::Array(
            text.split(',')
                .filter(|s| !s.is_empty())
                .map(|item| serde_json::from_str(item).unwrap_or(Value::String(item.to_string())))
                .collect(),
        )),
        Value::Bool(_) | Value::Number(_) => {
            let parsed: Value = serde_json::from_str(text).map_err(|_| bad())?;
            let same_kind = matches!(
                (template, &parsed),
                (Value::Bool(_), Value::Bool(_)) | (Value::Number(_), Value::Number(_))
            );
            same_kind.then_some(parsed).ok_or_else(bad)
        }
        Value::Object(_) => Err(bad()),
    }
}

/// The configuration, schedule and expected outcome a seeded-run script holds.
pub fn seeded_parts(
    script: &Script,
    options: &ScriptOptions,
) -> Result<(RunConfig, FaultSchedule, Expected), ScriptError> {
    let mut config = None;
    let mut schedule = FaultSchedule::default();
    let mut expected = None;
    for line in &script.lines {
        if line.condition.is_some_and(|c| !c.holds(&options.mutants)) {
            continue;
        }
        match &line.command {
            Command::RunConfig(run_config) => {
                let mut run_config = run_config.as_ref().clone();
                for &mutant in &options.mutants {
                    if !run_config.mutants.contains(&mutant) {
                        run_config.mutants.push(mutant);
                    }
                }
                config = Some(run_config);
            }
            Command::At { at_ns, action } => {
                let Some(config) = config.as_ref() else {
                    return Err(ScriptError::new(
                        line.number,
                        "an `at` line before run-config",
                    ));
                };
                action
                    .validate(config.servers)
                    .and_then(|()| check_action(config, action))
                    .map_err(|e| ScriptError::new(line.number, e.to_string()))?;
                schedule.push(*at_ns, action.clone());
            }
            Command::Expect(Expectation::Violation(property)) => expected = Some(*property),
            Command::Expect(Expectation::Pass) => expected = None,
            _ => unreachable!("checked by the parser"),
        }
    }
    let config = config.expect("the parser requires run-config first");
    Ok((config, schedule, expected))
}

pub fn run(script: &Script, options: &ScriptOptions) -> Result<ScriptOutcome, ScriptError> {
    let (config, schedule, expected) = seeded_parts(script, options)?;
    let first_line = script.lines.first().map_or(1, |l| l.number);
    // The run's outcome is the output of the last `expect` line that applies.
    let out_line = script
        .lines
        .iter()
        .filter(|line| line.condition.is_none_or(|c| c.holds(&config.mutants)))
        .filter(|line| matches!(line.command, Command::Expect(_)))
        .map(|line| line.number)
        .next_back()
        .unwrap_or(first_line);
    let mut result = ScriptOutcome::default();
    let found = match catch_panic(|| run_with(&config, Some(schedule), RunOptions::default())) {
        Ok(outcome) => {
            let outcome = outcome.map_err(|e| ScriptError::new(first_line, e.to_string()))?;
            match &outcome.violation {
                Some(violation) => {
                    result.push_output(out_line, format!("!! {violation}"));
                    result.violations.push((out_line, violation.clone()));
                }
                None => result.push_output(out_line, "no violation".into()),
            }
            result.push_output(
                out_line,
                format!(
                    "simulated {} · {} operations completed, {} indefinite · trace hash {:016x}",
                    format_time(outcome.simulated_ns),
                    outcome.operations_completed,
                    outcome.operations_indefinite,
                    outcome.trace_hash
                ),
            );
            outcome.violation.as_ref().map(|v| v.property)
        }
        Err(panic) => {
            result.push_output(out_line, format!("!! panic: {panic}"));
            Some(Property::Panic)
        }
    };
    if found != expected {
        let expectation = match expected {
            Some(property) => format!("expect violation {property}"),
            None => "expect pass".to_string(),
        };
        let what = found.map_or("no violation".to_string(), |p| format!("a {p} violation"));
        let failure = format!("{expectation}: found {what}");
        result.push_output(out_line, format!("FAILED: {failure}"));
        result.failures.push(format!("line {out_line}: {failure}"));
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use sim::NANOS_PER_SEC;

    use super::*;
    use crate::script::parse;

    fn sample() -> (RunConfig, FaultSchedule) {
        let mut config = RunConfig::standard(4711);
        config.servers = 3;
        config.clients = 2;
        config.duration_ns = 3 * NANOS_PER_SEC;
        config.mutants = vec![
            Mutant::Raft(raft::Mutant::CommitPreviousTerm),
            Mutant::Raft(raft::Mutant::NoDedup),
        ];
        config.faults.count = 6;
        config.link.duplicate_probability = 0.05;
        // The faults the nemesis applied in this configuration's run.
        let mut schedule = crate::run::run(&config).expect("the sample runs").faults;
        schedule.push(
            1_234_567,
            crate::harness::Fault::ClockJump {
                node: 1,
                delta_ns: -2_500_001,
            },
        );
        schedule.push(
            2_000_000_001,
            crate::harness::Fault::ClockRate { node: 2, rate: 0.7 },
        );
        (config, schedule)
    }

    #[test]
    fn seeded_run_scripts_round_trip() {
        let (config, schedule) = sample();
        assert!(schedule.len() >= 4, "the sample has faults");
        for expected in [None, Some(Property::Durability)] {
            let text = render_seeded_run(&config, &schedule, expected, "Shrunk.\nSecond line.");
            let script = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
            assert_eq!(script.description, "Shrunk. Second line.");
            let (parsed_config, parsed_schedule, parsed_expected) =
                seeded_parts(&script, &ScriptOptions::default()).expect("valid");
            assert_eq!(parsed_config, config, "{text}");
            assert_eq!(parsed_schedule, schedule, "{text}");
            assert_eq!(parsed_expected, expected);
            // Rendering again gives the same text.
            let again = render_seeded_run(
                &parsed_config,
                &parsed_schedule,
                expected,
                "Shrunk.\nSecond line.",
            );
            assert_eq!(again, text);
        }
    }

    #[test]
    fn the_standard_run_renders_as_its_seed() {
        let text = render_seeded_run(&RunConfig::standard(9), &FaultSchedule::default(), None, "");
        assert_eq!(text, "run-config seed=9\nexpect pass\n");
    }

    #[test]
    fn sharded_runs_render_their_service_and_round_trip() {
        let mut config = crate::config::swarm::draw_sharded(11);
        config.mutants = vec![Mutant::Shard(shardkv::Mutant::WriteAfterHandoff)];
        let mut schedule = FaultSchedule::default();
        let change = "admin n2 shardctl move 3 g2 seq=1"
            .parse()
            .expect("an action");
        schedule.push(1_000_000_000, change);
        let text = render_seeded_run(&config, &schedule, None, "Sharded.");
        assert!(
            text.contains("run-config seed=11 service=sharded "),
            "{text}"
        );
        let script = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let (parsed, parsed_schedule, _) =
            seeded_parts(&script, &ScriptOptions::default()).expect("valid");
        assert_eq!(parsed, config, "{text}");
        assert_eq!(parsed_schedule, schedule);
        let standard = RunConfig::standard_sharded(4);
        let text = render_seeded_run(&standard, &FaultSchedule::default(), None, "");
        assert_eq!(text, "run-config seed=4 service=sharded\nexpect pass\n");
    }

    #[test]
    fn bad_run_config_lines_are_errors() {
        for (text, needle) in [
            ("run-config servers=3\nexpect pass\n", "needs seed"),
            (
                "run-config seed=1 nodes=3\n",
                "unknown run-config key `nodes`",
            ),
            ("run-config seed=1 servers=three\n", "servers"),
            ("run-config seed=1 servers=0\n", "outside"),
            ("run-config seed=1\ncampaign n1\n", "does not belong"),
            (
                "run-config seed=1\nat 5ms crash n1 n2\n",
                "wrong number of arguments",
            ),
        ] {
            let error = parse(text).unwrap_err();
            assert!(error.to_string().contains(needle), "{text:?}: {error}");
        }
    }
}
