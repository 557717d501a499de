//! Faults as data: a run's faults are a list of timed actions that can be printed, saved,
//! loaded, replayed and shrunk.
//!
//! An action has one text form, its `Display`, read back by its `FromStr`: `crash n2`,
//! `partition {n1,n2} | {n3}`, `cut n1->n2`, `clock-jump n3 -5ms`,
//! `link-loss *->* drop=0.1 dup=0`, `admin n1 COMMAND`. Nodes are named as everywhere else
//! ([`crate::names`]); JSON schedules name them the same way.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::clock::{CLOCK_RATE_PPM_MAX, CLOCK_RATE_PPM_MIN, CLOCK_RATE_PPM_NOMINAL};
use crate::names::{parse_server, serde_server, server};
use crate::text::{format_duration, parse_duration, shorten};
use crate::{NodeId, SimError};

/// An operator's command to a node ([`FaultAction::Admin`]): typed data the simulator carries
/// without looking inside. Its text form is its `Display` and `FromStr`.
pub trait AdminCommand:
    Clone + fmt::Debug + PartialEq + Hash + fmt::Display + FromStr<Err: fmt::Display>
{
    /// Refuses a command naming a node the run lacks (`node_count` nodes).
    fn validate(&self, node_count: usize) -> Result<(), String>;
}

/// Plain text, for nodes that take text commands (and for tests).
impl AdminCommand for String {
    fn validate(&self, _node_count: usize) -> Result<(), String> {
        if self.trim().is_empty() || self.contains('\n') {
            return Err("the command must be one non-empty line".into());
        }
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
#[serde(bound(
    serialize = "A: AdminCommand",
    deserialize = "A: AdminCommand, <A as FromStr>::Err: fmt::Display"
))]
pub enum FaultAction<A = String> {
    /// Split the named nodes into groups that cannot talk; unnamed nodes reach everyone.
    Partition {
        #[serde(with = "serde_server::groups")]
        groups: Vec<Vec<NodeId>>,
    },
    /// Remove every partition and one-way cut, and release every held link.
    Heal,
    /// Cut `from -> to` only.
    CutLink {
        #[serde(with = "serde_server")]
        from: NodeId,
        #[serde(with = "serde_server")]
        to: NodeId,
    },
    RestoreLink {
        #[serde(with = "serde_server")]
        from: NodeId,
        #[serde(with = "serde_server")]
        to: NodeId,
    },
    /// Hold `from -> to`: what is sent on it waits, in order, until the link is released (or
    /// healed), then goes out late.
    HoldLink {
        #[serde(with = "serde_server")]
        from: NodeId,
        #[serde(with = "serde_server")]
        to: NodeId,
    },
    ReleaseLink {
        #[serde(with = "serde_server")]
        from: NodeId,
        #[serde(with = "serde_server")]
        to: NodeId,
    },
    /// Lose the node's volatile state and unsynced writes.
    Crash {
        #[serde(with = "serde_server")]
        node: NodeId,
    },
    /// Start a crashed node again from its disk.
    Restart {
        #[serde(with = "serde_server")]
        node: NodeId,
    },
    /// Freeze the node: it receives nothing and fires nothing until resumed.
    Pause {
        #[serde(with = "serde_server")]
        node: NodeId,
    },
    Resume {
        #[serde(with = "serde_server")]
        node: NodeId,
    },
    /// Run the node's clock at `rate` times real speed (0.5..=2.0).
    ClockRate {
        #[serde(with = "serde_server")]
        node: NodeId,
        rate: f64,
    },
    /// Jump the node's clock by `delta_ns` (negative: backwards).
    ClockJump {
        #[serde(with = "serde_server")]
        node: NodeId,
        delta_ns: i64,
    },
    /// Set loss and duplication on matching links (`None`: every node).
    LinkLoss {
        #[serde(with = "serde_server::option")]
        from: Option<NodeId>,
        #[serde(with = "serde_server::option")]
        to: Option<NodeId>,
        drop_probability: f64,
        duplicate_probability: f64,
    },
    /// An operator's request to a running node (say, a membership change), opaque to the
    /// simulator: it hands `command` to [`crate::Node::on_admin`]. A crashed or paused node
    /// misses it, as a hung process would.
    Admin {
        #[serde(with = "serde_server")]
        node: NodeId,
        #[serde(with = "admin_text")]
        command: A,
    },
}

