//! Linearizability checking (BRIEF §7): models, the Wing & Gong search with memoization and
//! P-compositionality, history formats (our JSON, Jepsen EDN) and an HTML visualization.
//! Knows nothing about the simulator; it sees only histories.
