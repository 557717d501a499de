//! Client histories: each operation's input, output and virtual invoke/return times (BRIEF §6).
//! Plain data; conversion into the checker's types happens where both crates are visible.

use serde::{Deserialize, Serialize};

use crate::op::{Op, OpResult};

/// One operation as a client saw it.
///
/// Invariant: `result` and `return_ns` are both `Some` (the operation completed with that
/// result) or both `None` (indefinite: it may or may not have taken effect; its return is at +∞).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HistoryRecord {
    pub client_id: u64,
    /// The clerk's sequence number of the operation; for reports only, the checker ignores it.
    pub seq: u64,
    pub op: Op,
    /// Virtual time at which the client invoked the operation.
    pub call_ns: u64,
    pub result: Option<OpResult>,
    pub return_ns: Option<u64>,
}

impl HistoryRecord {
    /// A completed operation. Panics on a return before the call or a result of the wrong kind.
    pub fn completed(
        client_id: u64,
        seq: u64,
        op: Op,
        call_ns: u64,
        result: OpResult,
        return_ns: u64,
    ) -> Self {
        assert!(
            return_ns >= call_ns,
            "client {client_id} seq {seq}: return at {return_ns} ns before call at {call_ns} ns"
        );
        assert!(
            op.accepts(&result),
            "client {client_id} seq {seq}: {op} cannot return {result}"
        );
        HistoryRecord {
            client_id,
            seq,
            op,
            call_ns,
            result: Some(result),
            return_ns: Some(return_ns),
        }
    }

    /// An operation whose outcome is unknown.
    pub fn indefinite(client_id: u64, seq: u64, op: Op, call_ns: u64) -> Self {
        HistoryRecord {
            client_id,
            seq,
            op,
            call_ns,
            result: None,
            return_ns: None,
        }
    }

    pub fn is_indefinite(&self) -> bool {
        debug_assert_eq!(self.result.is_none(), self.return_ns.is_none());
        self.result.is_none()
    }
}

/// The records of a run, in the order they were recorded (completion or give-up order).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct History {
    records: Vec<HistoryRecord>,
}

impl History {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, record: HistoryRecord) {
        assert_eq!(
            record.result.is_none(),
            record.return_ns.is_none(),
            "client {} seq {}: result and return time must be both present or both absent",
            record.client_id,
            record.seq
        );
        self.records.push(record);
    }

    pub fn records(&self) -> &[HistoryRecord] {
        &self.records
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    pub fn completed_count(&self) -> usize {
        self.records
            .iter()
            .filter(|record| !record.is_indefinite())
            .count()
    }

    pub fn indefinite_count(&self) -> usize {
        self.records
            .iter()
            .filter(|record| record.is_indefinite())
            .count()
    }
}

impl Extend<HistoryRecord> for History {
    fn extend<I: IntoIterator<Item = HistoryRecord>>(&mut self, records: I) {
        for record in records {
            self.push(record);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_completed_and_indefinite() {
        let get = Op::Get { key: "x".into() };
        let mut history = History::new();
        history.push(HistoryRecord::completed(
            1,
            1,
            get.clone(),
            10,
            OpResult::Value("".into()),
            20,
        ));
        history.push(HistoryRecord::indefinite(1, 2, get, 30));
        assert_eq!(
            (
                history.len(),
                history.completed_count(),
                history.indefinite_count()
            ),
            (2, 1, 1)
        );
        let json = serde_json::to_string(&history).unwrap();
        assert_eq!(serde_json::from_str::<History>(&json).unwrap(), history);
    }

    #[test]
    fn half_indefinite_record_is_refused() {
        let mut record = HistoryRecord::indefinite(1, 1, Op::Get { key: "x".into() }, 0);
        record.return_ns = Some(5);
        let result = std::panic::catch_unwind(move || History::new().push(record));
        assert!(result.is_err());
    }
}