impl<A: AdminCommand> FaultAction<A> {
    pub fn validate(&self, node_count: usize) -> Result<(), SimError> {
        let check = |node: NodeId| {
            if (node as usize) < node_count {
                Ok(())
            } else {
                Err(SimError::Fault(format!(
                    "{self}: {} does not exist ({node_count} servers)",
                    server(node)
                )))
            }
        };
        match self {
            FaultAction::Partition { groups } => {
                let mut seen = vec![false; node_count];
                for &node in groups.iter().flatten() {
                    check(node)?;
                    if std::mem::replace(&mut seen[node as usize], true) {
                        return Err(SimError::Fault(format!(
                            "{self}: {} is in two groups",
                            server(node)
                        )));
                    }
                }
                Ok(())
            }
            FaultAction::Heal => Ok(()),
            FaultAction::CutLink { from, to }
            | FaultAction::RestoreLink { from, to }
            | FaultAction::HoldLink { from, to }
            | FaultAction::ReleaseLink { from, to } => {
                check(*from)?;
                check(*to)
            }
            FaultAction::Crash { node }
            | FaultAction::Restart { node }
            | FaultAction::Pause { node }
            | FaultAction::Resume { node }
            | FaultAction::ClockJump { node, .. } => check(*node),
            FaultAction::Admin { node, command } => {
                check(*node)?;
                command
                    .validate(node_count)
                    .map_err(|error| SimError::Fault(format!("{self}: {error}")))
            }
            FaultAction::ClockRate { node, rate } => {
                check(*node)?;
                rate_ppm(*rate).map(|_| ())
            }
            FaultAction::LinkLoss {
                from,
                to,
                drop_probability,
                duplicate_probability,
            } => {
                from.map_or(Ok(()), check)?;
                to.map_or(Ok(()), check)?;
                for p in [drop_probability, duplicate_probability] {
                    if !(0.0..=1.0).contains(p) {
                        return Err(SimError::Fault(format!(
                            "{self}: probability {p} is outside 0..=1"
                        )));
                    }
                }
                Ok(())
            }
        }
    }

    /// Calls `f` on every server the action names, so a schedule can be relabelled (the
    /// explorer swaps two servers' roles in every fault).
    pub fn for_each_node_mut(&mut self, mut f: impl FnMut(&mut NodeId)) {
        match self {
            FaultAction::Partition { groups } => groups.iter_mut().flatten().for_each(f),
            FaultAction::CutLink { from, to }
            | FaultAction::RestoreLink { from, to }
            | FaultAction::HoldLink { from, to }
            | FaultAction::ReleaseLink { from, to } => {
                f(from);
                f(to);
            }
            FaultAction::LinkLoss { from, to, .. } => {
                from.iter_mut().chain(to.iter_mut()).for_each(f);
            }
            FaultAction::Heal => {}
            _ => {
                if let Some(node) = self.node_mut() {
                    f(node);
                }
            }
        }
    }

    fn node_mut(&mut self) -> Option<&mut NodeId> {
        match self {
            FaultAction::Crash { node }
            | FaultAction::Restart { node }
            | FaultAction::Pause { node }
            | FaultAction::Resume { node }
            | FaultAction::ClockRate { node, .. }
            | FaultAction::ClockJump { node, .. }
            | FaultAction::Admin { node, .. } => Some(node),
            _ => None,
        }
    }

    /// The node this action targets, if it targets one.
    pub fn node(&self) -> Option<NodeId> {
        match self {
            FaultAction::Crash { node }
            | FaultAction::Restart { node }
            | FaultAction::Pause { node }
            | FaultAction::Resume { node }
            | FaultAction::ClockRate { node, .. }
            | FaultAction::ClockJump { node, .. }
            | FaultAction::Admin { node, .. } => Some(*node),
            _ => None,
        }
    }

    /// The action's contribution to the trace hash: its content, not its text, so how actions
    /// are printed never changes a hash.
    pub fn digest(&self) -> u64 {
        crate::trace::digest(self)
    }
}

