//! The interaction environment: nodes numbered from 1, their storages, the messages in flight,
//! and one handler per command. Output reads like etcd's: Readys, messages delivered, and
//! `INFO` lines for role, term and configuration changes (which `log-level` can silence).

use std::collections::BTreeMap;
use std::fmt::Write;

use raft::{
    ConfChange, ConfChangeKind, ConfChangeSingle, ConfChangeTransition, ConfState, Config,
    MemStorage, Message, MessageKind, NodeId, RawNode, ReadOnlyOption, Role, Snapshot,
    SnapshotMetadata, Storage,
};

type Node = RawNode<EnvStorage>;

/// A node's storage: the log and hard state in a `MemStorage`, and, as etcd's interaction
/// environment keeps it, a snapshot of the state machine as of the last entry applied (an
/// "appender": the data of every applied entry, concatenated), which is what a leader sends.
pub struct EnvStorage {
    log: MemStorage,
    latest: Snapshot,
}

impl Storage for EnvStorage {
    fn initial_state(&self) -> (raft::HardState, ConfState) {
        self.log.initial_state()
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_count: usize,
    ) -> Result<Vec<raft::Entry>, raft::StorageError> {
        self.log.entries(low, high, max_count)
    }

    fn term(&self, index: u64) -> Result<u64, raft::StorageError> {
        self.log.term(index)
    }

    fn first_index(&self) -> u64 {
        self.log.first_index()
    }

    fn last_index(&self) -> u64 {
        self.log.last_index()
    }

    fn snapshot(&self) -> Snapshot {
        self.latest.clone()
    }
}

/// What was last reported about a node, to print what changed.
#[derive(Clone, PartialEq)]
struct Observed {
    role: Role,
    term: u64,
    conf_state: ConfState,
}

/// How much is printed: `none` silences everything but errors, `warn` and `error` keep the
/// commands' output, `info` and `debug` add the state changes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Debug,
    Info,
    Warn,
    Error,
    None,
}

pub struct Env {
    nodes: Vec<Node>,
    observed: Vec<Observed>,
    /// Messages sent and not yet delivered or dropped, in sending order.
    in_flight: Vec<Message>,
    level: Level,
    output: String,
    indent: usize,
}

impl Default for Env {
    fn default() -> Env {
        Env {
            nodes: Vec::new(),
            observed: Vec::new(),
            in_flight: Vec::new(),
            level: Level::Info,
            output: String::new(),
            indent: 0,
        }
    }
}

/// A command line's arguments: bare values, and `key=value` or `key=(a,b,c)`.
struct Args {
    positional: Vec<String>,
    named: BTreeMap<String, Vec<String>>,
}

impl Args {
    fn parse(words: &[&str]) -> Args {
        let mut positional = Vec::new();
        let mut named = BTreeMap::new();
        for word in words {
            match word.split_once('=') {
                Some((key, value)) => {
                    let value = value.trim_start_matches('(').trim_end_matches(')');
                    let values = value.split(',').filter(|v| !v.is_empty());
                    named.insert(key.to_string(), values.map(str::to_string).collect());
                }
                None => positional.push(word.to_string()),
            }
        }
        Args { positional, named }
    }

    fn ids(&self) -> Vec<NodeId> {
        self.positional.iter().map(|id| parse_number(id)).collect()
    }

    fn id(&self) -> NodeId {
        parse_number(self.positional.first().expect("a node id"))
    }

    fn list(&self, key: &str) -> Vec<u64> {
        self.named
            .get(key)
            .map(|values| values.iter().map(|v| parse_number(v)).collect())
            .unwrap_or_default()
    }

    fn value(&self, key: &str) -> Option<&str> {
        self.named
            .get(key)
            .and_then(|v| v.first())
            .map(String::as_str)
    }

    fn number(&self, key: &str) -> Option<u64> {
        self.value(key).map(parse_number)
    }

    fn flag(&self, key: &str) -> bool {
        match self.value(key) {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => panic!("{key}={other}: expected true or false"),
        }
    }
}

fn parse_number(text: &str) -> u64 {
    text.parse()
        .unwrap_or_else(|_| panic!("`{text}` is not a number"))
}

