//! Choosing a history format, and the one error type every parser returns.

use std::path::Path;

use crate::history::{History, ModelKind};

/// Malformed input: always names the line (1-based) when there is one, and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("line {line}: {message}")]
    Line { line: usize, message: String },
    #[error("{message}")]
    Whole { message: String },
}

impl ParseError {
    pub(crate) fn line(line: usize, message: impl Into<String>) -> ParseError {
        ParseError::Line {
            line,
            message: message.into(),
        }
    }

    pub(crate) fn whole(message: impl Into<String>) -> ParseError {
        ParseError::Whole {
            message: message.into(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Our history JSON (BRIEF §11).
    Json,
    /// Jepsen / Knossos / Maelstrom EDN.
    Edn,
}

impl Format {
    /// From a file extension: `.json` or `.edn`.
    pub fn from_path(path: &Path) -> Option<Format> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "json" => Some(Format::Json),
            "edn" => Some(Format::Edn),
            _ => None,
        }
    }
}

/// Parses a history. `model` is required for EDN unless it can be inferred, and must agree with
/// the `"model"` field of a JSON history that has one.
pub fn parse(text: &str, format: Format, model: Option<ModelKind>) -> Result<History, ParseError> {
    match format {
        Format::Json => crate::json::parse(text, model),
        Format::Edn => crate::edn::parse_history(text, model),
    }
}
