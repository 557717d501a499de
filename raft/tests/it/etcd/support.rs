//! Support for the tests ported from etcd-raft: nodes built the way etcd's tests build them
//! (`newTestRaft`), its message pump (`readMessages`, `nextEnts`) and its test network (peers,
//! black holes, cut links, ignored message kinds, a message hook).
//!
//! etcd's tests reach into the `raft` struct (`becomeCandidate`, `trk.Progress[2].Next = ...`);
//! ours reach the same states through the public API, plus the few hooks `RawNode` keeps for
//! tests (`progress_mut`, `set_randomized_election_timeout`, `heartbeat_now`).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use raft::{
    ConfState, Config, Entry, HardState, MemStorage, Message, MessageKind, NodeId, RawNode,
    ReadState, Ready, Role, Snapshot, SnapshotMetadata,
};

pub use crate::support::message;

pub type Node = RawNode<MemStorage>;

/// etcd's `newTestConfig`: no PreVote, no CheckQuorum, 256 appends in flight, no size limit.
pub fn test_config(id: NodeId, election_tick: u64, heartbeat_tick: u64) -> Config {
    Config {
        election_tick,
        heartbeat_tick,
        pre_vote: false,
        check_quorum: false,
        max_inflight_msgs: 256,
        ..Config::new(id)
    }
}

/// etcd's `newTestMemoryStorage(withPeers(...), withLearners(...))`.
pub fn storage(voters: &[NodeId], learners: &[NodeId]) -> MemStorage {
    MemStorage::new_with_conf_state(ConfState {
        voters: voters.iter().copied().collect(),
        learners: learners.iter().copied().collect(),
        ..ConfState::default()
    })
}

/// A storage of `voters` holding `entries` and the hard state `term`/`vote`/`commit`.
pub fn storage_with_log(voters: &[NodeId], entries: &[Entry], hard_state: HardState) -> MemStorage {
    let mut storage = storage(voters, &[]);
    storage.append(entries);
    storage.set_hard_state(hard_state);
    storage
}

/// etcd's `index(first).terms(...)`: entries with these terms from index `first` on.
pub fn entries(first: u64, terms: &[u64]) -> Vec<Entry> {
    terms
        .iter()
        .enumerate()
        .map(|(offset, &term)| Entry {
            term,
            index: first + offset as u64,
            ..Entry::default()
        })
        .collect()
}

pub fn hard_state(term: u64, vote: Option<NodeId>, commit: u64) -> HardState {
    HardState { term, vote, commit }
}

/// A snapshot at `index`/`term` of a configuration of `voters` and `learners`.
pub fn snapshot(index: u64, term: u64, voters: &[NodeId], learners: &[NodeId]) -> Snapshot {
    Snapshot {
        metadata: SnapshotMetadata {
            index,
            term,
            conf_state: ConfState {
                voters: voters.iter().copied().collect(),
                learners: learners.iter().copied().collect(),
                ..ConfState::default()
            },
        },
        data: Vec::new(),
    }
}

/// A storage that starts from `snapshot` (etcd's tests `restore` it into a fresh node).
pub fn storage_from_snapshot(snapshot: Snapshot) -> MemStorage {
    let mut storage = MemStorage::default();
    storage
        .apply_snapshot(snapshot)
        .expect("a fresh storage takes any snapshot");
    storage
}

/// A node whose election jitter is drawn from a small seeded generator, as etcd draws it from
/// its global source: deterministic, yet every value of `0..election_tick` occurs.
pub fn new_node(config: Config, storage: MemStorage) -> Node {
    let election_tick = config.election_tick;
    let mut state = config.id.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let jitter = Box::new(move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % election_tick
    });
    RawNode::new(config, storage, jitter).expect("valid test config")
}

/// etcd's `newTestRaft`.
pub fn new_test_raft(
    id: NodeId,
    election_tick: u64,
    heartbeat_tick: u64,
    storage: MemStorage,
) -> Node {
    new_node(test_config(id, election_tick, heartbeat_tick), storage)
}

