//! What a node reads of its durable state, and an in-memory implementation.
//!
//! The driver writes into storage what a [`crate::Ready`] asks it to persist; the node reads the
//! stable part of its log back through [`Storage`]. Restarting a node means constructing it from a
//! storage holding exactly what was durable.

use crate::error::StorageError;
use crate::types::{ConfState, Entry, HardState, Snapshot, SnapshotMetadata};

/// Read access to a node's durable state.
pub trait Storage {
    /// The hard state and the configuration of the latest snapshot.
    fn initial_state(&self) -> (HardState, ConfState);
    /// Entries `low..high`, at most `max_count` of them (at least one if any exist).
    fn entries(&self, low: u64, high: u64, max_count: usize) -> Result<Vec<Entry>, StorageError>;
    /// The term of the entry at `index`; the snapshot's index answers with the snapshot's term.
    fn term(&self, index: u64) -> Result<u64, StorageError>;
    /// The first index still in the log (the snapshot's index plus one).
    fn first_index(&self) -> u64;
    fn last_index(&self) -> u64;
    /// The latest snapshot.
    fn snapshot(&self) -> Snapshot;
}

/// An in-memory [`Storage`]: a snapshot followed by the entries after it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemStorage {
    hard_state: HardState,
    snapshot: Snapshot,
    /// Entries `snapshot.metadata.index + 1 ..`.
    entries: Vec<Entry>,
}

impl MemStorage {
    /// An empty storage whose (index 0) configuration has the given voters: a new cluster.
    pub fn new_with_conf_state(conf_state: ConfState) -> MemStorage {
        let metadata = SnapshotMetadata {
            index: 0,
            term: 0,
            conf_state,
        };
        MemStorage {
            snapshot: Snapshot {
                metadata,
                data: Vec::new(),
            },
            ..MemStorage::default()
        }
    }

    pub fn hard_state(&self) -> HardState {
        self.hard_state
    }

    pub fn set_hard_state(&mut self, hard_state: HardState) {
        self.hard_state = hard_state;
    }

    /// Sets the configuration of the current snapshot (bootstrapping only).
    pub fn set_conf_state(&mut self, conf_state: ConfState) {
        self.snapshot.metadata.conf_state = conf_state;
    }

    /// Appends entries, replacing any existing entries from the first new index on.
    pub fn append(&mut self, entries: &[Entry]) {
        let Some(first) = entries.first() else { return };
        let first_index = self.first_index();
        if first.index + entries.len() as u64 <= first_index {
            return; // Entirely compacted already.
        }
        let skip = first_index.saturating_sub(first.index) as usize;
        let entries = &entries[skip..];
        let first = entries[0].index;
        assert!(
            first <= self.last_index() + 1,
            "append leaves a gap: first new index {first}, last index {}",
            self.last_index()
        );
        self.entries.truncate((first - first_index) as usize);
        self.entries.extend_from_slice(entries);
    }

    /// Replaces the whole state with a snapshot received from a leader.
    pub fn apply_snapshot(&mut self, snapshot: Snapshot) -> Result<(), StorageError> {
        let current = self.snapshot.metadata.index;
        let index = snapshot.metadata.index;
        if index < current {
            return Err(StorageError::SnapshotOutOfDate { index, current });
        }
        self.hard_state.term = self.hard_state.term.max(snapshot.metadata.term);
        self.hard_state.commit = self.hard_state.commit.max(index);
        self.entries.clear();
        self.snapshot = snapshot;
        Ok(())
    }

    /// Takes a snapshot of the application's state at `index` (which must be applied) and
    /// discards the log up to it.
    pub fn create_snapshot(
        &mut self,
        index: u64,
        conf_state: ConfState,
        data: Vec<u8>,
    ) -> Result<Snapshot, StorageError> {
        let current = self.snapshot.metadata.index;
        if index <= current {
            return Err(StorageError::SnapshotOutOfDate { index, current });
        }
        let term = self.term(index)?;
        assert!(
            index <= self.hard_state.commit,
            "snapshot at {index} beyond the persisted commit index {}",
            self.hard_state.commit
        );
        self.entries.drain(..(index - current) as usize);
        self.snapshot = Snapshot {
            metadata: SnapshotMetadata {
                index,
                term,
                conf_state,
            },
            data,
        };
        Ok(self.snapshot.clone())
    }

    /// Persists what a [`crate::Ready`] asks to: snapshot, then entries, then hard state.
    pub fn persist_ready(&mut self, ready: &crate::Ready) {
        if let Some(snapshot) = &ready.snapshot {
            self.apply_snapshot(Snapshot::clone(snapshot))
                .expect("a node never hands out an older snapshot");
        }
        self.append(&ready.entries);
        if let Some(hard_state) = ready.hard_state {
            self.hard_state = hard_state;
        }
    }

    /// All entries after the snapshot.
    pub fn log_entries(&self) -> &[Entry] {
        &self.entries
    }
}

