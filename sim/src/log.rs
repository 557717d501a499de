//! Structured logging, stamped with virtual time and node. Off by default; when on, records
//! collect in memory in event order, so a trace can be printed, saved or diffed.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::NodeId;
use crate::names::Names;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRecord {
    pub time_ns: u64,
    /// `None` for the simulator's own records that concern no single node.
    pub node: Option<NodeId>,
    /// A short machine-friendly tag: `send`, `drop`, `crash`, `elected`, ...
    pub kind: String,
    pub message: String,
    /// How `node` is printed.
    #[serde(skip)]
    pub names: Names,
}

impl fmt::Display for LogRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let node = self
            .node
            .map_or("sim".to_string(), |n| self.names.of(n).to_string());
        write!(
            f,
            "{:>12.6}ms {:>4} {:<10} {}",
            self.time_ns as f64 / 1e6,
            node,
            self.kind,
            self.message
        )
    }
}

/// Bound on records kept; past it the oldest half is discarded and counted.
pub const LOG_RECORDS_MAX: usize = 2_000_000;

#[derive(Clone, Debug, Default)]
pub struct Log {
    enabled: bool,
    names: Names,
    records: Vec<LogRecord>,
    discarded: u64,
}

impl Log {
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    pub fn set_enabled(&mut self, enabled: bool) {
        self.enabled = enabled;
    }

    /// How records name their nodes.
    pub fn set_names(&mut self, names: Names) {
        self.names = names;
    }

    pub fn names(&self) -> Names {
        self.names
    }

    /// Adds a record; `message` is only built when logging is on.
    #[inline]
    pub fn record(
        &mut self,
        time_ns: u64,
        node: Option<NodeId>,
        kind: &str,
        message: impl FnOnce() -> String,
    ) {
        if !self.enabled {
            return;
        }
        if self.records.len() >= LOG_RECORDS_MAX {
            let half = self.records.len() / 2;
            self.records.drain(..half);
            self.discarded += half as u64;
        }
        self.records.push(LogRecord {
            time_ns,
            node,
            kind: kind.to_string(),
            message: message(),
            names: self.names,
        });
    }

    pub fn records(&self) -> &[LogRecord] {
        &self.records
    }

    pub fn take(&mut self) -> Vec<LogRecord> {
        std::mem::take(&mut self.records)
    }

    pub fn discarded(&self) -> u64 {
        self.discarded
    }
}
