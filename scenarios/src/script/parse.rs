//! Script text to commands: one parser per command, every error naming its line.

use std::str::FromStr;

use kv::{Op, ReadMode};
use raft::{ConfChange, Role};

use crate::config::Mutant;
use sim::text::parse_duration;
use sim::{FaultParseError, NodeId, shorten};

use super::seeded::parse_run_config;
use super::syntax::{
    Compare, Filter, NodeList, NodeRef, parse_comparison, parse_node, parse_node_list, parse_server,
};
use super::{Script, ScriptError};
use crate::config::{Property, RunConfig, bounds, check_range};
use crate::harness::Fault;
use crate::harness::admin::parse_conf_change_words;

/// One script line: its number, its condition, its command and the output expected under it.
#[derive(Clone, Debug)]
pub struct Line {
    pub number: usize,
    pub text: String,
    pub condition: Option<Condition>,
    pub command: Command,
    pub expected: Vec<Block>,
}

/// Expected output under a command: `----` for the correct form, `---- [mutant]` for a
/// mutant's form where it prints something else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    pub form: Option<Mutant>,
    pub text: String,
    /// The block's lines in the file, header included (1-based, inclusive).
    pub first_line: usize,
    pub last_line: usize,
}

/// The header of an expected-output block, and the form it names.
fn block_header(trimmed: &str) -> Option<Result<Option<Mutant>, String>> {
    let rest = trimmed.strip_prefix("----")?;
    let rest = rest.trim();
    if rest.is_empty() {
        return Some(Ok(None));
    }
    let name = rest
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .map(str::trim);
    Some(match name {
        Some(name) => parse_mutant(name).map(Some),
        None => Err("a block header is `----` or `---- [mutant]`".into()),
    })
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
pub struct ClusterSettings {
    pub servers: NodeId,
    pub clients: NodeId,
    /// Initial voters (addresses); every server when not given.
    pub voters: Option<Vec<NodeId>>,
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

impl Default for ClusterSettings {
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
    Cluster(Box<ClusterSettings>),
    /// Loads a log of entries with these terms, at indices 1, 2, ...
    Log {
        nodes: NodeList,
        terms: Vec<u64>,
    },
    HardState {
        nodes: NodeList,
        term: Option<u64>,
        /// The server voted for (address).
        vote: Option<NodeId>,
        commit: Option<u64>,
    },
    // Seeded runs.
    RunConfig(Box<RunConfig>),
    At {
        at_ns: u64,
        action: Fault,
    },
    // Actions.
    Run(u64),
    Tick {
        nodes: NodeList,
        ticks: u64,
    },
    /// Servers and clients by address (a client by its index from 0).
    Campaign(NodeId),
    Block(Filter),
    Unblock(Option<Filter>),
    Deliver(Filter),
    Drop(Filter),
    Fault(Fault),
    Propose {
        node: NodeId,
        op: Op,
    },
    Client {
        client: NodeId,
        op: Op,
        at: Option<NodeId>,
    },
    ConfChange {
        node: NodeId,
        change: ConfChange,
    },
    TransferLeader {
        from: NodeId,
        to: NodeId,
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
        node: NodeId,
        term: Option<u64>,
    },
    LeaderOfTerm {
        term: u64,
        node: NodeId,
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
    /// Voters by address.
    Config {
        nodes: NodeList,
        voters: Vec<NodeId>,
        outgoing: Vec<NodeId>,
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
        client: NodeId,
        expected: ReplyExpect,
    },
}

pub fn parse(text: &str) -> Result<Script, ScriptError> {
    let raw: Vec<&str> = text.lines().collect();
    let mut description = Vec::new();
    let mut lines: Vec<Line> = Vec::new();
    let mut in_header = true;
    // A block may open right under a command or right after another block.
    let mut block_may_open = false;
    let mut position = 0;
    while position < raw.len() {
        let number = position + 1;
        let trimmed = raw[position].trim();
        if let Some(header) = block_header(trimmed) {
            let form = header.map_err(|message| ScriptError::new(number, message))?;
            let line = lines.last_mut().filter(|_| block_may_open).ok_or_else(|| {
                ScriptError::new(
                    number,
                    "an expected-output block (----) belongs right under a command",
                )
            })?;
            let mut end = position + 1;
            while end < raw.len()
                && !raw[end].trim().is_empty()
                && block_header(raw[end].trim()).is_none()
            {
                end += 1;
            }
            let text: Vec<&str> = raw[position + 1..end]
                .iter()
                .map(|l| l.trim_end())
                .collect();
            line.expected.push(Block {
                form,
                text: text.join("\n"),
                first_line: number,
                last_line: end,
            });
            position = end;
            continue;
        }
        position += 1;
        block_may_open = false;
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
            expected: Vec::new(),
        });
        block_may_open = true;
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
        if !seeded && matches!(command, Command::Fault(Fault::LinkLoss { .. })) {
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

fn check_nodes(command: &Command, spec: &ClusterSettings) -> Result<(), String> {
    let names = sim::Names::new(spec.servers);
    let server = |address: NodeId| {
        if address < spec.servers {
            Ok(())
        } else {
            Err(format!(
                "{} does not exist ({} servers)",
                names.of(address),
                spec.servers
            ))
        }
    };
    let node = |node: NodeRef| match node {
        NodeRef::Server(address) => server(address),
        NodeRef::Client(index) if index < spec.clients => Ok(()),
        NodeRef::Client(index) => Err(format!(
            "{} does not exist ({} clients)",
            names.of(spec.servers + index),
            spec.clients
        )),
    };
    let list = |nodes: &NodeList| nodes.resolve(spec.servers).into_iter().try_for_each(node);
    let filter = |filter: &Filter| {
        filter.from.as_ref().map_or(Ok(()), list)?;
        filter.to.as_ref().map_or(Ok(()), list)
    };
    match command {
        Command::Log { nodes, .. } | Command::Tick { nodes, .. } => list(nodes),
        Command::HardState { nodes, vote, .. } => {
            list(nodes)?;
            vote.map_or(Ok(()), server)
        }
        Command::Campaign(id) | Command::Propose { node: id, .. } => server(*id),
        Command::ConfChange { node, change } => {
            server(*node)?;
            sim::AdminCommand::validate(
                &crate::harness::AdminCommand::ConfChange(change.clone()),
                spec.servers as usize,
            )
        }
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
            Expectation::Config {
                nodes,
                voters,
                outgoing,
            } => {
                list(nodes)?;
                voters.iter().chain(outgoing).try_for_each(|&v| server(v))
            }
            Expectation::NoLeader(nodes)
            | Expectation::Role { nodes, .. }
            | Expectation::Term { nodes, .. }
            | Expectation::Commit { nodes, .. }
            | Expectation::Log { nodes, .. }
            | Expectation::LogsEqual(nodes) => list(nodes),
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
            let mutant = parse_mutant(name.trim())?;
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
            Command::At {
                at_ns: parse_duration(time)?,
                action: action
                    .join(" ")
                    .parse()
                    .map_err(|e: FaultParseError| e.to_string())?,
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
                ticks: parse_number("tick count", ticks)?,
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
        _ => match rest.parse::<Fault>() {
            Ok(action) => Command::Fault(action),
            Err(FaultParseError::NotAFault(_)) => {
                return Err(format!("unknown command `{}`", shorten(verb)));
            }
            Err(error) => return Err(error.to_string()),
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
        .map_err(|_| format!("{key}: `{}` is not a valid number", shorten(value)))
}

fn parse_bool(key: &str, value: &str) -> Result<bool, String> {
    value
        .parse()
        .map_err(|_| format!("{key}: `{}` is not true or false", shorten(value)))
}

/// A mutant by name; the error points to `raftsim mutants` rather than listing them all.
fn parse_mutant(name: &str) -> Result<Mutant, String> {
    Mutant::from_str(name)
        .map_err(|_| format!("unknown mutant `{}` (see `raftsim mutants`)", shorten(name)))
}

pub fn parse_mutants(value: &str) -> Result<Vec<Mutant>, String> {
    value
        .split(',')
        .filter(|name| !name.is_empty())
        .map(|name| {
            Mutant::from_str(name).map_err(|_| format!("unknown mutant `{}`", shorten(name)))
        })
        .collect()
}

fn parse_cluster(args: &[&str]) -> Result<ClusterSettings, String> {
    let mut spec = ClusterSettings::default();
    for (key, value) in key_values(args)? {
        match key {
            "servers" => spec.servers = parse_number(key, value)?,
            "clients" => spec.clients = parse_number(key, value)?,
            "voters" => {
                let list = parse_node_list(value)?;
                if list == NodeList::All {
                    return Err("voters: list the servers (voters=n1..n3), not `all`".into());
                }
                spec.voters = Some(list.servers(0));
            }
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
                    "unknown cluster setting `{}` (valid: servers, clients, voters, seed, tick, \
                     election_tick, heartbeat_tick, pre_vote, check_quorum, read_mode, \
                     max_entries_per_msg, conf_change_on_append, snapshot_threshold, mutants, \
                     settle, latency)",
                    shorten(key)
                ));
            }
        }
    }
    check_settings(&spec).map_err(|e| e.to_string())?;
    Ok(spec)
}

/// The same bounds as seeded runs, plus the script's own settings.
fn check_settings(spec: &ClusterSettings) -> Result<(), crate::config::ConfigError> {
    use bounds::*;
    check_range("servers", u64::from(spec.servers), 1, SERVERS_MAX)?;
    check_range("clients", u64::from(spec.clients), 0, 16)?;
    if let Some(voters) = &spec.voters {
        check_range("voters", voters.len() as u64, 1, u64::from(spec.servers))?;
        for &voter in voters {
            check_range("voter", u64::from(voter) + 1, 1, u64::from(spec.servers))?;
        }
    }
    check_range("tick (ns)", spec.tick_ns, TICK_NS_MIN, TICK_NS_MAX)?;
    check_range("election_tick", spec.election_tick, 2, ELECTION_TICK_MAX)?;
    check_range(
        "heartbeat_tick",
        spec.heartbeat_tick,
        1,
        spec.election_tick - 1,
    )?;
    check_range(
        "max_entries_per_msg",
        spec.max_entries_per_msg as u64,
        1,
        ENTRIES_PER_MSG_MAX,
    )?;
    check_range(
        "snapshot_threshold",
        spec.snapshot_threshold_entries,
        1,
        SNAPSHOT_THRESHOLD_MAX,
    )?;
    check_range("settle (ns)", spec.settle_ns, 0, LATENCY_NS_MAX)?;
    check_range("latency (ns)", spec.latency_ns, 0, LATENCY_NS_MAX)?;
    Ok(())
}

/// The highest term a script may load: far past any scenario, and small enough for the
/// oracles' per-term tables.
const TERM_MAX: u64 = 1_000_000;

fn parse_log(args: &[&str]) -> Result<Command, String> {
    let (nodes, terms) = args.split_first().ok_or("`log NODES TERM...`")?;
    let terms: Vec<u64> = terms
        .iter()
        .map(|t| parse_number("term", t))
        .collect::<Result<_, _>>()?;
    if terms.windows(2).any(|w| w[0] > w[1]) || terms.first() == Some(&0) {
        return Err("a log's terms are positive and never decrease".into());
    }
    if let Some(&term) = terms.iter().find(|&&term| term > TERM_MAX) {
        return Err(format!("term {term} is past {TERM_MAX}"));
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
            "term" => {
                let value: u64 = parse_number(key, value)?;
                if value > TERM_MAX {
                    return Err(format!("term {value} is past {TERM_MAX}"));
                }
                term = Some(value);
            }
            "vote" => vote = Some(parse_server(value)?),
            "commit" => commit = Some(parse_number(key, value)?),
            _ => {
                return Err(format!(
                    "unknown hardstate field `{}` (valid: term, vote, commit)",
                    shorten(key)
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
        NodeRef::Client(index) => index,
        NodeRef::Server(_) => {
            return Err(format!(
                "`{}` is a server; a client is needed",
                shorten(client)
            ));
        }
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
        change: parse_conf_change_words(rest)?,
    })
}

fn parse_role(token: &str) -> Result<Role, String> {
    Ok(match token {
        "leader" => Role::Leader,
        "follower" => Role::Follower,
        "candidate" => Role::Candidate,
        "pre-candidate" => Role::PreCandidate,
        _ => {
            return Err(format!(
                "`{}` is not a role (leader, follower, candidate, pre-candidate)",
                shorten(token)
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
                .map(|t| parse_number("term", t))
                .collect::<Result<_, _>>()?,
        },
        ("logs-equal", [nodes]) => Expectation::LogsEqual(parse_node_list(nodes)?),
        ("config", [nodes, fields @ ..]) => {
            let (mut voters, mut outgoing) = (None, Vec::new());
            for (key, value) in key_values(fields)? {
                match key {
                    "voters" => voters = Some(parse_node_list(value)?.servers(0)),
                    "outgoing" => outgoing = parse_node_list(value)?.servers(0),
                    _ => {
                        return Err(format!(
                            "unknown config field `{}` (valid: voters, outgoing)",
                            shorten(key)
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
            kind.parse()
                .map_err(|e: crate::config::property::UnknownProperty| e.to_string())?,
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
                NodeRef::Client(index) => index,
                NodeRef::Server(_) => {
                    return Err(format!("`{}` is not a client", shorten(client)));
                }
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
                shorten(&args.join(" "))
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
        assert!(!condition.holds(&[Mutant::Raft(raft::Mutant::CommitPreviousTerm)]));
    }
}