/// One Ready cycle: persists it (entries, snapshot, hard state) and acknowledges it as durable
/// but not applied (replies to ourselves, such as our own vote, are counted here). Returns the
/// Ready, or `None` when there is none.
pub fn persist_once(node: &mut Node) -> Option<Ready> {
    if !node.has_ready() {
        return None;
    }
    let ready = node.ready();
    node.storage_mut().persist_ready(&ready);
    node.advance_append();
    Some(ready)
}

/// What a node produced until its Ready settled: messages (those to send at once first, per
/// Ready) and read states.
#[derive(Default)]
pub struct Output {
    pub messages: Vec<Message>,
    pub read_states: Vec<ReadState>,
}

/// etcd's `readMessages`, with the read states too: everything the node produces once what it
/// asked to persist is durable. Committed entries are left unapplied, as etcd's test raft
/// never applies them (they come again in every Ready, so a Ready with nothing else ends it).
pub fn drain(node: &mut Node) -> Output {
    let mut output = Output::default();
    for _ in 0..1000 {
        let Some(ready) = persist_once(node) else {
            return output;
        };
        let only_committed = ready.soft_state.is_none()
            && ready.hard_state.is_none()
            && ready.entries.is_empty()
            && ready.snapshot.is_none()
            && ready.messages.is_empty()
            && ready.persisted_messages.is_empty()
            && ready.read_states.is_empty();
        output.messages.extend(ready.messages);
        output.messages.extend(ready.persisted_messages);
        output.read_states.extend(ready.read_states);
        if only_committed {
            return output;
        }
    }
    panic!("node {}: Ready never settles", node.id());
}

/// etcd's `readMessages`.
pub fn read_messages(node: &mut Node) -> Vec<Message> {
    drain(node).messages
}

/// etcd's `nextEnts`: persists everything and applies the committed entries, returning them.
/// Like etcd's, it does not apply configuration changes to the node (tests call
/// `apply_conf_change` themselves when they want that). Messages are dropped.
pub fn next_ents(node: &mut Node) -> Vec<Entry> {
    let mut applied = Vec::new();
    for _ in 0..1000 {
        if !node.has_ready() {
            return applied;
        }
        let ready = node.ready();
        node.storage_mut().persist_ready(&ready);
        applied.extend(ready.committed_entries);
        node.advance();
    }
    panic!("node {}: Ready never settles", node.id());
}

/// etcd's `becomeCandidate`: the node campaigns (without PreVote) and its term and vote are
/// durable, its own vote counted. Its vote requests are dropped.
pub fn become_candidate(node: &mut Node) {
    assert!(
        !node.config().pre_vote,
        "node {}: become_candidate wants PreVote off",
        node.id()
    );
    node.campaign();
    persist_once(node);
}

/// etcd's `becomeCandidate` then `becomeLeader`: the node wins an election in the next term
/// (its peers' votes are delivered by hand) and has appended its empty entry, not yet
/// persisted; the appends it broadcast on winning are dropped.
pub fn become_leader(node: &mut Node) {
    become_candidate(node);
    let voters: Vec<NodeId> = node.conf_state().voters.into_iter().collect();
    for voter in voters {
        if node.role() == Role::Leader {
            break;
        }
        if voter == node.id() {
            continue;
        }
        let term = node.term();
        node.step(message(MessageKind::VoteResponse, voter, node.id(), term))
            .expect("a vote for this node");
    }
    assert_eq!(
        node.role(),
        Role::Leader,
        "node {} did not win term {}",
        node.id(),
        node.term()
    );
    // etcd's `becomeLeader` sends nothing: forget the appends of the win, and that they were
    // sent (a probe in flight would pause the follower).
    node.take_messages();
    let peers: Vec<NodeId> = node.progresses().map(|(id, _)| id).collect();
    for peer in peers {
        node.progress_mut(peer).expect("listed").append_flow_paused = false;
    }
}

/// A leader of `voters` (node 1, election 10, heartbeat 1) with nothing left to send.
pub fn drained_leader(voters: &[NodeId]) -> Node {
    let mut node = new_test_raft(1, 10, 1, storage(voters, &[]));
    become_leader(&mut node);
    read_messages(&mut node);
    node
}

