//! How messages read, once: `MessageKind`'s short names (which scripts also use to select
//! messages) and `Message`'s `Display`, used by scripts, reports and logs alike. Nodes are
//! named by Raft id (`n3`); the route (`n1->n3`) is the caller's to add.

use std::fmt;
use std::str::FromStr;

use std::collections::BTreeSet;

use crate::types::{
    ConfChange, ConfChangeKind, ConfChangeTransition, ConfState, Entry, EntryKind, Message,
    MessageKind, NodeId, Proposal, Snapshot,
};

/// Entries listed one by one in a message's text; longer runs are shortened.
const ENTRIES_SHOWN_MAX: usize = 8;

impl MessageKind {
    /// Every kind, in declaration order.
    pub const ALL: [MessageKind; 14] = [
        MessageKind::Append,
        MessageKind::AppendResponse,
        MessageKind::Vote,
        MessageKind::VoteResponse,
        MessageKind::PreVote,
        MessageKind::PreVoteResponse,
        MessageKind::Heartbeat,
        MessageKind::HeartbeatResponse,
        MessageKind::Snapshot,
        MessageKind::TimeoutNow,
        MessageKind::ReadIndex,
        MessageKind::ReadIndexResponse,
        MessageKind::Propose,
        MessageKind::TransferLeader,
    ];

    /// The short name traces and interaction tests print.
    pub fn name(self) -> &'static str {
        match self {
            MessageKind::Append => "app",
            MessageKind::AppendResponse => "app-resp",
            MessageKind::Vote => "vote",
            MessageKind::VoteResponse => "vote-resp",
            MessageKind::PreVote => "prevote",
            MessageKind::PreVoteResponse => "prevote-resp",
            MessageKind::Heartbeat => "heartbeat",
            MessageKind::HeartbeatResponse => "heartbeat-resp",
            MessageKind::Snapshot => "snap",
            MessageKind::TimeoutNow => "timeout-now",
            MessageKind::ReadIndex => "read-index",
            MessageKind::ReadIndexResponse => "read-index-resp",
            MessageKind::Propose => "prop",
            MessageKind::TransferLeader => "transfer-leader",
        }
    }
}

impl fmt::Display for MessageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown message kind `{0}`")]
pub struct UnknownMessageKind(pub String);

impl FromStr for MessageKind {
    type Err = UnknownMessageKind;

    fn from_str(name: &str) -> Result<Self, UnknownMessageKind> {
        MessageKind::ALL
            .into_iter()
            .find(|kind| kind.name() == name)
            .ok_or_else(|| UnknownMessageKind(name.chars().take(40).collect()))
    }
}

impl Message {
    /// The message after its route by Raft id, as etcd's tests print it:
    /// `1->2 app t1 prev=11@1 commit=11 [12@1 "x"]`.
    pub fn with_route(&self) -> String {
        format!("{}->{} {self}", self.from, self.to)
    }
}

impl fmt::Display for Message {
    /// One line in etcd's order (what, term, the log position, commit, entries), with our
    /// names: `app t1 prev=11@1 commit=11 [12@1 "x"]`. The route (`1->2`, or `n1->n2` with
    /// names) is the caller's to add: see [`Message::with_route`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} t{}", self.kind.name(), self.term)?;
        match self.kind {
            MessageKind::Append => {
                write!(
                    f,
                    " prev={}@{} commit={}",
                    self.index, self.log_term, self.commit
                )?;
            }
            MessageKind::AppendResponse if self.reject => write!(
                f,
                " reject index={} hint={}@{}",
                self.index, self.reject_hint, self.log_term
            )?,
            MessageKind::AppendResponse | MessageKind::ReadIndexResponse => {
                write!(f, " index={}", self.index)?
            }
            MessageKind::Vote | MessageKind::PreVote => {
                write!(f, " last={}@{}", self.index, self.log_term)?;
                if self.leader_transfer {
                    write!(f, " transfer")?;
                }
            }
            MessageKind::VoteResponse | MessageKind::PreVoteResponse if self.reject => {
                write!(f, " rejected commit={}@{}", self.commit, self.log_term)?
            }
            MessageKind::VoteResponse | MessageKind::PreVoteResponse => write!(f, " granted")?,
            MessageKind::Heartbeat => {
                write!(f, " commit={} round={}", self.commit, self.read_round)?
            }
            MessageKind::HeartbeatResponse => write!(f, " round={}", self.read_round)?,
            MessageKind::TransferLeader => write!(f, " to={}", self.transferee)?,
            MessageKind::Snapshot
            | MessageKind::TimeoutNow
            | MessageKind::ReadIndex
            | MessageKind::Propose => {}
        }
        if !self.context.is_empty() {
            write!(f, " context={:?}", String::from_utf8_lossy(&self.context))?;
        }
        if let Some(snapshot) = &self.snapshot {
            write!(f, " snapshot={snapshot}")?;
        }
        if !self.entries.is_empty() {
            write_entries(f, &self.entries)?;
        }
        Ok(())
    }
}

