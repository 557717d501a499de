//! The server's on-disk format. Three files:
//! - `hardstate`: term, vote and commit, replaced whole;
//! - `snapshot`: the latest snapshot (metadata, configuration, state-machine bytes), replaced whole;
//! - `log`: entries after the snapshot, one framed record each, appended and truncated.
//!
//! Every record and file is framed as `u32 length | u64 checksum | payload` so that a torn
//! append (a crash in the middle of a write) is detected on restart and cut off, instead of
//! being read as an entry.

use std::collections::BTreeSet;

use raft::{ConfState, Entry, EntryKind, HardState, Snapshot, SnapshotMetadata};

use crate::DecodeError;
use crate::codec::{Fnv64, Reader, Sink};

pub const HARDSTATE_FILE: &str = "hardstate";
pub const SNAPSHOT_FILE: &str = "snapshot";
pub const LOG_FILE: &str = "log";

const FRAME_HEADER_LEN: usize = 4 + 8;

fn checksum(payload: &[u8]) -> u64 {
    let mut hash = Fnv64::new();
    hash.put(payload);
    hash.finish()
}

/// A frame around the payload `write` puts (about `capacity` bytes), built in one buffer: the
/// header's place is kept and filled in once the payload is there, so a record costs one
/// allocation and no copy.
fn framed(capacity: usize, write: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(FRAME_HEADER_LEN + capacity);
    bytes.extend_from_slice(&[0; FRAME_HEADER_LEN]);
    write(&mut bytes);
    let payload = &bytes[FRAME_HEADER_LEN..];
    let length = u32::try_from(payload.len()).expect("record longer than u32::MAX bytes");
    let checksum = checksum(payload);
    bytes[..4].copy_from_slice(&length.to_le_bytes());
    bytes[4..FRAME_HEADER_LEN].copy_from_slice(&checksum.to_le_bytes());
    bytes
}

/// The payload of the frame at the start of `bytes` and the frame's length, or `None` when the
/// frame is incomplete or its checksum does not match (a torn or corrupt write).
fn unframe(bytes: &[u8]) -> Option<(&[u8], usize)> {
    let header = bytes.get(..FRAME_HEADER_LEN)?;
    let length = u32::from_le_bytes(header[..4].try_into().ok()?) as usize;
    let expected = u64::from_le_bytes(header[4..].try_into().ok()?);
    let payload = bytes.get(FRAME_HEADER_LEN..FRAME_HEADER_LEN + length)?;
    (checksum(payload) == expected).then_some((payload, FRAME_HEADER_LEN + length))
}

pub fn encode_hard_state(hard_state: &HardState) -> Vec<u8> {
    framed(24, |payload| {
        payload.put_u64(hard_state.term);
        payload.put_u64(hard_state.vote.unwrap_or(0));
        payload.put_u64(hard_state.commit);
    })
}

/// An empty or unreadable file reads as the initial hard state (a node that never persisted).
pub fn decode_hard_state(bytes: &[u8]) -> HardState {
    let Some((payload, _)) = unframe(bytes) else {
        return HardState::default();
    };
    let mut reader = Reader::new(payload);
    let mut read = || -> Result<HardState, DecodeError> {
        let term = reader.u64("term")?;
        let vote = reader.u64("vote")?;
        let commit = reader.u64("commit")?;
        Ok(HardState {
            term,
            vote: (vote != 0).then_some(vote),
            commit,
        })
    };
    read().unwrap_or_default()
}

fn put_entry(sink: &mut Vec<u8>, entry: &Entry) {
    sink.put_u64(entry.term);
    sink.put_u64(entry.index);
    sink.put_u8(match entry.kind {
        EntryKind::Normal => 0,
        EntryKind::ConfChange => 1,
    });
    sink.put_u64(entry.data.len() as u64);
    sink.put(&entry.data);
}

fn read_entry(reader: &mut Reader<'_>) -> Result<Entry, DecodeError> {
    let term = reader.u64("entry term")?;
    let index = reader.u64("entry index")?;
    let kind = match reader.u8("entry kind")? {
        0 => EntryKind::Normal,
        1 => EntryKind::ConfChange,
        tag => {
            return Err(DecodeError::UnknownTag {
                what: "entry kind",
                tag,
                offset: reader.offset(),
            });
        }
    };
    let length = reader.u64("entry data length")?;
    let length = usize::try_from(length).unwrap_or(usize::MAX);
    let data = reader.take(length, "entry data")?.into();
    Ok(Entry {
        term,
        index,
        kind,
        data,
    })
}

/// One framed log record.
pub fn encode_entry(entry: &Entry) -> Vec<u8> {
    framed(32 + entry.data.len(), |payload| put_entry(payload, entry))
}

/// The log file read back: its entries, the byte offset of each record, and the length of the
/// valid prefix (shorter than the file when its tail was torn).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogScan {
    pub entries: Vec<Entry>,
    pub offsets: Vec<u64>,
    pub valid_len: u64,
}