impl<A: Hash> Hash for FaultAction<A> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        std::mem::discriminant(self).hash(state);
        match self {
            FaultAction::Partition { groups } => groups.hash(state),
            FaultAction::Heal => {}
            FaultAction::CutLink { from, to }
            | FaultAction::RestoreLink { from, to }
            | FaultAction::HoldLink { from, to }
            | FaultAction::ReleaseLink { from, to } => (from, to).hash(state),
            FaultAction::Crash { node }
            | FaultAction::Restart { node }
            | FaultAction::Pause { node }
            | FaultAction::Resume { node } => node.hash(state),
            FaultAction::ClockRate { node, rate } => (node, rate.to_bits()).hash(state),
            FaultAction::ClockJump { node, delta_ns } => (node, delta_ns).hash(state),
            FaultAction::LinkLoss {
                from,
                to,
                drop_probability,
                duplicate_probability,
            } => (
                from,
                to,
                drop_probability.to_bits(),
                duplicate_probability.to_bits(),
            )
                .hash(state),
            FaultAction::Admin { node, command } => (node, command).hash(state),
        }
    }
}

/// A clock rate as parts per million, validated against BRIEF §4's 0.5..=2.0.
pub fn rate_ppm(rate: f64) -> Result<u64, SimError> {
    let ppm = (rate * CLOCK_RATE_PPM_NOMINAL as f64).round();
    if !(CLOCK_RATE_PPM_MIN as f64..=CLOCK_RATE_PPM_MAX as f64).contains(&ppm) {
        return Err(SimError::Fault(format!(
            "clock rate {rate} is outside 0.5..=2.0"
        )));
    }
    Ok(ppm as u64)
}

impl<A: fmt::Display> fmt::Display for FaultAction<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let side = |node: &Option<NodeId>| node.map_or("*".to_string(), |n| server(n).to_string());
        match self {
            FaultAction::Partition { groups } => {
                let groups: Vec<String> = groups
                    .iter()
                    .map(|g| {
                        let names: Vec<String> = g.iter().map(|&n| server(n).to_string()).collect();
                        format!("{{{}}}", names.join(","))
                    })
                    .collect();
                write!(f, "partition {}", groups.join(" | "))
            }
            FaultAction::Heal => write!(f, "heal"),
            FaultAction::CutLink { from, to } => {
                write!(f, "cut {}->{}", server(*from), server(*to))
            }
            FaultAction::RestoreLink { from, to } => {
                write!(f, "restore {}->{}", server(*from), server(*to))
            }
            FaultAction::HoldLink { from, to } => {
                write!(f, "hold {}->{}", server(*from), server(*to))
            }
            FaultAction::ReleaseLink { from, to } => {
                write!(f, "release {}->{}", server(*from), server(*to))
            }
            FaultAction::Crash { node } => write!(f, "crash {}", server(*node)),
            FaultAction::Restart { node } => write!(f, "restart {}", server(*node)),
            FaultAction::Pause { node } => write!(f, "pause {}", server(*node)),
            FaultAction::Resume { node } => write!(f, "resume {}", server(*node)),
            FaultAction::ClockRate { node, rate } => {
                write!(f, "clock-rate {} {rate}", server(*node))
            }
            FaultAction::ClockJump { node, delta_ns } => {
                let sign = if *delta_ns < 0 { "-" } else { "+" };
                let magnitude = format_duration(delta_ns.unsigned_abs());
                write!(f, "clock-jump {} {sign}{magnitude}", server(*node))
            }
            FaultAction::LinkLoss {
                from,
                to,
                drop_probability,
                duplicate_probability,
            } => write!(
                f,
                "link-loss {}->{} drop={drop_probability} dup={duplicate_probability}",
                side(from),
                side(to)
            ),
            FaultAction::Admin { node, command } => {
                write!(f, "admin {} {command}", server(*node))
            }
        }
    }
}

/// The verbs of the text form, in the order a reference lists them.
pub const FAULT_VERBS: [&str; 14] = [
    "partition",
    "heal",
    "cut",
    "restore",
    "hold",
    "release",
    "crash",
    "restart",
    "pause",
    "resume",
    "clock-rate",
    "clock-jump",
    "link-loss",
    "admin",
];

/// Why a text is not a fault action.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FaultParseError {
    /// The first word is no fault verb: the caller may try other commands.
    #[error("`{0}` is not a fault (faults: {verbs})", verbs = FAULT_VERBS.join(", "))]
    NotAFault(String),
    #[error("{0}")]
    Malformed(String),
}

impl<A: AdminCommand> FromStr for FaultAction<A> {
    type Err = FaultParseError;

