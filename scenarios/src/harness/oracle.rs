//! Online safety oracles, checked after every event (BRIEF §5, §10): at most one leader per
//! term, log matching, leader completeness (when a leader is elected, and ahead of time when a
//! leader commits), state-machine safety, commit index never going back within a node's
//! incarnation, and durability of acknowledged writes. A violation names the property, nodes,
//! term and index; servers are named as everywhere (`sim::names`). One `Oracles` judges one
//! Raft group: the KV service's, or each of the sharded service's groups and its controller.

use engine::Engine;
use kv::{AckedWrite, AppendedEntry, AppliedEntry};
use raft::Role;
use sim::names::server as name;
use sim::{Names, NodeId};

use crate::config::{Property, Violation};

/// What the oracles need to see of one server (one replica of the group the oracles judge)
/// after an event.
pub struct ServerView<'a, S: kv::StateMachine, E: Engine> {
    pub node: NodeId,
    pub server: &'a mut kv::Server<S, E>,
}

#[derive(Default)]
pub struct Oracles {
    names: Names,
    leader_of_term: Dense<NodeId>,
    /// Every entry appended at each index, one per term: term, data digest, the term before
    /// it, and the first node seen with it.
    appended: Dense<Vec<(u64, u64, u64, NodeId)>>,
    /// The first entry applied at each index: term, digest, node.
    applied: Dense<(u64, u64, NodeId)>,
    acked: Dense<AckedWrite>,
    /// For index `i` at position `i - 1`: the entry's term and the term of the leader that
    /// first counted it committed. Leader completeness concerns exactly the entries committed
    /// in earlier terms than the new leader's.
    committed: Vec<(u64, u64)>,
    /// Per node: last observed commit index in this incarnation, and role.
    commit: Dense<u64>,
    role: Dense<Role>,
    /// (time, term, leader) of every election observed, in order.
    pub leaders: Vec<(u64, u64, NodeId)>,
    /// Entries up to here were checked by `check_commit_is_safe`.
    commit_checked: u64,
}

impl Oracles {
    /// Oracles for a cluster whose nodes `names` names (clients appear in messages).
    pub fn new(names: Names) -> Self {
        Oracles {
            names,
            ..Oracles::default()
        }
    }

    /// Forgets per-incarnation state of a node that crashed or restarted.
    pub fn node_restarted(&mut self, node: NodeId) {
        self.commit.remove(u64::from(node));
        self.role.remove(u64::from(node));
    }

    pub fn check<S: kv::StateMachine, E: Engine>(
        &mut self,
        view: ServerView<'_, S, E>,
        time_ns: u64,
    ) -> Result<(), Violation> {
        let ServerView { node, server } = view;
        let violation = |property, term, index, message: String| Violation {
            property,
            nodes: vec![node],
            term,
            index,
            time_ns,
            message,
        };
        // What this server knew committed before this event.
        let known_commit = self.commit.get(u64::from(node)).copied().unwrap_or(0);
        for entry in server.drain_appended() {
            self.check_kept(node, entry, known_commit)
                .map_err(|message| {
                    violation(
                        Property::CommittedOverwrite,
                        Some(entry.term),
                        Some(entry.index),
                        message,
                    )
                })?;
            self.check_appended(node, entry)
                .map_err(|(nodes, message)| Violation {
                    nodes,
                    ..violation(
                        Property::LogMatching,
                        Some(entry.term),
                        Some(entry.index),
                        message,
                    )
                })?;
        }
        for entry in server.drain_applied() {
            self.check_applied(node, entry)
                .map_err(|(property, nodes, message)| Violation {
                    nodes,
                    ..violation(property, Some(entry.term), Some(entry.index), message)
                })?;
        }
        for ack in server.drain_acked() {
            self.check_acked(node, ack)
                .map_err(|(nodes, message)| Violation {
                    nodes,
                    ..violation(
                        Property::Durability,
                        Some(ack.term),
                        Some(ack.index),
                        message,
                    )
                })?;
        }
        let raft = server.raft();
        let commit = raft.commit_index();
        let previous = self.commit.insert(u64::from(node), commit).unwrap_or(0);
        if commit < previous {
            let message = format!(
                "{} commit index went back from {previous} to {commit}",
                name(node)
            );
            return Err(violation(
                Property::CommitMonotonic,
                Some(raft.term()),
                Some(commit),
                message,
            ));
        }
        let role = raft.role();
        if role == Role::Leader {
            self.note_commits(raft);
        }
        let was = self.role.insert(u64::from(node), role);
        if role == Role::Leader && was != Some(Role::Leader) {
            self.check_new_leader(node, raft)
                .map_err(|(index, message)| {
                    violation(
                        Property::LeaderCompleteness,
                        Some(raft.term()),
                        Some(index),
                        message,
                    )
                })?;
        }
        Ok(())
    }

