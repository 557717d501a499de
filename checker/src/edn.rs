//! A small EDN reader and the conversion of Jepsen / Knossos / Maelstrom histories.
//!
//! The reader covers what those tools write: maps, vectors, lists, sets, keywords, symbols,
//! strings, integers (with `N`), floats (with `M`), characters, `nil`/`true`/`false`, `;`
//! comments, `#_` discards and tagged values (`#jepsen.history.Op{...}`: the tag is dropped).
//! Commas are whitespace.
//!
//! Values borrow from the text (keywords, symbols, strings without escapes). A history is read
//! one form at a time: each event keeps only its `:type`, `:process`, `:f`, `:key` and `:value`,
//! and is paired with its invocation at once, so the forms are never all in memory.

use std::borrow::Cow;
use std::fmt;

use crate::format::ParseError;
use crate::history::{History, KvOperation, ModelKind, Operation, Outcome, RegisterOperation};
use crate::kv::{KvInput, KvOutput};
use crate::register::{RegisterInput, RegisterOutput};

/// An EDN value, borrowing from the text it was read from. Keywords and symbols are stored
/// without their leading `:`; strings are borrowed unless they had escapes.
#[derive(Clone, Debug, PartialEq)]
pub enum Edn<'a> {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Cow<'a, str>),
    Char(char),
    Keyword(&'a str),
    Symbol(&'a str),
    List(Vec<Edn<'a>>),
    Vector(Vec<Edn<'a>>),
    Set(Vec<Edn<'a>>),
    Map(Vec<(Edn<'a>, Edn<'a>)>),
}

impl<'a> Edn<'a> {
    /// The value under keyword `name` in a map.
    pub fn get(&self, name: &str) -> Option<&Edn<'a>> {
        match self {
            Edn::Map(entries) => entries.iter().find_map(|(key, value)| match key {
                Edn::Keyword(key) if *key == name => Some(value),
                _ => None,
            }),
            _ => None,
        }
    }

    fn as_sequence(&self) -> Option<&[Edn<'a>]> {
        match self {
            Edn::Vector(items) | Edn::List(items) => Some(items),
            _ => None,
        }
    }
}

impl fmt::Display for Edn<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |f: &mut fmt::Formatter<'_>, items: &[Edn<'_>]| -> fmt::Result {
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    f.write_str(" ")?;
                }
                write!(f, "{item}")?;
            }
            Ok(())
        };
        match self {
            Edn::Nil => f.write_str("nil"),
            Edn::Bool(value) => write!(f, "{value}"),
            Edn::Int(value) => write!(f, "{value}"),
            Edn::Float(value) => write!(f, "{value}"),
            Edn::Str(value) => write!(f, "{value:?}"),
            Edn::Char(value) => write!(f, "\\{value}"),
            Edn::Keyword(name) => write!(f, ":{name}"),
            Edn::Symbol(name) => f.write_str(name),
            Edn::List(items) => {
                f.write_str("(")?;
                join(f, items)?;
                f.write_str(")")
            }
            Edn::Vector(items) => {
                f.write_str("[")?;
                join(f, items)?;
                f.write_str("]")
            }
            Edn::Set(items) => {
                f.write_str("#{")?;
                join(f, items)?;
                f.write_str("}")
            }
            Edn::Map(entries) => {
                f.write_str("{")?;
                for (index, (key, value)) in entries.iter().enumerate() {
                    if index > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{key} {value}")?;
                }
                f.write_str("}")
            }
        }
    }
}

/// Nesting deeper than this is rejected rather than risking the stack.
const DEPTH_MAX: usize = 256;

struct Reader<'a> {
    text: &'a str,
    offset: usize,
    line: usize,
}

fn is_delimiter(character: char) -> bool {
    character.is_whitespace()
        || matches!(
            character,
            ',' | '(' | ')' | '[' | ']' | '{' | '}' | '"' | ';'
        )
}

