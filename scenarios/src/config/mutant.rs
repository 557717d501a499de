//! Every planted bug a run can switch on, in one type: Raft's and the KV service's
//! (`raft::Mutant`, BRIEF §9) and the sharded KV's (`shardkv::Mutant`). Each serializes as its
//! own crate writes it, so configurations recorded before the sharded service existed read
//! the same.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::ServiceKind;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Mutant {
    Raft(raft::Mutant),
    Shard(shardkv::Mutant),
}

impl Mutant {
    /// Every mutant: Raft's and the KV service's (BRIEF §9's order), then the sharded KV's.
    pub fn all() -> impl Iterator<Item = Mutant> {
        let raft = raft::Mutant::ALL.into_iter().map(Mutant::Raft);
        raft.chain(shardkv::Mutant::ALL.into_iter().map(Mutant::Shard))
    }

    pub fn name(self) -> &'static str {
        match self {
            Mutant::Raft(mutant) => mutant.name(),
            Mutant::Shard(mutant) => mutant.name(),
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Mutant::Raft(mutant) => mutant.description(),
            Mutant::Shard(mutant) => mutant.description(),
        }
    }

    /// The service whose code it breaks: campaigns scoring it run that service.
    pub fn service(self) -> ServiceKind {
        match self {
            Mutant::Raft(_) => ServiceKind::Kv,
            Mutant::Shard(_) => ServiceKind::Sharded,
        }
    }
}

impl From<raft::Mutant> for Mutant {
    fn from(mutant: raft::Mutant) -> Self {
        Mutant::Raft(mutant)
    }
}

impl From<shardkv::Mutant> for Mutant {
    fn from(mutant: shardkv::Mutant) -> Self {
        Mutant::Shard(mutant)
    }
}

impl fmt::Display for Mutant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown name: raft's error, listing every service's mutants.
pub use raft::UnknownMutant;

impl FromStr for Mutant {
    type Err = UnknownMutant;

    fn from_str(name: &str) -> Result<Mutant, UnknownMutant> {
        Mutant::all()
            .find(|mutant| mutant.name() == name)
            .ok_or_else(|| UnknownMutant {
                name: sim::shorten(name),
                valid: Mutant::all()
                    .map(Mutant::name)
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_raft_mutants_serialize_as_before() {
        let names: std::collections::BTreeSet<&str> = Mutant::all().map(Mutant::name).collect();
        assert_eq!(names.len(), Mutant::all().count());
        for mutant in Mutant::all() {
            assert_eq!(mutant.name().parse(), Ok(mutant));
            let json = serde_json::to_string(&mutant).expect("serializes");
            assert_eq!(serde_json::from_str::<Mutant>(&json).ok(), Some(mutant));
        }
        let raft = raft::Mutant::NoDedup;
        assert_eq!(
            serde_json::to_string(&Mutant::Raft(raft)).ok(),
            serde_json::to_string(&raft).ok()
        );
    }
}