impl Storage for MemStorage {
    fn initial_state(&self) -> (HardState, ConfState) {
        (self.hard_state, self.snapshot.metadata.conf_state.clone())
    }

    fn entries(&self, low: u64, high: u64, max_count: usize) -> Result<Vec<Entry>, StorageError> {
        let first_index = self.first_index();
        if low < first_index {
            return Err(StorageError::Compacted {
                index: low,
                first_index,
            });
        }
        let last_index = self.last_index();
        if high > last_index + 1 {
            return Err(StorageError::Unavailable {
                index: high - 1,
                last_index,
            });
        }
        let low_offset = (low - first_index) as usize;
        let high_offset = (high - first_index) as usize;
        let high_offset = high_offset.min(low_offset.saturating_add(max_count.max(1)));
        Ok(self.entries[low_offset..high_offset].to_vec())
    }

    fn term(&self, index: u64) -> Result<u64, StorageError> {
        let snapshot_index = self.snapshot.metadata.index;
        if index == snapshot_index {
            return Ok(self.snapshot.metadata.term);
        }
        if index < snapshot_index {
            return Err(StorageError::Compacted {
                index,
                first_index: snapshot_index + 1,
            });
        }
        let last_index = self.last_index();
        if index > last_index {
            return Err(StorageError::Unavailable { index, last_index });
        }
        Ok(self.entries[(index - snapshot_index - 1) as usize].term)
    }

    fn first_index(&self) -> u64 {
        self.snapshot.metadata.index + 1
    }

    fn last_index(&self) -> u64 {
        self.snapshot.metadata.index + self.entries.len() as u64
    }

    fn snapshot(&self) -> Snapshot {
        self.snapshot.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(index: u64, term: u64) -> Entry {
        Entry {
            index,
            term,
            ..Entry::default()
        }
    }

    fn storage_with_terms(terms: &[u64]) -> MemStorage {
        let mut storage = MemStorage::default();
        let entries: Vec<Entry> = terms
            .iter()
            .enumerate()
            .map(|(i, &term)| entry(i as u64 + 1, term))
            .collect();
        storage.append(&entries);
        storage
    }

    #[test]
    fn append_replaces_conflicting_suffix() {
        let mut storage = storage_with_terms(&[1, 1, 2, 2]);
        storage.append(&[entry(3, 3)]);
        assert_eq!(storage.last_index(), 3);
        assert_eq!(storage.term(3), Ok(3));
        assert_eq!(
            storage.term(4),
            Err(StorageError::Unavailable {
                index: 4,
                last_index: 3
            })
        );
    }

    #[test]
    fn compaction_keeps_the_snapshot_term() {
        let mut storage = storage_with_terms(&[1, 1, 2, 2, 3]);
        storage.set_hard_state(HardState {
            term: 3,
            vote: None,
            commit: 4,
        });
        let snapshot = storage
            .create_snapshot(3, ConfState::with_voters([1]), b"s".to_vec())
            .unwrap();
        assert_eq!((snapshot.metadata.index, snapshot.metadata.term), (3, 2));
        assert_eq!(storage.first_index(), 4);
        assert_eq!(storage.term(3), Ok(2));
        assert_eq!(
            storage.term(2),
            Err(StorageError::Compacted {
                index: 2,
                first_index: 4
            })
        );
        assert_eq!(
            storage.entries(4, 6, 10).unwrap(),
            vec![entry(4, 2), entry(5, 3)]
        );
        assert_eq!(storage.entries(4, 6, 1).unwrap(), vec![entry(4, 2)]);
        assert!(
            storage
                .create_snapshot(3, ConfState::default(), Vec::new())
                .is_err()
        );
        // Appending entries that overlap the compacted prefix keeps only the new part.
        storage.append(&[entry(2, 1), entry(3, 2), entry(4, 2), entry(5, 4)]);
        assert_eq!(storage.term(5), Ok(4));
    }

    #[test]
    fn apply_snapshot_replaces_everything() {
        let mut storage = storage_with_terms(&[1, 1]);
        let snapshot = Snapshot {
            metadata: SnapshotMetadata {
                index: 10,
                term: 4,
                conf_state: ConfState::with_voters([1, 2]),
            },
            data: b"x".to_vec(),
        };
        storage.apply_snapshot(snapshot.clone()).unwrap();
        assert_eq!(storage.first_index(), 11);
        assert_eq!(storage.last_index(), 10);
        assert_eq!(storage.hard_state().commit, 10);
        assert_eq!(storage.initial_state().1, ConfState::with_voters([1, 2]));
        let older = Snapshot {
            metadata: SnapshotMetadata {
                index: 5,
                ..snapshot.metadata
            },
            ..snapshot
        };
        assert_eq!(
            storage.apply_snapshot(older),
            Err(StorageError::SnapshotOutOfDate {
                index: 5,
                current: 10
            })
        );
    }
}