/// etcd's `acceptAndReply`: the follower's acknowledgement of an append.
pub fn accept_and_reply(append: &Message) -> Message {
    assert_eq!(append.kind, MessageKind::Append, "{append}");
    Message {
        kind: MessageKind::AppendResponse,
        from: append.to,
        to: append.from,
        term: append.term,
        index: append.index + append.entries.len() as u64,
        ..Message::default()
    }
}

/// etcd's `commitNoopEntry`: the leader's empty entry is acknowledged by every follower,
/// committed, persisted and applied; the commit updates that follow are dropped.
pub fn commit_noop_entry(node: &mut Node) {
    assert_eq!(
        node.role(),
        Role::Leader,
        "node {} is not the leader",
        node.id()
    );
    let voters: Vec<NodeId> = node.conf_state().voters.into_iter().collect();
    let (term, last_index) = (node.term(), node.last_index());
    let id = node.id();
    for voter in voters.into_iter().filter(|&voter| voter != id) {
        let mut response = message(MessageKind::AppendResponse, voter, id, term);
        response.index = last_index;
        node.step(response).expect("a reply for this node");
    }
    next_ents(node);
    read_messages(node);
}

/// etcd's `messageSlice` order: by recipient, then kind, then sender.
pub fn sorted(mut messages: Vec<Message>) -> Vec<Message> {
    messages.sort_by_key(|m| (m.to, m.kind, m.from));
    messages
}

/// The terms of a node's whole log (etcd's tests compare logs with `ltoa`).
pub fn log_terms(node: &Node) -> Vec<u64> {
    (node.first_index()..=node.last_index())
        .map(|index| node.term_at(index).expect("the log holds it"))
        .collect()
}

/// A node's log entries (index, term, data) from its first index.
pub fn log_entries(node: &Node) -> Vec<(u64, u64, Vec<u8>)> {
    node.entries(node.first_index(), node.last_index() + 1)
        .expect("the log holds them")
        .into_iter()
        .map(|entry| (entry.index, entry.term, entry.data.to_vec()))
        .collect()
}

/// A network hook: returns false to drop a message.
pub type Hook = Box<dyn FnMut(&Message) -> bool>;

/// A peer of the test network: a node, or etcd's `blackHole` that swallows everything.
pub enum Peer {
    Node(Box<Node>),
    BlackHole,
}

/// etcd's test `network`: delivers messages one at a time, breadth first, until none is left.
pub struct Net {
    pub peers: BTreeMap<NodeId, Peer>,
    /// Directed links that drop everything (etcd's `cut`, `isolate`).
    pub dropped: BTreeSet<(NodeId, NodeId)>,
    pub ignored: BTreeSet<MessageKind>,
    /// Returns false to drop a message.
    pub hook: Option<Hook>,
    /// Read states each node produced (etcd's `r.readStates`).
    pub read_states: BTreeMap<NodeId, Vec<ReadState>>,
}

impl Net {
    /// etcd's `newNetworkWithConfig`: `None` is a new node of the cluster `1..=n` with the
    /// config edit applied, `Some(Peer)` is used as is (a node must know the cluster already).
    pub fn with_config(edit: impl Fn(&mut Config), peers: Vec<Option<Peer>>) -> Net {
        let ids: Vec<NodeId> = (1..=peers.len() as u64).collect();
        let peers = peers
            .into_iter()
            .zip(&ids)
            .map(|(peer, &id)| {
                let peer = peer.unwrap_or_else(|| {
                    let mut config = test_config(id, 10, 1);
                    edit(&mut config);
                    Peer::Node(Box::new(new_node(config, storage(&ids, &[]))))
                });
                (id, peer)
            })
            .collect();
        Net {
            peers,
            dropped: BTreeSet::new(),
            ignored: BTreeSet::new(),
            hook: None,
            read_states: BTreeMap::new(),
        }
    }

    /// etcd's `newNetwork`.
    pub fn new(peers: Vec<Option<Peer>>) -> Net {
        Net::with_config(|_| {}, peers)
    }

    /// A network of `n` fresh nodes.
    pub fn of_size(n: usize) -> Net {
        Net::new((0..n).map(|_| None).collect())
    }

    pub fn node(&mut self, id: NodeId) -> &mut Node {
        match self.peers.get_mut(&id) {
            Some(Peer::Node(node)) => node,
            _ => panic!("peer {id} is not a node"),
        }
    }

