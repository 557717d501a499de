//! raft-rs's view of a node's durable state: a snapshot (with the state machine's bytes, which
//! raft-rs's own `MemStorage` would leave empty) and the entries after it.

use std::cell::Cell;

use raft_rs::eraftpb::{ConfState, Entry, HardState, Snapshot};
use raft_rs::{GetEntriesContext, RaftState, StorageError};

#[derive(Clone, Default)]
pub struct SimStorage {
    hard_state: HardState,
    /// The configuration as of the snapshot (or the initial voters).
    conf_state: ConfState,
    snapshot: Snapshot,
    /// Entries `snapshot index + 1 ..`.
    entries: Vec<Entry>,
    /// The leader asked for a snapshot for a server its latest one does not include (a server
    /// added after it was taken): the server should compact afresh.
    snapshot_wanted: Cell<bool>,
}

impl SimStorage {
    pub fn new(conf_state: ConfState) -> SimStorage {
        let mut snapshot = Snapshot::default();
        snapshot.mut_metadata().set_conf_state(conf_state.clone());
        SimStorage {
            conf_state,
            snapshot,
            ..SimStorage::default()
        }
    }

    fn snapshot_index(&self) -> u64 {
        self.snapshot.get_metadata().index
    }

    pub fn set_hard_state(&mut self, hard_state: HardState) {
        self.hard_state = hard_state;
    }

    /// Installs a snapshot, dropping the entries it covers and any that conflict with it.
    pub fn apply_snapshot(&mut self, snapshot: Snapshot) {
        let metadata = snapshot.get_metadata();
        let (index, term) = (metadata.index, metadata.term);
        let kept_from = self
            .entries
            .iter()
            .position(|entry| entry.index == index && entry.term == term)
            .map(|position| position + 1);
        match kept_from {
            Some(position) => {
                self.entries.drain(..position);
            }
            None => self.entries.clear(),
        }
        self.conf_state = metadata.get_conf_state().clone();
        if self.hard_state.commit < index {
            self.hard_state.commit = index;
        }
        self.snapshot = snapshot;
    }

    /// Appends entries, replacing any conflicting suffix from the first one's index on.
    pub fn append(&mut self, entries: &[Entry]) {
        let Some(first) = entries.first() else {
            return;
        };
        let first_index = self.snapshot_index() + 1;
        assert!(
            first.index >= first_index,
            "appending {} before the storage's first index {first_index}",
            first.index
        );
        let keep = (first.index - first_index) as usize;
        assert!(
            keep <= self.entries.len(),
            "appending {} leaves a gap after {}",
            first.index,
            first_index + self.entries.len() as u64 - 1
        );
        self.entries.truncate(keep);
        self.entries.extend_from_slice(entries);
    }

    /// Replaces the entries up to the snapshot's index with the snapshot.
    pub fn compact(&mut self, snapshot: Snapshot) {
        let index = snapshot.get_metadata().index;
        let first_index = self.snapshot_index() + 1;
        let covered = (index + 1).saturating_sub(first_index) as usize;
        self.entries.drain(..covered.min(self.entries.len()));
        self.conf_state = snapshot.get_metadata().get_conf_state().clone();
        self.snapshot = snapshot;
        self.snapshot_wanted.set(false);
    }

    pub fn snapshot_wanted(&self) -> bool {
        self.snapshot_wanted.get()
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn first_index(&self) -> u64 {
        self.snapshot_index() + 1
    }
}

impl raft_rs::Storage for SimStorage {
    fn initial_state(&self) -> raft_rs::Result<RaftState> {
        Ok(RaftState {
            hard_state: self.hard_state.clone(),
            conf_state: self.conf_state.clone(),
        })
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        _context: GetEntriesContext,
    ) -> raft_rs::Result<Vec<Entry>> {
        let first_index = self.first_index();
        if low < first_index {
            return Err(raft_rs::Error::Store(StorageError::Compacted));
        }
        let last_index = self.snapshot_index() + self.entries.len() as u64;
        if high > last_index + 1 {
            return Err(raft_rs::Error::Store(StorageError::Unavailable));
        }
        let range = (low - first_index) as usize..(high - first_index) as usize;
        let mut entries = self.entries[range].to_vec();
        raft_rs::util::limit_size(&mut entries, max_size.into());
        Ok(entries)
    }

    fn term(&self, index: u64) -> raft_rs::Result<u64> {
        let snapshot_index = self.snapshot_index();
        if index == snapshot_index {
            return Ok(self.snapshot.get_metadata().term);
        }
        if index < snapshot_index {
            return Err(raft_rs::Error::Store(StorageError::Compacted));
        }
        let position = (index - snapshot_index - 1) as usize;
        match self.entries.get(position) {
            Some(entry) => Ok(entry.term),
            None => Err(raft_rs::Error::Store(StorageError::Unavailable)),
        }
    }

    fn first_index(&self) -> raft_rs::Result<u64> {
        Ok(self.first_index())
    }

    fn last_index(&self) -> raft_rs::Result<u64> {
        Ok(self.snapshot_index() + self.entries.len() as u64)
    }

    /// The latest snapshot, unless it predates `to`'s membership: raft-rs's follower refuses a
    /// snapshot whose configuration lacks it, so the leader is told to wait while the server
    /// takes a fresh one (raft-rs's own `MemStorage` builds one on every call instead, without
    /// the state machine's data).
    fn snapshot(&self, _request_index: u64, to: u64) -> raft_rs::Result<Snapshot> {
        let conf = self.snapshot.get_metadata().get_conf_state();
        let member = [
            &conf.voters,
            &conf.learners,
            &conf.voters_outgoing,
            &conf.learners_next,
        ];
        if !member.iter().any(|ids| ids.contains(&to)) {
            self.snapshot_wanted.set(true);
            return Err(raft_rs::Error::Store(
                StorageError::SnapshotTemporarilyUnavailable,
            ));
        }
        Ok(self.snapshot.clone())
    }
}