    fn from_str(text: &str) -> Result<Self, FaultParseError> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let Some((&verb, args)) = words.split_first() else {
            return Err(FaultParseError::Malformed("empty fault".into()));
        };
        if !FAULT_VERBS.contains(&verb) {
            return Err(FaultParseError::NotAFault(shorten(verb)));
        }
        parse_action(verb, args).map_err(|error| {
            FaultParseError::Malformed(format!("`{verb}`: {error} (usage: {})", usage(verb)))
        })
    }
}

fn usage(verb: &str) -> String {
    match verb {
        "partition" => "partition {n1,n2} | {n3,...}".into(),
        "cut" | "restore" | "hold" | "release" => format!("{verb} n1->n2"),
        "crash" | "restart" | "pause" | "resume" => format!("{verb} nK"),
        "clock-rate" => "clock-rate nK RATE (0.5 to 2.0)".into(),
        "clock-jump" => "clock-jump nK +5ms|-5ms".into(),
        "link-loss" => "link-loss nA->nB|*->* drop=P dup=P".into(),
        "admin" => "admin nK COMMAND".into(),
        _ => verb.into(),
    }
}

fn parse_action<A: AdminCommand>(verb: &str, args: &[&str]) -> Result<FaultAction<A>, String> {
    let name = |token: &str| parse_server(token).map_err(|e| e.to_string());
    let node = || match args {
        [token] => name(token),
        _ => Err("wrong number of arguments".to_string()),
    };
    Ok(match verb {
        "partition" => FaultAction::Partition {
            groups: parse_groups(&args.join(" "))?,
        },
        "heal" if args.is_empty() => FaultAction::Heal,
        "cut" | "restore" | "hold" | "release" => {
            let [link] = args else {
                return Err("wrong number of arguments".into());
            };
            let (from, to) = link
                .split_once("->")
                .ok_or_else(|| format!("`{}` is not a link", shorten(link)))?;
            let (from, to) = (name(from)?, name(to)?);
            match verb {
                "cut" => FaultAction::CutLink { from, to },
                "restore" => FaultAction::RestoreLink { from, to },
                "hold" => FaultAction::HoldLink { from, to },
                _ => FaultAction::ReleaseLink { from, to },
            }
        }
        "crash" => FaultAction::Crash { node: node()? },
        "restart" => FaultAction::Restart { node: node()? },
        "pause" => FaultAction::Pause { node: node()? },
        "resume" => FaultAction::Resume { node: node()? },
        "clock-rate" => {
            let [token, rate] = args else {
                return Err("wrong number of arguments".into());
            };
            let rate: f64 = rate
                .trim_start_matches('x')
                .parse()
                .map_err(|_| format!("`{}` is not a rate", shorten(rate)))?;
            FaultAction::ClockRate {
                node: name(token)?,
                rate,
            }
        }
        "clock-jump" => {
            let [token, delta] = args else {
                return Err("wrong number of arguments".into());
            };
            let (negative, magnitude) = match delta.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, delta.trim_start_matches('+')),
            };
            let ns = i64::try_from(parse_duration(magnitude)?)
                .map_err(|_| format!("`{}` is too large", shorten(delta)))?;
            FaultAction::ClockJump {
                node: name(token)?,
                delta_ns: if negative { -ns } else { ns },
            }
        }
        "link-loss" => parse_link_loss(args)?,
        "admin" => {
            let Some((token, words)) = args.split_first().filter(|(_, w)| !w.is_empty()) else {
                return Err("wrong number of arguments".into());
            };
            let text = words.join(" ");
            FaultAction::Admin {
                node: name(token)?,
                command: text.parse().map_err(|e: A::Err| e.to_string())?,
            }
        }
        _ => return Err("wrong number of arguments".into()),
    })
}

/// `{n1,n2} | {n3}`; a group may use ranges (`n1..n3`).
fn parse_groups(text: &str) -> Result<Vec<Vec<NodeId>>, String> {
    let groups: Vec<Vec<NodeId>> = text
        .split('|')
        .map(|group| {
            let inner = group.trim().trim_start_matches('{').trim_end_matches('}');
            let mut nodes = Vec::new();
            for part in inner.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                match part.split_once("..") {
                    Some((low, high)) => {
                        let (low, high) = (parse_server(low), parse_server(high));
                        let (Ok(low), Ok(high)) = (low, high) else {
                            return Err(format!("`{}` is not a node range", shorten(part)));
                        };
                        if low > high || high - low > crate::NODES_MAX as NodeId {
                            return Err(format!("`{}` is not a node range", shorten(part)));
                        }
                        nodes.extend(low..=high);
                    }
                    None => nodes.push(parse_server(part).map_err(|e| e.to_string())?),
                }
            }
            if nodes.is_empty() {
                return Err("a partition group lists its nodes".into());
            }
            Ok(nodes)
        })
        .collect::<Result<_, String>>()?;
    if groups.len() < 2 {
        return Err("a partition has at least two groups".into());
    }
    Ok(groups)
}