    pub fn get(&self, id: NodeId) -> &Node {
        match self.peers.get(&id) {
            Some(Peer::Node(node)) => node,
            _ => panic!("peer {id} is not a node"),
        }
    }

    /// Acts on node `id` (campaign, propose, ...), then delivers what it sends until quiet.
    pub fn act<R>(&mut self, id: NodeId, action: impl FnOnce(&mut Node) -> R) -> R {
        let result = action(self.node(id));
        let messages = self.drain(id);
        self.send(messages);
        result
    }

    /// Several nodes act before anything they send is delivered (etcd's `send` of several
    /// local messages at once).
    pub fn act_all(&mut self, ids: &[NodeId], action: impl Fn(&mut Node)) {
        for &id in ids {
            action(self.node(id));
        }
        let mut messages = Vec::new();
        for &id in ids {
            messages.extend(self.drain(id));
        }
        self.send(messages);
    }

    /// Restarts node `id` from its storage with an edited configuration, as a rolling update
    /// does (its volatile state is lost: it comes back as a follower).
    pub fn restart(&mut self, id: NodeId, edit: impl Fn(&mut Config)) {
        let node = self.node(id);
        let mut config = node.config().clone();
        edit(&mut config);
        let storage = node.storage().clone();
        self.peers
            .insert(id, Peer::Node(Box::new(new_node(config, storage))));
    }

    /// etcd's `MsgHup` to `id`.
    pub fn campaign(&mut self, id: NodeId) {
        self.act(id, |node| node.campaign());
    }

    /// etcd's `MsgProp` to `id` (dropped proposals are ignored, as etcd's `send` ignores them).
    pub fn propose(&mut self, id: NodeId, data: &[u8]) {
        self.act(id, |node| {
            let _ = node.propose(data.to_vec());
        });
    }

    /// etcd's `MsgBeat` to `id`.
    pub fn beat(&mut self, id: NodeId) {
        self.act(id, |node| node.heartbeat_now());
    }

    /// Delivers messages, breadth first, with what they cause, until none is left.
    pub fn send(&mut self, messages: Vec<Message>) {
        let mut queue: VecDeque<Message> = messages.into();
        for _ in 0..100_000 {
            let Some(message) = queue.pop_front() else {
                return;
            };
            let to = message.to;
            let Some(Peer::Node(node)) = self.peers.get_mut(&to) else {
                continue;
            };
            let _ = node.step(message);
            queue.extend(self.drain(to));
        }
        panic!("the network never went quiet");
    }

    /// Drains node `id`: keeps its read states, returns the messages the network lets through.
    fn drain(&mut self, id: NodeId) -> Vec<Message> {
        let output = drain(self.node(id));
        self.read_states
            .entry(id)
            .or_default()
            .extend(output.read_states);
        self.filter(output.messages)
    }

    fn filter(&mut self, messages: Vec<Message>) -> Vec<Message> {
        messages
            .into_iter()
            .filter(|message| {
                !self.ignored.contains(&message.kind)
                    && !self.dropped.contains(&(message.from, message.to))
                    && self.hook.as_mut().is_none_or(|hook| hook(message))
            })
            .collect()
    }

    /// etcd's `cut`: both directions between `a` and `b` drop everything.
    pub fn cut(&mut self, a: NodeId, b: NodeId) {
        self.dropped.insert((a, b));
        self.dropped.insert((b, a));
    }

    /// etcd's `isolate`.
    pub fn isolate(&mut self, id: NodeId) {
        let others: Vec<NodeId> = self.peers.keys().copied().filter(|&o| o != id).collect();
        for other in others {
            self.cut(id, other);
        }
    }

    pub fn ignore(&mut self, kind: MessageKind) {
        self.ignored.insert(kind);
    }

    /// etcd's `recover`: heals every link and stops ignoring.
    pub fn recover(&mut self) {
        self.dropped.clear();
        self.ignored.clear();
    }
}

/// A fresh node in a cluster of `ids`, as a network peer.
pub fn peer(node: Node) -> Option<Peer> {
    Some(Peer::Node(Box::new(node)))
}

/// etcd's `nopStepper`.
pub fn black_hole() -> Option<Peer> {
    Some(Peer::BlackHole)
}
