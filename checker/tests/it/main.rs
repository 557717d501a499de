//! The checker's integration tests: one binary, one module per concern.

mod brute;
mod cases;
mod formats;
mod histories;
mod keeps_state;
mod property;
mod pruning;
mod small;
mod unread;