    /// A server never replaces an entry it knew committed: an append at or below its commit
    /// index must be the committed entry itself.
    fn check_kept(
        &self,
        node: NodeId,
        entry: AppendedEntry,
        known_commit: u64,
    ) -> Result<(), String> {
        if entry.index > known_commit {
            return Ok(());
        }
        let committed_term = self
            .committed
            .get(entry.index as usize - 1)
            .map_or(0, |&(term, _)| term);
        if committed_term == 0 || committed_term == entry.term {
            return Ok(());
        }
        Err(format!(
            "{} replaced {}@{committed_term}, which it knew committed (its commit index was \
             {known_commit}), with {}@{}",
            name(node),
            entry.index,
            entry.index,
            entry.term
        ))
    }

    fn check_appended(
        &mut self,
        node: NodeId,
        entry: AppendedEntry,
    ) -> Result<(), (Vec<NodeId>, String)> {
        let seen = self.appended.get_or_default(entry.index);
        match seen.iter().find(|&&(term, ..)| term == entry.term) {
            None => {
                seen.push((entry.term, entry.digest, entry.prev_term, node));
                Ok(())
            }
            Some(&(_, digest, prev_term, first))
                if digest != entry.digest || prev_term != entry.prev_term =>
            {
                Err((
                    vec![first, node],
                    format!(
                        "entry {}@{} differs between {} and {} (data digest {digest:016x} vs {:016x}, previous term {prev_term} vs {})",
                        entry.index,
                        entry.term,
                        name(first),
                        name(node),
                        entry.digest,
                        entry.prev_term
                    ),
                ))
            }
            Some(_) => Ok(()),
        }
    }

    fn check_applied(
        &mut self,
        node: NodeId,
        entry: AppliedEntry,
    ) -> Result<(), (Property, Vec<NodeId>, String)> {
        if let Some(ack) = self.acked.get(entry.index)
            && ack.term != entry.term
        {
            return Err((
                Property::Durability,
                vec![node],
                format!(
                    "{} applied {}@{} where {}'s write seq {} was acknowledged as {}@{}",
                    name(node),
                    entry.index,
                    entry.term,
                    self.names.of(ack.client_id as NodeId),
                    ack.seq,
                    ack.index,
                    ack.term
                ),
            ));
        }
        match self.applied.get(entry.index) {
            None => {
                self.applied
                    .insert(entry.index, (entry.term, entry.digest, node));
                Ok(())
            }
            Some(&(term, digest, first)) if term != entry.term || digest != entry.digest => Err((
                Property::StateMachineSafety,
                vec![first, node],
                format!(
                    "index {} applied as {}@{term} on {} but as {}@{} on {}",
                    entry.index,
                    entry.index,
                    name(first),
                    entry.index,
                    entry.term,
                    name(node)
                ),
            )),
            Some(_) => Ok(()),
        }
    }

