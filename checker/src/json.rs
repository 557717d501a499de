//! Our history JSON (BRIEF §11; shapes in FORMATS.md): reading with errors that name the line,
//! and writing one operation per line.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::format::ParseError;
use crate::history::{History, ModelKind, Operation, Outcome};
use crate::kv::{KvInput, KvOutput};
use crate::register::{RegisterInput, RegisterOutput};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHistory {
    #[serde(default)]
    model: Option<String>,
    operations: Vec<RawOperation>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOperation {
    client: u64,
    input: Map<String, Value>,
    #[serde(default)]
    output: Option<Map<String, Value>>,
    call: u64,
    #[serde(default, rename = "return")]
    return_time: Option<u64>,
}

/// Parses a history. `model` (from the command line) is used when the file names none.
pub fn parse(text: &str, model: Option<ModelKind>) -> Result<History, ParseError> {
    let raw: RawHistory = serde_json::from_str(text).map_err(|error| {
        let message = error.to_string();
        let message = match message.rfind(" at line ") {
            Some(at) => message[..at].to_owned(),
            None => message,
        };
        ParseError::line(
            error.line().max(1),
            format!("column {}: {message}", error.column()),
        )
    })?;
    let model = resolve_model(raw.model.as_deref(), model)?;
    let lines = operation_lines(text);
    let line_of = |index: usize| lines.get(index).copied().unwrap_or(1);
    let located = |index: usize| {
        move |message: String| {
            ParseError::line(line_of(index), format!("operation {index}: {message}"))
        }
    };
    match model {
        ModelKind::Kv => {
            let mut operations = Vec::with_capacity(raw.operations.len());
            for (index, raw) in raw.operations.iter().enumerate() {
                operations.push(operation(raw, kv_input, kv_outcome).map_err(located(index))?);
            }
            Ok(History::Kv(operations))
        }
        ModelKind::Register => {
            let mut operations = Vec::with_capacity(raw.operations.len());
            for (index, raw) in raw.operations.iter().enumerate() {
                operations.push(
                    operation(raw, register_input, register_outcome).map_err(located(index))?,
                );
            }
            Ok(History::Register(operations))
        }
    }
}

fn resolve_model(in_file: Option<&str>, given: Option<ModelKind>) -> Result<ModelKind, ParseError> {
    let in_file = match in_file {
        None => None,
        Some(name) => Some(ModelKind::from_name(name).ok_or_else(|| {
            ParseError::whole(format!(
                "unknown model {name:?}: expected \"kv\" or \"register\""
            ))
        })?),
    };
    match (in_file, given) {
        (Some(in_file), Some(given)) if in_file != given => Err(ParseError::whole(format!(
            "the history says model {in_file:?} but {given:?} was asked for",
            in_file = in_file.name(),
            given = given.name()
        ))),
        (Some(model), _) | (None, Some(model)) => Ok(model),
        (None, None) => Err(ParseError::whole(
            "the history names no \"model\"; pass one (kv or register)",
        )),
    }
}

/// Reads an output object given the input it answers.
type OutcomeParser<I, O> = fn(&I, &Map<String, Value>) -> Result<Outcome<O>, String>;

fn operation<I, O>(
    raw: &RawOperation,
    input: fn(&Map<String, Value>) -> Result<I, String>,
    outcome: OutcomeParser<I, O>,
) -> Result<Operation<I, O>, String> {
    let input = input(&raw.input).map_err(|message| format!("input: {message}"))?;
    let outcome = match &raw.output {
        None => Outcome::Indefinite,
        Some(output) => outcome(&input, output).map_err(|message| format!("output: {message}"))?,
    };
    if let Outcome::Returned(_) = outcome
        && raw.return_time.is_none()
    {
        return Err("an operation with an output needs a \"return\" time".to_owned());
    }
    if let Some(return_time) = raw.return_time
        && return_time < raw.call
    {
        return Err(format!(
            "\"return\" {return_time} is before \"call\" {}",
            raw.call
        ));
    }
    Ok(Operation {
        client: raw.client,
        input,
        outcome,
        call: raw.call,
        return_time: raw.return_time,
    })
}

/// Rejects fields other than `allowed`.
fn only(map: &Map<String, Value>, allowed: &[&str]) -> Result<(), String> {
    match map.keys().find(|key| !allowed.contains(&key.as_str())) {
        Some(key) => Err(format!(
            "unexpected field {key:?} (expected {})",
            allowed.join(", ")
        )),
        None => Ok(()),
    }
}

fn field<'a>(map: &'a Map<String, Value>, name: &str) -> Result<&'a Value, String> {
    map.get(name)
        .ok_or_else(|| format!("missing field {name:?}"))
}