impl Env {
    /// Runs one command; returns its output.
    pub fn run(&mut self, command: &str, input: &[String]) -> String {
        self.output.clear();
        let words: Vec<&str> = command.split_whitespace().collect();
        let args = Args::parse(&words[1..]);
        match words[0] {
            "log-level" => self.log_level(&args.positional[0]),
            "add-nodes" => self.add_nodes(&args),
            "campaign" => self.act(args.id(), |node| {
                node.campaign();
                Ok(())
            }),
            "propose" => {
                let data = args.positional[1].clone().into_bytes();
                self.act(args.id(), |node| node.propose(data).map(|_| ()))
            }
            "propose-conf-change" => {
                let change = conf_change(&args, input);
                self.act(args.id(), |node| {
                    node.propose_conf_change(change).map(|_| ())
                })
            }
            "transfer-leadership" => {
                let (from, to) = (args.number("from").unwrap(), args.number("to").unwrap());
                self.act(from, |node| node.transfer_leader(to))
            }
            "forget-leader" => self.act(args.id(), |node| {
                node.forget_leader();
                Ok(())
            }),
            "report-unreachable" => {
                let ids = args.ids();
                self.act(ids[0], |node| {
                    node.report_unreachable(ids[1]);
                    Ok(())
                })
            }
            "tick-heartbeat" | "tick-election" => {
                let id = args.id();
                let config = self.node(id).config();
                let ticks = match words[0] {
                    "tick-heartbeat" => config.heartbeat_tick,
                    _ => config.election_tick,
                };
                self.act(id, |node| {
                    (0..ticks).for_each(|_| node.tick());
                    Ok(())
                })
            }
            "set-randomized-election-timeout" => {
                let timeout = args.number("timeout").expect("timeout=N");
                self.node_mut(args.id())
                    .set_randomized_election_timeout(timeout);
            }
            "process-ready" => self.process_ready_all(&args.ids()),
            "deliver-msgs" => self.deliver_msgs(&args),
            "stabilize" => self.stabilize_command(&args),
            "status" => self.status(args.id()),
            "raft-log" => self.raft_log(args.id()),
            "raft-state" => self.raft_state(),
            "compact" => self.compact(args.ids()[0], args.ids()[1]),
            "send-snapshot" => self.send_snapshot(args.ids()[0], args.ids()[1]),
            other => self.say(Level::Error, &format!("unknown command {other}")),
        }
        std::mem::take(&mut self.output)
    }

    // ----- output -----

    /// Prints a line at `level`, indented inside a `stabilize` section.
    fn say(&mut self, level: Level, line: &str) {
        if level < self.level {
            return;
        }
        for line in line.lines() {
            let prefix = match level {
                Level::Info => "INFO ",
                _ => "",
            };
            let _ = writeln!(
                self.output,
                "{:width$}{prefix}{line}",
                "",
                width = self.indent
            );
        }
    }

    /// Command output (a Ready, a message): shown unless the level is `none`.
    fn show(&mut self, text: &str) {
        self.say(Level::Error, text);
    }

    /// Reports what changed at node `id` since it was last observed.
    fn observe(&mut self, id: NodeId) {
        let node = &self.nodes[(id - 1) as usize];
        let now = Observed {
            role: node.role(),
            term: node.term(),
            conf_state: node.conf_state(),
        };
        let before = std::mem::replace(&mut self.observed[(id - 1) as usize], now.clone());
        if (before.role, before.term) != (now.role, now.term) {
            let role = format!("{:?}", now.role).to_lowercase();
            self.say(
                Level::Info,
                &format!("{id} became {role} at term {}", now.term),
            );
        }
        if before.conf_state != now.conf_state {
            self.say(
                Level::Info,
                &format!("{id} switched to configuration {}", now.conf_state),
            );
        }
    }

    fn log_level(&mut self, level: &str) {
        self.level = match level.to_lowercase().as_str() {
            "debug" => Level::Debug,
            "info" => Level::Info,
            "warn" => Level::Warn,
            "error" => Level::Error,
            "none" => Level::None,
            other => panic!("unknown log level {other}"),
        };
    }

    // ----- nodes -----

    fn node(&self, id: NodeId) -> &Node {
        self.nodes
            .get((id - 1) as usize)
            .unwrap_or_else(|| panic!("no node {id}"))
    }

