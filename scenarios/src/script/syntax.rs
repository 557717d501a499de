//! The small pieces of the script language: node names and lists, comparisons and message
//! filters. Names, durations and fault actions are the simulator's text forms
//! (`sim::names`, `sim::text`, `sim::FaultAction`), so a script reads like every other output.

use std::fmt;

use kv::Wire;
use raft::MessageKind;
use sim::{Names, NodeId, shorten};

/// A node as a script names it: a server (`n3`, address 2) or a client (`c1`, index 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum NodeRef {
    Server(NodeId),
    Client(NodeId),
}

impl NodeRef {
    /// The simulator address, given the number of servers.
    pub fn address(self, servers: NodeId) -> NodeId {
        match self {
            NodeRef::Server(address) => address,
            NodeRef::Client(index) => servers + index,
        }
    }
}

pub fn parse_node(token: &str) -> Result<NodeRef, String> {
    // Before the cluster line is known, any number of servers: `c` names still parse, as
    // indices counted after them.
    let names = Names::new(0);
    let node = if token.starts_with('n') {
        parse_server(token).map(NodeRef::Server)?
    } else {
        names
            .parse(token)
            .map(NodeRef::Client)
            .map_err(|error| error.to_string())?
    };
    // No cluster has more nodes than the simulator runs; a bound keeps address sums in range.
    match node {
        NodeRef::Server(n) | NodeRef::Client(n) if n as usize >= sim::NODES_MAX => Err(format!(
            "`{}` is past the last node a cluster can have",
            shorten(token)
        )),
        node => Ok(node),
    }
}

/// A server's address from its name.
pub fn parse_server(token: &str) -> Result<NodeId, String> {
    if token.starts_with('c') {
        return Err(format!(
            "`{}` is a client; a server is needed here",
            shorten(token)
        ));
    }
    sim::names::parse_server(token).map_err(|error| error.to_string())
}

/// A list of nodes: `n1`, `n1,n3`, `n1..n5`, `{n1,n2}`, or `all` (every server).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeList {
    All,
    Nodes(Vec<NodeRef>),
}

impl NodeList {
    pub fn resolve(&self, servers: NodeId) -> Vec<NodeRef> {
        match self {
            NodeList::All => (0..servers).map(NodeRef::Server).collect(),
            NodeList::Nodes(nodes) => nodes.clone(),
        }
    }

    /// The servers' addresses.
    pub fn servers(&self, servers: NodeId) -> Vec<NodeId> {
        self.resolve(servers)
            .into_iter()
            .filter_map(|node| match node {
                NodeRef::Server(address) => Some(address),
                NodeRef::Client(_) => None,
            })
            .collect()
    }
}

pub fn parse_node_list(token: &str) -> Result<NodeList, String> {
    let inner = token.trim_start_matches('{').trim_end_matches('}');
    if inner == "all" {
        return Ok(NodeList::All);
    }
    let mut nodes = Vec::new();
    for part in inner.split(',').filter(|part| !part.is_empty()) {
        if let Some((low, high)) = part.split_once("..") {
            let not_range = || format!("`{}` is not a node range", shorten(part));
            let range = match (parse_node(low)?, parse_node(high)?) {
                (NodeRef::Server(a), NodeRef::Server(b)) if a <= b => {
                    (a, b, NodeRef::Server as fn(_) -> _)
                }
                (NodeRef::Client(a), NodeRef::Client(b)) if a <= b => {
                    (a, b, NodeRef::Client as fn(_) -> _)
                }
                _ => return Err(not_range()),
            };
            let (low, high, make) = range;
            if (high - low) as usize >= sim::NODES_MAX {
                return Err(not_range());
            }
            nodes.extend((low..=high).map(make));
        } else {
            nodes.push(parse_node(part)?);
        }
        if nodes.len() > sim::NODES_MAX {
            return Err(format!("`{}` names too many nodes", shorten(token)));
        }
    }
    if nodes.is_empty() {
        return Err(format!("`{}` names no node", shorten(token)));
    }
    Ok(NodeList::Nodes(nodes))
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
            Compare::parse(compare)
                .ok_or_else(|| format!("`{}` is not a comparison", shorten(compare)))?,
            *value,
        ),
        _ => return Err("expected `[=|!=|<=|>=|<|>] NUMBER`".into()),
    };
    let value = value
        .parse()
        .map_err(|_| format!("`{}` is not a number", shorten(value)))?;
    Ok((compare, value))
}