impl<'a> Reader<'a> {
    fn new(text: &'a str) -> Reader<'a> {
        Reader {
            text,
            offset: 0,
            line: 1,
        }
    }

    fn peek(&self) -> Option<char> {
        // ASCII, which is almost all of a history, without decoding.
        match self.text.as_bytes().get(self.offset) {
            Some(&byte) if byte.is_ascii() => Some(char::from(byte)),
            Some(_) => self.text[self.offset..].chars().next(),
            None => None,
        }
    }

    fn bump(&mut self) -> Option<char> {
        let character = self.peek()?;
        self.offset += character.len_utf8();
        if character == '\n' {
            self.line += 1;
        }
        Some(character)
    }

    fn error(&self, message: impl Into<String>) -> ParseError {
        ParseError::line(self.line, message)
    }

    /// Skips whitespace, commas and comments.
    fn skip_blank(&mut self) {
        while let Some(character) = self.peek() {
            if character.is_whitespace() || character == ',' {
                self.bump();
            } else if character == ';' {
                while let Some(character) = self.bump() {
                    if character == '\n' {
                        break;
                    }
                }
            } else {
                break;
            }
        }
    }

    /// Reads a token up to the next delimiter.
    fn token(&mut self) -> &'a str {
        let start = self.offset;
        while let Some(character) = self.peek() {
            if is_delimiter(character) {
                break;
            }
            self.bump();
        }
        &self.text[start..self.offset]
    }