    fn node_mut(&mut self, id: NodeId) -> &mut Node {
        self.nodes
            .get_mut((id - 1) as usize)
            .unwrap_or_else(|| panic!("no node {id}"))
    }

    /// Acts on a node, prints an error it returns and what changed.
    fn act(&mut self, id: NodeId, action: impl FnOnce(&mut Node) -> Result<(), raft::Error>) {
        if let Err(error) = action(self.node_mut(id)) {
            self.show(&error.to_string());
        }
        self.observe(id);
    }

    /// `add-nodes N [voters=(..)] [learners=(..)] [index=I] [content=X] ...`: nodes
    /// bootstrapped from a snapshot at index I (term 1) of that configuration, or empty ones
    /// that a configuration change will add. Configuration keys: `prevote`, `checkquorum`,
    /// `step-down-on-removal`, `read-only`, `inflight`, `max-size-per-msg`,
    /// `max-committed-size-per-ready`, `max-uncommitted-size`, `disable-proposal-forwarding`,
    /// `disable-conf-change-validation`, `conf-change-before-term-commit` (etcd's rule for
    /// accepting configuration changes).
    fn add_nodes(&mut self, args: &Args) {
        let count = parse_number(&args.positional[0]);
        for _ in 0..count {
            let id = self.nodes.len() as NodeId + 1;
            let log = bootstrap_storage(args);
            let latest = log.snapshot();
            let storage = EnvStorage { log, latest };
            let node = RawNode::new(node_config(id, args), storage, Box::new(|| 0))
                .expect("a valid configuration");
            let started = format!(
                "{id} starts as follower at term {} with {}: commit={} applied={} last={}@{}",
                node.term(),
                node.conf_state(),
                node.commit_index(),
                node.applied_index(),
                node.last_index(),
                node.term_at(node.last_index()).unwrap_or(0)
            );
            self.observed.push(Observed {
                role: node.role(),
                term: node.term(),
                conf_state: node.conf_state(),
            });
            self.nodes.push(node);
            self.say(Level::Info, &started);
        }
    }

    // ----- the Ready cycle and messages -----

    fn process_ready_all(&mut self, ids: &[NodeId]) {
        for &id in ids {
            if ids.len() > 1 {
                self.show(&format!("> {id} handling Ready"));
                self.indent += 2;
                self.process_ready(id);
                self.indent -= 2;
            } else {
                self.process_ready(id);
            }
        }
    }

    /// One Ready of node `id`, as a synchronous application handles it: print, persist, apply
    /// (configuration changes included), send every message, acknowledge.
    fn process_ready(&mut self, id: NodeId) {
        let node = self.node_mut(id);
        let ready = node.ready();
        let storage = node.storage_mut();
        storage.log.persist_ready(&ready);
        if let Some(snapshot) = &ready.snapshot {
            storage.latest = raft::Snapshot::clone(snapshot);
        }
        let text = ready.to_string();
        self.show(&text);
        for entry in &ready.committed_entries {
            if let Some(change) = entry.conf_change() {
                if let Err(error) = self.node_mut(id).apply_conf_change(&change) {
                    self.show(&format!("{id} refused to apply {change}: {error}"));
                }
                self.observe(id);
            }
            // The appender state machine: the latest snapshot grows by the entry's data.
            let conf_state = self.node(id).conf_state();
            let latest = &mut self.node_mut(id).storage_mut().latest;
            latest.metadata.index = entry.index;
            latest.metadata.term = entry.term;
            latest.metadata.conf_state = conf_state;
            if entry.conf_change().is_none() {
                latest.data.extend_from_slice(&entry.data);
            }
        }
        self.in_flight.extend(ready.messages);
        self.in_flight.extend(ready.persisted_messages);
        self.node_mut(id).advance();
        self.observe(id);
    }

    /// `deliver-msgs [IDS] [type=KIND] [drop=(IDS)]`: delivers (or drops) the messages in
    /// flight to those nodes, of that kind only if given.
    fn deliver_msgs(&mut self, args: &Args) {
        let kind = args.value("type").map(kind_named);
        let mut handled = 0;
        for id in args.ids() {
            handled += self.deliver_to(id, kind, false);
        }
        for id in args.list("drop") {
            handled += self.deliver_to(id, kind, true);
        }
        if handled == 0 {
            self.show("no messages");
        }
    }

