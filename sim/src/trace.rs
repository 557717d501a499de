//! The trace hash: a rolling hash over every processed event (time, node, kind, payload
//! digest). Two runs of one seed must end with the same hash; when they do not, recorded
//! traces locate the first event where they part.

use std::fmt;
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Serialize};

use crate::NodeId;
use crate::names::Names;

/// What kind of event was processed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    Start,
    Deliver,
    /// A message that arrived at a crashed node, or over a link cut while it was in flight.
    DeliverDropped,
    Timer,
    SyncDone,
    Fault,
}

impl EventKind {
    fn code(self) -> u64 {
        match self {
            EventKind::Start => 1,
            EventKind::Deliver => 2,
            EventKind::DeliverDropped => 3,
            EventKind::Timer => 4,
            EventKind::SyncDone => 5,
            EventKind::Fault => 6,
        }
    }
}

/// A 64-bit mixer (the SplitMix64 finalizer): cheap, portable, and every input bit reaches
/// every output bit.
#[inline]
fn mix(mut value: u64) -> u64 {
    value = (value ^ (value >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    value = (value ^ (value >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    value ^ (value >> 31)
}

/// The rolling hash of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TraceHash(u64);

impl TraceHash {
    /// Folds one event in with a multiply-rotate chain per word: cheap, since it runs once per
    /// event, and order-sensitive. The payload digest arrives already well mixed.
    #[inline]
    pub fn record(&mut self, time_ns: u64, node: NodeId, kind: EventKind, digest: u64) {
        const K: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut hash = self.0;
        for word in [time_ns, u64::from(node) << 8 | kind.code(), digest] {
            hash = (hash.rotate_left(23) ^ word).wrapping_mul(K);
        }
        self.0 = hash;
    }

    pub fn value(&self) -> u64 {
        self.0
    }
}

impl fmt::Display for TraceHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// A fast, fixed (unseeded) hasher for payload digests: word-at-a-time multiply-rotate.
#[derive(Default)]
pub struct DigestHasher {
    state: u64,
}

/// The last 1 to 7 bytes of a slice as one word, without a copy: two overlapping 4-byte reads
/// from 4 bytes on, three single bytes below (together they determine every byte), and the
/// length in the top byte.
#[inline]
fn tail_word(rest: &[u8]) -> u64 {
    let n = rest.len();
    debug_assert!((1..8).contains(&n));
    let value = if n >= 4 {
        let low = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes"));
        let high = u32::from_le_bytes(rest[n - 4..].try_into().expect("4 bytes"));
        u64::from(high) << 32 | u64::from(low)
    } else {
        u64::from(rest[0]) | u64::from(rest[n / 2]) << 8 | u64::from(rest[n - 1]) << 16
    };
    value ^ (n as u64) << 56
}

impl Hasher for DigestHasher {
    /// The bytes eight at a time, then a partial last word; the length is the caller's to hash
    /// (`Hash` for slices and strings writes it).
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.write_u64(u64::from_le_bytes(chunk.try_into().expect("8-byte chunk")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            self.write_u64(tail_word(rest));
        }
    }

    #[inline]
    fn write_u8(&mut self, value: u8) {
        self.write_u64(u64::from(value));
    }

    #[inline]
    fn write_u32(&mut self, value: u32) {
        self.write_u64(u64::from(value));
    }

    #[inline]
    fn write_u64(&mut self, value: u64) {
        self.state = (self.state.rotate_left(5) ^ value).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    #[inline]
    fn write_usize(&mut self, value: usize) {
        self.write_u64(value as u64);
    }

    fn finish(&self) -> u64 {
        mix(self.state)
    }
}

/// The digest of any hashable payload, the same on every run and machine.
#[inline]
pub fn digest<T: Hash + ?Sized>(value: &T) -> u64 {
    let mut hasher = DigestHasher::default();
    value.hash(&mut hasher);
    hasher.finish()
}

/// One processed event, recorded when trace recording is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceEntry {
    pub index: u64,
    pub time_ns: u64,
    pub node: NodeId,
    pub kind: EventKind,
    pub digest: u64,
    /// The rolling hash after this event.
    pub hash: u64,
}

impl TraceEntry {
    /// The event in words, its node named by `names` (faults on the network by `network`).
    pub fn describe(&self, names: Names) -> String {
        let node = if self.node == NodeId::MAX {
            "network".to_string()
        } else {
            names.of(self.node).to_string()
        };
        format!(
            "event #{} at {:.6}ms on {node}: {:?} digest={:016x} hash={:016x}",
            self.index,
            self.time_ns as f64 / 1e6,
            self.kind,
            self.digest,
            self.hash
        )
    }
}

/// Where two recorded traces of one seed part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    pub index: usize,
    /// `None` when that trace ended first.
    pub left: Option<TraceEntry>,
    pub right: Option<TraceEntry>,
}

impl Divergence {
    /// Where the runs part, in words, nodes named by `names`.
    pub fn describe(&self, names: Names) -> String {
        let show = |entry: &Option<TraceEntry>| {
            entry.map_or("(trace ended)".to_string(), |entry| entry.describe(names))
        };
        format!(
            "runs diverge at event #{}: first run {}; second run {}",
            self.index,
            show(&self.left),
            show(&self.right)
        )
    }
}

/// The first event at which two traces differ, or `None` when they are identical.
pub fn first_divergence(left: &[TraceEntry], right: &[TraceEntry]) -> Option<Divergence> {
    let common = left.len().min(right.len());
    let index = (0..common).find(|&i| left[i] != right[i]).or({
        if left.len() == right.len() {
            None
        } else {
            Some(common)
        }
    })?;
    Some(Divergence {
        index,
        left: left.get(index).copied(),
        right: right.get(index).copied(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_depends_on_every_field_and_on_order() {
        let hash = |events: &[(u64, NodeId, EventKind, u64)]| {
            let mut trace = TraceHash::default();
            for &(time, node, kind, digest) in events {
                trace.record(time, node, kind, digest);
            }
            trace.value()
        };
        let base = [(1, 0, EventKind::Deliver, 9), (2, 1, EventKind::Timer, 0)];
        let reordered = [base[1], base[0]];
        assert_ne!(hash(&base), hash(&reordered));
        for changed in [
            [(1, 0, EventKind::Deliver, 8), base[1]],
            [(1, 1, EventKind::Deliver, 9), base[1]],
            [(3, 0, EventKind::Deliver, 9), base[1]],
            [(1, 0, EventKind::Start, 9), base[1]],
        ] {
            assert_ne!(hash(&base), hash(&changed));
        }
    }

    #[test]
    fn digests_are_stable_and_sensitive() {
        assert_eq!(digest(&(1u64, "ab")), digest(&(1u64, "ab")));
        assert_ne!(digest(&(1u64, "ab")), digest(&(1u64, "ba")));
        assert_ne!(digest(&[0u8; 3][..]), digest(&[0u8; 4][..]));
        // Every byte of every length reaches the digest.
        let bytes: Vec<u8> = (1..=23).collect();
        for len in 0..=bytes.len() {
            let base = &bytes[..len];
            let mut seen = std::collections::BTreeSet::new();
            seen.insert(digest(base));
            for at in 0..len {
                let mut changed = base.to_vec();
                changed[at] ^= 0x40;
                assert!(seen.insert(digest(&changed[..])), "len {len}, byte {at}");
            }
        }
    }

    #[test]
    fn first_divergence_finds_the_first_differing_event() {
        let entry = |index, digest| TraceEntry {
            index,
            time_ns: index * 10,
            node: 0,
            kind: EventKind::Deliver,
            digest,
            hash: 0,
        };
        let left = vec![entry(0, 1), entry(1, 2), entry(2, 3)];
        let mut right = left.clone();
        assert_eq!(first_divergence(&left, &right), None);
        right[1].digest = 7;
        assert_eq!(first_divergence(&left, &right).map(|d| d.index), Some(1));
        let shorter = &left[..2];
        let divergence = first_divergence(&left, shorter).expect("lengths differ");
        assert_eq!((divergence.index, divergence.right), (2, None));
    }
}
