//! The replicated command: what the server proposes to Raft and applies when committed.
//!
//! Encoding (all integers little-endian, strings `u32` length + UTF-8):
//!
//! ```text
//! u8  format version (1)
//! u64 client_id
//! u64 seq
//! u8  op tag: 0 get, 1 put, 2 append, 3 cas
//! str key, then per tag: put/append value; cas expected, new
//! ```
//!
//! There is no no-op command: Raft's own empty entries (the new leader's entry, configuration
//! changes) carry no KV command and are passed to `KvStateMachine::apply_empty`.

use serde::{Deserialize, Serialize};

use crate::codec::{DecodeError, Reader, Sink, put_op, read_op_view};
use crate::op::{Op, OpView};

const COMMAND_VERSION: u8 = 1;

/// A client operation tagged with its session identity, as replicated through the log.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Command {
    pub client_id: u64,
    /// The client's sequence number of this operation; retries reuse it.
    pub seq: u64,
    pub op: Op,
}

impl Command {
    /// The canonical encoding (deterministic: the same command always gives the same bytes).
    pub fn encode(&self) -> Vec<u8> {
        self.view().encode()
    }

    /// Decodes what [`Command::encode`] wrote; any other input gives an error, never a panic.
    pub fn decode(bytes: &[u8]) -> Result<Command, DecodeError> {
        Ok(CommandView::decode(bytes)?.to_owned())
    }

    /// The command with its operation's strings borrowed.
    pub fn view(&self) -> CommandView<'_> {
        CommandView {
            client_id: self.client_id,
            seq: self.seq,
            op: self.op.view(),
        }
    }
}

/// A [`Command`] decoded in place: its operation borrows the encoded bytes, so applying a
/// committed entry allocates nothing to read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommandView<'a> {
    pub client_id: u64,
    pub seq: u64,
    pub op: OpView<'a>,
}

impl<'a> CommandView<'a> {
    /// Decodes what [`Command::encode`] wrote; any other input gives an error, never a panic.
    pub fn decode(bytes: &'a [u8]) -> Result<CommandView<'a>, DecodeError> {
        let mut reader = Reader::new(bytes);
        let version = reader.u8("command version")?;
        if version != COMMAND_VERSION {
            return Err(DecodeError::UnsupportedVersion {
                what: "command",
                version,
            });
        }
        let client_id = reader.u64("client id")?;
        let seq = reader.u64("sequence number")?;
        let op = read_op_view(&mut reader)?;
        reader.finish("command")?;
        Ok(CommandView { client_id, seq, op })
    }

    /// The canonical encoding of the command (see [`Command::encode`]).
    pub fn encode(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(self.encoded_len_hint());
        bytes.put_u8(COMMAND_VERSION);
        bytes.put_u64(self.client_id);
        bytes.put_u64(self.seq);
        put_op(&mut bytes, self.op);
        bytes
    }

    fn encoded_len_hint(&self) -> usize {
        let strings = match self.op {
            OpView::Get { key } => key.len() + 4,
            OpView::Put { key, value } | OpView::Append { key, value } => {
                key.len() + value.len() + 8
            }
            OpView::Cas { key, expected, new } => key.len() + expected.len() + new.len() + 12,
        };
        1 + 8 + 8 + 1 + strings
    }

    pub fn to_owned(self) -> Command {
        Command {
            client_id: self.client_id,
            seq: self.seq,
            op: self.op.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Command {
        Command {
            client_id: 7,
            seq: 3,
            op: Op::Cas {
                key: "k".into(),
                expected: "".into(),
                new: "v".into(),
            },
        }
    }

    #[test]
    fn capacity_hint_is_exact() {
        let command = sample();
        assert_eq!(command.encode().len(), command.view().encoded_len_hint());
    }

    #[test]
    fn every_strict_prefix_fails_to_decode() {
        let bytes = sample().encode();
        for length in 0..bytes.len() {
            assert!(
                Command::decode(&bytes[..length]).is_err(),
                "prefix of length {length} decoded"
            );
        }
        assert_eq!(Command::decode(&bytes), Ok(sample()));
    }

    #[test]
    fn trailing_byte_and_wrong_version_are_rejected() {
        let mut bytes = sample().encode();
        bytes.push(0);
        assert_eq!(
            Command::decode(&bytes),
            Err(DecodeError::TrailingBytes {
                what: "command",
                count: 1
            })
        );
        let mut bytes = sample().encode();
        bytes[0] = 9;
        assert_eq!(
            Command::decode(&bytes),
            Err(DecodeError::UnsupportedVersion {
                what: "command",
                version: 9
            })
        );
    }
}
