//! An in-memory test network: RawNodes with MemStorage, every Ready persisted at once (unless a
//! node's disk is stalled), messages delivered in FIFO order, with drop filters and crashes.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use raft::{
    ConfState, Config, Entry, EntryKind, HardState, MemStorage, Message, MessageKind, NodeId,
    RawNode, ReadState, Ready, Role, SnapshotStatus, Storage,
};

/// Builds a node config for tests: pre-vote and check-quorum off unless the test turns them on.
pub fn test_config(id: NodeId) -> Config {
    Config {
        pre_vote: false,
        check_quorum: false,
        ..Config::new(id)
    }
}

/// Figure 7 of the Raft paper: the log terms of the leader of term 8 ...
pub const FIGURE_7_LEADER: &[u64] = &[1, 1, 1, 4, 4, 5, 5, 6, 6, 6];

/// ... and of its followers (a) to (f).
pub const FIGURE_7_FOLLOWERS: [&[u64]; 6] = [
    &[1, 1, 1, 4, 4, 5, 5, 6, 6],
    &[1, 1, 1, 4],
    &[1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
    &[1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
    &[1, 1, 1, 4, 4, 4, 4],
    &[1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
];

/// Entries with the given terms at indices 1, 2, ...
pub fn entries_with_terms(terms: &[u64]) -> Vec<Entry> {
    terms
        .iter()
        .enumerate()
        .map(|(i, &term)| Entry {
            term,
            index: i as u64 + 1,
            kind: EntryKind::Normal,
            data: vec![i as u8 + 1].into(),
        })
        .collect()
}

/// A storage holding a log with the given terms, at hard-state `term`.
pub fn storage_with_log(voters: &[NodeId], terms: &[u64], term: u64) -> MemStorage {
    let mut storage =
        MemStorage::new_with_conf_state(ConfState::with_voters(voters.iter().copied()));
    storage.append(&entries_with_terms(terms));
    storage.set_hard_state(HardState {
        term,
        vote: None,
        commit: 0,
    });
    storage
}

pub type Filter = Box<dyn FnMut(&Message) -> bool>;

pub struct Network {
    pub nodes: BTreeMap<NodeId, RawNode<MemStorage>>,
    pub configs: BTreeMap<NodeId, Config>,
    pub queue: VecDeque<Message>,
    /// Every message delivered so far, in order.
    pub delivered: Vec<Message>,
    /// Directed links that drop everything.
    pub cut: BTreeSet<(NodeId, NodeId)>,
    /// Returns true to drop a message.
    pub filter: Option<Filter>,
    /// Committed entries each node applied (normal entries with data, and conf changes).
    pub applied: BTreeMap<NodeId, Vec<Entry>>,
    pub read_states: BTreeMap<NodeId, Vec<ReadState>>,
    /// Nodes whose disk does not sync: their Ready stays outstanding.
    pub stalled: BTreeSet<NodeId>,
    pub outstanding: BTreeMap<NodeId, Ready>,
    /// Per node: the seed of its jitter stream (0: always jitter 0).
    pub jitter: BTreeMap<NodeId, u64>,
    /// State-machine safety oracle: the entry every node applied at each index.
    pub applied_by_index: BTreeMap<u64, (NodeId, Entry)>,
    /// Election safety oracle: the leader of each term.
    pub leader_by_term: BTreeMap<u64, NodeId>,
    /// When false, the oracles record but do not panic (mutant tests read `violations`).
    pub strict: bool,
    pub violations: Vec<String>,
}

impl Network {
    /// A new cluster of `ids`, all voters.
    pub fn new(ids: &[NodeId]) -> Network {
        Network::with_config(ids, |_| {})
    }

    pub fn with_config(ids: &[NodeId], edit: impl Fn(&mut Config)) -> Network {
        let storages = ids
            .iter()
            .map(|&id| {
                (
                    id,
                    MemStorage::new_with_conf_state(ConfState::with_voters(ids.iter().copied())),
                )
            })
            .collect();
        Network::with_storages(storages, edit)
    }

    pub fn with_storages(
        storages: Vec<(NodeId, MemStorage)>,
        edit: impl Fn(&mut Config),
    ) -> Network {
        let mut network = Network {
            nodes: BTreeMap::new(),
            configs: BTreeMap::new(),
            queue: VecDeque::new(),
            delivered: Vec::new(),
            cut: BTreeSet::new(),
            filter: None,
            applied: BTreeMap::new(),
            read_states: BTreeMap::new(),
            stalled: BTreeSet::new(),
            outstanding: BTreeMap::new(),
            jitter: BTreeMap::new(),
            applied_by_index: BTreeMap::new(),
            leader_by_term: BTreeMap::new(),
            strict: true,
            violations: Vec::new(),
        };
        for (id, storage) in storages {
            let mut config = test_config(id);
            edit(&mut config);
            network.configs.insert(id, config.clone());
            network.jitter.insert(id, 0);
            let node = RawNode::new(config, storage, Box::new(|| 0)).expect("valid config");
            network.nodes.insert(id, node);
        }
        network
    }

    pub fn node(&mut self, id: NodeId) -> &mut RawNode<MemStorage> {
        self.nodes
            .get_mut(&id)
            .unwrap_or_else(|| panic!("no node {id}"))
    }

    pub fn get(&self, id: NodeId) -> &RawNode<MemStorage> {
        &self.nodes[&id]
    }

    /// Adds a node to be added by a conf change: it starts, like every member, from the
    /// cluster's bootstrap configuration (at index 0), in which it is not a member yet, and
    /// replays the changes from the log (or receives a snapshot).
    pub fn add_empty_node(&mut self, id: NodeId, edit: impl Fn(&mut Config)) {
        let mut config = test_config(id);
        edit(&mut config);
        self.configs.insert(id, config.clone());
        let bootstrap = self
            .nodes
            .values()
            .next()
            .expect("a cluster")
            .storage()
            .clone();
        let conf_state = bootstrap.initial_state().1;
        let storage = MemStorage::new_with_conf_state(conf_state);
        let node = RawNode::new(config, storage, Box::new(|| 0)).expect("valid config");
        self.nodes.insert(id, node);
    }

    /// Restarts node `id` from its storage with a pseudo-random jitter stream seeded by `seed`
    /// (used again on later restarts).
    pub fn reseed_jitter(&mut self, id: NodeId, seed: u64) {
        self.jitter.insert(id, seed);
        self.restart(id);
    }

    fn jitter_source(&self, id: NodeId, election_tick: u64) -> raft::JitterSource {
        let mut state = self.jitter[&id];
        if state == 0 {
            return Box::new(|| 0);
        }
        Box::new(move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % election_tick
        })
    }

    /// Handles one node's Ready: persist, send, apply, advance.
    pub fn process_ready(&mut self, id: NodeId) -> bool {
        if self.outstanding.contains_key(&id) {
            if self.stalled.contains(&id) {
                let messages = self.node(id).take_messages();
                self.send_messages(id, messages);
                return false;
            }
            let ready = self.outstanding.remove(&id).expect("checked");
            self.finish_ready(id, ready);
            return true;
        }
        if !self.node(id).has_ready() {
            return false;
        }
        let mut ready = self.node(id).ready();
        self.send_messages(id, std::mem::take(&mut ready.messages));
        if self.stalled.contains(&id) {
            self.outstanding.insert(id, ready);
            return true;
        }
        self.finish_ready(id, ready);
        true
    }

    /// Queues messages `id` sends. Like etcd's transport, a snapshot handed to the network is
    /// reported finished: the leader then waits for the follower's answer, and probes again
    /// after a heartbeat if the snapshot was lost.
    fn send_messages(&mut self, id: NodeId, messages: Vec<Message>) {
        for message in messages {
            if message.kind == MessageKind::Snapshot {
                let to = message.to;
                self.node(id).report_snapshot(to, SnapshotStatus::Finish);
            }
            self.queue.push_back(message);
        }
    }

    fn finish_ready(&mut self, id: NodeId, mut ready: Ready) {
        let node = self.nodes.get_mut(&id).expect("node exists");
        node.storage_mut().persist_ready(&ready);
        self.queue
            .extend(std::mem::take(&mut ready.persisted_messages));
        if let Some(snapshot) = &ready.snapshot {
            // The "state machine" of these tests is the list of applied entries; a snapshot
            // replaces the part it covers.
            let applied = self.applied.entry(id).or_default();
            applied.retain(|entry| entry.index <= snapshot.metadata.index);
        }
        for entry in &ready.committed_entries {
            let first = self
                .applied_by_index
                .entry(entry.index)
                .or_insert((id, entry.clone()));
            if first.1 != *entry {
                let violation = format!(
                    "state-machine safety: node {id} applied {}@{} but node {} applied {}@{}",
                    entry.index, entry.term, first.0, first.1.index, first.1.term
                );
                assert!(!self.strict, "{violation}");
                self.violations.push(violation);
            }
            if let Some(change) = entry.conf_change() {
                node.apply_conf_change(&change)
                    .expect("committed conf change applies");
            }
            if !entry.is_noop() {
                self.applied.entry(id).or_default().push(entry.clone());
            }
        }
        self.read_states
            .entry(id)
            .or_default()
            .extend(ready.read_states);
        node.advance();
        if node.role() == Role::Leader {
            let term = node.term();
            let leader = *self.leader_by_term.entry(term).or_insert(id);
            if leader != id {
                let violation =
                    format!("election safety: nodes {leader} and {id} both lead term {term}");
                assert!(!self.strict, "{violation}");
                self.violations.push(violation);
            }
        }
    }

    /// Processes Ready of every node and delivers messages until quiet.
    pub fn settle(&mut self) {
        self.settle_picking(100_000, |_| 0);
    }

    /// Like `settle`, but each step delivers a message drawn from the whole queue (a fixed
    /// xorshift stream from `seed`): a network that reorders everything in flight.
    pub fn settle_reordered(&mut self, seed: u64) {
        let mut state = seed | 1;
        self.settle_picking(1_000_000, |len| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as usize % len
        });
    }

    /// Processes every node's Ready and delivers the queued message at `pick(queue length)`,
    /// until quiet; at most `steps` rounds.
    fn settle_picking(&mut self, steps: usize, mut pick: impl FnMut(usize) -> usize) {
        for _ in 0..steps {
            let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
            let mut busy = false;
            for id in ids {
                busy |= self.process_ready(id);
            }
            if !self.queue.is_empty() {
                let at = pick(self.queue.len());
                let message = self.queue.remove(at).expect("in range");
                self.deliver(message);
                busy = true;
            }
            if !busy {
                return;
            }
        }
        panic!("network did not settle");
    }

    pub fn deliver(&mut self, message: Message) {
        if self.cut.contains(&(message.from, message.to)) {
            return;
        }
        if let Some(filter) = &mut self.filter
            && filter(&message)
        {
            return;
        }
        let Some(node) = self.nodes.get_mut(&message.to) else {
            return;
        };
        self.delivered.push(message.clone());
        node.step(message).expect("message for this node");
    }

    /// Delivers one message directly (bypassing the queue).
    pub fn send(&mut self, message: Message) {
        self.deliver(message);
        self.settle();
    }

    /// Node `id` campaigns; the network settles.
    pub fn campaign(&mut self, id: NodeId) {
        self.node(id).campaign();
        self.settle();
    }

    /// Elects `id` and lets its no-op commit.
    pub fn elect(&mut self, id: NodeId) {
        self.campaign(id);
        assert_eq!(
            self.get(id).role(),
            Role::Leader,
            "node {id} failed to become leader"
        );
    }

    pub fn propose(&mut self, id: NodeId, data: &[u8]) -> u64 {
        let index = self
            .node(id)
            .propose(data.to_vec())
            .expect("leader accepts proposal")
            .index()
            .expect("the leader appends its own proposal");
        self.settle();
        index
    }

    pub fn tick(&mut self, id: NodeId, ticks: u64) {
        for _ in 0..ticks {
            self.node(id).tick();
            self.settle();
        }
    }

    pub fn tick_all(&mut self, ticks: u64) {
        for _ in 0..ticks {
            let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
            for id in ids {
                self.node(id).tick();
            }
            self.settle();
        }
    }

    pub fn isolate(&mut self, id: NodeId) {
        let others: Vec<NodeId> = self
            .nodes
            .keys()
            .copied()
            .filter(|&other| other != id)
            .collect();
        for other in others {
            self.cut.insert((id, other));
            self.cut.insert((other, id));
        }
    }

    pub fn partition(&mut self, groups: &[&[NodeId]]) {
        for (i, a) in groups.iter().enumerate() {
            for (j, b) in groups.iter().enumerate() {
                if i != j {
                    for &x in a.iter() {
                        for &y in b.iter() {
                            self.cut.insert((x, y));
                        }
                    }
                }
            }
        }
    }

    pub fn heal(&mut self) {
        self.cut.clear();
        self.filter = None;
    }

    /// Crashes `id` (losing an outstanding, unsynced Ready) and restarts it from its storage.
    pub fn restart(&mut self, id: NodeId) {
        self.outstanding.remove(&id);
        self.stalled.remove(&id);
        let storage = self.get(id).storage().clone();
        let config = self.configs[&id].clone();
        let jitter = self.jitter_source(id, config.election_tick);
        let node = RawNode::new(config, storage, jitter).expect("valid config");
        self.nodes.insert(id, node);
        self.applied.remove(&id);
        self.queue.retain(|message| message.to != id);
    }

    /// The terms of a node's whole log, from its first index.
    pub fn log_terms(&self, id: NodeId) -> Vec<u64> {
        let node = self.get(id);
        (node.first_index()..=node.last_index())
            .map(|index| node.term_at(index).expect("held"))
            .collect()
    }

    /// Application data of the normal entries a node applied.
    pub fn applied_data(&self, id: NodeId) -> Vec<Vec<u8>> {
        self.applied
            .get(&id)
            .map(|entries| {
                entries
                    .iter()
                    .filter(|e| e.kind == EntryKind::Normal)
                    .map(|e| e.data.to_vec())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Count of delivered messages matching a predicate.
    pub fn count_delivered(&self, predicate: impl Fn(&Message) -> bool) -> usize {
        self.delivered.iter().filter(|m| predicate(m)).count()
    }

    pub fn leaders(&self) -> Vec<NodeId> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.role() == Role::Leader)
            .map(|(&id, _)| id)
            .collect()
    }
}

/// A message of `kind` from `from` to `to` at `term`.
pub fn message(kind: MessageKind, from: NodeId, to: NodeId, term: u64) -> Message {
    Message {
        kind,
        from,
        to,
        term,
        ..Message::default()
    }
}
