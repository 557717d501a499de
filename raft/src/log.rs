//! The node's view of its log: the stable part in [`Storage`] followed by an unstable part (a
//! snapshot and/or entries not yet reported persisted by the driver).

use crate::error::StorageError;
use crate::storage::Storage;
use crate::types::{ConfState, Entry, Snapshot};

/// Entries (and possibly a snapshot) not yet persisted. `offset` is the index of `entries[0]`.
#[derive(Debug)]
struct Unstable {
    snapshot: Option<Snapshot>,
    entries: Vec<Entry>,
    offset: u64,
}

impl Unstable {
    fn last_index(&self) -> Option<u64> {
        if !self.entries.is_empty() {
            return Some(self.offset + self.entries.len() as u64 - 1);
        }
        self.snapshot
            .as_ref()
            .map(|snapshot| snapshot.metadata.index)
    }

    fn term(&self, index: u64) -> Option<u64> {
        if index >= self.offset {
            return self
                .entries
                .get((index - self.offset) as usize)
                .map(|entry| entry.term);
        }
        let snapshot = self.snapshot.as_ref()?;
        (snapshot.metadata.index == index).then_some(snapshot.metadata.term)
    }

    fn truncate_and_append(&mut self, entries: &[Entry]) {
        let after = entries[0].index;
        let end = self.offset + self.entries.len() as u64;
        if after == end {
            self.entries.extend_from_slice(entries);
        } else if after <= self.offset {
            // Replaces everything unstable; storage entries from `after` on are shadowed until
            // the driver persists these, which overwrites them.
            self.offset = after;
            self.entries.clear();
            self.entries.extend_from_slice(entries);
        } else {
            self.entries.truncate((after - self.offset) as usize);
            self.entries.extend_from_slice(entries);
        }
    }
}

/// The log: storage plus unstable part, with the commit and applied indices.
#[derive(Debug)]
pub struct RaftLog<S: Storage> {
    pub storage: S,
    unstable: Unstable,
    /// The highest index known committed.
    pub committed: u64,
    /// The highest index handed to the application to apply.
    pub applied: u64,
}

impl<S: Storage> RaftLog<S> {
    pub fn new(storage: S, committed: u64) -> RaftLog<S> {
        let first_index = storage.first_index();
        let last_index = storage.last_index();
        // The compaction point is committed by construction (only applied entries are
        // compacted), so a commit index below it is a broken storage.
        assert!(
            committed + 1 >= first_index,
            "stored commit index {committed} below the compaction point {}",
            first_index - 1
        );
        // A commit index beyond the durable log means the driver lost entries it had synced
        // together with that hard state (a torn write): restart with what is there; the leader
        // will tell us the commit index again.
        let committed = committed.min(last_index);
        RaftLog {
            unstable: Unstable {
                snapshot: None,
                entries: Vec::new(),
                offset: last_index + 1,
            },
            storage,
            committed,
            applied: first_index - 1,
        }
    }

    /// The first index still held (storage's, or past the unstable snapshot).
    pub fn first_index(&self) -> u64 {
        match &self.unstable.snapshot {
            Some(snapshot) => snapshot.metadata.index + 1,
            None => self.storage.first_index(),
        }
    }

    pub fn last_index(&self) -> u64 {
        self.unstable
            .last_index()
            .unwrap_or_else(|| self.storage.last_index())
    }

    pub fn term(&self, index: u64) -> Result<u64, StorageError> {
        let dummy_index = self.first_index() - 1;
        if index < dummy_index {
            return Err(StorageError::Compacted {
                index,
                first_index: dummy_index + 1,
            });
        }
        let last_index = self.last_index();
        if index > last_index {
            return Err(StorageError::Unavailable { index, last_index });
        }
        if let Some(term) = self.unstable.term(index) {
            return Ok(term);
        }
        self.storage.term(index)
    }

    pub fn last_term(&self) -> u64 {
        self.term(self.last_index())
            .expect("the last index always has a term")
    }

    pub fn match_term(&self, index: u64, term: u64) -> bool {
        self.term(index).is_ok_and(|t| t == term)
    }

