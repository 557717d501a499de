//! Wiring a Raft + KV cluster, or the sharded KV on multi-raft (BRIEF §14), into the simulator
//! (BRIEF §8, §10), in layers. A module uses only the modules above it in this list; nothing
//! imports downwards:
//!
//! 0. `engines`: the Raft implementations a run may use (`EngineChoice`, `AnyEngine`, the
//!    registry of engines written outside raftsim).
//! 1. `config`: what a run is (`RunConfig`, `FaultMix`, the `Service` it tests), the planted
//!    bugs, the fault kinds' table, the swarm draw, what a failure violated (`Property`,
//!    `Violation`), the bounds of every setting.
//! 2. `harness`: the cluster in the simulator: nodes, `SimEnv`, admin commands, one factory
//!    (`Cluster::new`) and one observe step running every oracle on every Raft group, the
//!    sharded service's groups and shards, the history's verdict.
//! 3. `run`: one seeded run: phases, the nemesis, recording for reports, the replay command.
//! 4. `campaign`: many seeds on threads, result files, summaries, JUnit, shards and merging.
//! 5. `shrink`: delta-debugging a failing run down to a seeded-run script.
//! 6. `script`: scenario scripts, their runners and their inline expected output.
//! 7. `explore`: coverage-guided exploration, fresh seeds directed at a planted bug's danger
//!    marks and runs derived from those that reached rare marks; swarm against explorer.
//! 8. `testing`: raftsim as a library: `Campaign` runs seeds against any engine from a
//!    user's `cargo test` (`RAFTSIM_SEED`, `RAFTSIM_SEEDS`).

pub mod campaign;
pub mod config;
pub mod engines;
pub mod explore;
pub mod harness;
pub mod run;
pub mod script;
pub mod shrink;
pub mod testing;

pub use config::{FaultMix, Property, RunConfig, Violation};
pub use run::{Repro, RunError, RunOptions, RunOutcome, run, run_with};