    /// Delivers or drops every message in flight to `id` (of `kind`); returns how many.
    fn deliver_to(&mut self, id: NodeId, kind: Option<MessageKind>, drop: bool) -> usize {
        let (selected, rest): (Vec<Message>, Vec<Message>) = std::mem::take(&mut self.in_flight)
            .into_iter()
            .partition(|m| m.to == id && kind.is_none_or(|kind| m.kind == kind));
        self.in_flight = rest;
        let count = selected.len();
        for message in selected {
            if drop {
                self.show(&format!("dropped: {}", message.with_route()));
                continue;
            }
            self.show(&message.with_route());
            if id as usize > self.nodes.len() {
                continue; // a node not created yet: lost
            }
            if let Err(error) = self.node_mut(id).step(message) {
                self.show(&error.to_string());
            }
            self.observe(id);
        }
        count
    }

    fn stabilize_command(&mut self, args: &Args) {
        let level = self.level;
        if let Some(temporary) = args.value("log-level") {
            self.log_level(temporary);
        }
        let ids = match args.ids() {
            ids if ids.is_empty() => (1..=self.nodes.len() as NodeId).collect(),
            ids => ids,
        };
        self.stabilize(&ids);
        self.level = level;
    }

    /// Handles Readys and delivers messages among `ids` until nothing is left to do.
    fn stabilize(&mut self, ids: &[NodeId]) {
        for _ in 0..10_000 {
            let mut done = true;
            for &id in ids {
                if self.node(id).has_ready() {
                    self.show(&format!("> {id} handling Ready"));
                    self.indent += 2;
                    self.process_ready(id);
                    self.indent -= 2;
                    done = false;
                }
            }
            for &id in ids {
                if self.in_flight.iter().any(|m| m.to == id) {
                    self.show(&format!("> {id} receiving messages"));
                    self.indent += 2;
                    self.deliver_to(id, None, false);
                    self.indent -= 2;
                    done = false;
                }
            }
            if done {
                return;
            }
        }
        panic!("stabilize {ids:?} never settled");
    }

    // ----- inspection -----

    fn status(&mut self, id: NodeId) {
        let lines: Vec<String> = self
            .node(id)
            .progresses()
            .map(|(peer, progress)| format!("{peer}: {progress}"))
            .collect();
        self.show(&lines.join("\n"));
    }

    fn raft_log(&mut self, id: NodeId) {
        let node = self.node(id);
        let (first, last) = (node.first_index(), node.last_index());
        let text = if last < first {
            format!("log is empty: first index={first}, last index={last}")
        } else {
            let entries = node.entries(first, last + 1).expect("the log holds them");
            let lines: Vec<String> = entries.iter().map(|e| e.to_string()).collect();
            lines.join("\n")
        };
        self.show(&text);
    }

    fn raft_state(&mut self) {
        let lines: Vec<String> = self
            .nodes
            .iter()
            .map(|node| {
                let membership = match (
                    node.conf_state().voters.contains(&node.id()),
                    node.is_learner(),
                ) {
                    (_, true) => "learner",
                    (true, _) => "voter",
                    _ => {
                        let outgoing = node.conf_state().voters_outgoing.contains(&node.id());
                        if outgoing { "voter" } else { "non-member" }
                    }
                };
                let leader = node.leader().map_or("none".to_string(), |l| l.to_string());
                let role = format!("{:?}", node.role()).to_lowercase();
                format!(
                    "{}: {role} ({membership}) term={} leader={leader}",
                    node.id(),
                    node.term()
                )
            })
            .collect();
        self.show(&lines.join("\n"));
    }

    // ----- log compaction and snapshots -----

    /// `compact ID INDEX`: the node's storage discards its log up to INDEX (which it has
    /// committed), keeping a snapshot there.
    fn compact(&mut self, id: NodeId, index: u64) {
        let node = self.node_mut(id);
        let conf_state = node.conf_state();
        node.storage_mut()
            .log
            .create_snapshot(index, conf_state, Vec::new())
            .expect("a committed index after the last snapshot");
        self.raft_log(id);
    }

