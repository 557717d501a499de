//! Integration tests of the simulator's semantics, one module per part of BRIEF §4.

mod admin;
mod clocks;
mod determinism;
mod disks;
mod network;
mod pause;
mod support;