    /// The up-to-date rule of §5.4.1.
    pub fn is_up_to_date(&self, last_index: u64, last_term: u64) -> bool {
        let my_last_term = self.last_term();
        last_term > my_last_term || (last_term == my_last_term && last_index >= self.last_index())
    }

    /// Entries `low..high`, at most `max_count`.
    pub fn entries(
        &self,
        low: u64,
        high: u64,
        max_count: usize,
    ) -> Result<Vec<Entry>, StorageError> {
        let high = high.min(self.last_index() + 1);
        if low >= high {
            return Ok(Vec::new());
        }
        let first_index = self.first_index();
        if low < first_index {
            return Err(StorageError::Compacted {
                index: low,
                first_index,
            });
        }
        let high = high.min(low.saturating_add(max_count.max(1) as u64));
        let offset = self.unstable.offset;
        let mut result = if low < offset {
            self.storage.entries(low, high.min(offset), max_count)?
        } else {
            Vec::new()
        };
        if high > offset {
            let from = low.max(offset);
            let start = (from - offset) as usize;
            let end = (high - offset) as usize;
            result.extend_from_slice(&self.unstable.entries[start..end]);
        }
        Ok(result)
    }

    /// Entries `low..high`, at most `max_count` and, beyond the first, at most `max_bytes` of
    /// payload in all (etcd's size limit: the first entry always comes, however large).
    pub fn entries_within(
        &self,
        low: u64,
        high: u64,
        max_count: usize,
        max_bytes: u64,
    ) -> Result<Vec<Entry>, StorageError> {
        let mut entries = self.entries(low, high, max_count)?;
        limit_size(&mut entries, max_bytes);
        Ok(entries)
    }

    /// Appends entries that follow on from (or replace a suffix of) the log. Returns the new last
    /// index.
    pub fn append(&mut self, entries: &[Entry]) -> u64 {
        let Some(first) = entries.first() else {
            return self.last_index();
        };
        assert!(
            first.index > self.committed,
            "appending at index {} would overwrite committed index {}",
            first.index,
            self.committed
        );
        assert!(
            first.index <= self.last_index() + 1,
            "append at {} leaves a gap after last index {}",
            first.index,
            self.last_index()
        );
        self.unstable.truncate_and_append(entries);
        self.last_index()
    }

    /// The first entry of `entries` whose term disagrees with the log, or is new; 0 if none.
    pub fn find_conflict(&self, entries: &[Entry]) -> u64 {
        for entry in entries {
            if !self.match_term(entry.index, entry.term) {
                return entry.index;
            }
        }
        0
    }

    /// The largest index at or below `index` whose term is at most `term`, with that term; used
    /// for conflict hints (fast backtracking). Stops at the compaction point with term 0.
    pub fn find_conflict_by_term(&self, index: u64, term: u64) -> (u64, u64) {
        let mut index = index.min(self.last_index());
        loop {
            match self.term(index) {
                Ok(t) if t > term => index -= 1,
                Ok(t) => return (index, t),
                Err(_) => return (index, 0),
            }
        }
    }

    pub fn commit_to(&mut self, commit: u64) {
        if commit > self.committed {
            assert!(
                commit <= self.last_index(),
                "commit index {commit} beyond last index {}",
                self.last_index()
            );
            self.committed = commit;
        }
    }

    /// The last index known durable (reported via [`RaftLog::stable_to`]); entries beyond it may
    /// be lost by a crash. `None` while an unstable snapshot is pending.
    pub fn persisted_index(&self) -> Option<u64> {
        match self.unstable.snapshot {
            Some(_) => None,
            None => Some(self.unstable.offset - 1),
        }
    }

    pub fn unstable_entries(&self) -> &[Entry] {
        &self.unstable.entries
    }

    pub fn unstable_snapshot(&self) -> Option<&Snapshot> {
        self.unstable.snapshot.as_ref()
    }

