//! Online safety oracles, checked after every event (BRIEF §5, §10): at most one leader per
//! term, log matching, leader completeness, state-machine safety, commit index never going back
//! within a node's incarnation, and durability of acknowledged writes. The first violation
//! stops the run and names the property, nodes, term and index.

use std::collections::BTreeMap;
use std::fmt;

use kv::{AckedWrite, AppendedEntry, AppliedEntry};
use raft::Role;
use serde::{Deserialize, Serialize};
use sim::NodeId;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Property {
    ElectionSafety,
    LogMatching,
    LeaderCompleteness,
    StateMachineSafety,
    CommitMonotonic,
    Durability,
    Liveness,
    Linearizability,
    /// The checker ran out of budget: the CI gate fails closed.
    CheckerUnknown,
}

impl Property {
    pub fn name(self) -> &'static str {
        match self {
            Property::ElectionSafety => "election-safety",
            Property::LogMatching => "log-matching",
            Property::LeaderCompleteness => "leader-completeness",
            Property::StateMachineSafety => "state-machine-safety",
            Property::CommitMonotonic => "commit-monotonic",
            Property::Durability => "durability",
            Property::Liveness => "liveness",
            Property::Linearizability => "linearizability",
            Property::CheckerUnknown => "checker-unknown",
        }
    }
}

impl fmt::Display for Property {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    pub property: Property,
    /// Server addresses involved.
    pub nodes: Vec<NodeId>,
    pub term: Option<u64>,
    pub index: Option<u64>,
    pub time_ns: u64,
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} violated at {:.3}ms: {}",
            self.property,
            self.time_ns as f64 / 1e6,
            self.message
        )
    }
}

/// What the oracles need to see of one server after an event.
pub struct ServerView<'a> {
    pub node: NodeId,
    pub server: &'a mut kv::Server,
}

#[derive(Default)]
pub struct Oracles {
    leader_of_term: BTreeMap<u64, NodeId>,
    /// (index, term) of every appended entry: its data digest and the term before it.
    appended: BTreeMap<(u64, u64), (u64, u64, NodeId)>,
    /// The first entry applied at each index: term, digest, node.
    applied: BTreeMap<u64, (u64, u64, NodeId)>,
    acked: BTreeMap<u64, AckedWrite>,
    /// For index `i` at position `i - 1`: the entry's term and the term of the leader that
    /// first counted it committed. Leader completeness concerns exactly the entries committed
    /// in earlier terms than the new leader's.
    committed: Vec<(u64, u64)>,
    /// Per node: last observed commit index in this incarnation, and role.
    commit: BTreeMap<NodeId, u64>,
    role: BTreeMap<NodeId, Role>,
    /// (time, term, leader) of every election observed, in order.
    pub leaders: Vec<(u64, u64, NodeId)>,
}

impl Oracles {
    /// Forgets per-incarnation state of a node that crashed or restarted.
    pub fn node_restarted(&mut self, node: NodeId) {
        self.commit.remove(&node);
        self.role.remove(&node);
    }

    pub fn check(&mut self, view: ServerView<'_>, time_ns: u64) -> Result<(), Violation> {
        let ServerView { node, server } = view;
        let violation = |property, term, index, message: String| Violation {
            property,
            nodes: vec![node],
            term,
            index,
            time_ns,
            message,
        };
        for entry in server.take_appended() {
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
        for entry in server.take_applied() {
            self.check_applied(node, entry)
                .map_err(|(property, nodes, message)| Violation {
                    nodes,
                    ..violation(property, Some(entry.term), Some(entry.index), message)
                })?;
        }
        for ack in server.take_acked() {
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
        let previous = self.commit.insert(node, commit).unwrap_or(0);
        if commit < previous {
            let message = format!("n{node} commit index went back from {previous} to {commit}");
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
        let was = self.role.insert(node, role);
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

    fn check_appended(
        &mut self,
        node: NodeId,
        entry: AppendedEntry,
    ) -> Result<(), (Vec<NodeId>, String)> {
        let key = (entry.index, entry.term);
        match self.appended.get(&key) {
            None => {
                self.appended
                    .insert(key, (entry.digest, entry.prev_term, node));
                Ok(())
            }
            Some(&(digest, prev_term, first))
                if digest != entry.digest || prev_term != entry.prev_term =>
            {
                Err((
                    vec![first, node],
                    format!(
                        "entry {}@{} differs between n{first} and n{node} (data digest {digest:016x} vs {:016x}, previous term {prev_term} vs {})",
                        entry.index, entry.term, entry.digest, entry.prev_term
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
        if let Some(ack) = self.acked.get(&entry.index)
            && ack.term != entry.term
        {
            return Err((
                Property::Durability,
                vec![node],
                format!(
                    "n{node} applied {}@{} where client {}'s write seq {} was acknowledged as {}@{}",
                    entry.index, entry.term, ack.client_id, ack.seq, ack.index, ack.term
                ),
            ));
        }
        match self.applied.get(&entry.index) {
            None => {
                self.applied
                    .insert(entry.index, (entry.term, entry.digest, node));
                Ok(())
            }
            Some(&(term, digest, first)) if term != entry.term || digest != entry.digest => Err((
                Property::StateMachineSafety,
                vec![first, node],
                format!(
                    "index {} applied as {}@{term} on n{first} but as {}@{} on n{node}",
                    entry.index, entry.index, entry.index, entry.term
                ),
            )),
            Some(_) => Ok(()),
        }
    }

    fn check_acked(&mut self, node: NodeId, ack: AckedWrite) -> Result<(), (Vec<NodeId>, String)> {
        if let Some(&(term, _, first)) = self.applied.get(&ack.index)
            && term != ack.term
        {
            return Err((
                vec![first, node],
                format!(
                    "n{node} acknowledged client {}'s write as {}@{} but n{first} applied {}@{term}",
                    ack.client_id, ack.index, ack.term, ack.index
                ),
            ));
        }
        self.acked.insert(ack.index, ack);
        Ok(())
    }

    /// Records the entries a leader counts as committed for the first time.
    fn note_commits(&mut self, raft: &raft::RawNode<raft::MemStorage>) {
        let term = raft.term();
        while (self.committed.len() as u64) < raft.commit_index() {
            let index = self.committed.len() as u64 + 1;
            // A compacted entry (term unknown here) is recorded as term 0 and not checked.
            self.committed
                .push((raft.term_at(index).unwrap_or(0), term));
        }
    }

    /// A new leader of term T must hold every entry committed in a term before T.
    fn check_new_leader(
        &mut self,
        node: NodeId,
        raft: &raft::RawNode<raft::MemStorage>,
    ) -> Result<(), (u64, String)> {
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
                            "n{node} became leader of term {term} without {index}@{entry_term}, committed in term {commit_term}; it holds {}",
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
        if !self.leader_of_term.contains_key(&term) {
            self.leaders.push((time_ns, term, node));
        }
        match *self.leader_of_term.entry(term).or_insert(node) {
            other if other != node => Err(Violation {
                property: Property::ElectionSafety,
                nodes: vec![other, node],
                term: Some(term),
                index: None,
                time_ns,
                message: format!("n{other} and n{node} both leaders of term {term}"),
            }),
            _ => Ok(()),
        }
    }

    /// The highest index applied anywhere.
    pub fn applied_max(&self) -> u64 {
        self.applied.keys().next_back().copied().unwrap_or(0)
    }
}
