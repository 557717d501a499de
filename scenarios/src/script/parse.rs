//! Script text to commands: one parser per command, every error naming its line.

use std::str::FromStr;

use kv::{Op, ReadMode};
use raft::{ConfChange, Mutant, Role};
use sim::FaultAction;

use super::seeded::parse_run_config;
use super::syntax::{
    Compare, Filter, NodeList, NodeRef, parse_comparison, parse_duration, parse_node,
    parse_node_list, parse_server,
};
use super::{Script, ScriptError, parse_property};
use crate::admin::{AdminCommand, parse_conf_change_words};
use crate::oracle::Property;
use crate::run::RunConfig;

/// One script line: its number, its condition and its command.
#[derive(Clone, Debug)]
pub struct Line {
    pub number: usize,
    pub text: String,
    pub condition: Option<Condition>,
    pub command: Command,
}

/// `[mutant]` runs the line only with the mutant on; `[!mutant]` only with it off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Condition {
    pub mutant: Mutant,
    pub negated: bool,
}

impl Condition {
    pub fn holds(self, mutants: &[Mutant]) -> bool {
        mutants.contains(&self.mutant) != self.negated
    }
}

/// Settings of a cluster script, from its `cluster` line.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterSpec {
    pub servers: u64,
    pub clients: u64,
    /// Initial voters; every server when not given.
    pub voters: Option<Vec<u64>>,
    pub seed: u64,
    pub tick_ns: u64,
    pub election_tick: u64,
    pub heartbeat_tick: u64,
    pub pre_vote: bool,
    pub check_quorum: bool,
    pub read_mode: ReadMode,
    pub max_entries_per_msg: usize,
    pub conf_change_on_append: bool,
    pub snapshot_threshold_entries: u64,
    pub mutants: Vec<Mutant>,
    /// Virtual time every action is followed by, delivering unblocked messages.
    pub settle_ns: u64,
    /// Every message is delivered this long after it is sent (unless blocked).
    pub latency_ns: u64,
}

impl Default for ClusterSpec {
    fn default() -> Self {
        Self {
            servers: 3,
            clients: 0,
            voters: None,
            seed: 0,
            tick_ns: 10_000_000,
            election_tick: 10,
            heartbeat_tick: 2,
            pre_vote: true,
            check_quorum: true,
            read_mode: ReadMode::ReadIndex,
            max_entries_per_msg: 1024,
            conf_change_on_append: false,
            snapshot_threshold_entries: 10_000,
            mutants: Vec::new(),
            settle_ns: 20_000_000,
            latency_ns: 1_000_000,
        }
    }
}

#[derive(Clone, Debug)]
pub enum Command {
    // Setup (before the first action).
    Cluster(Box<ClusterSpec>),
    /// Loads a log of entries with these terms, at indices 1, 2, ...
    Log {
        nodes: NodeList,
        terms: Vec<u64>,
    },
    HardState {
        nodes: NodeList,
        term: Option<u64>,
        vote: Option<u64>,
        commit: Option<u64>,
    },
    // Seeded runs.
    RunConfig(Box<RunConfig>),
    At {
        at_ns: u64,
        action: FaultAction,
    },
    // Actions.
    Run(u64),
    Tick {
        nodes: NodeList,
        ticks: u64,
    },
    Campaign(u64),
    Block(Filter),
    Unblock(Option<Filter>),
    Deliver(Filter),
    Drop(Filter),
    Fault(FaultAction),
    Propose {
        node: u64,
        op: Op,
    },
    Client {
        client: u64,
        op: Op,
        at: Option<u64>,
    },
    ConfChange {
        node: u64,
        change: ConfChange,
    },
    TransferLeader {
        from: u64,
        to: u64,
    },
    CheckHistory,
    Expect(Expectation),
}

impl Command {
    pub fn is_setup(&self) -> bool {
        matches!(
            self,
            Command::Cluster(_) | Command::Log { .. } | Command::HardState { .. }
        )
    }
}

/// What a client's latest operation should have returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplyExpect {
    Value(String),
    Written,
    Cas(bool),
    Indefinite,
    Pending,
}

