//! The small pieces of the script language: durations, node names and lists, comparisons,
//! message filters, and how messages are written in the trace.

use std::fmt;

use kv::{ReplyOutcome, Wire};
use raft::{Message, MessageKind};
use sim::{NANOS_PER_MILLI, NodeId};

/// A node as a script names it: server `nK` (Raft id K) or client `cK`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum NodeRef {
    Server(u64),
    Client(u64),
}

impl NodeRef {
    /// The simulator address, given the number of servers.
    pub fn address(self, servers: u64) -> NodeId {
        match self {
            NodeRef::Server(id) => (id - 1) as NodeId,
            NodeRef::Client(k) => (servers + k - 1) as NodeId,
        }
    }
}

impl fmt::Display for NodeRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeRef::Server(id) => write!(f, "n{id}"),
            NodeRef::Client(k) => write!(f, "c{k}"),
        }
    }
}

/// The script name of simulator address `address`.
pub fn node_name(address: NodeId, servers: u64) -> String {
    let address = u64::from(address);
    if address < servers {
        format!("n{}", address + 1)
    } else {
        format!("c{}", address - servers + 1)
    }
}

pub fn parse_node(token: &str) -> Result<NodeRef, String> {
    let number = |rest: &str| -> Result<u64, String> {
        match rest.parse::<u64>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(format!("`{token}` is not a node (n1, n2, ..., c1, ...)")),
        }
    };
    if let Some(rest) = token.strip_prefix('n') {
        Ok(NodeRef::Server(number(rest)?))
    } else if let Some(rest) = token.strip_prefix('c') {
        Ok(NodeRef::Client(number(rest)?))
    } else {
        Err(format!("`{token}` is not a node (n1, n2, ..., c1, ...)"))
    }
}

pub fn parse_server(token: &str) -> Result<u64, String> {
    match parse_node(token)? {
        NodeRef::Server(id) => Ok(id),
        NodeRef::Client(_) => Err(format!("`{token}` is a client; a server is needed here")),
    }
}

/// A list of nodes: `n1`, `n1,n3`, `n1..n5`, `{n1,n2}`, or `all` (every server).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeList {
    All,
    Nodes(Vec<NodeRef>),
}

impl NodeList {
    pub fn resolve(&self, servers: u64) -> Vec<NodeRef> {
        match self {
            NodeList::All => (1..=servers).map(NodeRef::Server).collect(),
            NodeList::Nodes(nodes) => nodes.clone(),
        }
    }

    pub fn servers(&self, servers: u64) -> Vec<u64> {
        self.resolve(servers)
            .into_iter()
            .filter_map(|node| match node {
                NodeRef::Server(id) => Some(id),
                NodeRef::Client(_) => None,
            })
            .collect()
    }
}

pub fn parse_node_list(token: &str) -> Result<NodeList, String> {
    let token = token.trim_start_matches('{').trim_end_matches('}');
    if token == "all" {
        return Ok(NodeList::All);
    }
    let mut nodes = Vec::new();
    for part in token.split(',').filter(|part| !part.is_empty()) {
        if let Some((low, high)) = part.split_once("..") {
            let (low, high) = (parse_node(low)?, parse_node(high)?);
            match (low, high) {
                (NodeRef::Server(a), NodeRef::Server(b)) if a <= b => {
                    nodes.extend((a..=b).map(NodeRef::Server))
                }
                (NodeRef::Client(a), NodeRef::Client(b)) if a <= b => {
                    nodes.extend((a..=b).map(NodeRef::Client))
                }
                _ => return Err(format!("`{part}` is not a node range")),
            }
        } else {
            nodes.push(parse_node(part)?);
        }
    }
    if nodes.is_empty() {
        return Err(format!("`{token}` names no node"));
    }
    Ok(NodeList::Nodes(nodes))
}

