//! Our history JSON (BRIEF §11; shapes in FORMATS.md): reading with errors that name the line,
//! and writing one operation per line.
//!
//! Reading streams: serde visits the text once, strings are borrowed from it, and each operation
//! becomes an `Operation` as soon as it is read, so no tree of JSON values is ever built. The
//! line an operation starts on is found only when it has an error.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Value, json};

use crate::format::ParseError;
use crate::history::{History, ModelKind, Operation, Outcome};
use crate::kv::{KvInput, KvOutput};
use crate::register::{RegisterInput, RegisterOutput};

/// A string, borrowed from the text unless it had escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(text)))
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(text.to_owned())))
            }
            fn visit_string<E: de::Error>(self, text: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(text)))
            }
        }
        deserializer.deserialize_str(TextVisitor)
    }
}

/// A field value of an input or output object: strings borrowed, anything else as a `Value`
/// (numbers, booleans and null cost no allocation there).
enum Scalar<'a> {
    Str(Cow<'a, str>),
    Other(Value),
}

impl fmt::Display for Scalar<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Str(text) => write!(f, "{}", Value::String(text.to_string())),
            Scalar::Other(value) => write!(f, "{value}"),
        }
    }
}

impl<'de> Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;
        impl<'de> Visitor<'de> for ScalarVisitor {
            type Value = Scalar<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Str(Cow::Borrowed(text)))
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Str(Cow::Owned(text.to_owned())))
            }
            fn visit_string<E: de::Error>(self, text: String) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Str(Cow::Owned(text)))
            }
            fn visit_bool<E: de::Error>(self, value: bool) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Other(Value::Bool(value)))
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Other(Value::from(value)))
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Other(Value::from(value)))
            }
            fn visit_f64<E: de::Error>(self, value: f64) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Other(Value::from(value)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Other(Value::Null))
            }
            fn visit_none<E: de::Error>(self) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Other(Value::Null))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Scalar<'de>, A::Error> {
                Value::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(Scalar::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Scalar<'de>, A::Error> {
                Value::deserialize(de::value::MapAccessDeserializer::new(map)).map(Scalar::Other)
            }
        }
        deserializer.deserialize_any(ScalarVisitor)
    }
}

/// The fields of an input or output object, in file order.
struct Fields<'a>(Vec<(Cow<'a, str>, Scalar<'a>)>);

impl<'de> Deserialize<'de> for Fields<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldsVisitor;
        impl<'de> Visitor<'de> for FieldsVisitor {
            type Value = Fields<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields<'de>, A::Error> {
                let mut fields = Vec::with_capacity(4);
                while let Some(Text(name)) = map.next_key::<Text<'de>>()? {
                    let value: Scalar<'de> = map.next_value()?;
                    // A repeated name keeps its last value, as a JSON object does.
                    fields.retain(|(other, _): &(Cow<'de, str>, Scalar<'de>)| *other != name);
                    fields.push((name, value));
                }
                Ok(Fields(fields))
            }
        }
        deserializer.deserialize_map(FieldsVisitor)
    }
}

impl<'a> Fields<'a> {
    fn get(&self, name: &str) -> Option<&Scalar<'a>> {
        self.0
            .iter()
            .find_map(|(field, value)| (field == name).then_some(value))
    }

    fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// One operation as written, before the model reads its input and output.
struct RawOperation<'a> {
    client: u64,
    input: Fields<'a>,
    /// `None` for `null` or absent: indefinite.
    output: Option<Fields<'a>>,
    call: u64,
    return_time: Option<u64>,
}

const OPERATION_FIELDS: &[&str] = &["client", "input", "output", "call", "return"];

impl<'de> Deserialize<'de> for RawOperation<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_struct("operation", OPERATION_FIELDS, OperationVisitor)
    }
}

struct OperationVisitor;

impl<'de> Visitor<'de> for OperationVisitor {
    type Value = RawOperation<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("struct RawOperation")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawOperation<'de>, A::Error> {
        let mut client: Option<u64> = None;
        let mut input: Option<Fields<'de>> = None;
        let mut output: Option<Option<Fields<'de>>> = None;
        let mut call: Option<u64> = None;
        let mut return_time: Option<Option<u64>> = None;
        while let Some(Text(name)) = map.next_key::<Text<'de>>()? {
            match name.as_ref() {
                "client" => set(&mut client, "client", map.next_value()?)?,
                "input" => set(&mut input, "input", map.next_value()?)?,
                "output" => set(&mut output, "output", map.next_value()?)?,
                "call" => set(&mut call, "call", map.next_value()?)?,
                "return" => set(&mut return_time, "return", map.next_value()?)?,
                other => return Err(de::Error::unknown_field(other, OPERATION_FIELDS)),
            }
        }
        Ok(RawOperation {
            client: client.ok_or_else(|| de::Error::missing_field("client"))?,
            input: input.ok_or_else(|| de::Error::missing_field("input"))?,
            output: output.flatten(),
            call: call.ok_or_else(|| de::Error::missing_field("call"))?,
            return_time: return_time.flatten(),
        })
    }
}

