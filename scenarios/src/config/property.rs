//! What a failing run violated: one enum for every place that names it (oracles, the checker's
//! verdict, result lines, summaries, JUnit, scripts, reports).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sim::NodeId;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Property {
    ElectionSafety,
    LogMatching,
    LeaderCompleteness,
    StateMachineSafety,
    CommitMonotonic,
    Durability,
    /// A server replaced an entry it knew committed.
    CommittedOverwrite,
    /// Servers that applied the same log hold different states.
    ReplicaDivergence,
    /// A healthy leader was deposed while nothing failed (PreVote and CheckQuorum keep it).
    Availability,
    Liveness,
    Linearizability,
    /// The checker ran out of budget: the CI gate fails closed.
    CheckerUnknown,
    /// Two runs of one seed differ (`--check-determinism`).
    Nondeterminism,
    /// A drawn configuration could not even start (a bug in the draw).
    RunError,
    /// Code under test panicked (a Raft assertion tripped, say): a finding like any other.
    Panic,
}

impl Property {
    /// Every property, in the order reports list them.
    pub const ALL: [Property; 15] = [
        Property::ElectionSafety,
        Property::LogMatching,
        Property::LeaderCompleteness,
        Property::StateMachineSafety,
        Property::CommitMonotonic,
        Property::Durability,
        Property::CommittedOverwrite,
        Property::ReplicaDivergence,
        Property::Availability,
        Property::Liveness,
        Property::Linearizability,
        Property::CheckerUnknown,
        Property::Nondeterminism,
        Property::RunError,
        Property::Panic,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Property::ElectionSafety => "election-safety",
            Property::LogMatching => "log-matching",
            Property::LeaderCompleteness => "leader-completeness",
            Property::StateMachineSafety => "state-machine-safety",
            Property::CommitMonotonic => "commit-monotonic",
            Property::Durability => "durability",
            Property::CommittedOverwrite => "committed-overwrite",
            Property::ReplicaDivergence => "replica-divergence",
            Property::Availability => "availability",
            Property::Liveness => "liveness",
            Property::Linearizability => "linearizability",
            Property::CheckerUnknown => "checker-unknown",
            Property::Nondeterminism => "nondeterminism",
            Property::RunError => "run-error",
            Property::Panic => "panic",
        }
    }

    /// Whether an online oracle checks it while the run goes on (the others are judged after
    /// the run, or about the run).
    pub fn is_online(self) -> bool {
        matches!(
            self,
            Property::ElectionSafety
                | Property::LogMatching
                | Property::LeaderCompleteness
                | Property::StateMachineSafety
                | Property::CommitMonotonic
                | Property::Durability
                | Property::CommittedOverwrite
                | Property::ReplicaDivergence
                | Property::Availability
        )
    }
}

impl fmt::Display for Property {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown property `{0}`")]
pub struct UnknownProperty(pub String);

impl FromStr for Property {
    type Err = UnknownProperty;

    fn from_str(name: &str) -> Result<Self, UnknownProperty> {
        Property::ALL
            .into_iter()
            .find(|p| p.name() == name)
            .ok_or_else(|| UnknownProperty(sim::shorten(name)))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    pub property: Property,
    /// Server addresses involved.
    pub nodes: Vec<NodeId>,
    pub term: Option<u64>,
    pub index: Option<u64>,
    pub time_ns: u64,
    /// In words, servers named as everywhere (`n1`, ...).
    pub message: String,
}

impl Violation {
    /// A violation about the whole run rather than particular servers.
    pub fn of_run(property: Property, time_ns: u64, message: String) -> Violation {
        Violation {
            property,
            nodes: Vec::new(),
            term: None,
            index: None,
            time_ns,
            message,
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} violated at {}: {}",
            self.property,
            sim::text::format_time(self.time_ns),
            self.message
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for property in Property::ALL {
            assert_eq!(property.name().parse(), Ok(property));
            let json = serde_json::to_string(&property).expect("serializes");
            assert_eq!(json, format!("\"{}\"", property.name()));
        }
        assert!("no-such".parse::<Property>().is_err());
    }
}
