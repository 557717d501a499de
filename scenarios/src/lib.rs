//! Wiring a Raft + KV cluster into the simulator (BRIEF §8, §10).
//!
//! - `admin`: operator commands to servers (membership changes) carried as admin fault actions.
//! - `cluster`: servers and clients as simulator nodes; `SimEnv` adapts `kv::Env` to the
//!   simulator's context.
//! - `oracle`: online safety oracles checked after every event.
//! - `run`: one whole seeded run: drawn faults, safety phase, liveness phase, history check.
//! - `swarm`: the configuration each campaign seed draws.
//! - `campaign`: many seeds on worker threads, result lines, summary, JUnit, shard merging.
//! - `record`: fills a `reports::RunRecord` (roles, faults, messages, linearization) for reports.
//! - `shrink`: delta-debugs a failing run down to a small seeded-run script.
//! - `script`: scripted scenarios (BRIEF §8): the text format, its runners, the embedded library
//!   of `scripts/*.scn`, and seeded-run scripts that replay a campaign run exactly.
//!

pub mod admin;
pub mod campaign;
pub mod cluster;
mod nemesis;
pub mod oracle;
pub mod record;
pub mod run;
pub mod script;
pub mod shrink;
pub mod swarm;

pub use oracle::{Property, Violation};
pub use run::{FaultMix, RunConfig, RunOptions, RunOutcome, run, run_with};