    /// Reads the next value; `None` at the end of input or before `closing`.
    fn value(
        &mut self,
        closing: Option<char>,
        depth: usize,
    ) -> Result<Option<Edn<'a>>, ParseError> {
        if depth > DEPTH_MAX {
            return Err(self.error(format!("nesting deeper than {DEPTH_MAX}")));
        }
        loop {
            self.skip_blank();
            let Some(character) = self.peek() else {
                return match closing {
                    Some(closing) => {
                        Err(self.error(format!("unexpected end of input: missing {closing:?}")))
                    }
                    None => Ok(None),
                };
            };
            if Some(character) == closing {
                self.bump();
                return Ok(None);
            }
            match character {
                ')' | ']' | '}' => return Err(self.error(format!("unexpected {character:?}"))),
                '(' => {
                    return self
                        .sequence(')', depth)
                        .map(|items| Some(Edn::List(items)));
                }
                '[' => {
                    return self
                        .sequence(']', depth)
                        .map(|items| Some(Edn::Vector(items)));
                }
                '{' => return self.map(depth).map(Some),
                '"' => return self.string().map(Some),
                '\\' => return self.character().map(Some),
                '#' => {
                    self.bump();
                    match self.peek() {
                        Some('{') => {
                            self.bump();
                            let items = self.items('}', depth)?;
                            return Ok(Some(Edn::Set(items)));
                        }
                        Some('_') => {
                            self.bump();
                            self.required(depth)?;
                            continue;
                        }
                        _ => {
                            // A tagged value: drop the tag, keep the value.
                            let tag = self.token();
                            if tag.is_empty() {
                                return Err(self.error("'#' must be followed by a tag, '{' or '_'"));
                            }
                            return self.required(depth).map(Some);
                        }
                    }
                }
                _ => return self.atom().map(Some),
            }
        }
    }

    /// A value that must be there (after `#_` or a tag).
    fn required(&mut self, depth: usize) -> Result<Edn<'a>, ParseError> {
        self.value(None, depth + 1)?
            .ok_or_else(|| self.error("unexpected end of input after '#'"))
    }

    fn items(&mut self, closing: char, depth: usize) -> Result<Vec<Edn<'a>>, ParseError> {
        let mut items = Vec::new();
        while let Some(item) = self.value(Some(closing), depth + 1)? {
            items.push(item);
        }
        Ok(items)
    }

    fn sequence(&mut self, closing: char, depth: usize) -> Result<Vec<Edn<'a>>, ParseError> {
        self.bump();
        self.items(closing, depth)
    }

    fn map(&mut self, depth: usize) -> Result<Edn<'a>, ParseError> {
        let line = self.line;
        self.bump();
        let items = self.items('}', depth)?;
        if items.len() % 2 != 0 {
            return Err(ParseError::line(
                line,
                "a map needs an even number of forms (a key without a value)",
            ));
        }
        let mut entries = Vec::with_capacity(items.len() / 2);
        let mut items = items.into_iter();
        while let (Some(key), Some(value)) = (items.next(), items.next()) {
            entries.push((key, value));
        }
        Ok(Edn::Map(entries))
    }

    fn string(&mut self) -> Result<Edn<'a>, ParseError> {
        let line = self.line;
        self.bump();
        // Without escapes the string is the text between the quotes: borrow it.
        let rest = &self.text.as_bytes()[self.offset..];
        if let Some(end) = rest.iter().position(|&byte| byte == b'"' || byte == b'\\')
            && rest[end] == b'"'
        {
            let borrowed = &self.text[self.offset..self.offset + end];
            self.line += borrowed.bytes().filter(|&byte| byte == b'\n').count();
            self.offset += end + 1;
            return Ok(Edn::Str(Cow::Borrowed(borrowed)));
        }
        let mut text = String::new();
        loop {
            let Some(character) = self.bump() else {
                return Err(ParseError::line(line, "unterminated string"));
            };
            match character {
                '"' => return Ok(Edn::Str(Cow::Owned(text))),
                '\\' => {
                    let escaped = match self.bump() {
                        Some('n') => '\n',
                        Some('t') => '\t',
                        Some('r') => '\r',
                        Some('"') => '"',
                        Some('\\') => '\\',
                        Some('u') => {
                            let start = self.offset;
                            for _ in 0..4 {
                                self.bump();
                            }
                            let digits = self.text.get(start..self.offset).unwrap_or("");
                            u32::from_str_radix(digits, 16)
                                .ok()
                                .and_then(char::from_u32)
                                .ok_or_else(|| {
                                    self.error(format!("bad unicode escape \\u{digits}"))
                                })?
                        }
                        other => return Err(self.error(format!("unknown string escape {other:?}"))),
                    };
                    text.push(escaped);
                }
                other => text.push(other),
            }
        }
    }

    fn character(&mut self) -> Result<Edn<'a>, ParseError> {
        self.bump();
        // The first character is taken even if it is a delimiter (`\(`).
        let start = self.offset;
        if self.bump().is_none() {
            return Err(self.error("a character literal needs a character after '\\'"));
        }
        self.token();
        let name = &self.text[start..self.offset];
        let character = match name {
            "newline" => '\n',
            "space" => ' ',
            "tab" => '\t',
            "return" => '\r',
            _ => {
                let mut characters = name.chars();
                match (characters.next(), characters.next()) {
                    (Some(character), None) => character,
                    _ => return Err(self.error(format!("unknown character literal \\{name}"))),
                }
            }
        };
        Ok(Edn::Char(character))
    }

    fn atom(&mut self) -> Result<Edn<'a>, ParseError> {
        let token = self.token();
        if token.is_empty() {
            let character = self.peek().unwrap_or(' ');
            return Err(self.error(format!("unexpected {character:?}")));
        }
        if let Some(name) = token.strip_prefix(':') {
            if name.is_empty() {
                return Err(self.error("empty keyword ':'"));
            }
            return Ok(Edn::Keyword(name));
        }
        match token {
            "nil" => return Ok(Edn::Nil),
            "true" => return Ok(Edn::Bool(true)),
            "false" => return Ok(Edn::Bool(false)),
            _ => {}
        }
        let first = token.chars().next().unwrap_or(' ');
        let second = token.chars().nth(1);
        let numeric = first.is_ascii_digit()
            || (matches!(first, '-' | '+') && second.is_some_and(|second| second.is_ascii_digit()));
        if !numeric {
            return Ok(Edn::Symbol(token));
        }
        let digits = token.strip_suffix('N').unwrap_or(token);
        if let Ok(value) = digits.parse::<i64>() {
            return Ok(Edn::Int(value));
        }
        let decimal = token.strip_suffix('M').unwrap_or(token);
        match decimal.parse::<f64>() {
            Ok(value) if token.contains(['.', 'e', 'E', 'M']) => Ok(Edn::Float(value)),
            _ => Err(self.error(format!("malformed number {token:?}"))),
        }
    }
}

/// The top-level forms of a text, one at a time, each with the line it starts on. A single
/// top-level vector or list is unwrapped, so `[{...} {...}]` and one map per line read the same.
struct Forms<'a> {
    reader: Reader<'a>,
    wrapped: Option<char>,
    done: bool,
}

