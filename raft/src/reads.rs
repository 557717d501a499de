//! Linearizable reads (§6.4): ReadIndex at the leader, follower reads forwarded to it, and the
//! opt-in lease reads (see [`crate::ReadOnlyOption::LeaseBased`] for why those are unsafe).

use crate::config::ReadOnlyOption;
use crate::error::Error;
use crate::mutant::Mutant;
use crate::node::{MAX_PENDING_READS, RawNode};
use crate::read_only::ReadRequest;
use crate::storage::Storage;
use crate::types::{Message, MessageKind, NodeId, ReadState, Role};

impl<S: Storage> RawNode<S> {
    /// Requests a linearizable read point for `context` (which the caller makes unique). The
    /// answer arrives as a [`ReadState`] in a later `Ready`: serve the read once `index` is
    /// applied. A follower forwards the request to its leader; no answer arrives if either
    /// loses leadership or the message is lost, so callers retry on a timeout.
    pub fn read_index(&mut self, context: Vec<u8>) -> Result<(), Error> {
        match self.role {
            Role::Leader => {
                if self.pending_reads.len() >= MAX_PENDING_READS {
                    return Err(Error::ProposalDropped {
                        reason: "too many reads waiting for the first commit".into(),
                    });
                }
                self.handle_read_index(self.id, context);
                Ok(())
            }
            _ if self.config.mutants.contains(Mutant::FollowerLocalRead) => {
                // The bug: our own commit index taken as the read point, unconfirmed.
                self.read_states.push(ReadState {
                    index: self.log.committed,
                    request_ctx: context,
                });
                Ok(())
            }
            _ => match self.leader {
                Some(leader) => {
                    self.send(Message {
                        kind: MessageKind::ReadIndex,
                        to: leader,
                        context: context.into(),
                        ..Message::default()
                    });
                    Ok(())
                }
                None => Err(Error::NotLeader { leader: None }),
            },
        }
    }

    /// A read request at the leader, from itself or forwarded by `from`.
    pub(crate) fn handle_read_index(&mut self, from: NodeId, context: Vec<u8>) {
        let mutants = self.config.mutants;
        let before_commit = !self.committed_entry_in_current_term();
        if before_commit
            && self
                .log
                .term(self.log.committed + 1)
                .is_ok_and(|term| term < self.term)
        {
            self.mark(crate::Mark::ReadIndexBeforeCommit);
        }
        if before_commit && !mutants.contains(Mutant::ReadIndexBeforeNoop) {
            // Until its no-op commits, the leader's commit index may lag behind entries earlier
            // leaders committed: answering now could return stale data (etcd#7331).
            if self.pending_reads.len() < MAX_PENDING_READS {
                self.pending_reads.push((from, context));
            }
            return;
        }
        let index = self.log.committed;
        let single_voter = self
            .tracker
            .config
            .voters
            .ids()
            .into_iter()
            .all(|id| id == self.id);
        let local = self.config.read_only == ReadOnlyOption::LeaseBased
            || mutants.contains(Mutant::LeaderLocalRead);
        if single_voter || local {
            self.respond_read(from, context, index);
            return;
        }
        let round = if mutants.contains(Mutant::ReadContextReuse) {
            // The bug: the request joins the previous round, which earlier acks already answered.
            self.read_round
        } else {
            self.read_round += 1;
            self.read_round
        };
        self.read_only.add_request(ReadRequest {
            from,
            context,
            index,
            round,
        });
        self.broadcast_heartbeat();
        self.release_confirmed_reads();
    }

    pub(crate) fn receive_read_ack(&mut self, from: NodeId, round: u64) {
        if self.read_only.is_out_of_order(from, round) {
            self.mark(crate::Mark::StaleReadAck);
        }
        if self.read_only.pending_count() == 0
            && !self.config.mutants.contains(Mutant::ReadContextReuse)
        {
            return;
        }
        self.read_only.receive_ack(from, round);
        self.release_confirmed_reads();
    }

    fn release_confirmed_reads(&mut self) {
        let confirmed = self
            .read_only
            .take_confirmed(&self.tracker.config.voters, self.id);
        for request in confirmed {
            if request.round == self.first_read_round {
                self.mark(crate::Mark::ReadIndexFirstRound);
            }
            self.respond_read(request.from, request.context, request.index);
        }
    }

    fn respond_read(&mut self, from: NodeId, context: Vec<u8>, index: u64) {
        if from == self.id {
            self.read_states.push(ReadState {
                index,
                request_ctx: context,
            });
        } else {
            self.send(Message {
                kind: MessageKind::ReadIndexResponse,
                to: from,
                index,
                context: context.into(),
                ..Message::default()
            });
        }
    }

    /// Called when the leader's commit index moves: the first commit of its term releases the
    /// reads that waited for it.
    pub(crate) fn on_leader_commit(&mut self) {
        if self.pending_reads.is_empty() || !self.committed_entry_in_current_term() {
            return;
        }
        for (from, context) in std::mem::take(&mut self.pending_reads) {
            self.handle_read_index(from, context);
        }
    }
}