fn string(map: &Map<String, Value>, name: &str) -> Result<String, String> {
    match field(map, name)? {
        Value::String(text) => Ok(text.clone()),
        other => Err(format!("{name:?} must be a string, not {other}")),
    }
}

fn integer(map: &Map<String, Value>, name: &str) -> Result<i64, String> {
    match field(map, name)? {
        Value::Number(number) if number.as_i64().is_some() => {
            Ok(number.as_i64().unwrap_or_default())
        }
        other => Err(format!("{name:?} must be an integer, not {other}")),
    }
}

fn boolean(map: &Map<String, Value>, name: &str) -> Result<bool, String> {
    match field(map, name)? {
        Value::Bool(value) => Ok(*value),
        other => Err(format!("{name:?} must be true or false, not {other}")),
    }
}

fn op_name(map: &Map<String, Value>) -> Result<String, String> {
    string(map, "op")
}

fn kv_input(map: &Map<String, Value>) -> Result<KvInput, String> {
    let op = op_name(map)?;
    match op.as_str() {
        "get" => {
            only(map, &["op", "key"])?;
            Ok(KvInput::Get {
                key: string(map, "key")?,
            })
        }
        "put" | "append" => {
            only(map, &["op", "key", "value"])?;
            let (key, value) = (string(map, "key")?, string(map, "value")?);
            Ok(if op == "put" {
                KvInput::Put { key, value }
            } else {
                KvInput::Append { key, value }
            })
        }
        "cas" => {
            only(map, &["op", "key", "expected", "new"])?;
            Ok(KvInput::Cas {
                key: string(map, "key")?,
                expected: string(map, "expected")?,
                new: string(map, "new")?,
            })
        }
        other => Err(format!(
            "unknown op {other:?} for model kv (expected get, put, append, cas)"
        )),
    }
}

fn is_failed(map: &Map<String, Value>) -> Result<bool, String> {
    if !map.contains_key("failed") {
        return Ok(false);
    }
    only(map, &["failed", "error"])?;
    if !boolean(map, "failed")? {
        return Err(
            "\"failed\" may only be true; omit it for an operation that returned".to_owned(),
        );
    }
    Ok(true)
}

fn kv_outcome(input: &KvInput, map: &Map<String, Value>) -> Result<Outcome<KvOutput>, String> {
    if is_failed(map)? {
        return Ok(Outcome::Failed);
    }
    let output = match input {
        KvInput::Get { .. } => {
            only(map, &["value"])?;
            KvOutput::Value(string(map, "value")?)
        }
        KvInput::Put { .. } | KvInput::Append { .. } => {
            only(map, &["ok"])?;
            if !boolean(map, "ok")? {
                return Err("a write returns {\"ok\": true}; mark one that did not happen {\"failed\": true}".to_owned());
            }
            KvOutput::Written
        }
        KvInput::Cas { .. } => {
            only(map, &["ok"])?;
            KvOutput::Cas(boolean(map, "ok")?)
        }
    };
    Ok(Outcome::Returned(output))
}

fn register_input(map: &Map<String, Value>) -> Result<RegisterInput, String> {
    let op = op_name(map)?;
    match op.as_str() {
        "read" => {
            only(map, &["op"])?;
            Ok(RegisterInput::Read)
        }
        "write" => {
            only(map, &["op", "value"])?;
            Ok(RegisterInput::Write(integer(map, "value")?))
        }
        "cas" => {
            only(map, &["op", "expected", "new"])?;
            Ok(RegisterInput::Cas {
                expected: integer(map, "expected")?,
                new: integer(map, "new")?,
            })
        }
        other => Err(format!(
            "unknown op {other:?} for model register (expected read, write, cas)"
        )),
    }
}

fn register_outcome(
    input: &RegisterInput,
    map: &Map<String, Value>,
) -> Result<Outcome<RegisterOutput>, String> {
    if is_failed(map)? {
        return Ok(Outcome::Failed);
    }
    let output = match input {
        RegisterInput::Read => {
            only(map, &["value"])?;
            match field(map, "value")? {
                Value::Null => RegisterOutput::Value(None),
                _ => RegisterOutput::Value(Some(integer(map, "value")?)),
            }
        }
        RegisterInput::Write(_) => {
            only(map, &["ok"])?;
            if !boolean(map, "ok")? {
                return Err("a write returns {\"ok\": true}; mark one that did not happen {\"failed\": true}".to_owned());
            }
            RegisterOutput::Written
        }
        RegisterInput::Cas { .. } => {
            only(map, &["ok"])?;
            RegisterOutput::Cas(boolean(map, "ok")?)
        }
    };
    Ok(Outcome::Returned(output))
}