impl<'a> Forms<'a> {
    fn new(text: &'a str) -> Forms<'a> {
        let mut reader = Reader::new(text);
        reader.skip_blank();
        let wrapped = match reader.peek() {
            Some('[') => Some(']'),
            Some('(') => Some(')'),
            _ => None,
        };
        if wrapped.is_some() {
            reader.bump();
        }
        Forms {
            reader,
            wrapped,
            done: false,
        }
    }

    fn next_form(&mut self) -> Result<Option<(usize, Edn<'a>)>, ParseError> {
        if self.done {
            return Ok(None);
        }
        self.reader.skip_blank();
        let line = self.reader.line;
        if let Some(form) = self.reader.value(self.wrapped, 1)? {
            return Ok(Some((line, form)));
        }
        self.done = true;
        if self.wrapped.is_some() {
            self.reader.skip_blank();
            if self.reader.peek().is_some() {
                return Err(self
                    .reader
                    .error("unexpected form after the closing bracket of the history"));
            }
        }
        Ok(None)
    }
}

/// Reads every top-level form, each with the line it starts on. A single top-level vector or
/// list is unwrapped, so `[{...} {...}]` and one map per line read the same.
pub fn read_forms(text: &str) -> Result<Vec<(usize, Edn<'_>)>, ParseError> {
    let mut forms = Forms::new(text);
    let mut all = Vec::new();
    while let Some(form) = forms.next_form()? {
        all.push(form);
    }
    Ok(all)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EventType {
    Invoke,
    Ok,
    Fail,
    Info,
}

/// One client event of a history: what the conversion needs of its map, the rest dropped.
struct Event<'a> {
    line: usize,
    /// Position in the history: the event's time.
    position: u64,
    kind: EventType,
    process: u64,
    function: &'a str,
    /// A map of the event's `:key` and `:value` only.
    map: Edn<'a>,
}

/// Parses a Jepsen history. Times are event positions in the file (the history order is the
/// real-time order); `:time` is not needed. Events of non-integer processes (`:nemesis`) are
/// skipped. An invocation without a completion is indefinite. Forms are read one at a time and
/// paired as they come, so only the fields the operations need stay in memory.
pub fn parse_history(text: &str, model: Option<ModelKind>) -> Result<History, ParseError> {
    let mut forms = Forms::new(text);
    let mut pairing = Pairing::default();
    let mut keyed = false;
    let mut position = 0u64;
    while let Some((line, form)) = forms.next_form()? {
        if let Some(event) = event(line, position, form)? {
            keyed |= is_keyed(&event);
            pairing.add(event)?;
        }
        position += 1;
    }
    let model = model.unwrap_or(if keyed {
        ModelKind::Kv
    } else {
        ModelKind::Register
    });
    let pairs = pairing.pairs;
    match model {
        ModelKind::Kv => pairs
            .iter()
            .map(kv_operation)
            .collect::<Result<_, _>>()
            .map(History::Kv),
        ModelKind::Register => pairs
            .iter()
            .map(register_operation)
            .collect::<Result<_, _>>()
            .map(History::Register),
    }
}

/// The event a form describes; `None` for events of other processes (`:nemesis`).
fn event(line: usize, position: u64, form: Edn<'_>) -> Result<Option<Event<'_>>, ParseError> {
    let Edn::Map(entries) = form else {
        return Err(ParseError::line(
            line,
            format!("expected an operation map, found {}", short(&form)),
        ));
    };
    let (mut kind, mut process, mut function) = (None, None, None);
    let mut kept = Vec::with_capacity(2);
    for (key, value) in entries {
        match key {
            Edn::Keyword("type") => kind = Some(value),
            Edn::Keyword("process") => process = Some(value),
            Edn::Keyword("f") => function = Some(value),
            Edn::Keyword("key" | "value") => kept.push((key, value)),
            _ => {}
        }
    }
    let kind = match kind {
        Some(Edn::Keyword(kind)) => match kind {
            "invoke" => EventType::Invoke,
            "ok" => EventType::Ok,
            "fail" => EventType::Fail,
            "info" => EventType::Info,
            other => {
                return Err(ParseError::line(
                    line,
                    format!(":type :{other} is not :invoke, :ok, :fail or :info"),
                ));
            }
        },
        Some(other) => {
            return Err(ParseError::line(
                line,
                format!(":type must be a keyword, not {}", short(&other)),
            ));
        }
        None => return Err(ParseError::line(line, "missing :type")),
    };
    let process = match process {
        Some(Edn::Int(process)) if process >= 0 => process as u64,
        // Nemesis and other non-client processes do not take part in the history.
        Some(Edn::Keyword(_) | Edn::Symbol(_) | Edn::Str(_)) => return Ok(None),
        Some(other) => {
            return Err(ParseError::line(
                line,
                format!(
                    ":process must be a non-negative integer, not {}",
                    short(&other)
                ),
            ));
        }
        None => return Err(ParseError::line(line, "missing :process")),
    };
    let function = match function {
        Some(Edn::Keyword(function)) => function,
        Some(other) => {
            return Err(ParseError::line(
                line,
                format!(":f must be a keyword, not {}", short(&other)),
            ));
        }
        None => return Err(ParseError::line(line, "missing :f")),
    };
    Ok(Some(Event {
        line,
        position,
        kind,
        process,
        function,
        map: Edn::Map(kept),
    }))
}

/// A short rendering of a value for error messages.
fn short(value: &Edn<'_>) -> String {
    let text = value.to_string();
    if text.chars().count() > 40 {
        format!("{}...", text.chars().take(40).collect::<String>())
    } else {
        text
    }
}

/// Whether an event says the history is kv: a kv function, a key, or a tuple value.
fn is_keyed(event: &Event<'_>) -> bool {
    matches!(event.function, "get" | "put" | "append")
        || event.map.get("key").is_some()
        || (matches!(event.function, "write" | "read")
            && event.map.get("value").and_then(Edn::as_sequence).is_some())
}

/// An invocation and its completion (`None`: never completed, so indefinite).
struct Pair<'a> {
    invoke: Event<'a>,
    completion: Option<Event<'a>>,
}

/// Pairs events as they come.
#[derive(Default)]
struct Pairing<'a> {
    pairs: Vec<Pair<'a>>,
    /// Open invocation per process, as an index into `pairs`; a BTreeMap keeps this
    /// deterministic.
    open: std::collections::BTreeMap<u64, usize>,
}

