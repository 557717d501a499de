//! Integration tests of the `raftsim` binary.

mod bad_input;
mod campaign;
mod common;
mod engine;
mod explore;
mod gate;
mod repro;
