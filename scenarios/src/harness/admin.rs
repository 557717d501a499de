//! Operator commands to servers, carried through the simulator as typed
//! [`sim::FaultAction::Admin`] data: membership changes of the KV service's Raft group, and
//! controller changes of the sharded service. Their text form names servers as everywhere else
//! (`n1`, `n2`, ... which are also their Raft ids) and groups as `g1`, `g2`, ...:
//! `conf-change add n4 remove n1`, `shardctl move 3 g2 seq=4`.
//!
//! The words of a membership change: `add NODES`, `remove NODES`, `add-learner NODES`,
//! repeated, then optionally `joint` or `joint-explicit`; or `leave-joint`. `NODES` is a comma
//! list. The words of a controller change: `shardkv::parse_change_words`'s.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use raft::{ConfChange, ConfChangeKind, ConfChangeSingle, ConfChangeTransition};
use sim::NodeId;

const CONF_CHANGE: &str = "conf-change";
const SHARDCTL: &str = "shardctl";

/// A fault action of this harness: an admin command is typed.
pub type Fault = sim::FaultAction<AdminCommand>;
pub type FaultSchedule = sim::FaultSchedule<AdminCommand>;

/// What an admin command asks a server to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdminCommand {
    /// Propose this membership change (Raft ids), as the leader would for an operator.
    ConfChange(ConfChange),
    /// Propose this change at the sharded service's controller (its leader takes it).
    Controller(shardkv::OperatorChange),
}

/// A membership change hashes as the bare `ConfChange` (as when it was the only command), so
/// the trace hashes of KV runs stay what they were before controller changes existed.
impl Hash for AdminCommand {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            AdminCommand::ConfChange(change) => change.hash(state),
            AdminCommand::Controller(change) => {
                state.write_u64(CONTROLLER_COMMAND_TAG);
                change.hash(state);
            }
        }
    }
}

/// Mixed into the digest of every controller change.
const CONTROLLER_COMMAND_TAG: u64 = 0x5348_4152_4443_544c;

/// An admin command that does not parse or names a server the cluster lacks.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AdminError {
    #[error("unknown admin command `{0}` (known: {CONF_CHANGE}, {SHARDCTL})")]
    Unknown(String),
    #[error("{CONF_CHANGE}: {0}")]
    Malformed(String),
    #[error("{SHARDCTL}: {0}")]
    MalformedController(String),
}

impl AdminCommand {
    /// Adds and removes voters (addresses) in one change: a simple change when one voter
    /// changes, joint consensus (left automatically) when several do.
    pub fn change_voters(added: &[NodeId], removed: &[NodeId]) -> AdminCommand {
        let raft_id = |&address: &NodeId| kv::server::raft_id(u64::from(address));
        let changes = added
            .iter()
            .map(|n| (ConfChangeKind::AddNode, raft_id(n)))
            .chain(
                removed
                    .iter()
                    .map(|n| (ConfChangeKind::RemoveNode, raft_id(n))),
            );
        AdminCommand::ConfChange(ConfChange::joint(ConfChangeTransition::Auto, changes))
    }

    /// Adds servers (addresses) as learners: they receive the log but do not vote.
    pub fn add_learners(learners: &[NodeId]) -> AdminCommand {
        let changes = learners.iter().map(|&address| {
            (
                ConfChangeKind::AddLearner,
                kv::server::raft_id(u64::from(address)),
            )
        });
        AdminCommand::ConfChange(ConfChange::joint(ConfChangeTransition::Auto, changes))
    }

    /// The fault action that hands this command to `node`.
    pub fn to(&self, node: NodeId) -> Fault {
        Fault::Admin {
            node,
            command: self.clone(),
        }
    }
}

impl sim::AdminCommand for AdminCommand {
    fn validate(&self, servers: usize) -> Result<(), String> {
        match self {
            AdminCommand::ConfChange(change) => match change
                .changes
                .iter()
                .find(|single| single.node_id > servers as u64)
            {
                Some(single) => Err(format!(
                    "server n{} does not exist ({servers} servers)",
                    single.node_id
                )),
                None => Ok(()),
            },
            // Groups and shards are checked against the run's service (`run::check_schedule`).
            AdminCommand::Controller(_) => Ok(()),
        }
    }
}

impl fmt::Display for AdminCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdminCommand::ConfChange(change) => {
                write!(f, "{CONF_CHANGE} {}", conf_change_words(change))
            }
            AdminCommand::Controller(change) => write!(f, "{SHARDCTL} {change}"),
        }
    }
}

impl FromStr for AdminCommand {
    type Err = AdminError;

    fn from_str(text: &str) -> Result<Self, AdminError> {
        let words: Vec<&str> = text.split_whitespace().collect();
        match words.split_first() {
            Some((&CONF_CHANGE, rest)) => parse_conf_change_words(rest)
                .map(AdminCommand::ConfChange)
                .map_err(AdminError::Malformed),
            Some((&SHARDCTL, rest)) => shardkv::parse_change_words(rest)
                .map(AdminCommand::Controller)
                .map_err(AdminError::MalformedController),
            _ => Err(AdminError::Unknown(sim::shorten(text))),
        }
    }
}