fn parse_link_loss<A>(args: &[&str]) -> Result<FaultAction<A>, String> {
    let Some((link, fields)) = args.split_first() else {
        return Err("wrong number of arguments".into());
    };
    let (from, to) = link
        .split_once("->")
        .ok_or_else(|| format!("`{}` is not a link", shorten(link)))?;
    let side = |token: &str| {
        if token == "*" {
            Ok(None)
        } else {
            parse_server(token).map(Some).map_err(|e| e.to_string())
        }
    };
    let (mut drop_probability, mut duplicate_probability) = (0.0, 0.0);
    for field in fields {
        let (key, value) = field
            .split_once('=')
            .ok_or_else(|| format!("`{}` is not key=value", shorten(field)))?;
        let probability: f64 = value
            .parse()
            .map_err(|_| format!("`{}` is not a probability", shorten(value)))?;
        match key {
            "drop" => drop_probability = probability,
            "dup" => duplicate_probability = probability,
            _ => return Err(format!("unknown field `{}` (drop, dup)", shorten(key))),
        }
    }
    Ok(FaultAction::LinkLoss {
        from: side(from)?,
        to: side(to)?,
        drop_probability,
        duplicate_probability,
    })
}

/// Serde for an admin command: its text form.
mod admin_text {
    use std::fmt;
    use std::str::FromStr;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer, A: fmt::Display>(
        command: &A,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_str(command)
    }

    pub fn deserialize<'de, D, A>(deserializer: D) -> Result<A, D::Error>
    where
        D: Deserializer<'de>,
        A: FromStr<Err: fmt::Display>,
    {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound(
    serialize = "A: AdminCommand",
    deserialize = "A: AdminCommand, <A as FromStr>::Err: fmt::Display"
))]
pub struct Fault<A = String> {
    pub at_ns: u64,
    #[serde(flatten)]
    pub action: FaultAction<A>,
}

/// Timed fault actions, kept sorted by time (stable for equal times).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
#[serde(bound(
    serialize = "A: AdminCommand",
    deserialize = "A: AdminCommand, <A as FromStr>::Err: fmt::Display"
))]
pub struct FaultSchedule<A = String> {
    faults: Vec<Fault<A>>,
}

impl<A> Default for FaultSchedule<A> {
    fn default() -> Self {
        Self { faults: Vec::new() }
    }
}

impl<A: AdminCommand> FaultSchedule<A> {
    pub fn new(mut faults: Vec<Fault<A>>) -> Self {
        faults.sort_by_key(|fault| fault.at_ns);
        Self { faults }
    }

    pub fn push(&mut self, at_ns: u64, action: FaultAction<A>) {
        let position = self.faults.partition_point(|fault| fault.at_ns <= at_ns);
        self.faults.insert(position, Fault { at_ns, action });
    }

    pub fn faults(&self) -> &[Fault<A>] {
        &self.faults
    }

    pub fn len(&self) -> usize {
        self.faults.len()
    }

    pub fn is_empty(&self) -> bool {
        self.faults.is_empty()
    }

    pub fn validate(&self, node_count: usize) -> Result<(), SimError> {
        self.faults
            .iter()
            .try_for_each(|fault| fault.action.validate(node_count))
    }

    /// A copy without the faults at the given positions (for shrinking).
    pub fn without(&self, positions: &[usize]) -> Self {
        let faults = self
            .faults
            .iter()
            .enumerate()
            .filter(|(index, _)| !positions.contains(index))
            .map(|(_, fault)| fault.clone())
            .collect();
        Self { faults }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("fault schedules always serialize")
    }

    pub fn from_json(text: &str) -> Result<Self, SimError> {
        let schedule: FaultSchedule<A> = serde_json::from_str(text)
            .map_err(|error| SimError::Fault(shorten_json_error(&error)))?;
        Ok(Self::new(schedule.faults))
    }
}