#[derive(Clone, Debug)]
pub enum Expectation {
    Leader {
        node: u64,
        term: Option<u64>,
    },
    LeaderOfTerm {
        term: u64,
        node: u64,
    },
    NoLeader(NodeList),
    Role {
        nodes: NodeList,
        role: Role,
    },
    Term {
        nodes: NodeList,
        compare: Compare,
        value: u64,
    },
    Commit {
        nodes: NodeList,
        compare: Compare,
        value: u64,
    },
    /// The terms of the node's log from its first index.
    Log {
        nodes: NodeList,
        terms: Vec<u64>,
    },
    LogsEqual(NodeList),
    Config {
        nodes: NodeList,
        voters: Vec<u64>,
        outgoing: Vec<u64>,
    },
    Violation(Property),
    NoViolation,
    Pass,
    Count {
        filter: Filter,
        compare: Compare,
        value: u64,
    },
    Reply {
        client: u64,
        expected: ReplyExpect,
    },
}

pub fn parse(text: &str) -> Result<Script, ScriptError> {
    let mut description = Vec::new();
    let mut lines = Vec::new();
    let mut in_header = true;
    for (position, raw) in text.lines().enumerate() {
        let number = position + 1;
        let trimmed = raw.trim();
        if let Some(comment) = trimmed.strip_prefix('#') {
            if in_header {
                description.push(comment.trim().to_string());
            }
            continue;
        }
        let content = trimmed.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            in_header &= description.is_empty();
            continue;
        }
        in_header = false;
        let line = parse_line(content).map_err(|message| ScriptError::new(number, message))?;
        lines.push(Line {
            number,
            text: content.to_string(),
            condition: line.0,
            command: line.1,
        });
    }
    let script = Script {
        description: description.join(" ").trim().to_string(),
        lines,
    };
    check_structure(&script)?;
    Ok(script)
}

/// Setup before actions; one kind of script; node names within the cluster.
fn check_structure(script: &Script) -> Result<(), ScriptError> {
    let Some(first) = script.lines.first() else {
        return Err(ScriptError::new(
            1,
            "empty script: expected `cluster ...` or `run-config ...`",
        ));
    };
    let seeded = matches!(first.command, Command::RunConfig(_));
    if !seeded && !matches!(first.command, Command::Cluster(_)) {
        return Err(ScriptError::new(
            first.number,
            "a script starts with `cluster ...` or `run-config ...`",
        ));
    }
    let spec = match &first.command {
        Command::Cluster(spec) => Some(spec.as_ref().clone()),
        _ => None,
    };
    let mut acting = false;
    for line in &script.lines[1..] {
        let command = &line.command;
        let allowed = if seeded {
            matches!(
                command,
                Command::At { .. } | Command::Expect(Expectation::Pass | Expectation::Violation(_))
            )
        } else {
            !matches!(
                command,
                Command::RunConfig(_) | Command::At { .. } | Command::Cluster(_)
            )
        };
        if !allowed {
            let kind = if seeded { "a seeded-run" } else { "a cluster" };
            return Err(ScriptError::new(
                line.number,
                format!("`{}` does not belong in {kind} script", line.text),
            ));
        }
        if command.is_setup() && acting {
            return Err(ScriptError::new(
                line.number,
                "setup (log, hardstate) must come before the first action",
            ));
        }
        if !seeded && matches!(command, Command::Fault(FaultAction::LinkLoss { .. })) {
            return Err(ScriptError::new(
                line.number,
                "link-loss has no effect in a cluster script, whose runner delivers every message \
                 itself; use block, deliver and drop",
            ));
        }
        acting |= !command.is_setup();
        if let Some(spec) = &spec {
            check_nodes(command, spec).map_err(|m| ScriptError::new(line.number, m))?;
        }
    }
    Ok(())
}

