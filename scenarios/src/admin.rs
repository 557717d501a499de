//! Operator commands to servers, carried through the simulator as [`sim::FaultAction::Admin`]:
//! so far, membership changes. The command text names servers by address (`n0`, `n1`, ...) like
//! every other fault action; scripts show the same words with their own names (`n1`, ...).
//!
//! The words of a change: `add NODES`, `remove NODES`, `add-learner NODES`, repeated, then
//! optionally `joint` or `joint-explicit`; or `leave-joint`. `NODES` is a comma list.

use raft::{ConfChange, ConfChangeKind, ConfChangeSingle, ConfChangeTransition};
use sim::{FaultAction, NodeId};

const CONF_CHANGE: &str = "conf-change";

/// What an admin command asks a server to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdminCommand {
    /// Propose this membership change (Raft ids), as the leader would for an operator.
    ConfChange(ConfChange),
}

impl AdminCommand {
    /// Parses the command text of a [`FaultAction::Admin`].
    pub fn parse(text: &str) -> Result<AdminCommand, String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        match words.split_first() {
            Some((&CONF_CHANGE, rest)) => parse_conf_change_words(rest, address_list)
                .map(AdminCommand::ConfChange)
                .map_err(|error| format!("admin `{text}`: {error}")),
            _ => Err(format!(
                "admin `{text}`: unknown command (known: {CONF_CHANGE})"
            )),
        }
    }

    /// The command text, servers named by address.
    pub fn text(&self) -> String {
        match self {
            AdminCommand::ConfChange(change) => format!(
                "{CONF_CHANGE} {}",
                render_conf_change_words(change, |id| format!("n{}", id - 1))
            ),
        }
    }

    /// Adds and removes voters (addresses) in one change: a simple change when one voter
    /// changes, joint consensus (left automatically) when several do.
    pub fn change_voters(added: &[NodeId], removed: &[NodeId]) -> AdminCommand {
        let raft_id = |&address: &NodeId| u64::from(address) + 1;
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

    /// Refuses a command naming a server the cluster does not have.
    pub fn validate(&self, servers: usize) -> Result<(), String> {
        match self {
            AdminCommand::ConfChange(change) => {
                match change
                    .changes
                    .iter()
                    .find(|single| single.node_id > servers as u64)
                {
                    Some(single) => Err(format!(
                        "admin `{}`: server n{} does not exist",
                        self.text(),
                        single.node_id - 1
                    )),
                    None => Ok(()),
                }
            }
        }
    }

    /// The fault action that hands this command to `node`.
    pub fn to(&self, node: NodeId) -> FaultAction {
        FaultAction::Admin {
            node,
            command: self.text(),
        }
    }
}

/// `n0,n3` (addresses) as Raft ids.
fn address_list(token: &str) -> Result<Vec<u64>, String> {
    token
        .trim_start_matches('{')
        .trim_end_matches('}')
        .split(',')
        .map(|name| {
            name.strip_prefix('n')
                .and_then(|n| n.parse::<u64>().ok())
                .map(|address| address + 1)
                .ok_or_else(|| format!("`{name}` is not a server address (n0, n1, ...)"))
        })
        .collect()
}

/// The words after `conf-change`; `ids` turns a node list into Raft ids.
pub fn parse_conf_change_words(
    words: &[&str],
    ids: impl Fn(&str) -> Result<Vec<u64>, String>,
) -> Result<ConfChange, String> {
    const USAGE: &str = "a change is `add|remove|add-learner NODES`, repeated, then optionally `joint` or \
         `joint-explicit`; or `leave-joint`";
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
        for node_id in ids(pair[1])? {
            changes.push(ConfChangeSingle { kind, node_id });
        }
    }
    Ok(ConfChange {
        transition,
        changes,
        context: Vec::new(),
    })
}

/// The words of `change`, servers named by `name(raft_id)`; runs of one kind share a list.
pub fn render_conf_change_words(change: &ConfChange, name: impl Fn(u64) -> String) -> String {
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
        match &mut current {
            Some((kind, names)) if *kind == single.kind => names.push(name(single.node_id)),
            _ => {
                let group = current.replace((single.kind, vec![name(single.node_id)]));
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
            assert_eq!(AdminCommand::parse(&command.text()), Ok(command.clone()));
        }
        let swap = AdminCommand::ConfChange(ConfChange::joint(
            ConfChangeTransition::Auto,
            [
                (ConfChangeKind::RemoveNode, 1),
                (ConfChangeKind::AddNode, 5),
            ],
        ));
        assert_eq!(swap.text(), "conf-change remove n0 add n4");
    }

    #[test]
    fn malformed_commands_are_errors() {
        let add_n9 = AdminCommand::ConfChange(ConfChange::single(ConfChangeKind::AddNode, 10));
        assert!(add_n9.validate(5).is_err());
        assert!(add_n9.validate(10).is_ok());
        for text in [
            "conf-change",
            "conf-change add",
            "conf-change add x1",
            "conf-change grow n1",
            "reboot n1",
        ] {
            assert!(AdminCommand::parse(text).is_err(), "{text} parsed");
        }
    }
}