/// The 1-based line on which each element of the top-level `"operations"` array starts. A small
/// scan over JSON that serde has already accepted, so it only needs strings and nesting.
fn operation_lines(text: &str) -> Vec<usize> {
    let mut lines = Vec::new();
    let (mut line, mut depth) = (1usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    let mut string_start = 0;
    let mut last_key = "";
    let mut in_operations = false;
    let mut expecting_element = false;
    for (offset, character) in text.char_indices() {
        if character == '\n' {
            line += 1;
        }
        if in_string {
            if escaped {
                escaped = false;
            } else if character == '\\' {
                escaped = true;
            } else if character == '"' {
                in_string = false;
                if depth == 1 {
                    last_key = &text[string_start..offset];
                }
            }
            continue;
        }
        if in_operations
            && depth == 2
            && expecting_element
            && !character.is_whitespace()
            && character != ']'
        {
            lines.push(line);
            expecting_element = false;
        }
        match character {
            '"' => {
                in_string = true;
                string_start = offset + 1;
            }
            '{' | '[' => {
                if depth == 1 && character == '[' && last_key == "operations" {
                    in_operations = true;
                    expecting_element = true;
                }
                depth += 1;
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                if depth == 1 {
                    in_operations = false;
                }
            }
            ',' if in_operations && depth == 2 => expecting_element = true,
            _ => {}
        }
    }
    lines
}

/// Writes a history in our JSON, one operation per line.
pub fn to_json(history: &History) -> String {
    let lines: Vec<String> = match history {
        History::Kv(operations) => operations
            .iter()
            .map(|operation| kv_line(operation).to_string())
            .collect(),
        History::Register(operations) => operations
            .iter()
            .map(|operation| register_line(operation).to_string())
            .collect(),
    };
    let mut text = format!(
        "{{\"model\": \"{}\", \"operations\": [\n",
        history.model().name()
    );
    text.push_str(
        &lines
            .iter()
            .map(|line| format!("  {line}"))
            .collect::<Vec<_>>()
            .join(",\n"),
    );
    text.push_str("\n]}\n");
    text
}

fn line<I, O>(operation: &Operation<I, O>, input: Value, output: impl Fn(&O) -> Value) -> Value {
    let output = match &operation.outcome {
        Outcome::Returned(value) => output(value),
        Outcome::Failed => json!({"failed": true}),
        Outcome::Indefinite => Value::Null,
    };
    json!({"client": operation.client, "input": input, "output": output, "call": operation.call, "return": operation.return_time})
}

fn kv_line(operation: &Operation<KvInput, KvOutput>) -> Value {
    let input = match &operation.input {
        KvInput::Get { key } => json!({"op": "get", "key": key}),
        KvInput::Put { key, value } => json!({"op": "put", "key": key, "value": value}),
        KvInput::Append { key, value } => json!({"op": "append", "key": key, "value": value}),
        KvInput::Cas { key, expected, new } => {
            json!({"op": "cas", "key": key, "expected": expected, "new": new})
        }
    };
    line(operation, input, |output| match output {
        KvOutput::Value(value) => json!({"value": value}),
        KvOutput::Written => json!({"ok": true}),
        KvOutput::Cas(swapped) => json!({"ok": swapped}),
    })
}

fn register_line(operation: &Operation<RegisterInput, RegisterOutput>) -> Value {
    let input = match &operation.input {
        RegisterInput::Read => json!({"op": "read"}),
        RegisterInput::Write(value) => json!({"op": "write", "value": value}),
        RegisterInput::Cas { expected, new } => {
            json!({"op": "cas", "expected": expected, "new": new})
        }
    };
    line(operation, input, |output| match output {
        RegisterOutput::Value(value) => json!({"value": value}),
        RegisterOutput::Written => json!({"ok": true}),
        RegisterOutput::Cas(swapped) => json!({"ok": swapped}),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_operations() {
        let text = "{\"model\": \"kv\",\n \"operations\": [\n {\"a\": \"[x\"},\n\n {}, {}]}";
        assert_eq!(operation_lines(text), vec![3, 5, 5]);
    }

    #[test]
    fn round_trip() {
        let history = History::Kv(vec![
            Operation::returned(
                1,
                KvInput::Put {
                    key: "k".into(),
                    value: "v".into(),
                },
                KvOutput::Written,
                0,
                3,
            ),
            Operation::indefinite(2, KvInput::Get { key: "k".into() }, 1),
            Operation::failed(
                3,
                KvInput::Cas {
                    key: "k".into(),
                    expected: "".into(),
                    new: "w".into(),
                },
                2,
                4,
            ),
        ]);
        assert_eq!(parse(&to_json(&history), None), Ok(history));
    }
}