fn check_nodes(command: &Command, spec: &ClusterSpec) -> Result<(), String> {
    let server = |id: u64| {
        if id <= spec.servers {
            Ok(())
        } else {
            Err(format!("n{id} does not exist ({} servers)", spec.servers))
        }
    };
    let node = |node: NodeRef| match node {
        NodeRef::Server(id) => server(id),
        NodeRef::Client(k) if k <= spec.clients => Ok(()),
        NodeRef::Client(k) => Err(format!("c{k} does not exist ({} clients)", spec.clients)),
    };
    let list = |nodes: &NodeList| nodes.resolve(spec.servers).into_iter().try_for_each(node);
    let filter = |filter: &Filter| {
        filter.from.as_ref().map_or(Ok(()), list)?;
        filter.to.as_ref().map_or(Ok(()), list)
    };
    match command {
        Command::Log { nodes, .. }
        | Command::HardState { nodes, .. }
        | Command::Tick { nodes, .. } => list(nodes),
        Command::Campaign(id)
        | Command::Propose { node: id, .. }
        | Command::ConfChange { node: id, .. } => server(*id),
        Command::TransferLeader { from, to } => server(*from).and(server(*to)),
        Command::Client { client, at, .. } => {
            node(NodeRef::Client(*client))?;
            at.map_or(Ok(()), server)
        }
        Command::Block(f) | Command::Deliver(f) | Command::Drop(f) | Command::Unblock(Some(f)) => {
            filter(f)
        }
        Command::Fault(action) => action
            .validate(spec.servers as usize)
            .map_err(|e| e.to_string()),
        Command::Expect(expectation) => match expectation {
            Expectation::Leader { node, .. } | Expectation::LeaderOfTerm { node, .. } => {
                server(*node)
            }
            Expectation::NoLeader(nodes)
            | Expectation::Role { nodes, .. }
            | Expectation::Term { nodes, .. }
            | Expectation::Commit { nodes, .. }
            | Expectation::Log { nodes, .. }
            | Expectation::LogsEqual(nodes)
            | Expectation::Config { nodes, .. } => list(nodes),
            Expectation::Count { filter: f, .. } => filter(f),
            Expectation::Reply { client, .. } => node(NodeRef::Client(*client)),
            _ => Ok(()),
        },
        _ => Ok(()),
    }
}

fn parse_line(content: &str) -> Result<(Option<Condition>, Command), String> {
    let (condition, rest) = match content.strip_prefix('[') {
        Some(rest) => {
            let (inside, rest) = rest
                .split_once(']')
                .ok_or("a condition is written `[mutant]` or `[!mutant]`")?;
            let (negated, name) = match inside.strip_prefix('!') {
                Some(name) => (true, name),
                None => (false, inside),
            };
            let mutant = Mutant::from_str(name.trim()).map_err(|e| e.to_string())?;
            (Some(Condition { mutant, negated }), rest.trim())
        }
        None => (None, content),
    };
    let tokens: Vec<&str> = rest.split_whitespace().collect();
    let (&verb, args) = tokens.split_first().ok_or("a condition needs a command")?;
    let command = match verb {
        "cluster" => Command::Cluster(Box::new(parse_cluster(args)?)),
        "log" => parse_log(args)?,
        "hardstate" => parse_hard_state(args)?,
        "run-config" => Command::RunConfig(Box::new(parse_run_config(args)?)),
        "at" => {
            let (time, action) = args.split_first().ok_or("`at TIME FAULT...`")?;
            let (&fault_verb, fault_args) = action.split_first().ok_or("`at TIME FAULT...`")?;
            Command::At {
                at_ns: parse_duration(time)?,
                action: parse_fault(fault_verb, fault_args)?
                    .ok_or_else(|| format!("`{fault_verb}` is not a fault"))?,
            }
        }
        "run" => match args {
            [duration] => Command::Run(parse_duration(duration)?),
            _ => return Err("`run DURATION`".into()),
        },
        "tick" => match args {
            [nodes] => Command::Tick {
                nodes: parse_node_list(nodes)?,
                ticks: 1,
            },
            [nodes, ticks] => Command::Tick {
                nodes: parse_node_list(nodes)?,
                ticks: ticks
                    .parse()
                    .map_err(|_| format!("`{ticks}` is not a tick count"))?,
            },
            _ => return Err("`tick NODES [COUNT]`".into()),
        },
        "campaign" => match args {
            [node] => Command::Campaign(parse_server(node)?),
            _ => return Err("`campaign NODE`".into()),
        },
        "block" => Command::Block(Filter::parse(args)?),
        "unblock" if args.is_empty() => Command::Unblock(None),
        "unblock" => Command::Unblock(Some(Filter::parse(args)?)),
        "deliver" => Command::Deliver(Filter::parse(args)?),
        "drop" => Command::Drop(Filter::parse(args)?),
        "propose" => {
            let (node, op) = args.split_first().ok_or("`propose NODE OP...`")?;
            Command::Propose {
                node: parse_server(node)?,
                op: parse_op(op)?,
            }
        }
        "client" => parse_client(args)?,
        "conf-change" => parse_conf_change(args)?,
        "transfer-leader" => match args {
            [from, to] => Command::TransferLeader {
                from: parse_server(from)?,
                to: parse_server(to)?,
            },
            _ => return Err("`transfer-leader FROM TO`".into()),
        },
        "check-history" if args.is_empty() => Command::CheckHistory,
        "expect" => Command::Expect(parse_expectation(args)?),
        _ => match parse_fault(verb, args)? {
            Some(action) => Command::Fault(action),
            None => return Err(format!("unknown command `{verb}`")),
        },
    };
    Ok((condition, command))
}

