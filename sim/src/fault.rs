//! Faults as data: a run's faults are a list of timed actions that can be printed, saved,
//! loaded, replayed and shrunk.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::clock::{CLOCK_RATE_PPM_MAX, CLOCK_RATE_PPM_MIN, CLOCK_RATE_PPM_NOMINAL};
use crate::{NodeId, SimError};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum FaultAction {
    /// Split the named nodes into groups that cannot talk; unnamed nodes reach everyone.
    Partition {
        groups: Vec<Vec<NodeId>>,
    },
    /// Remove every partition and one-way cut.
    Heal,
    /// Cut `from -> to` only.
    CutLink {
        from: NodeId,
        to: NodeId,
    },
    RestoreLink {
        from: NodeId,
        to: NodeId,
    },
    /// Lose the node's volatile state and unsynced writes.
    Crash {
        node: NodeId,
    },
    /// Start a crashed node again from its disk.
    Restart {
        node: NodeId,
    },
    /// Freeze the node: it receives nothing and fires nothing until resumed.
    Pause {
        node: NodeId,
    },
    Resume {
        node: NodeId,
    },
    /// Run the node's clock at `rate` times real speed (0.5..=2.0).
    ClockRate {
        node: NodeId,
        rate: f64,
    },
    /// Jump the node's clock by `delta_ns` (negative: backwards).
    ClockJump {
        node: NodeId,
        delta_ns: i64,
    },
    /// Set loss and duplication on matching links (`None`: every node).
    LinkLoss {
        from: Option<NodeId>,
        to: Option<NodeId>,
        drop_probability: f64,
        duplicate_probability: f64,
    },
    /// An operator's request to a running node (say, a membership change), opaque to the
    /// simulator: it hands `command` to [`crate::Node::on_admin`]. A crashed or paused node
    /// misses it, as a hung process would.
    Admin {
        node: NodeId,
        command: String,
    },
}

impl FaultAction {
    pub fn validate(&self, node_count: usize) -> Result<(), SimError> {
        let check = |node: NodeId| {
            if (node as usize) < node_count {
                Ok(())
            } else {
                Err(SimError::Fault(format!(
                    "{self}: node n{node} does not exist"
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
                            "{self}: node n{node} is in two groups"
                        )));
                    }
                }
                Ok(())
            }
            FaultAction::Heal => Ok(()),
            FaultAction::CutLink { from, to } | FaultAction::RestoreLink { from, to } => {
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
                if command.trim().is_empty() || command.contains('\n') {
                    return Err(SimError::Fault(format!(
                        "admin n{node}: the command must be one non-empty line"
                    )));
                }
                Ok(())
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

impl fmt::Display for FaultAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let side = |node: &Option<NodeId>| node.map_or("*".to_string(), |n| format!("n{n}"));
        match self {
            FaultAction::Partition { groups } => {
                let groups: Vec<String> = groups
                    .iter()
                    .map(|g| {
                        g.iter()
                            .map(|n| format!("n{n}"))
                            .collect::<Vec<_>>()
                            .join(",")
                    })
                    .map(|g| format!("{{{g}}}"))
                    .collect();
                write!(f, "partition {}", groups.join(" | "))
            }
            FaultAction::Heal => write!(f, "heal"),
            FaultAction::CutLink { from, to } => write!(f, "cut n{from}->n{to}"),
            FaultAction::RestoreLink { from, to } => write!(f, "restore n{from}->n{to}"),
            FaultAction::Crash { node } => write!(f, "crash n{node}"),
            FaultAction::Restart { node } => write!(f, "restart n{node}"),
            FaultAction::Pause { node } => write!(f, "pause n{node}"),
            FaultAction::Resume { node } => write!(f, "resume n{node}"),
            FaultAction::ClockRate { node, rate } => write!(f, "clock-rate n{node} x{rate}"),
            FaultAction::ClockJump { node, delta_ns } => {
                write!(f, "clock-jump n{node} {:+.3}ms", *delta_ns as f64 / 1e6)
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
            FaultAction::Admin { node, command } => write!(f, "admin n{node} {command}"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    pub at_ns: u64,
    #[serde(flatten)]
    pub action: FaultAction,
}

/// Timed fault actions, kept sorted by time (stable for equal times).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FaultSchedule {
    faults: Vec<Fault>,
}

impl FaultSchedule {
    pub fn new(mut faults: Vec<Fault>) -> Self {
        faults.sort_by_key(|fault| fault.at_ns);
        Self { faults }
    }

    pub fn push(&mut self, at_ns: u64, action: FaultAction) {
        let position = self.faults.partition_point(|fault| fault.at_ns <= at_ns);
        self.faults.insert(position, Fault { at_ns, action });
    }

    pub fn faults(&self) -> &[Fault] {
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
        let schedule: FaultSchedule =
            serde_json::from_str(text).map_err(|error| SimError::Fault(error.to_string()))?;
        Ok(Self::new(schedule.faults))
    }
}

impl fmt::Display for FaultSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for fault in &self.faults {
            writeln!(f, "{:>10.3}ms  {}", fault.at_ns as f64 / 1e6, fault.action)?;
        }
        Ok(())
    }
}