/// `n1,n3` as Raft ids (a server's name is `n` and its Raft id).
fn raft_ids(token: &str) -> Result<Vec<u64>, String> {
    token
        .trim_start_matches('{')
        .trim_end_matches('}')
        .split(',')
        .map(|name| {
            sim::names::parse_server(name)
                .map(|address| kv::server::raft_id(u64::from(address)))
                .map_err(|error| error.to_string())
        })
        .collect()
}

/// The words after `conf-change`.
pub fn parse_conf_change_words(words: &[&str]) -> Result<ConfChange, String> {
    const USAGE: &str = "a change is `add|remove|add-learner NODES`, repeated, then optionally \
                         `joint` or `joint-explicit`; or `leave-joint`";
    if words == ["leave-joint"] {
        return Ok(ConfChange::leave_joint());
    }
    let (transition, pairs) = match words.split_last() {
        Some((&"joint", rest)) => (ConfChangeTransition::JointImplicit, rest),
        Some((&"joint-explicit", rest)) => (ConfChangeTransition::JointExplicit, rest),
        _ => (ConfChangeTransition::Auto, words),
    };
    if pairs.is_empty() || pairs.len() % 2 != 0 {
        return Err(USAGE.into());
    }
    let mut changes = Vec::new();
    for pair in pairs.chunks(2) {
        let kind = match pair[0] {
            "add" => ConfChangeKind::AddNode,
            "remove" => ConfChangeKind::RemoveNode,
            "add-learner" => ConfChangeKind::AddLearner,
            _ => return Err(USAGE.into()),
        };
        for node_id in raft_ids(pair[1])? {
            changes.push(ConfChangeSingle { kind, node_id });
        }
    }
    Ok(ConfChange {
        transition,
        changes,
        context: Vec::new(),
    })
}

/// The words of `change`; runs of one kind share a list.
pub fn conf_change_words(change: &ConfChange) -> String {
    if change.is_leave_joint() {
        return "leave-joint".into();
    }
    let mut words: Vec<String> = Vec::new();
    let mut current: Option<(ConfChangeKind, Vec<String>)> = None;
    let flush = |words: &mut Vec<String>, group: Option<(ConfChangeKind, Vec<String>)>| {
        if let Some((kind, names)) = group {
            words.push(kind_word(kind).into());
            words.push(names.join(","));
        }
    };
    for single in &change.changes {
        let name = format!("n{}", single.node_id);
        match &mut current {
            Some((kind, names)) if *kind == single.kind => names.push(name),
            _ => {
                let group = current.replace((single.kind, vec![name]));
                flush(&mut words, group);
            }
        }
    }
    flush(&mut words, current);
    match change.transition {
        ConfChangeTransition::Auto => {}
        ConfChangeTransition::JointImplicit => words.push("joint".into()),
        ConfChangeTransition::JointExplicit => words.push("joint-explicit".into()),
    }
    words.join(" ")
}

fn kind_word(kind: ConfChangeKind) -> &'static str {
    match kind {
        ConfChangeKind::AddNode => "add",
        ConfChangeKind::RemoveNode => "remove",
        ConfChangeKind::AddLearner => "add-learner",
    }
}

#[cfg(test)]
mod tests {
    use sim::AdminCommand as _;

    use super::*;

    #[test]
    fn commands_round_trip_through_their_text() {
        let changes = [
            ConfChange::single(ConfChangeKind::AddNode, 4),
            ConfChange::joint(
                ConfChangeTransition::Auto,
                [(ConfChangeKind::AddNode, 4), (ConfChangeKind::AddNode, 5)],
            ),
            ConfChange::joint(
                ConfChangeTransition::JointImplicit,
                [
                    (ConfChangeKind::RemoveNode, 1),
                    (ConfChangeKind::AddNode, 5),
                ],
            ),
            ConfChange::leave_joint(),
        ];
        for change in changes {
            let command = AdminCommand::ConfChange(change);
            assert_eq!(command.to_string().parse(), Ok(command.clone()));
        }
        // Addresses 0 and 4 are servers n1 and n5.
        let moved = "shardctl move 3 g2 seq=4".parse::<AdminCommand>();
        assert_eq!(
            moved.map(|c| c.to_string()).ok().as_deref(),
            Some("shardctl move 3 g2 seq=4")
        );
        let leave = "shardctl leave g1,g3 seq=1".parse::<AdminCommand>();
        assert_eq!(
            leave.map(|c| c.to(0).to_string()).ok().as_deref(),
            Some("admin n1 shardctl leave g1,g3 seq=1")
        );
        let swap = AdminCommand::change_voters(&[4], &[0]);
        assert_eq!(swap.to_string(), "conf-change add n5 remove n1");
        assert_eq!(
            swap.to(2).to_string(),
            "admin n3 conf-change add n5 remove n1"
        );
    }

    #[test]
    fn malformed_commands_are_errors() {
        let add_n10 = AdminCommand::ConfChange(ConfChange::single(ConfChangeKind::AddNode, 10));
        assert!(add_n10.validate(5).is_err());
        assert!(add_n10.validate(10).is_ok());
        for text in [
            "conf-change",
            "conf-change add",
            "conf-change add x1",
            "conf-change add n0",
            "conf-change grow n1",
            "reboot n1",
            "shardctl join g2",
            "shardctl join g0 seq=1",
            "shardctl move x g2 seq=1",
            "shardctl split 3 seq=1",
        ] {
            assert!(text.parse::<AdminCommand>().is_err(), "{text} parsed");
        }
    }
}
