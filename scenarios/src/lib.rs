//! Wiring a Raft + KV cluster into the simulator (BRIEF §8, §10), to be filled by the KV,
//! scenario and campaign issues: the cluster harness, online safety oracles, scripted scenarios,
//! campaigns and shrinking.