impl fmt::Display for Entry {
    /// `index@term` then the data quoted, or the decoded configuration change:
    /// `12@1 "x"`, `3@1 conf-change v2 l3`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.index, self.term)?;
        match self.kind {
            EntryKind::Normal => write!(f, " {:?}", String::from_utf8_lossy(&self.data)),
            EntryKind::ConfChange => match self.conf_change() {
                Some(change) => write!(f, " conf-change {change}"),
                None => write!(f, " conf-change (malformed)"),
            },
        }
    }
}

impl fmt::Display for Snapshot {
    /// `index@term voters=(1 2) learners=(3)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let metadata = &self.metadata;
        write!(
            f,
            "{}@{} {}",
            metadata.index, metadata.term, metadata.conf_state
        )
    }
}

impl fmt::Display for ConfState {
    /// etcd's configuration line: `voters=(1 2)&&(1 2 3) learners=(4) learners_next=(3)
    /// autoleave`, omitting empty parts.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |ids: &BTreeSet<NodeId>| {
            let ids: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
            format!("({})", ids.join(" "))
        };
        write!(f, "voters={}", list(&self.voters))?;
        if self.is_joint() {
            write!(f, "&&{}", list(&self.voters_outgoing))?;
        }
        if !self.learners.is_empty() {
            write!(f, " learners={}", list(&self.learners))?;
        }
        if !self.learners_next.is_empty() {
            write!(f, " learners_next={}", list(&self.learners_next))?;
        }
        if self.auto_leave {
            write!(f, " autoleave")?;
        }
        Ok(())
    }
}

impl fmt::Display for ConfChange {
    /// etcd's conf-change notation: `v2` adds voter 2, `l3` a learner, `r1` removes node 1; an
    /// empty change (leaving a joint configuration) prints as `leave-joint`. A transition other
    /// than automatic is appended: `v2 v3 (explicit)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_leave_joint() {
            return write!(f, "leave-joint");
        }
        for (position, change) in self.changes.iter().enumerate() {
            if position > 0 {
                write!(f, " ")?;
            }
            let prefix = match change.kind {
                ConfChangeKind::AddNode => 'v',
                ConfChangeKind::RemoveNode => 'r',
                ConfChangeKind::AddLearner => 'l',
            };
            write!(f, "{prefix}{}", change.node_id)?;
        }
        match self.transition {
            ConfChangeTransition::Auto => Ok(()),
            ConfChangeTransition::JointImplicit => write!(f, " (implicit)"),
            ConfChangeTransition::JointExplicit => write!(f, " (explicit)"),
        }
    }
}

impl fmt::Display for Proposal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Proposal::Appended { index } => write!(f, "appended at index {index}"),
            Proposal::Forwarded { leader } => write!(f, "forwarded to leader {leader}"),
        }
    }
}

/// ` [12@1 "x", 13@1 "y"]`; a run longer than [`ENTRIES_SHOWN_MAX`] shows its first entries and
/// its last: ` [1@1 "a", ... 20@1 "t" (20 entries)]`.
fn write_entries(f: &mut fmt::Formatter<'_>, entries: &[Entry]) -> fmt::Result {
    let shortened = entries.len() > ENTRIES_SHOWN_MAX;
    let shown = if shortened {
        &entries[..ENTRIES_SHOWN_MAX - 1]
    } else {
        entries
    };
    f.write_str(" [")?;
    for (position, entry) in shown.iter().enumerate() {
        if position > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{entry}")?;
    }
    if let (true, Some(last)) = (shortened, entries.last()) {
        write!(f, ", ... {last} ({} entries)", entries.len())?;
    }
    f.write_str("]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in MessageKind::ALL {
            assert_eq!(kind.name().parse(), Ok(kind));
        }
        assert!("append".parse::<MessageKind>().is_err());
    }

    #[test]
    fn messages_read_like_the_protocol() {
        let entry = |index, term| Entry {
            index,
            term,
            ..Entry::default()
        };
        let append = Message {
            kind: MessageKind::Append,
            term: 4,
            index: 1,
            log_term: 1,
            entries: vec![entry(2, 2), entry(3, 4)],
            commit: 1,
            ..Message::default()
        };
        assert_eq!(
            append.to_string(),
            r#"app t4 prev=1@1 commit=1 [2@2 "", 3@4 ""]"#
        );
        assert_eq!(
            Message {
                from: 1,
                to: 2,
                ..append.clone()
            }
            .with_route(),
            r#"1->2 app t4 prev=1@1 commit=1 [2@2 "", 3@4 ""]"#
        );
        let long = Message {
            entries: (1..=20).map(|i| entry(i, 1)).collect(),
            ..append
        };
        assert!(
            long.to_string()
                .ends_with(r#"7@1 "", ... 20@1 "" (20 entries)]"#)
        );
        let refused = Message {
            kind: MessageKind::VoteResponse,
            term: 3,
            reject: true,
            commit: 2,
            log_term: 2,
            ..Message::default()
        };
        assert_eq!(refused.to_string(), "vote-resp t3 rejected commit=2@2");
    }
}
