//! raftsim as a library: test your own Raft implementation from `cargo test` with the same
//! simulator, fault campaigns, safety oracles and linearizability checker as the `raftsim`
//! binary.
//!
//! 1. Implement [`Engine`] for your Raft node (tick, step, propose, configuration changes,
//!    ReadIndex, leadership transfer, the Ready/advance cycle, status, and what the oracles
//!    inspect), converting your messages and entries to raftsim's protocol types ([`types`]).
//! 2. Run a campaign in a test and fail it on any finding:
//!
//! ```no_run
//! # type MyRaft = raftsim::types::RawNode<raftsim::types::MemStorage>;
//! raftsim::Campaign::new::<MyRaft>("my-raft")
//!     .seeds(0..100)
//!     .run()
//!     .assert_passed();
//! ```
//!
//! 3. A failure names the seed, the violated property and `RAFTSIM_SEED=S cargo test`, which
//!    runs that seed alone, bit for bit (`RAFTSIM_SEEDS=A..B` runs a range).
//!
//! See the README's "Testing your own Raft" and `examples/`.

pub use engine::{Durable, Engine};
pub use scenarios::engines::EngineChoice;
pub use scenarios::testing::{Campaign, CampaignReport, Failure, SEED_VAR, SEEDS_VAR};

/// The protocol values an engine speaks at the boundary (our `raft` crate's), and our own
/// engine, `RawNode<MemStorage>`, to delegate to or compare with.
pub mod types {
    pub use raft::*;
}
