//! Raft consensus as a pure, sans-IO state machine (BRIEF §5).
//!
//! Everything comes in through `step`, `tick` and the proposal calls and goes out as data in a
//! `Ready`; this crate never does IO, never reads a clock and never creates randomness.