/// `10ms`, `1.5s`, `250us`, `7ns`, parsed exactly into nanoseconds.
pub fn parse_duration(token: &str) -> Result<u64, String> {
    let bad = || format!("`{token}` is not a duration (like 10ms, 1.5s, 250us, 7ns)");
    let split = token
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(bad)?;
    let (number, unit) = token.split_at(split);
    let scale: u64 = match unit {
        "ns" => 1,
        "us" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        _ => return Err(bad()),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() || fraction.len() > scale.ilog10() as usize {
        return Err(bad());
    }
    let whole: u64 = whole.parse().map_err(|_| bad())?;
    let mut fraction_ns = 0u64;
    if !fraction.is_empty() {
        let digits: u64 = fraction.parse().map_err(|_| bad())?;
        fraction_ns = digits * 10u64.pow(scale.ilog10() - fraction.len() as u32);
    }
    whole
        .checked_mul(scale)
        .and_then(|ns| ns.checked_add(fraction_ns))
        .ok_or_else(bad)
}

/// Nanoseconds as milliseconds, exactly and as short as possible: `1200ms`, `1200.5ms`.
pub fn format_duration(ns: u64) -> String {
    let (ms, rest) = (ns / NANOS_PER_MILLI, ns % NANOS_PER_MILLI);
    if rest == 0 {
        format!("{ms}ms")
    } else {
        let fraction = format!("{rest:06}");
        format!("{ms}.{}ms", fraction.trim_end_matches('0'))
    }
}

/// A point in virtual time for the trace.
pub fn format_time(ns: u64) -> String {
    format!("{:.3}ms", ns as f64 / 1e6)
}

/// A comparison in an expectation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compare {
    Eq,
    Ne,
    Le,
    Ge,
    Lt,
    Gt,
}

impl Compare {
    pub fn parse(token: &str) -> Option<Compare> {
        Some(match token {
            "=" | "==" => Compare::Eq,
            "!=" => Compare::Ne,
            "<=" => Compare::Le,
            ">=" => Compare::Ge,
            "<" => Compare::Lt,
            ">" => Compare::Gt,
            _ => return None,
        })
    }

    pub fn holds(self, actual: u64, expected: u64) -> bool {
        match self {
            Compare::Eq => actual == expected,
            Compare::Ne => actual != expected,
            Compare::Le => actual <= expected,
            Compare::Ge => actual >= expected,
            Compare::Lt => actual < expected,
            Compare::Gt => actual > expected,
        }
    }
}

impl fmt::Display for Compare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compare::Eq => "=",
            Compare::Ne => "!=",
            Compare::Le => "<=",
            Compare::Ge => ">=",
            Compare::Lt => "<",
            Compare::Gt => ">",
        })
    }
}

/// `[<cmp>] <number>` at the end of an expectation; `=` when the comparison is left out.
pub fn parse_comparison(tokens: &[&str]) -> Result<(Compare, u64), String> {
    let (compare, value) = match tokens {
        [value] => (Compare::Eq, *value),
        [compare, value] => (
            Compare::parse(compare).ok_or_else(|| format!("`{compare}` is not a comparison"))?,
            *value,
        ),
        _ => return Err("expected `[=|!=|<=|>=|<|>] NUMBER`".into()),
    };
    let value = value
        .parse()
        .map_err(|_| format!("`{value}` is not a number"))?;
    Ok((compare, value))
}

/// The kinds of message a filter can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireKind {
    Raft(MessageKind),
    Request,
    Reply,
}

const KIND_NAMES: [(&str, WireKind); 14] = [
    ("app", WireKind::Raft(MessageKind::Append)),
    ("app-resp", WireKind::Raft(MessageKind::AppendResponse)),
    ("vote", WireKind::Raft(MessageKind::Vote)),
    ("vote-resp", WireKind::Raft(MessageKind::VoteResponse)),
    ("prevote", WireKind::Raft(MessageKind::PreVote)),
    ("prevote-resp", WireKind::Raft(MessageKind::PreVoteResponse)),
    ("heartbeat", WireKind::Raft(MessageKind::Heartbeat)),
    (
        "heartbeat-resp",
        WireKind::Raft(MessageKind::HeartbeatResponse),
    ),
    ("snap", WireKind::Raft(MessageKind::Snapshot)),
    ("timeout-now", WireKind::Raft(MessageKind::TimeoutNow)),
    ("read-index", WireKind::Raft(MessageKind::ReadIndex)),
    (
        "read-index-resp",
        WireKind::Raft(MessageKind::ReadIndexResponse),
    ),
    ("request", WireKind::Request),
    ("reply", WireKind::Reply),
];