impl<'a> Pairing<'a> {
    fn add(&mut self, event: Event<'a>) -> Result<(), ParseError> {
        if event.kind == EventType::Invoke {
            if let Some(&previous) = self.open.get(&event.process) {
                return Err(ParseError::line(
                    event.line,
                    format!(
                        "process {} invokes again before its invocation on line {} completed",
                        event.process, self.pairs[previous].invoke.line
                    ),
                ));
            }
            self.open.insert(event.process, self.pairs.len());
            self.pairs.push(Pair {
                invoke: event,
                completion: None,
            });
            return Ok(());
        }
        let Some(index) = self.open.remove(&event.process) else {
            if event.kind == EventType::Info {
                return Ok(()); // An :info with nothing open (a crash report) adds nothing.
            }
            return Err(ParseError::line(
                event.line,
                format!(
                    "process {} completes an operation it never invoked",
                    event.process
                ),
            ));
        };
        let invoke = &self.pairs[index].invoke;
        if invoke.function != event.function {
            return Err(ParseError::line(
                event.line,
                format!(
                    "completion :f :{} does not match the invocation :f :{} on line {}",
                    event.function, invoke.function, invoke.line
                ),
            ));
        }
        self.pairs[index].completion = Some(event);
        Ok(())
    }
}

/// What the completion says, before the model interprets the values.
enum Completion<'e, 'a> {
    Returned {
        value: Option<&'e Edn<'a>>,
        time: u64,
    },
    Failed {
        time: u64,
    },
    Indefinite,
}

fn completion<'e, 'a>(pair: &'e Pair<'a>) -> Completion<'e, 'a> {
    match &pair.completion {
        None => Completion::Indefinite,
        Some(event) => match event.kind {
            EventType::Ok => Completion::Returned {
                value: event.map.get("value"),
                time: event.position,
            },
            EventType::Fail => Completion::Failed {
                time: event.position,
            },
            EventType::Info | EventType::Invoke => Completion::Indefinite,
        },
    }
}