    /// The driver persisted entries up to `(index, term)`: drop them from the unstable part,
    /// unless they were replaced in the meantime.
    pub fn stable_to(&mut self, index: u64, term: u64) {
        if self.unstable.term(index) != Some(term) || index < self.unstable.offset {
            return;
        }
        let count = (index + 1 - self.unstable.offset) as usize;
        self.unstable.entries.drain(..count);
        self.unstable.offset = index + 1;
    }

    pub fn stable_snapshot_to(&mut self, index: u64) {
        if self
            .unstable
            .snapshot
            .as_ref()
            .is_some_and(|s| s.metadata.index == index)
        {
            self.unstable.snapshot = None;
        }
    }

    /// Replaces the log with a snapshot.
    pub fn restore(&mut self, snapshot: Snapshot) {
        let index = snapshot.metadata.index;
        assert!(
            index > self.committed,
            "restoring snapshot {index} at or below commit {}",
            self.committed
        );
        self.committed = index;
        self.unstable.entries.clear();
        self.unstable.offset = index + 1;
        self.unstable.snapshot = Some(snapshot);
    }

    /// The highest index the application may be handed to apply: the commit index, but
    /// nothing while a snapshot is pending (it must be applied first). Entries not yet durable
    /// count: a `Ready` hands out its committed entries to apply once its own entries are
    /// persisted, so a follower applies in the Ready that brings the entries (as etcd-raft's
    /// synchronous Ready does).
    fn applicable_index(&self) -> Option<u64> {
        match self.unstable.snapshot {
            Some(_) => None,
            None => Some(self.committed.min(self.last_index())),
        }
    }

    /// Whether committed entries are ready to be handed to the application.
    pub fn has_next_committed_entries(&self) -> bool {
        self.applicable_index()
            .is_some_and(|high| high > self.applied)
    }

    /// Committed entries not yet handed out and, beyond the first, at most `max_bytes` of
    /// payload.
    pub fn next_committed_entries(&self, max_bytes: u64) -> Vec<Entry> {
        let Some(high) = self.applicable_index() else {
            return Vec::new();
        };
        if high <= self.applied {
            return Vec::new();
        }
        self.entries_within(self.applied + 1, high + 1, usize::MAX, max_bytes)
            .expect("committed entries are held")
    }

    pub fn applied_to(&mut self, index: u64) {
        if index == 0 {
            return;
        }
        assert!(
            index <= self.committed,
            "applied index {index} beyond commit index {}",
            self.committed
        );
        self.applied = self.applied.max(index);
    }

    /// The configuration of the snapshot the log starts after: the pending one's, else
    /// storage's.
    pub fn snapshot_conf_state(&self) -> ConfState {
        match &self.unstable.snapshot {
            Some(snapshot) => snapshot.metadata.conf_state.clone(),
            None => self.storage.initial_state().1,
        }
    }

    /// The snapshot to send a lagging follower: the pending one, else storage's.
    pub fn snapshot(&self) -> Snapshot {
        match &self.unstable.snapshot {
            Some(snapshot) => snapshot.clone(),
            None => self.storage.snapshot(),
        }
    }
}

/// The payload bytes of entries: what the byte limits count (the data, not an encoding).
pub fn payload_size(entries: &[Entry]) -> u64 {
    entries.iter().map(|entry| entry.data.len() as u64).sum()
}

