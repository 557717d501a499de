//! Rendering one recorded run (BRIEF §10): a self-contained HTML report, a compact terminal
//! timeline, and a campaign index. Knows nothing about the simulator: it draws a [`RunRecord`],
//! plain data that the harness (`scenarios::record`) fills.
//!
//! - `record`: the data types of a recorded run (serde) and of an index row.
//! - `html`: [`render_html`] (one run) and [`render_index`] (a campaign).
//! - `svg`: the drawings: the whole-run overview, the shards each group served (the sharded
//!   service), the message diagram, the history bars.
//! - `timeline`: [`render_timeline`], the terminal text.
//! - `roles`: role changes as intervals per server; `format`: escaping and time formatting.
//!
//! Architecture Invariant: output is bounded whatever the run's length (the overview is
//! aggregated per pixel, the message window and history selection have fixed maxima), every
//! string from the record is escaped, and no output names a network address.

mod format;
mod html;
pub mod record;
mod roles;
mod svg;
mod timeline;

pub use format::{escape, ms};
pub use html::{render_html, render_index};
pub use record::{
    CheckRecord, FaultBand, FaultKind, GroupRecord, IndexRow, Message, MessageFate, NodeId,
    Operation, PartitionSummary, Role, RoleChange, RunRecord, ScheduledFault, ServerState,
    ShardRecord, ShardServing, ViolationRecord,
};
pub use timeline::render_timeline;