fn build<I, O>(
    pair: &Pair<'_>,
    input: I,
    output: impl FnOnce(Option<&Edn<'_>>) -> Result<O, String>,
) -> Result<Operation<I, O>, ParseError> {
    let (outcome, return_time) = match completion(pair) {
        Completion::Indefinite => (Outcome::Indefinite, None),
        Completion::Failed { time } => (Outcome::Failed, Some(time)),
        Completion::Returned { value, time } => {
            let line = pair
                .completion
                .as_ref()
                .map_or(pair.invoke.line, |event| event.line);
            (
                Outcome::Returned(
                    output(value).map_err(|message| ParseError::line(line, message))?,
                ),
                Some(time),
            )
        }
    };
    Ok(Operation {
        client: pair.invoke.process,
        input,
        outcome,
        call: pair.invoke.position,
        return_time,
    })
}

fn integer_or_nil(value: Option<&Edn<'_>>, what: &str) -> Result<Option<i64>, String> {
    match value {
        None | Some(Edn::Nil) => Ok(None),
        Some(Edn::Int(value)) => Ok(Some(*value)),
        Some(other) => Err(format!(
            "{what} must be an integer or nil, not {}",
            short(other)
        )),
    }
}

fn integer(value: Option<&Edn<'_>>, what: &str) -> Result<i64, String> {
    integer_or_nil(value, what)?.ok_or_else(|| format!("{what} must be an integer, not nil"))
}

/// `[a b]` as two values.
fn two<'v, 'a>(
    value: Option<&'v Edn<'a>>,
    what: &str,
) -> Result<(&'v Edn<'a>, &'v Edn<'a>), String> {
    match value.and_then(Edn::as_sequence) {
        Some([first, second]) => Ok((first, second)),
        _ => Err(format!(
            "{what} must be a two-element vector, not {}",
            value.map_or("nothing".to_owned(), short)
        )),
    }
}

fn register_operation(pair: &Pair<'_>) -> Result<RegisterOperation, ParseError> {
    let invoke = &pair.invoke;
    let located = |message: String| ParseError::line(invoke.line, message);
    match invoke.function {
        "read" => build(pair, RegisterInput::Read, |value| {
            integer_or_nil(value, "the :value of a :read").map(RegisterOutput::Value)
        }),
        "write" => {
            let value =
                integer(invoke.map.get("value"), "the :value of a :write").map_err(located)?;
            build(pair, RegisterInput::Write(value), |_| {
                Ok(RegisterOutput::Written)
            })
        }
        "cas" => {
            let (expected, new) =
                two(invoke.map.get("value"), "the :value of a :cas").map_err(located)?;
            let expected =
                integer(Some(expected), "the expected value of a :cas").map_err(located)?;
            let new = integer(Some(new), "the new value of a :cas").map_err(located)?;
            build(pair, RegisterInput::Cas { expected, new }, |_| {
                Ok(RegisterOutput::Cas(true))
            })
        }
        other => Err(located(format!(
            "register histories have :read, :write and :cas, not :{other}"
        ))),
    }
}

/// A key or value as a string: strings as they are, keywords by name, nil as "", others printed.
fn text(value: &Edn<'_>) -> String {
    match value {
        Edn::Str(text) => text.to_string(),
        Edn::Keyword(name) => (*name).to_owned(),
        Edn::Nil => String::new(),
        other => other.to_string(),
    }
}

/// The key and the payload of a keyed operation: `:key k :value v`, a `[k v]` tuple, or a
/// `{:key k :value v}` map (a printed `jepsen.independent` tuple).
fn keyed<'a>(
    map: &Edn<'a>,
    value: Option<&Edn<'a>>,
    what: &str,
) -> Result<(String, Option<Edn<'a>>), String> {
    if let Some(key) = map.get("key") {
        return Ok((text(key), value.cloned()));
    }
    if let Some(tuple @ Edn::Map(_)) = value
        && let Some(key) = tuple.get("key")
    {
        return Ok((text(key), tuple.get("value").cloned()));
    }
    let (key, payload) = two(
        value,
        &format!("{what} (without :key, a [key value] tuple)"),
    )?;
    Ok((text(key), Some(payload.clone())))
}

