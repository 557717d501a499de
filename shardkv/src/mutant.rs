//! Planted bugs of the sharded KV (issue 20): runtime switches, off by default, each turning
//! one rule of shard migration into a mistake real sharded stores have made.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Mutant {
    ServeBeforeInstall,
    WriteAfterHandoff,
    MigrateWithoutDedup,
    ConfigBeforeMigration,
    DeleteBeforeConfirm,
}

impl Mutant {
    pub const ALL: [Mutant; 5] = [
        Mutant::ServeBeforeInstall,
        Mutant::WriteAfterHandoff,
        Mutant::MigrateWithoutDedup,
        Mutant::ConfigBeforeMigration,
        Mutant::DeleteBeforeConfirm,
    ];

    /// The kebab-case name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Mutant::ServeBeforeInstall => "serve-before-install",
            Mutant::WriteAfterHandoff => "write-after-handoff",
            Mutant::MigrateWithoutDedup => "migrate-without-dedup",
            Mutant::ConfigBeforeMigration => "config-before-migration",
            Mutant::DeleteBeforeConfirm => "delete-before-confirm",
        }
    }

    /// One line: what the switch does and the bug class it plants.
    pub fn description(self) -> &'static str {
        match self {
            Mutant::ServeBeforeInstall => {
                "a group serves a shard it gained before the shard's data arrived (reads miss earlier writes)"
            }
            Mutant::WriteAfterHandoff => {
                "a group keeps applying writes to a shard it has handed off (writes lost after migration)"
            }
            Mutant::MigrateWithoutDedup => {
                "a shard migrates without its client sessions (a retried write applies twice)"
            }
            Mutant::ConfigBeforeMigration => {
                "a group applies the next configuration before the previous one's migrations finished"
            }
            Mutant::DeleteBeforeConfirm => {
                "a group deletes a handed-off shard as soon as it sends it, before the receiver installed it"
            }
        }
    }
}

impl fmt::Display for Mutant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown sharded-KV mutant `{0}`")]
pub struct UnknownMutant(pub String);

impl FromStr for Mutant {
    type Err = UnknownMutant;

    fn from_str(name: &str) -> Result<Self, UnknownMutant> {
        Mutant::ALL
            .into_iter()
            .find(|mutant| mutant.name() == name)
            .ok_or_else(|| UnknownMutant(name.to_string()))
    }
}

/// The switches a replica group runs with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MutantSet(u8);

impl MutantSet {
    pub fn of(mutants: impl IntoIterator<Item = Mutant>) -> MutantSet {
        MutantSet(
            mutants
                .into_iter()
                .fold(0, |bits, mutant| bits | (1 << mutant as u8)),
        )
    }

    pub fn contains(self, mutant: Mutant) -> bool {
        self.0 & (1 << mutant as u8) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sets_hold_what_they_were_given() {
        for mutant in Mutant::ALL {
            assert_eq!(mutant.name().parse(), Ok(mutant));
            assert!(MutantSet::of([mutant]).contains(mutant));
        }
        let set = MutantSet::of([Mutant::WriteAfterHandoff]);
        assert!(!set.contains(Mutant::ServeBeforeInstall));
        assert!("no-dedup".parse::<Mutant>().is_err());
    }
}
