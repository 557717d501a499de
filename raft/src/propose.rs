//! Proposals: the leader appends them (within the uncommitted-size limit, and with the
//! configuration-change rules), a follower forwards them to its leader (etcd-raft's proposal
//! forwarding, off with `Config::disable_proposal_forwarding`).

use crate::error::Error;
use crate::log::payload_size;
use crate::mutant::Mutant;
use crate::node::RawNode;
use crate::storage::Storage;
use crate::types::{ConfChange, Entry, EntryKind, Message, MessageKind, Proposal, Role};

impl<S: Storage> RawNode<S> {
    /// Proposes application data. The leader appends it; a follower forwards it to its leader
    /// (unless forwarding is disabled), which may still drop it.
    pub fn propose(&mut self, data: Vec<u8>) -> Result<Proposal, Error> {
        self.propose_entries(vec![Entry {
            kind: EntryKind::Normal,
            data: data.into(),
            ..Entry::default()
        }])
    }

    /// Proposes several entries in one batch (appended together, or forwarded together).
    pub fn propose_batch(&mut self, batch: Vec<Vec<u8>>) -> Result<Proposal, Error> {
        let entries = batch.into_iter().map(|data| Entry {
            kind: EntryKind::Normal,
            data: data.into(),
            ..Entry::default()
        });
        self.propose_entries(entries.collect())
    }

    pub(crate) fn propose_entries(&mut self, entries: Vec<Entry>) -> Result<Proposal, Error> {
        if self.role == Role::Leader {
            let index = self.leader_propose(entries)?;
            Ok(Proposal::Appended { index })
        } else {
            self.forward_proposal(entries)
        }
    }

    /// A follower hands a proposal to its leader.
    pub(crate) fn forward_proposal(&mut self, entries: Vec<Entry>) -> Result<Proposal, Error> {
        let leader = match (self.role, self.leader) {
            (Role::Follower, Some(leader)) => leader,
            _ => return Err(Error::NotLeader { leader: None }),
        };
        if self.config.disable_proposal_forwarding {
            return Err(Error::NotLeader {
                leader: Some(leader),
            });
        }
        self.send(Message {
            kind: MessageKind::Propose,
            to: leader,
            entries,
            ..Message::default()
        });
        Ok(Proposal::Forwarded { leader })
    }

    /// The leader appends a proposal (its own or forwarded) and sends it out. A configuration
    /// change among forwarded entries that the rules refuse becomes an empty entry, as in etcd
    /// (a local `propose_conf_change` refuses it with an error instead).
    pub(crate) fn leader_propose(&mut self, mut entries: Vec<Entry>) -> Result<u64, Error> {
        assert_eq!(
            self.role,
            Role::Leader,
            "node {} term {}: only a leader appends proposals",
            self.id,
            self.term
        );
        assert!(!entries.is_empty(), "node {}: empty proposal", self.id);
        // etcd's removed leader drops proposals. Applied on append, a leader whose removal is
        // not committed yet still leads the cluster (dissertation §4.2.2) and accepts them.
        let member = self.tracker.progress.contains_key(&self.id);
        if !member && !self.config.conf_change_on_append {
            return Err(Error::ProposalDropped {
                reason: format!("leader {} is no longer in the configuration", self.id),
            });
        }
        if let Some(to) = self.lead_transferee {
            return Err(Error::ProposalDropped {
                reason: format!("leadership is being transferred to {to}"),
            });
        }
        let first_index = self.log.last_index() + 1;
        // A change counts as pending only once it is in the log: one the uncommitted-bytes limit
        // drops below would otherwise block every later change until an entry past it applies,
        // which an idle cluster never appends (campaign seed 1503).
        let pending_before = self.pending_conf_index;
        let mut changes = Vec::new();
        for (offset, entry) in entries.iter_mut().enumerate() {
            let Some(change) = entry.conf_change() else {
                continue;
            };
            if self.conf_change_refusal(&change).is_some() {
                *entry = Entry::default();
                continue;
            }
            self.pending_conf_index = first_index + offset as u64;
            changes.push(change);
        }
        let Some(last_index) = self.append_entries(entries) else {
            self.pending_conf_index = pending_before;
            return Err(Error::ProposalDropped {
                reason: format!(
                    "{} uncommitted bytes reach max_uncommitted_entries_size {}",
                    self.uncommitted_size, self.config.max_uncommitted_entries_size
                ),
            });
        };
        if self.config.conf_change_on_append && !changes.is_empty() {
            // Switching configuration sends the new entry to every member, old and new.
            for change in &changes {
                self.adopt_proposed_conf_change(change);
            }
        } else {
            self.broadcast_append();
        }
        Ok(last_index)
    }

    /// Why the leader refuses a configuration change now, if it does.
    pub(crate) fn conf_change_refusal(&self, change: &ConfChange) -> Option<Error> {
        let mutants = self.config.mutants;
        let before_term_commit = self.config.conf_change_before_term_commit
            || mutants.contains(Mutant::ConfChangeBeforeNoop);
        if !before_term_commit && !self.committed_entry_in_current_term() {
            // A change appended before the term's first commit can be overwritten by a leader
            // that never saw it, after committing under a different configuration (the
            // single-server change bug, BRIEF §8 S5).
            return Some(Error::ProposalDropped {
                reason: format!(
                    "leader of term {} has not committed an entry of its term yet",
                    self.term
                ),
            });
        }
        if self.config.disable_conf_change_validation {
            return None;
        }
        if self.pending_conf_index > self.log.applied {
            return Some(Error::ProposalDropped {
                reason: format!(
                    "configuration change at index {} not applied yet (applied {})",
                    self.pending_conf_index, self.log.applied
                ),
            });
        }
        let allow_multi = mutants.contains(Mutant::DirectMultiChange);
        let next = self.tracker.config.apply_change(change, allow_multi);
        next.err().map(|reason| Error::InvalidConfChange { reason })
    }

    /// Appends entries at the leader, stamping term and index. Returns the last index, or
    /// `None` when they would take the uncommitted tail past `max_uncommitted_entries_size`
    /// (never for empty entries, nor while the tail is empty: etcd's rule).
    pub(crate) fn append_entries(&mut self, mut entries: Vec<Entry>) -> Option<u64> {
        assert_eq!(
            self.role,
            Role::Leader,
            "node {} term {}: only a leader appends",
            self.id,
            self.term
        );
        let size = payload_size(&entries);
        let limit = self.config.max_uncommitted_entries_size;
        if self.uncommitted_size > 0
            && size > 0
            && self.uncommitted_size.saturating_add(size) > limit
        {
            return None;
        }
        self.uncommitted_size = self.uncommitted_size.saturating_add(size);
        let mut index = self.log.last_index();
        for entry in &mut entries {
            index += 1;
            entry.term = self.term;
            entry.index = index;
        }
        let last_index = self.log.append(&entries);
        if self.config.mutants.contains(Mutant::AckBeforeSync) {
            // The bug: the leader counts its own copy before it is durable.
            self.update_self_match(last_index);
        }
        Some(last_index)
    }
}