/// serde_json quotes whole values in its messages; keep the first line, bounded.
fn shorten_json_error(error: &serde_json::Error) -> String {
    let text = error.to_string();
    crate::text::shorten_to(text.lines().next().unwrap_or(""), 160)
}

impl<A: fmt::Display> fmt::Display for FaultSchedule<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for fault in &self.faults {
            writeln!(f, "{:>10.3}ms  {}", fault.at_ns as f64 / 1e6, fault.action)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_kind() -> Vec<FaultAction> {
        vec![
            FaultAction::Partition {
                groups: vec![vec![0, 1], vec![2, 3, 4]],
            },
            FaultAction::Heal,
            FaultAction::CutLink { from: 0, to: 2 },
            FaultAction::RestoreLink { from: 0, to: 2 },
            FaultAction::HoldLink { from: 1, to: 0 },
            FaultAction::ReleaseLink { from: 1, to: 0 },
            FaultAction::Crash { node: 3 },
            FaultAction::Restart { node: 3 },
            FaultAction::Pause { node: 1 },
            FaultAction::Resume { node: 1 },
            FaultAction::ClockRate { node: 2, rate: 0.7 },
            FaultAction::ClockJump {
                node: 4,
                delta_ns: -2_500_001,
            },
            FaultAction::LinkLoss {
                from: None,
                to: Some(1),
                drop_probability: 0.125,
                duplicate_probability: 0.0,
            },
            FaultAction::Admin {
                node: 0,
                command: "conf-change add n4".to_string(),
            },
        ]
    }

    #[test]
    fn every_action_round_trips_through_its_text_and_json() {
        for action in every_kind() {
            let text = action.to_string();
            assert_eq!(text.parse::<FaultAction>(), Ok(action.clone()), "{text}");
        }
        let mut schedule = FaultSchedule::default();
        for (at_ns, action) in every_kind().into_iter().enumerate() {
            schedule.push(at_ns as u64, action);
        }
        let json = schedule.to_json();
        assert!(
            json.contains("\"n4\""),
            "JSON names nodes as people do: {json}"
        );
        assert_eq!(FaultSchedule::from_json(&json), Ok(schedule));
    }

    #[test]
    fn every_server_an_action_names_can_be_relabelled() {
        for mut action in every_kind() {
            let mut before = Vec::new();
            action.for_each_node_mut(|node| before.push(*node));
            action.for_each_node_mut(|node| *node += 10);
            let mut after = Vec::new();
            action.for_each_node_mut(|node| after.push(*node - 10));
            assert_eq!(before, after, "{action}");
            let expected = match &action {
                FaultAction::Heal => 0,
                FaultAction::Partition { .. } => 5,
                FaultAction::LinkLoss { .. } => 1,
                action if action.node().is_some() => 1,
                _ => 2,
            };
            assert_eq!(before.len(), expected, "{action}");
        }
    }

    #[test]
    fn text_names_servers_from_one() {
        assert_eq!(
            FaultAction::<String>::Crash { node: 0 }.to_string(),
            "crash n1"
        );
        assert_eq!(
            FaultAction::<String>::Partition {
                groups: vec![vec![0], vec![1, 2]]
            }
            .to_string(),
            "partition {n1} | {n2,n3}"
        );
    }

    #[test]
    fn malformed_text_is_an_error_naming_the_usage() {
        for text in [
            "crash",
            "crash n0",
            "crash n1 n2",
            "partition {n1,n2}",
            "partition {n1} | {}",
            "partition {n1..n10000000000} | {n2}",
            "cut n1",
            "clock-rate n1 fast",
            "clock-jump n1 5",
            "link-loss n1->n2 drop",
            "admin n1",
        ] {
            let error = text.parse::<FaultAction>().unwrap_err();
            assert!(
                matches!(error, FaultParseError::Malformed(_)),
                "{text}: {error}"
            );
        }
        assert!(matches!(
            "frobnicate n1".parse::<FaultAction>(),
            Err(FaultParseError::NotAFault(_))
        ));
    }

    #[test]
    fn the_digest_follows_content_not_text() {
        let a = FaultAction::<String>::Crash { node: 1 };
        let b = FaultAction::<String>::Restart { node: 1 };
        assert_ne!(a.digest(), b.digest());
        assert_eq!(a.digest(), a.clone().digest());
    }
}