fn key_values<'a>(args: &[&'a str]) -> Result<Vec<(&'a str, &'a str)>, String> {
    args.iter()
        .map(|token| {
            token
                .split_once('=')
                .ok_or_else(|| format!("`{token}` is not key=value"))
        })
        .collect()
}

fn parse_number<T: FromStr>(key: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("{key}: `{value}` is not a valid number"))
}

fn parse_bool(key: &str, value: &str) -> Result<bool, String> {
    value
        .parse()
        .map_err(|_| format!("{key}: `{value}` is not true or false"))
}

pub fn parse_mutants(value: &str) -> Result<Vec<Mutant>, String> {
    value
        .split(',')
        .filter(|name| !name.is_empty())
        .map(|name| Mutant::from_str(name).map_err(|e| e.to_string()))
        .collect()
}

fn parse_cluster(args: &[&str]) -> Result<ClusterSpec, String> {
    let mut spec = ClusterSpec::default();
    for (key, value) in key_values(args)? {
        match key {
            "servers" => spec.servers = parse_number(key, value)?,
            "clients" => spec.clients = parse_number(key, value)?,
            "voters" => spec.voters = Some(parse_node_list(value)?.servers(u64::MAX)),
            "seed" => spec.seed = parse_number(key, value)?,
            "tick" => spec.tick_ns = parse_duration(value)?,
            "election_tick" => spec.election_tick = parse_number(key, value)?,
            "heartbeat_tick" => spec.heartbeat_tick = parse_number(key, value)?,
            "pre_vote" => spec.pre_vote = parse_bool(key, value)?,
            "check_quorum" => spec.check_quorum = parse_bool(key, value)?,
            "read_mode" => spec.read_mode = value.parse().map_err(|e| format!("{e}"))?,
            "max_entries_per_msg" => spec.max_entries_per_msg = parse_number(key, value)?,
            "conf_change_on_append" => spec.conf_change_on_append = parse_bool(key, value)?,
            "snapshot_threshold" => spec.snapshot_threshold_entries = parse_number(key, value)?,
            "mutants" => spec.mutants = parse_mutants(value)?,
            "settle" => spec.settle_ns = parse_duration(value)?,
            "latency" => spec.latency_ns = parse_duration(value)?,
            _ => {
                return Err(format!(
                    "unknown cluster setting `{key}` (valid: servers, clients, voters, seed, tick, \
                     election_tick, heartbeat_tick, pre_vote, check_quorum, read_mode, \
                     max_entries_per_msg, conf_change_on_append, snapshot_threshold, mutants, settle, latency)"
                ));
            }
        }
    }
    if !(1..=9).contains(&spec.servers) {
        return Err(format!("servers={} is outside 1..=9", spec.servers));
    }
    if spec.clients > 16 {
        return Err(format!("clients={} is outside 0..=16", spec.clients));
    }
    if let Some(voters) = &spec.voters
        && let Some(id) = voters.iter().find(|&&id| id > spec.servers)
    {
        return Err(format!(
            "voter n{id} does not exist ({} servers)",
            spec.servers
        ));
    }
    if spec.tick_ns == 0 {
        return Err("tick must be positive".into());
    }
    Ok(spec)
}

fn parse_log(args: &[&str]) -> Result<Command, String> {
    let (nodes, terms) = args.split_first().ok_or("`log NODES TERM...`")?;
    let terms: Vec<u64> = terms
        .iter()
        .map(|t| t.parse().map_err(|_| format!("`{t}` is not a term")))
        .collect::<Result<_, _>>()?;
    if terms.windows(2).any(|w| w[0] > w[1]) || terms.first() == Some(&0) {
        return Err("a log's terms are positive and never decrease".into());
    }
    Ok(Command::Log {
        nodes: parse_node_list(nodes)?,
        terms,
    })
}