fn set<T, E: de::Error>(slot: &mut Option<T>, name: &'static str, value: T) -> Result<(), E> {
    if slot.is_some() {
        return Err(E::duplicate_field(name));
    }
    *slot = Some(value);
    Ok(())
}

/// A shape error of one operation, kept aside while serde unwinds with a placeholder.
type ShapeError = RefCell<Option<(usize, String)>>;

/// Reads the `"operations"` array, converting each operation as soon as it is read, so only the
/// operations themselves stay in memory.
struct OperationsSeed<'s, I, O> {
    input: fn(&Fields<'_>) -> Result<I, String>,
    outcome: OutcomeParser<I, O>,
    shape_error: &'s ShapeError,
}

impl<'de, I, O> DeserializeSeed<'de> for OperationsSeed<'_, I, O> {
    type Value = Vec<Operation<I, O>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, I, O> Visitor<'de> for OperationsSeed<'_, I, O> {
    type Value = Vec<Operation<I, O>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut operations = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(raw) = seq.next_element::<RawOperation<'de>>()? {
            match operation(&raw, self.input, self.outcome) {
                Ok(operation) => operations.push(operation),
                Err(message) => {
                    *self.shape_error.borrow_mut() = Some((operations.len(), message));
                    return Err(de::Error::custom("shape"));
                }
            }
        }
        Ok(operations)
    }
}

/// The top-level object. `operations` is read only once the model is known; when the file
/// names its model after the operations (and none was given), they are skipped in this pass
/// and read in a second one.
struct HistoryVisitor<'s> {
    given: Option<ModelKind>,
    shape_error: &'s ShapeError,
}

/// What one pass found: the model named in the file, and the history if it could be read.
struct Pass {
    model: Option<String>,
    history: Option<History>,
    saw_operations: bool,
}

impl<'de> Visitor<'de> for HistoryVisitor<'_> {
    type Value = Pass;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("struct RawHistory")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Pass, A::Error> {
        let mut pass = Pass {
            model: None,
            history: None,
            saw_operations: false,
        };
        let mut model_seen = false;
        while let Some(Text(name)) = map.next_key::<Text<'de>>()? {
            match name.as_ref() {
                "model" => {
                    if model_seen {
                        return Err(de::Error::duplicate_field("model"));
                    }
                    model_seen = true;
                    let model: Option<Text<'de>> = map.next_value()?;
                    pass.model = model.map(|Text(text)| text.into_owned());
                }
                "operations" => {
                    if pass.saw_operations {
                        return Err(de::Error::duplicate_field("operations"));
                    }
                    pass.saw_operations = true;
                    let file_model = pass.model.as_deref().and_then(ModelKind::from_name);
                    pass.history = match file_model.or(self.given) {
                        None => {
                            map.next_value::<IgnoredAny>()?;
                            None
                        }
                        Some(model) => Some(map.next_value_seed(HistorySeed {
                            model,
                            shape_error: self.shape_error,
                        })?),
                    };
                }
                other => return Err(de::Error::unknown_field(other, &["model", "operations"])),
            }
        }
        if !pass.saw_operations {
            return Err(de::Error::missing_field("operations"));
        }
        Ok(pass)
    }
}

struct HistorySeed<'s> {
    model: ModelKind,
    shape_error: &'s ShapeError,
}

impl<'de> DeserializeSeed<'de> for HistorySeed<'_> {
    type Value = History;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<History, D::Error> {
        let shape_error = self.shape_error;
        Ok(match self.model {
            ModelKind::Kv => History::Kv(
                OperationsSeed {
                    input: kv_input,
                    outcome: kv_outcome,
                    shape_error,
                }
                .deserialize(deserializer)?,
            ),
            ModelKind::Register => History::Register(
                OperationsSeed {
                    input: register_input,
                    outcome: register_outcome,
                    shape_error,
                }
                .deserialize(deserializer)?,
            ),
        })
    }
}