/// The kinds of message a filter can name: a Raft message kind (by its short name), or a
/// client's `request` or a server's `reply`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireKind {
    Raft(MessageKind),
    Request,
    Reply,
}

impl WireKind {
    pub fn of(wire: &Wire) -> WireKind {
        match wire {
            Wire::Raft(message) => WireKind::Raft(message.kind),
            Wire::Request(_) => WireKind::Request,
            Wire::Reply(_) => WireKind::Reply,
        }
    }

    fn parse(name: &str) -> Result<WireKind, String> {
        match name {
            "request" => Ok(WireKind::Request),
            "reply" => Ok(WireKind::Reply),
            _ => name.parse().map(WireKind::Raft).map_err(|_| {
                let names: Vec<&str> = MessageKind::ALL.iter().map(|k| k.name()).collect();
                format!(
                    "unknown message type `{}` (valid: {}, request, reply)",
                    shorten(name),
                    names.join(", ")
                )
            }),
        }
    }
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
                .ok_or_else(|| format!("`{}` is not a filter term (key=value)", shorten(token)))?;
            match key {
                "type" => {
                    let kinds = value
                        .split(',')
                        .map(WireKind::parse)
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
                            .map_err(|_| format!("`{}` is not a term", shorten(value)))?,
                    )
                }
                "reject" => {
                    filter.reject = Some(
                        value
                            .parse()
                            .map_err(|_| format!("`{}` is not true or false", shorten(value)))?,
                    )
                }
                _ => {
                    return Err(format!(
                        "unknown filter key `{}` (valid: type, from, to, entries, term, reject)",
                        shorten(key)
                    ));
                }
            }
        }
        Ok(filter)
    }

    pub fn matches(&self, from: NodeId, to: NodeId, wire: &Wire, servers: NodeId) -> bool {
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
            && !kinds.contains(&WireKind::of(wire))
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
            let bad = || format!("`{}` is not an entry (index@term)", shorten(part));
            let (index, term) = part.split_once('@').ok_or_else(bad)?;
            match (index.parse(), term.parse()) {
                (Ok(index), Ok(term)) => Ok((index, term)),
                _ => Err(bad()),
            }
        })
        .collect()
}

/// One message as the trace shows it: `n1->n3 app t4 prev=1@1 [2@2] commit=1`.
pub fn describe_message(from: NodeId, to: NodeId, wire: &Wire, names: Names) -> String {
    format!("{}->{} {wire}", names.of(from), names.of(to))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_lists() {
        assert_eq!(
            parse_node_list("n1..n3,c2"),
            Ok(NodeList::Nodes(vec![
                NodeRef::Server(0),
                NodeRef::Server(1),
                NodeRef::Server(2),
                NodeRef::Client(1)
            ]))
        );
        assert_eq!(parse_node_list("all"), Ok(NodeList::All));
        for bad in ["n0", "x1", "n1..n10000000000", "n3..n1", "{}"] {
            assert!(parse_node_list(bad).is_err(), "{bad}");
        }
        assert_eq!(NodeRef::Client(1).address(5), 6);
    }

    #[test]
    fn filters_name_kinds_as_messages_print_them() {
        let filter = Filter::parse(&["type=app,reply", "from=n1"]).expect("parses");
        assert_eq!(
            filter.kinds,
            Some(vec![WireKind::Raft(MessageKind::Append), WireKind::Reply])
        );
        assert!(Filter::parse(&["type=append"]).is_err());
    }
}
