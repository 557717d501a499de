//! Integration tests of the `raftsim` binary.

mod bad_input;
mod campaign;
mod gate;
mod repro;
