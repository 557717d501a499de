//! Wiring a Raft + KV cluster into the simulator (BRIEF §8, §10).
//!
//! - `cluster`: servers and clients as simulator nodes; `SimEnv` adapts `kv::Env` to the
//!   simulator's context.
//! - `oracle`: online safety oracles checked after every event.
//! - `run`: one whole seeded run: drawn faults, safety phase, liveness phase, history check.
//! - `script`: scripted scenarios (BRIEF §8): the text format, its runners, the embedded library
//!   of `scripts/*.scn`, and seeded-run scripts that replay a campaign run exactly.
//!
//! Campaigns and shrinking land here in later issues.

pub mod cluster;
pub mod oracle;
pub mod run;
pub mod script;

pub use oracle::{Property, Violation};
pub use run::{FaultMix, RunConfig, RunOptions, RunOutcome, generate_faults, run, run_with};
