//! Integration tests of the `raftsim` binary.

mod campaign;
mod repro;