pub fn wire_kind(wire: &Wire) -> WireKind {
    match wire {
        Wire::Raft(message) => WireKind::Raft(message.kind),
        Wire::Request(_) => WireKind::Request,
        Wire::Reply(_) => WireKind::Reply,
    }
}

pub fn kind_name(kind: WireKind) -> &'static str {
    KIND_NAMES
        .iter()
        .find(|(_, k)| *k == kind)
        .map(|(name, _)| *name)
        .expect("every kind has a name")
}

/// Selects messages by type, sender, receiver, entries, term and rejection, e.g.
/// `type=app from=n1 to=n3 entries=2@2`. Every given key must match; lists mean "any of".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    pub kinds: Option<Vec<WireKind>>,
    pub from: Option<NodeList>,
    pub to: Option<NodeList>,
    /// Exactly these entries (index, term), in order; empty: an append with no entries.
    pub entries: Option<Vec<(u64, u64)>>,
    pub term: Option<u64>,
    pub reject: Option<bool>,
}

impl Filter {
    pub fn parse(tokens: &[&str]) -> Result<Filter, String> {
        let mut filter = Filter::default();
        for token in tokens {
            let (key, value) = token
                .split_once('=')
                .ok_or_else(|| format!("`{token}` is not a filter term (key=value)"))?;
            match key {
                "type" => {
                    let kinds = value
                        .split(',')
                        .map(|name| {
                            KIND_NAMES
                                .iter()
                                .find(|(n, _)| *n == name)
                                .map(|(_, kind)| *kind)
                                .ok_or_else(|| {
                                    let names: Vec<&str> =
                                        KIND_NAMES.iter().map(|(n, _)| *n).collect();
                                    format!(
                                        "unknown message type `{name}` (valid: {})",
                                        names.join(", ")
                                    )
                                })
                        })
                        .collect::<Result<_, _>>()?;
                    filter.kinds = Some(kinds);
                }
                "from" => filter.from = Some(parse_node_list(value)?),
                "to" => filter.to = Some(parse_node_list(value)?),
                "entries" => filter.entries = Some(parse_entries(value)?),
                "term" => {
                    filter.term = Some(
                        value
                            .parse()
                            .map_err(|_| format!("`{value}` is not a term"))?,
                    )
                }
                "reject" => {
                    filter.reject = Some(
                        value
                            .parse()
                            .map_err(|_| format!("`{value}` is not true or false"))?,
                    )
                }
                _ => {
                    return Err(format!(
                        "unknown filter key `{key}` (valid: type, from, to, entries, term, reject)"
                    ));
                }
            }
        }
        Ok(filter)
    }

    pub fn matches(&self, from: NodeId, to: NodeId, wire: &Wire, servers: u64) -> bool {
        let in_list = |list: &Option<NodeList>, address: NodeId| {
            list.as_ref().is_none_or(|list| {
                list.resolve(servers)
                    .iter()
                    .any(|node| node.address(servers) == address)
            })
        };
        if !in_list(&self.from, from) || !in_list(&self.to, to) {
            return false;
        }
        if let Some(kinds) = &self.kinds
            && !kinds.contains(&wire_kind(wire))
        {
            return false;
        }
        let raft = match wire {
            Wire::Raft(message) => Some(message),
            _ => None,
        };
        if let Some(entries) = &self.entries {
            let Some(message) = raft else { return false };
            let actual: Vec<(u64, u64)> =
                message.entries.iter().map(|e| (e.index, e.term)).collect();
            if &actual != entries {
                return false;
            }
        }
        if let Some(term) = self.term
            && raft.is_none_or(|m| m.term != term)
        {
            return false;
        }
        if let Some(reject) = self.reject
            && raft.is_none_or(|m| m.reject != reject)
        {
            return false;
        }
        true
    }
}