    fn check_acked(&mut self, node: NodeId, ack: AckedWrite) -> Result<(), (Vec<NodeId>, String)> {
        if let Some(&(term, _, first)) = self.applied.get(ack.index)
            && term != ack.term
        {
            return Err((
                vec![first, node],
                format!(
                    "{} acknowledged {}'s write as {}@{} but {} applied {}@{term}",
                    name(node),
                    self.names.of(ack.client_id as NodeId),
                    ack.index,
                    ack.term,
                    name(first),
                    ack.index
                ),
            ));
        }
        self.acked.insert(ack.index, ack);
        Ok(())
    }

    /// Records the entries a leader counts as committed for the first time.
    fn note_commits(&mut self, raft: &impl Engine) {
        let term = raft.term();
        while (self.committed.len() as u64) < raft.commit_index() {
            let index = self.committed.len() as u64 + 1;
            // A compacted entry (term unknown here) is recorded as term 0 and not checked.
            self.committed
                .push((raft.term_at(index).unwrap_or(0), term));
        }
    }

    /// A new leader of term T must hold every entry committed in a term before T.
    fn check_new_leader(&mut self, node: NodeId, raft: &impl Engine) -> Result<(), (u64, String)> {
        let term = raft.term();
        let first = raft.first_index() as usize;
        for (position, &(entry_term, commit_term)) in self
            .committed
            .iter()
            .enumerate()
            .skip(first.saturating_sub(1))
        {
            let index = position as u64 + 1;
            if commit_term >= term || entry_term == 0 {
                continue;
            }
            match raft.term_at(index) {
                Some(held) if held == entry_term => {}
                held => {
                    return Err((
                        index,
                        format!(
                            "{} became leader of term {term} without {index}@{entry_term}, committed in term {commit_term}; it holds {}",
                            name(node),
                            held.map_or("nothing".to_string(), |t| format!("{index}@{t}"))
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Called for every server after every event: at most one leader per term.
    pub fn check_leader(
        &mut self,
        node: NodeId,
        role: Role,
        term: u64,
        time_ns: u64,
    ) -> Result<(), Violation> {
        if role != Role::Leader {
            return Ok(());
        }
        let first = match self.leader_of_term.get(term) {
            Some(&first) => first,
            None => {
                self.leaders.push((time_ns, term, node));
                self.leader_of_term.insert(term, node);
                node
            }
        };
        match first {
            other if other != node => Err(Violation {
                property: Property::ElectionSafety,
                nodes: vec![other, node],
                term: Some(term),
                index: None,
                time_ns,
                message: format!(
                    "{} and {} both leaders of term {term}",
                    name(other),
                    name(node)
                ),
            }),
            _ => Ok(()),
        }
    }

    /// Whether a leader's commit index has passed what `check_commit_is_safe` looked at.
    pub fn commit_unchecked(&self, commit: u64) -> bool {
        commit > self.commit_checked
    }

    /// Leader completeness, looking ahead: when a leader counts entries committed, no running
    /// server that could win an election may lack them. A server could win when it may
    /// campaign (`promotable`) and, in each half of its own configuration (both when joint), a
    /// majority are running servers whose logs are no more up-to-date than its own (it
    /// campaigns by its own configuration; voters vote by logs alone). Correct Raft guarantees
    /// this at the moment of commit; counting replicas of an older term (Figure 8), or a
    /// quorum of a configuration the others never agreed to (Figure 10, the single-server
    /// change bug), breaks it before any new leader shows the loss.
    ///
    /// `running[a]` is the Raft node of the server at address `a`, `None` while it is down.
    pub fn check_commit_is_safe<E: Engine>(
        &mut self,
        leader: NodeId,
        running: &[Option<&E>],
        time_ns: u64,
    ) -> Result<(), Violation> {
        let Some(leader_raft) = running.get(leader as usize).copied().flatten() else {
            return Ok(());
        };
        let commit = leader_raft.commit_index();
        let from = self.commit_checked + 1;
        self.commit_checked = commit;
        // Raft ids, as configurations name them; running servers only (a crashed server will
        // not vote until it is back).
        // (last term, last index) by address; a server's Raft id is its address plus one.
        let logs: Vec<Option<(u64, u64)>> = running
            .iter()
            .map(|raft| {
                let raft = (*raft)?;
                let last = raft.last_index();
                Some((raft.term_at(last).unwrap_or(0), last))
            })
            .collect();
        let log_of = |id: u64| {
            let address = usize::try_from(kv::server::address(id)).ok()?;
            logs.get(address).copied().flatten()
        };
        for index in from..=commit {
            let Some(term) = leader_raft.term_at(index) else {
                continue;
            };
            for (address, raft) in running.iter().enumerate() {
                let Some(raft) = raft else { continue };
                let holds = index < raft.first_index() || raft.term_at(index) == Some(term);
                // A server that knows of a committed configuration change it has not applied
                // does not campaign (its configuration is about to change).
                if holds || raft.has_unapplied_conf_change() || !raft.promotable() {
                    continue;
                }
                let own_log = logs[address].expect("a running server has a log");
                let Some(electors) = electing_quorum(&raft.voters(), |id| {
                    log_of(id).is_some_and(|log| own_log >= log)
                }) else {
                    continue;
                };
                let address = address as NodeId;
                let names: Vec<String> = electors.iter().map(|id| format!("n{id}")).collect();
                let (last_term, last_index) = own_log;
                return Err(Violation {
                    property: Property::LeaderCompleteness,
                    nodes: vec![leader, address],
                    term: Some(leader_raft.term()),
                    index: Some(index),
                    time_ns,
                    message: format!(
                        "{} (term {}) counts {index}@{term} committed, but {}, which lacks it, \
                         could be elected: its log ({last_index}@{last_term}) is at least as \
                         up-to-date as those of {}, a quorum of its configuration",
                        name(leader),
                        leader_raft.term(),
                        name(address),
                        names.join(", ")
                    ),
                });
            }
        }
        Ok(())
    }
}

/// The voters of `conf` that would elect a candidate (those for which `would_vote` holds),
/// when they make a quorum of each half of the configuration. The candidate campaigns when
/// `promotable`; with configurations applied on append that includes a server whose removal is
/// not known committed, which then wins without its own vote.
fn electing_quorum(
    voters: &raft::JointConfig,
    would_vote: impl Fn(u64) -> bool,
) -> Option<Vec<u64>> {
    let won = voters.vote_result(|id| Some(would_vote(id))) == raft::VoteResult::Won;
    won.then(|| {
        voters
            .ids()
            .into_iter()
            .filter(|&id| would_vote(id))
            .collect()
    })
}

/// Values by a dense key (an index, a term, a node): a vector of slots, for the per-event
/// checks that a map would make slow.
#[derive(Debug)]
struct Dense<T> {
    slots: Vec<Option<T>>,
}

impl<T> Default for Dense<T> {
    fn default() -> Self {
        Dense { slots: Vec::new() }
    }
}

impl<T> Dense<T> {
    fn get(&self, key: u64) -> Option<&T> {
        self.slots.get(usize::try_from(key).ok()?)?.as_ref()
    }

    fn slot(&mut self, key: u64) -> &mut Option<T> {
        let position = usize::try_from(key).expect("dense keys fit in memory");
        if position >= self.slots.len() {
            self.slots.resize_with(position + 1, || None);
        }
        &mut self.slots[position]
    }

    fn insert(&mut self, key: u64, value: T) -> Option<T> {
        self.slot(key).replace(value)
    }

    fn remove(&mut self, key: u64) -> Option<T> {
        self.slot(key).take()
    }
}

impl<T: Default> Dense<T> {
    fn get_or_default(&mut self, key: u64) -> &mut T {
        self.slot(key).get_or_insert_with(T::default)
    }
}