pub fn scan_log(bytes: &[u8]) -> LogScan {
    let mut scan = LogScan::default();
    let mut offset = 0usize;
    while let Some((payload, frame_len)) = unframe(&bytes[offset..]) {
        let mut reader = Reader::new(payload);
        let Ok(entry) = read_entry(&mut reader) else {
            break;
        };
        let follows = scan
            .entries
            .last()
            .is_none_or(|last: &Entry| entry.index == last.index + 1);
        if !follows {
            break;
        }
        scan.offsets.push(offset as u64);
        scan.entries.push(entry);
        offset += frame_len;
    }
    scan.valid_len = offset as u64;
    scan
}

fn put_ids(sink: &mut Vec<u8>, ids: &BTreeSet<u64>) {
    sink.put_u64(ids.len() as u64);
    for id in ids {
        sink.put_u64(*id);
    }
}

fn read_ids(reader: &mut Reader<'_>) -> Result<BTreeSet<u64>, DecodeError> {
    let count = reader.count("node ids", 8)?;
    (0..count).map(|_| reader.u64("node id")).collect()
}

pub fn encode_snapshot(snapshot: &Snapshot) -> Vec<u8> {
    framed(64 + snapshot.data.len(), |payload| {
        put_snapshot(payload, snapshot)
    })
}

fn put_snapshot(payload: &mut Vec<u8>, snapshot: &Snapshot) {
    let metadata = &snapshot.metadata;
    payload.put_u64(metadata.index);
    payload.put_u64(metadata.term);
    let conf = &metadata.conf_state;
    for ids in [
        &conf.voters,
        &conf.learners,
        &conf.voters_outgoing,
        &conf.learners_next,
    ] {
        put_ids(payload, ids);
    }
    payload.put_u8(u8::from(conf.auto_leave));
    payload.put_u64(snapshot.data.len() as u64);
    payload.put(&snapshot.data);
}

/// `None` for an empty file (no snapshot taken yet). A replaced file is never torn, so a bad
/// frame here is corruption and reads as no snapshot.
pub fn decode_snapshot(bytes: &[u8]) -> Option<Snapshot> {
    let (payload, _) = unframe(bytes)?;
    let mut reader = Reader::new(payload);
    let mut read = || -> Result<Snapshot, DecodeError> {
        let index = reader.u64("snapshot index")?;
        let term = reader.u64("snapshot term")?;
        let voters = read_ids(&mut reader)?;
        let learners = read_ids(&mut reader)?;
        let voters_outgoing = read_ids(&mut reader)?;
        let learners_next = read_ids(&mut reader)?;
        let auto_leave = reader.u8("auto leave")? != 0;
        let length = usize::try_from(reader.u64("snapshot data length")?).unwrap_or(usize::MAX);
        let data = reader.take(length, "snapshot data")?.to_vec();
        let conf_state = ConfState {
            voters,
            learners,
            voters_outgoing,
            learners_next,
            auto_leave,
        };
        Ok(Snapshot {
            metadata: SnapshotMetadata {
                index,
                term,
                conf_state,
            },
            data,
        })
    };
    read().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(index: u64, term: u64, data: &[u8]) -> Entry {
        Entry {
            term,
            index,
            kind: EntryKind::Normal,
            data: data.into(),
        }
    }

    #[test]
    fn log_round_trips_and_a_torn_tail_is_cut() {
        let mut file = Vec::new();
        for index in 1..=3 {
            file.extend(encode_entry(&entry(index, 1, b"payload")));
        }
        let whole = scan_log(&file);
        assert_eq!(whole.entries.len(), 3);
        assert_eq!(whole.valid_len, file.len() as u64);
        let torn_at = whole.offsets[2] as usize + 5;
        let torn = scan_log(&file[..torn_at]);
        assert_eq!(torn.entries.len(), 2);
        assert_eq!(torn.valid_len, whole.offsets[2]);
    }

    #[test]
    fn corrupt_record_stops_the_scan() {
        let mut file = encode_entry(&entry(1, 1, b"a"));
        file.extend(encode_entry(&entry(2, 1, b"b")));
        let last = file.len() - 1;
        file[last] ^= 0xff;
        assert_eq!(scan_log(&file).entries.len(), 1);
    }

    #[test]
    fn hard_state_and_snapshot_round_trip() {
        let hard_state = HardState {
            term: 7,
            vote: Some(3),
            commit: 11,
        };
        assert_eq!(
            decode_hard_state(&encode_hard_state(&hard_state)),
            hard_state
        );
        assert_eq!(decode_hard_state(b""), HardState::default());
        let mut conf_state = ConfState::with_voters([1, 2, 3]);
        conf_state.learners.insert(4);
        let snapshot = Snapshot {
            metadata: SnapshotMetadata {
                index: 9,
                term: 2,
                conf_state,
            },
            data: b"state".to_vec(),
        };
        assert_eq!(decode_snapshot(&encode_snapshot(&snapshot)), Some(snapshot));
        assert_eq!(decode_snapshot(b""), None);
    }
}
