//! Role changes turned into intervals per server.

use crate::record::{NodeId, Role, RunRecord};

/// A server held `role` in `term` during `[start_ns, end_ns)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    pub start_ns: u64,
    pub end_ns: u64,
    pub role: Role,
    pub term: u64,
}

/// The intervals of one server, covering `[0, end_ns)`; a server starts as follower of term 0.
pub fn role_segments(record: &RunRecord, node: NodeId) -> Vec<Segment> {
    let mut segments = Vec::new();
    let mut current = Segment {
        start_ns: 0,
        end_ns: 0,
        role: Role::Follower,
        term: 0,
    };
    for change in record.roles.iter().filter(|change| change.node == node) {
        if change.role == current.role && change.term == current.term {
            continue;
        }
        if change.time_ns > current.start_ns {
            current.end_ns = change.time_ns;
            segments.push(current);
        }
        current = Segment {
            start_ns: change.time_ns,
            end_ns: change.time_ns,
            role: change.role,
            term: change.term,
        };
    }
    current.end_ns = record.end_ns.max(current.start_ns);
    segments.push(current);
    segments
}