/// Keeps the longest prefix of `entries` within `max_bytes` of payload, and at least one entry.
fn limit_size(entries: &mut Vec<Entry>, max_bytes: u64) {
    let mut total: u64 = 0;
    let keep = entries
        .iter()
        .position(|entry| {
            total = total.saturating_add(entry.data.len() as u64);
            total > max_bytes
        })
        .unwrap_or(entries.len());
    entries.truncate(keep.max(1));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemStorage;

    fn entry(index: u64, term: u64) -> Entry {
        Entry {
            index,
            term,
            ..Entry::default()
        }
    }

    fn log_with_terms(terms: &[u64]) -> RaftLog<MemStorage> {
        let mut storage = MemStorage::default();
        let entries: Vec<Entry> = terms
            .iter()
            .enumerate()
            .map(|(i, &term)| entry(i as u64 + 1, term))
            .collect();
        storage.append(&entries);
        RaftLog::new(storage, 0)
    }

    #[test]
    fn up_to_date_rule_table() {
        // §5.4.1: compare last terms first, then lengths. My log ends at 3@2.
        let log = log_with_terms(&[1, 1, 2]);
        let cases = [
            // (candidate last index, candidate last term, grant)
            (3, 2, true),  // identical
            (4, 2, true),  // same term, longer
            (2, 2, false), // same term, shorter
            (1, 3, true),  // higher term wins even when shorter
            (9, 1, false), // lower term loses even when longer
            (0, 0, false), // empty log
        ];
        for (index, term, grant) in cases {
            assert_eq!(
                log.is_up_to_date(index, term),
                grant,
                "candidate last entry {index}@{term}"
            );
        }
    }

    #[test]
    fn find_conflict_by_term_skips_whole_terms() {
        let log = log_with_terms(&[1, 1, 1, 4, 4, 5, 5, 6, 6, 6]);
        let cases = [
            ((10, 6), (10, 6)),
            ((10, 5), (7, 5)),
            ((10, 3), (3, 1)),
            ((20, 4), (5, 4)),
            ((10, 0), (0, 0)),
        ];
        for ((index, term), expected) in cases {
            assert_eq!(
                log.find_conflict_by_term(index, term),
                expected,
                "({index}, {term})"
            );
        }
    }

    #[test]
    fn unstable_entries_shadow_storage_until_stable() {
        let mut log = log_with_terms(&[1, 1, 1]);
        log.append(&[entry(3, 2), entry(4, 2)]);
        assert_eq!(log.term(3), Ok(2));
        assert_eq!(
            log.persisted_index(),
            Some(2),
            "the replaced index 3 is no longer durable"
        );
        // A stale stabilization (wrong term) is ignored.
        log.stable_to(3, 1);
        assert_eq!(log.persisted_index(), Some(2));
        log.storage.append(&[entry(3, 2), entry(4, 2)]);
        log.stable_to(4, 2);
        assert_eq!(log.persisted_index(), Some(4));
        assert!(log.unstable_entries().is_empty());
        assert_eq!(
            log.entries(1, 5, 10)
                .unwrap()
                .iter()
                .map(|e| e.term)
                .collect::<Vec<_>>(),
            vec![1, 1, 2, 2]
        );
    }

    #[test]
    fn byte_limits_keep_at_least_one_entry() {
        let sized = |sizes: &[usize]| -> Vec<Entry> {
            sizes
                .iter()
                .enumerate()
                .map(|(i, &size)| Entry {
                    index: i as u64 + 1,
                    term: 1,
                    data: vec![0; size].into(),
                    ..Entry::default()
                })
                .collect()
        };
        // (entry sizes, byte limit, entries kept)
        let cases: [(&[usize], u64, usize); 5] = [
            (&[10, 10, 10], u64::MAX, 3),
            (&[10, 10, 10], 20, 2),
            (&[10, 10, 10], 19, 1),
            (&[50, 1], 0, 1),
            (&[0, 0, 5], 0, 2),
        ];
        for (sizes, limit, kept) in cases {
            let mut entries = sized(sizes);
            limit_size(&mut entries, limit);
            assert_eq!(entries.len(), kept, "sizes {sizes:?} limit {limit}");
        }
    }

    #[test]
    fn committed_entries_come_with_the_entries_to_persist_but_wait_for_a_snapshot() {
        let mut log = log_with_terms(&[1]);
        log.append(&[entry(2, 1)]);
        log.commit_to(2);
        // Entry 2 is to be persisted in the same Ready, before it is applied.
        assert_eq!(log.next_committed_entries(u64::MAX).len(), 2);
        log.applied_to(2);
        assert!(!log.has_next_committed_entries());
        let snapshot = Snapshot {
            metadata: crate::types::SnapshotMetadata {
                index: 5,
                term: 1,
                conf_state: ConfState::default(),
            },
            data: Vec::new(),
        };
        log.restore(snapshot);
        assert!(
            !log.has_next_committed_entries(),
            "nothing to apply before the snapshot is applied"
        );
    }
}
