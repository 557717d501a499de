//! Linearizability checking (BRIEF §7): models, the Wing & Gong search with memoization and
//! P-compositionality, history formats (our JSON, Jepsen EDN) and an HTML visualization.
//! Knows nothing about the simulator; it sees only histories.
//!
//! Module map:
//! - `history`: `Operation`, `Outcome` (returned / failed / indefinite), `History`, real-time order.
//! - `model`: the `Model` trait (sequential specification, partitions) and `StateMerge` (states
//!   a partition cannot tell apart); `kv` and `register` are the built-in models.
//! - `memo`: the explored (linearized set, state) pairs, as frontier and window with a Zobrist
//!   hash, and the bytes they hold.
//! - `pins`: pruning of states in which a read can no longer be served (`Model::pinned_value`),
//!   indexed in O(n log n).
//! - `search`: the Wing & Gong / Lowe search over one partition, with a budget in steps and
//!   bytes.
//! - `check`: validation, partitions in parallel (rayon), verdicts, counterexamples.
//! - `minimize`: ddmin of an illegal partition into a small witness.
//! - `json`, `edn`: parsing (and writing JSON); `format` picks one and names bad lines.
//! - `report`: the text report; `html`: the self-contained visualization.
//! - `generate`: a deterministic generator of KV histories for benchmarks and examples.
//!
//! To check a history built in code:
//! ```
//! use checker::{check, History, KvInput, KvOutput, Operation, Options, Verdict};
//! let put = KvInput::Put { key: "x".into(), value: "1".into() };
//! let get = KvInput::Get { key: "x".into() };
//! let history = History::Kv(vec![
//!     Operation::returned(1, put, KvOutput::Written, 0, 10),
//!     Operation::returned(2, get, KvOutput::Value("".into()), 11, 12),
//! ]);
//! let result = check(&history, &Options::default());
//! assert_eq!(result.verdict, Verdict::Illegal);
//! println!("{}", checker::report::render(&history, &result));
//! ```
//!
//! Architecture Invariant: no wall clock and no std `HashMap`/`HashSet`; every budget is a count,
//! so a verdict depends only on the history and the options, never on timing or thread count.

mod check;
pub mod edn;
pub mod format;
pub mod generate;
mod history;
pub mod html;
pub mod json;
mod kv;
mod memo;
mod minimize;
mod model;
mod pins;
mod register;
pub mod report;
mod search;

pub use check::{
    CheckResult, Counterexample, MEMORY_BYTES_MAX_DEFAULT, Options, PartitionResult, Verdict,
    check, check_kv, check_model, check_register, validate,
};
pub use format::{Format, ParseError, parse};
pub use history::{
    History, KvOperation, ModelKind, Operation, Outcome, RegisterOperation, precedes,
};
pub use kv::{KvInput, KvModel, KvOutput};
pub use memo::{FxBuildHasher, FxHasher};
pub use model::{Model, Partition, Sets, StateMerge};
pub use register::{RegisterInput, RegisterModel, RegisterOutput};