fn parse_hard_state(args: &[&str]) -> Result<Command, String> {
    let (nodes, rest) = args
        .split_first()
        .ok_or("`hardstate NODES term=T [vote=nK] [commit=C]`")?;
    let (mut term, mut vote, mut commit) = (None, None, None);
    for (key, value) in key_values(rest)? {
        match key {
            "term" => term = Some(parse_number(key, value)?),
            "vote" => vote = Some(parse_server(value)?),
            "commit" => commit = Some(parse_number(key, value)?),
            _ => {
                return Err(format!(
                    "unknown hardstate field `{key}` (valid: term, vote, commit)"
                ));
            }
        }
    }
    Ok(Command::HardState {
        nodes: parse_node_list(nodes)?,
        term,
        vote,
        commit,
    })
}

/// The fault commands shared by cluster scripts and seeded-run `at` lines. `None`: not a fault.
pub fn parse_fault(verb: &str, args: &[&str]) -> Result<Option<FaultAction>, String> {
    let address = |token: &str| parse_server(token).map(|id| (id - 1) as sim::NodeId);
    let link = |token: &str| -> Result<(sim::NodeId, sim::NodeId), String> {
        let (from, to) = token
            .split_once("->")
            .ok_or_else(|| format!("`{token}` is not a link (n1->n2)"))?;
        Ok((address(from)?, address(to)?))
    };
    let action = match (verb, args) {
        ("partition", groups) if !groups.is_empty() => {
            let groups = groups
                .iter()
                .filter(|&&token| token != "|")
                .map(|group| {
                    parse_node_list(group).and_then(|list| match list {
                        NodeList::All => Err("a partition group lists its nodes".to_string()),
                        NodeList::Nodes(_) => Ok(list
                            .servers(9)
                            .into_iter()
                            .map(|id| (id - 1) as sim::NodeId)
                            .collect()),
                    })
                })
                .collect::<Result<_, _>>()?;
            FaultAction::Partition { groups }
        }
        ("heal", []) => FaultAction::Heal,
        ("cut", [token]) => {
            let (from, to) = link(token)?;
            FaultAction::CutLink { from, to }
        }
        ("restore", [token]) => {
            let (from, to) = link(token)?;
            FaultAction::RestoreLink { from, to }
        }
        ("crash", [node]) => FaultAction::Crash {
            node: address(node)?,
        },
        ("restart", [node]) => FaultAction::Restart {
            node: address(node)?,
        },
        ("pause", [node]) => FaultAction::Pause {
            node: address(node)?,
        },
        ("resume", [node]) => FaultAction::Resume {
            node: address(node)?,
        },
        ("clock-rate", [node, rate]) => FaultAction::ClockRate {
            node: address(node)?,
            rate: parse_number("clock-rate", rate.trim_start_matches('x'))?,
        },
        ("clock-jump", [node, delta]) => {
            let (negative, magnitude) = match delta.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, delta.trim_start_matches('+')),
            };
            let ns = i64::try_from(parse_duration(magnitude)?)
                .map_err(|_| format!("`{delta}` is too large"))?;
            FaultAction::ClockJump {
                node: address(node)?,
                delta_ns: if negative { -ns } else { ns },
            }
        }
        ("link-loss", [token, rest @ ..]) => {
            let (from, to) = token
                .split_once("->")
                .ok_or_else(|| format!("`{token}` is not a link (n1->n2, *->*)"))?;
            let side = |s: &str| {
                if s == "*" {
                    Ok(None)
                } else {
                    address(s).map(Some)
                }
            };
            let (mut drop_probability, mut duplicate_probability) = (0.0, 0.0);
            for (key, value) in key_values(rest)? {
                match key {
                    "drop" => drop_probability = parse_number(key, value)?,
                    "dup" => duplicate_probability = parse_number(key, value)?,
                    _ => {
                        return Err(format!(
                            "unknown link-loss field `{key}` (valid: drop, dup)"
                        ));
                    }
                }
            }
            FaultAction::LinkLoss {
                from: side(from)?,
                to: side(to)?,
                drop_probability,
                duplicate_probability,
            }
        }
        // A membership change the server proposes when the fault is due (in a seeded run).
        ("conf-change", [node, words @ ..]) => {
            let change = parse_conf_change_words(words, script_server_ids)?;
            AdminCommand::ConfChange(change).to(address(node)?)
        }
        ("admin", [node, words @ ..]) if !words.is_empty() => FaultAction::Admin {
            node: address(node)?,
            command: words.join(" "),
        },
        (
            "partition" | "heal" | "cut" | "restore" | "crash" | "restart" | "pause" | "resume"
            | "clock-rate" | "clock-jump" | "link-loss" | "conf-change" | "admin",
            _,
        ) => return Err(format!("wrong arguments for `{verb}`")),
        _ => return Ok(None),
    };
    Ok(Some(action))
}

