//! The replicated key/value service (BRIEF §6), to be filled by the KV issue: the state machine
//! with client sessions, the server node, clerks that retry, the workload generator and history
//! recording with virtual invoke and return times.
