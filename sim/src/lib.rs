//! Deterministic discrete-event simulator (BRIEF §4).