/// `get K`, `put K V`, `append K V`, `cas K OLD NEW` (`""` for the empty string).
fn parse_op(tokens: &[&str]) -> Result<Op, String> {
    let text = |s: &str| {
        if s == "\"\"" {
            String::new()
        } else {
            s.to_string()
        }
    };
    Ok(match tokens {
        ["get", key] => Op::Get { key: text(key) },
        ["put", key, value] => Op::Put {
            key: text(key),
            value: text(value),
        },
        ["append", key, value] => Op::Append {
            key: text(key),
            value: text(value),
        },
        ["cas", key, expected, new] => Op::Cas {
            key: text(key),
            expected: text(expected),
            new: text(new),
        },
        _ => {
            return Err(
                "an operation is `get K`, `put K V`, `append K V` or `cas K OLD NEW`".into(),
            );
        }
    })
}

fn parse_client(args: &[&str]) -> Result<Command, String> {
    let (client, rest) = args.split_first().ok_or("`client cK OP... [at nJ]`")?;
    let client = match parse_node(client)? {
        NodeRef::Client(k) => k,
        NodeRef::Server(_) => return Err(format!("`{client}` is a server; a client is needed")),
    };
    let (op, at) = match rest {
        [op @ .., "at", server] => (op, Some(parse_server(server)?)),
        op => (op, None),
    };
    Ok(Command::Client {
        client,
        op: parse_op(op)?,
        at,
    })
}

/// `conf-change nK add n4,n5 [remove n1] [joint|joint-explicit]`, or `conf-change nK leave-joint`.
fn parse_conf_change(args: &[&str]) -> Result<Command, String> {
    let (node, rest) = args
        .split_first()
        .ok_or("`conf-change NODE add|remove|add-learner NODES... [joint|joint-explicit]`")?;
    Ok(Command::ConfChange {
        node: parse_server(node)?,
        change: parse_conf_change_words(rest, script_server_ids)?,
    })
}

/// A node list of a membership change as Raft ids (script names are Raft ids).
fn script_server_ids(token: &str) -> Result<Vec<u64>, String> {
    match parse_node_list(token)? {
        NodeList::All => Err("a membership change lists its nodes".into()),
        list => Ok(list.servers(u64::MAX)),
    }
}

fn parse_role(token: &str) -> Result<Role, String> {
    Ok(match token {
        "leader" => Role::Leader,
        "follower" => Role::Follower,
        "candidate" => Role::Candidate,
        "pre-candidate" => Role::PreCandidate,
        _ => {
            return Err(format!(
                "`{token}` is not a role (leader, follower, candidate, pre-candidate)"
            ));
        }
    })
}