/// `2@2,3@4` or `none`.
fn parse_entries(value: &str) -> Result<Vec<(u64, u64)>, String> {
    if value == "none" {
        return Ok(Vec::new());
    }
    value
        .split(',')
        .map(|part| {
            let (index, term) = part
                .split_once('@')
                .ok_or_else(|| format!("`{part}` is not an entry (index@term)"))?;
            match (index.parse(), term.parse()) {
                (Ok(index), Ok(term)) => Ok((index, term)),
                _ => Err(format!("`{part}` is not an entry (index@term)")),
            }
        })
        .collect()
}

/// One message as the trace shows it: `n1->n3 app t4 prev=1@1 [2@2] commit=1`.
pub fn describe_message(from: NodeId, to: NodeId, wire: &Wire, servers: u64) -> String {
    let route = format!("{}->{}", node_name(from, servers), node_name(to, servers));
    let name = kind_name(wire_kind(wire));
    let detail = match wire {
        Wire::Raft(message) => describe_raft(message),
        Wire::Request(request) => format!("{}", request.op),
        Wire::Reply(reply) => match &reply.outcome {
            ReplyOutcome::Ok(result) => format!("ok {result:?}"),
            ReplyOutcome::WrongLeader { leader_hint } => format!(
                "wrong-leader hint={}",
                leader_hint.map_or("none".into(), |a| node_name(a as NodeId, servers))
            ),
            ReplyOutcome::NotReady => "not-ready".into(),
        },
    };
    format!("{route} {name} {detail}")
}

fn describe_raft(message: &Message) -> String {
    let term = format!("t{}", message.term);
    match message.kind {
        MessageKind::Append => {
            let entries: Vec<String> = message
                .entries
                .iter()
                .map(|e| format!("{}@{}", e.index, e.term))
                .collect();
            format!(
                "{term} prev={}@{} [{}] commit={}",
                message.index,
                message.log_term,
                entries.join(" "),
                message.commit
            )
        }
        MessageKind::AppendResponse if message.reject => format!(
            "{term} reject index={} hint={}@{}",
            message.index, message.reject_hint, message.log_term
        ),
        MessageKind::AppendResponse => format!("{term} index={}", message.index),
        MessageKind::Vote | MessageKind::PreVote => {
            format!("{term} last={}@{}", message.index, message.log_term)
        }
        MessageKind::VoteResponse | MessageKind::PreVoteResponse => {
            format!(
                "{term} {}",
                if message.reject {
                    "rejected"
                } else {
                    "granted"
                }
            )
        }
        MessageKind::Heartbeat => format!(
            "{term} commit={} round={}",
            message.commit, message.read_round
        ),
        _ => term,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_exactly_and_round_trip() {
        assert_eq!(parse_duration("10ms"), Ok(10_000_000));
        assert_eq!(parse_duration("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse_duration("1234.567891ms"), Ok(1_234_567_891));
        assert_eq!(parse_duration("7ns"), Ok(7));
        assert!(parse_duration("1.5ns").is_err());
        assert!(parse_duration("ms").is_err());
        assert!(parse_duration("10").is_err());
        for ns in [0, 1, 1_000_000, 1_234_567_891, 999_999] {
            assert_eq!(parse_duration(&format_duration(ns)), Ok(ns), "{ns}");
        }
    }

    #[test]
    fn node_lists() {
        assert_eq!(
            parse_node_list("n1..n3,c2"),
            Ok(NodeList::Nodes(vec![
                NodeRef::Server(1),
                NodeRef::Server(2),
                NodeRef::Server(3),
                NodeRef::Client(2)
            ]))
        );
        assert_eq!(parse_node_list("all"), Ok(NodeList::All));
        assert!(parse_node_list("n0").is_err());
        assert!(parse_node_list("x1").is_err());
        assert_eq!(NodeRef::Client(2).address(5), 6);
    }
}