    /// `send-snapshot FROM TO`: FROM sends its latest snapshot to TO (held in flight).
    fn send_snapshot(&mut self, from: NodeId, to: NodeId) {
        let node = self.node(from);
        let message = Message {
            kind: MessageKind::Snapshot,
            from,
            to,
            term: node.term(),
            snapshot: Some(Box::new(node.storage().snapshot())),
            ..Message::default()
        };
        self.show(&message.with_route());
        self.in_flight.push(message);
    }
}

fn node_config(id: NodeId, args: &Args) -> Config {
    let mut config = Config {
        election_tick: 3,
        heartbeat_tick: 1,
        pre_vote: args.flag("prevote"),
        check_quorum: args.flag("checkquorum"),
        max_inflight_msgs: usize::MAX,
        max_entries_per_msg: usize::MAX,
        step_down_on_removal: args.flag("step-down-on-removal"),
        disable_proposal_forwarding: args.flag("disable-proposal-forwarding"),
        conf_change_before_term_commit: args.flag("conf-change-before-term-commit"),
        disable_conf_change_validation: args.flag("disable-conf-change-validation"),
        ..Config::new(id)
    };
    if let Some(inflight) = args.number("inflight") {
        config.max_inflight_msgs = inflight as usize;
    }
    if let Some(size) = args.number("max-size-per-msg") {
        config.max_size_per_msg = size;
    }
    if let Some(size) = args.number("max-committed-size-per-ready") {
        config.max_committed_size_per_ready = size;
    }
    if let Some(size) = args.number("max-uncommitted-size") {
        config.max_uncommitted_entries_size = size;
    }
    match args.value("read-only") {
        None | Some("safe") => {}
        Some("lease-based") => config.read_only = ReadOnlyOption::LeaseBased,
        Some(other) => panic!("read-only={other}: expected safe or lease-based"),
    }
    config
}

/// An empty storage, or one bootstrapped at `index` (term 1) with the given configuration.
fn bootstrap_storage(args: &Args) -> MemStorage {
    let Some(index) = args.number("index") else {
        return MemStorage::default();
    };
    assert!(index > 1, "index must be above 1 to bootstrap");
    let conf_state = ConfState {
        voters: args.list("voters").into_iter().collect(),
        learners: args.list("learners").into_iter().collect(),
        ..ConfState::default()
    };
    let snapshot = Snapshot {
        metadata: SnapshotMetadata {
            index,
            term: 1,
            conf_state,
        },
        data: args.value("content").unwrap_or("").as_bytes().to_vec(),
    };
    let mut storage = MemStorage::default();
    storage
        .apply_snapshot(snapshot)
        .expect("a fresh storage takes any snapshot");
    // As etcd bootstraps: the log starts after the snapshot, the node has seen no term yet.
    storage.set_hard_state(raft::HardState {
        term: 0,
        vote: None,
        commit: index,
    });
    storage
}

/// A configuration change from etcd's notation: `v2` adds voter 2, `l3` learner 3, `r1`
/// removes 1; no change at all leaves the joint configuration. `v1=true` is a single change;
/// `transition=auto|implicit|explicit`.
fn conf_change(args: &Args, input: &[String]) -> ConfChange {
    let changes: Vec<ConfChangeSingle> = input
        .iter()
        .flat_map(|line| line.split_whitespace())
        .map(|token| {
            let (kind, id) = token.split_at(1);
            let kind = match kind {
                "v" => ConfChangeKind::AddNode,
                "l" => ConfChangeKind::AddLearner,
                "r" => ConfChangeKind::RemoveNode,
                other => panic!("unknown change {other} in {token}"),
            };
            ConfChangeSingle {
                kind,
                node_id: parse_number(id),
            }
        })
        .collect();
    if args.flag("v1") {
        assert_eq!(changes.len(), 1, "a v1 change is a single change");
    }
    let transition = match args.value("transition") {
        None | Some("auto") => ConfChangeTransition::Auto,
        Some("implicit") => ConfChangeTransition::JointImplicit,
        Some("explicit") => ConfChangeTransition::JointExplicit,
        Some(other) => panic!("transition={other}"),
    };
    ConfChange {
        transition,
        changes,
        context: Vec::new(),
    }
}

fn kind_named(name: &str) -> MessageKind {
    MessageKind::ALL
        .into_iter()
        .find(|kind| kind.name() == name)
        .unwrap_or_else(|| panic!("unknown message kind {name}"))
}