fn parse_expectation(args: &[&str]) -> Result<Expectation, String> {
    let (&what, rest) = args.split_first().ok_or("`expect WHAT ...`")?;
    let nodes_then = |rest: &[&str]| -> Result<(NodeList, Vec<String>), String> {
        let (nodes, tail) = rest.split_first().ok_or("expected a node list")?;
        Ok((
            parse_node_list(nodes)?,
            tail.iter().map(|s| s.to_string()).collect(),
        ))
    };
    Ok(match (what, rest) {
        ("leader", [node]) => Expectation::Leader {
            node: parse_server(node)?,
            term: None,
        },
        ("leader", [node, term]) => Expectation::Leader {
            node: parse_server(node)?,
            term: Some(parse_number("term", term.trim_start_matches("term="))?),
        },
        ("leader-of-term", [term, node]) => Expectation::LeaderOfTerm {
            term: parse_number("term", term)?,
            node: parse_server(node)?,
        },
        ("no-leader", [nodes]) => Expectation::NoLeader(parse_node_list(nodes)?),
        ("role", [nodes, role]) => Expectation::Role {
            nodes: parse_node_list(nodes)?,
            role: parse_role(role)?,
        },
        ("term" | "commit", [_, ..]) => {
            let (nodes, tail) = nodes_then(rest)?;
            let tail: Vec<&str> = tail.iter().map(String::as_str).collect();
            let (compare, value) = parse_comparison(&tail)?;
            if what == "term" {
                Expectation::Term {
                    nodes,
                    compare,
                    value,
                }
            } else {
                Expectation::Commit {
                    nodes,
                    compare,
                    value,
                }
            }
        }
        ("log", [nodes, terms @ ..]) => Expectation::Log {
            nodes: parse_node_list(nodes)?,
            terms: terms
                .iter()
                .map(|t| t.parse().map_err(|_| format!("`{t}` is not a term")))
                .collect::<Result<_, _>>()?,
        },
        ("logs-equal", [nodes]) => Expectation::LogsEqual(parse_node_list(nodes)?),
        ("config", [nodes, fields @ ..]) => {
            let (mut voters, mut outgoing) = (None, Vec::new());
            for (key, value) in key_values(fields)? {
                match key {
                    "voters" => voters = Some(parse_node_list(value)?.servers(u64::MAX)),
                    "outgoing" => outgoing = parse_node_list(value)?.servers(u64::MAX),
                    _ => {
                        return Err(format!(
                            "unknown config field `{key}` (valid: voters, outgoing)"
                        ));
                    }
                }
            }
            Expectation::Config {
                nodes: parse_node_list(nodes)?,
                voters: voters.ok_or("`expect config NODES voters=... [outgoing=...]`")?,
                outgoing,
            }
        }
        ("violation", [kind]) => Expectation::Violation(
            parse_property(kind).ok_or_else(|| format!("unknown property `{kind}`"))?,
        ),
        ("no-violation", []) => Expectation::NoViolation,
        ("pass", []) => Expectation::Pass,
        ("count", tokens) if tokens.len() >= 2 => {
            let split = tokens.len()
                - if Compare::parse(tokens[tokens.len() - 2]).is_some() {
                    2
                } else {
                    1
                };
            let (compare, value) = parse_comparison(&tokens[split..])?;
            Expectation::Count {
                filter: Filter::parse(&tokens[..split])?,
                compare,
                value,
            }
        }
        ("reply", [client, expected]) => {
            let client = match parse_node(client)? {
                NodeRef::Client(k) => k,
                NodeRef::Server(_) => return Err(format!("`{client}` is not a client")),
            };
            let expected = match *expected {
                "written" => ReplyExpect::Written,
                "indefinite" => ReplyExpect::Indefinite,
                "pending" => ReplyExpect::Pending,
                other => match other.split_once('=') {
                    Some(("value", v)) => ReplyExpect::Value(if v == "\"\"" {
                        String::new()
                    } else {
                        v.to_string()
                    }),
                    Some(("cas", v)) => ReplyExpect::Cas(parse_bool("cas", v)?),
                    _ => {
                        return Err(
                            "`expect reply cK value=V|written|cas=B|indefinite|pending`".into()
                        );
                    }
                },
            };
            Expectation::Reply { client, expected }
        }
        _ => {
            return Err(format!(
                "unknown or malformed expectation `expect {}`",
                args.join(" ")
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_line() {
        let error = parse("cluster servers=3\n\nfrobnicate n1\n").unwrap_err();
        assert_eq!(error.line, 3);
        assert!(error.message.contains("unknown command"), "{error}");
        let error = parse("cluster servers=3\ncrash n4\n").unwrap_err();
        assert_eq!(error.line, 2);
        let error = parse("cluster servers=3\nrun 10ms\nlog n1 1 1\n").unwrap_err();
        assert!(error.message.contains("before the first action"), "{error}");
        let error = parse("cluster servers=3\n[no-such-mutant] run 1ms\n").unwrap_err();
        assert!(error.message.contains("unknown mutant"), "{error}");
    }

    #[test]
    fn description_and_conditions() {
        let script = parse(
            "# Goal line one.\n# Line two.\n\n# not part of it\ncluster servers=3\n[!commit-previous-term] expect commit n1 >= 2\n",
        )
        .unwrap();
        assert_eq!(script.description, "Goal line one. Line two.");
        let condition = script.lines[1].condition.unwrap();
        assert!(condition.negated);
        assert!(condition.holds(&[]));
        assert!(!condition.holds(&[Mutant::CommitPreviousTerm]));
    }
}