/// One pass over the text.
fn read_pass(text: &str, given: Option<ModelKind>) -> Result<Pass, ParseError> {
    let shape_error = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let result = deserializer
        .deserialize_map(HistoryVisitor {
            given,
            shape_error: &shape_error,
        })
        .and_then(|pass| deserializer.end().map(|()| pass));
    result.map_err(|error| match shape_error.take() {
        Some((index, message)) => {
            let line = operation_lines(text).get(index).copied().unwrap_or(1);
            ParseError::line(line, format!("operation {index}: {message}"))
        }
        None => syntax_error(&error),
    })
}

fn syntax_error(error: &serde_json::Error) -> ParseError {
    let message = error.to_string();
    let message = match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message,
    };
    ParseError::line(
        error.line().max(1),
        format!("column {}: {message}", error.column()),
    )
}

/// Parses a history in one pass over the text, operations converted as they are read (two
/// passes when the file names its model after its operations). `model` (from the command line)
/// is used when the file names none.
pub fn parse(text: &str, model: Option<ModelKind>) -> Result<History, ParseError> {
    let pass = read_pass(text, model)?;
    let resolved = resolve_model(pass.model.as_deref(), model)?;
    match pass.history {
        Some(history) if history.model() == resolved => Ok(history),
        // Read with the given model but the file names another: `resolve_model` refused it.
        Some(_) => unreachable!("model {resolved} resolved against a different history"),
        None => read_pass(text, Some(resolved))?
            .history
            .ok_or_else(|| ParseError::whole("the operations could not be read")),
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
type OutcomeParser<I, O> = fn(&I, &Fields<'_>) -> Result<Outcome<O>, String>;

fn operation<I, O>(
    raw: &RawOperation<'_>,
    input: fn(&Fields<'_>) -> Result<I, String>,
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

/// Rejects fields other than `allowed`, naming the first unexpected one in name order.
fn only(map: &Fields<'_>, allowed: &[&str]) -> Result<(), String> {
    let unexpected = map
        .0
        .iter()
        .map(|(name, _)| name.as_ref())
        .filter(|name| !allowed.contains(name))
        .min();
    match unexpected {
        Some(name) => Err(format!(
            "unexpected field {name:?} (expected {})",
            allowed.join(", ")
        )),
        None => Ok(()),
    }
}

fn field<'m, 'a>(map: &'m Fields<'a>, name: &str) -> Result<&'m Scalar<'a>, String> {
    map.get(name)
        .ok_or_else(|| format!("missing field {name:?}"))
}

fn text<'m>(map: &'m Fields<'_>, name: &str) -> Result<&'m str, String> {
    match field(map, name)? {
        Scalar::Str(text) => Ok(text),
        other => Err(format!("{name:?} must be a string, not {other}")),
    }
}

fn string(map: &Fields<'_>, name: &str) -> Result<String, String> {
    text(map, name).map(str::to_owned)
}

fn integer(map: &Fields<'_>, name: &str) -> Result<i64, String> {
    match field(map, name)? {
        Scalar::Other(Value::Number(number)) if number.as_i64().is_some() => {
            Ok(number.as_i64().unwrap_or_default())
        }
        other => Err(format!("{name:?} must be an integer, not {other}")),
    }
}

fn boolean(map: &Fields<'_>, name: &str) -> Result<bool, String> {
    match field(map, name)? {
        Scalar::Other(Value::Bool(value)) => Ok(*value),
        other => Err(format!("{name:?} must be true or false, not {other}")),
    }
}

fn op_name<'m>(map: &'m Fields<'_>) -> Result<&'m str, String> {
    text(map, "op")
}

fn kv_input(map: &Fields<'_>) -> Result<KvInput, String> {
    let op = op_name(map)?;
    match op {
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

fn is_failed(map: &Fields<'_>) -> Result<bool, String> {
    if !map.contains("failed") {
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

fn kv_outcome(input: &KvInput, map: &Fields<'_>) -> Result<Outcome<KvOutput>, String> {
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

fn register_input(map: &Fields<'_>) -> Result<RegisterInput, String> {
    let op = op_name(map)?;
    match op {
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
    map: &Fields<'_>,
) -> Result<Outcome<RegisterOutput>, String> {
    if is_failed(map)? {
        return Ok(Outcome::Failed);
    }
    let output = match input {
        RegisterInput::Read => {
            only(map, &["value"])?;
            match field(map, "value")? {
                Scalar::Other(Value::Null) => RegisterOutput::Value(None),
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
