//! How messages read, once: `MessageKind`'s short names (which scripts also use to select
//! messages) and `Message`'s `Display`, used by scripts, reports and logs alike. Nodes are
//! named by Raft id (`n3`); the route (`n1->n3`) is the caller's to add.

use std::fmt;
use std::str::FromStr;

use crate::types::{Message, MessageKind};

/// Entries listed one by one in a message's text; longer runs are shortened.
const ENTRIES_SHOWN_MAX: usize = 8;

impl MessageKind {
    /// Every kind, in protocol order.
    pub const ALL: [MessageKind; 12] = [
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
    ];

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

/// `app t4 prev=1@1 [2@2 3@4] commit=1`, `vote-resp t3 rejected commit=2@2`, ...
impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} t{}", self.kind, self.term)?;
        match self.kind {
            MessageKind::Append => {
                write!(f, " prev={}@{} [", self.index, self.log_term)?;
                write_entries(f, self)?;
                write!(f, "] commit={}", self.commit)
            }
            MessageKind::AppendResponse if self.reject => write!(
                f,
                " reject index={} hint={}@{}",
                self.index, self.reject_hint, self.log_term
            ),
            MessageKind::AppendResponse => write!(f, " index={}", self.index),
            MessageKind::Vote | MessageKind::PreVote => {
                write!(f, " last={}@{}", self.index, self.log_term)?;
                if self.leader_transfer {
                    f.write_str(" transfer")?;
                }
                Ok(())
            }
            MessageKind::VoteResponse | MessageKind::PreVoteResponse if self.reject => {
                write!(f, " rejected commit={}@{}", self.commit, self.log_term)
            }
            MessageKind::VoteResponse | MessageKind::PreVoteResponse => f.write_str(" granted"),
            MessageKind::Heartbeat => {
                write!(f, " commit={} round={}", self.commit, self.read_round)
            }
            MessageKind::HeartbeatResponse => write!(f, " round={}", self.read_round),
            MessageKind::Snapshot => match &self.snapshot {
                Some(snapshot) => write!(
                    f,
                    " snapshot={}@{}",
                    snapshot.metadata.index, snapshot.metadata.term
                ),
                None => f.write_str(" snapshot=none"),
            },
            MessageKind::TimeoutNow => Ok(()),
            MessageKind::ReadIndex => write!(f, " ctx={}", hex(&self.context)),
            MessageKind::ReadIndexResponse => {
                write!(f, " index={} ctx={}", self.index, hex(&self.context))
            }
        }
    }
}

fn write_entries(f: &mut fmt::Formatter<'_>, message: &Message) -> fmt::Result {
    let entries = &message.entries;
    let shown = if entries.len() > ENTRIES_SHOWN_MAX {
        &entries[..ENTRIES_SHOWN_MAX - 1]
    } else {
        &entries[..]
    };
    for (position, entry) in shown.iter().enumerate() {
        if position > 0 {
            f.write_str(" ")?;
        }
        write!(f, "{}@{}", entry.index, entry.term)?;
    }
    if let (true, Some(last)) = (entries.len() > ENTRIES_SHOWN_MAX, entries.last()) {
        write!(
            f,
            " ... {}@{} ({} entries)",
            last.index,
            last.term,
            entries.len()
        )?;
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Entry;

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
        assert_eq!(append.to_string(), "app t4 prev=1@1 [2@2 3@4] commit=1");
        let long = Message {
            entries: (1..=20).map(|i| entry(i, 1)).collect(),
            ..append
        };
        assert!(long.to_string().contains("... 20@1 (20 entries)"));
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