fn kv_operation(pair: &Pair<'_>) -> Result<KvOperation, ParseError> {
    let invoke = &pair.invoke;
    let located = |message: String| ParseError::line(invoke.line, message);
    let what = format!("the :value of a :{}", invoke.function);
    let (key, payload) = keyed(&invoke.map, invoke.map.get("value"), &what).map_err(located)?;
    match invoke.function {
        "read" | "get" => {
            // The completion carries the value read: bare when the key is a field, else a tuple.
            let key_field = invoke.map.get("key").is_some()
                || pair
                    .completion
                    .as_ref()
                    .is_some_and(|event| event.map.get("key").is_some());
            build(pair, KvInput::Get { key }, |value| {
                let read = if key_field {
                    value.cloned()
                } else {
                    keyed(&Edn::Nil, value, "the :value of a completed read")?.1
                };
                Ok(KvOutput::Value(read.as_ref().map(text).unwrap_or_default()))
            })
        }
        "write" | "put" | "append" => {
            let value = payload
                .as_ref()
                .map(text)
                .ok_or_else(|| located(format!("{what} needs a value")))?;
            let input = if invoke.function == "append" {
                KvInput::Append { key, value }
            } else {
                KvInput::Put { key, value }
            };
            build(pair, input, |_| Ok(KvOutput::Written))
        }
        "cas" => {
            let (expected, new) =
                two(payload.as_ref(), "the [expected new] of a :cas").map_err(located)?;
            let input = KvInput::Cas {
                key,
                expected: text(expected),
                new: text(new),
            };
            build(pair, input, |_| Ok(KvOutput::Cas(true)))
        }
        other => Err(located(format!(
            "kv histories have :read/:get, :write/:put, :append and :cas, not :{other}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_odd_spacing_tabs_and_commas() {
        let forms = read_forms("[{:type\t:invoke,,:f :cas :value [1 2]}\n ;; comment\n\t{:x #_ 5 \"a\\\"b\" :y #{1} :z (3.5 -2 7N \\a)}]").unwrap();
        assert_eq!(forms.len(), 2);
        assert_eq!(forms[1].0, 3);
        assert_eq!(
            forms[0].1.get("value"),
            Some(&Edn::Vector(vec![Edn::Int(1), Edn::Int(2)]))
        );
        assert_eq!(forms[1].1.get("x"), Some(&Edn::Str("a\"b".into())));
        assert_eq!(
            forms[1].1.get("z"),
            Some(&Edn::List(vec![
                Edn::Float(3.5),
                Edn::Int(-2),
                Edn::Int(7),
                Edn::Char('a')
            ]))
        );
    }

    #[test]
    fn errors_name_the_line() {
        let error = read_forms("{:a 1}\n{:b 2\n").unwrap_err();
        assert_eq!(
            error,
            ParseError::line(3, "unexpected end of input: missing '}'")
        );
        let error = read_forms("{:a 1}\n\n{:b}").unwrap_err();
        assert_eq!(
            error,
            ParseError::line(
                3,
                "a map needs an even number of forms (a key without a value)"
            )
        );
        let error = read_forms("{:a 1}\n]").unwrap_err();
        assert_eq!(error, ParseError::line(2, "unexpected ']'"));
    }

    #[test]
    fn strings_are_borrowed_unless_escaped_and_keep_lines_counted() {
        let forms = read_forms("{:a \"x\ny\" :b \"q\\\"\"}\n{:c}").unwrap_err();
        // The newline inside the first string counts: the odd map starts on line 3.
        assert_eq!(
            forms,
            ParseError::line(
                3,
                "a map needs an even number of forms (a key without a value)"
            )
        );
        let forms = read_forms("{:a \"x\ny\" :b \"q\\\"\"}").unwrap();
        assert!(matches!(
            forms[0].1.get("a"),
            Some(Edn::Str(Cow::Borrowed("x\ny")))
        ));
        assert_eq!(
            forms[0].1.get("b"),
            Some(&Edn::Str(Cow::Owned("q\"".into())))
        );
    }

    #[test]
    fn tagged_values_keep_the_value() {
        let forms = read_forms("#jepsen.history.Op{:type :ok}").unwrap();
        assert_eq!(forms[0].1.get("type"), Some(&Edn::Keyword("ok")));
    }
}
