//! The hand-written binary encoding shared by commands and snapshots (of this crate, and of the
//! services built on it, which encode their own commands and snapshots with the same pieces).
//!
//! Integers are fixed-width little-endian; strings are a `u32` byte length followed by UTF-8.
//! Encoding writes into a [`Sink`], so the same code fills a buffer or feeds the digest without
//! allocating. Decoding never panics: every read is bounds-checked and yields a [`DecodeError`].

use thiserror::Error;

use crate::op::{Op, OpResult, OpView};

/// Why a byte string is not a valid command or snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum DecodeError {
    #[error("truncated input: {what} needs {needed} bytes at offset {offset}, {remaining} left")]
    Truncated {
        what: &'static str,
        offset: usize,
        needed: usize,
        remaining: usize,
    },
    #[error("bad magic: not a {what}")]
    BadMagic { what: &'static str },
    #[error("unsupported {what} format version {version}")]
    UnsupportedVersion { what: &'static str, version: u8 },
    #[error("unknown {what} tag {tag} at offset {offset}")]
    UnknownTag {
        what: &'static str,
        tag: u8,
        offset: usize,
    },
    #[error("{what} at offset {offset} is not valid UTF-8")]
    InvalidUtf8 { what: &'static str, offset: usize },
    #[error("{count} {what} cannot fit in the {remaining} bytes left")]
    CountTooLarge {
        what: &'static str,
        count: u64,
        remaining: usize,
    },
    #[error("{what} out of order or repeated at offset {offset}: encoding must be canonical")]
    NotCanonical { what: &'static str, offset: usize },
    #[error("{count} trailing bytes after the {what}")]
    TrailingBytes { what: &'static str, count: usize },
}

/// Where encoded bytes go.
pub trait Sink {
    fn put(&mut self, bytes: &[u8]);

    fn put_u8(&mut self, value: u8) {
        self.put(&[value]);
    }

    fn put_u64(&mut self, value: u64) {
        self.put(&value.to_le_bytes());
    }

    fn put_str(&mut self, value: &str) {
        let length = u32::try_from(value.len()).expect("string longer than u32::MAX bytes");
        self.put(&length.to_le_bytes());
        self.put(value.as_bytes());
    }
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// 64-bit FNV-1a: a fixed, portable hash for digests (not for adversarial input).
pub struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Self::new()
    }
}

impl Fnv64 {
    pub fn new() -> Self {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }

    pub fn finish(&self) -> u64 {
        self.0
    }
}

impl Sink for Fnv64 {
    fn put(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// A bounds-checked cursor over input bytes.
pub struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, offset: 0 }
    }

    pub fn offset(&self) -> usize {
        self.offset
    }

    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.offset
    }

    pub fn take(&mut self, needed: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if needed > self.remaining() {
            return Err(DecodeError::Truncated {
                what,
                offset: self.offset,
                needed,
                remaining: self.remaining(),
            });
        }
        let slice = &self.bytes[self.offset..self.offset + needed];
        self.offset += needed;
        Ok(slice)
    }

    pub fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.take(1, what)?[0])
    }

    pub fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        let bytes = self.take(8, what)?;
        let mut array = [0u8; 8];
        array.copy_from_slice(bytes);
        Ok(u64::from_le_bytes(array))
    }

    pub fn string(&mut self, what: &'static str) -> Result<String, DecodeError> {
        Ok(self.str(what)?.to_owned())
    }

    /// A string read in place: it borrows the input rather than allocating.
    pub fn str(&mut self, what: &'static str) -> Result<&'a str, DecodeError> {
        let length_bytes = self.take(4, what)?;
        let mut array = [0u8; 4];
        array.copy_from_slice(length_bytes);
        let length = u32::from_le_bytes(array) as usize;
        let offset = self.offset;
        let bytes = self.take(length, what)?;
        std::str::from_utf8(bytes).map_err(|_| DecodeError::InvalidUtf8 { what, offset })
    }

    /// Reads an element count and checks that `count` elements of at least `min_size` bytes
    /// each can fit in what is left, which bounds the decoding loop by the input size.
    pub fn count(&mut self, what: &'static str, min_size: usize) -> Result<u64, DecodeError> {
        assert!(min_size > 0, "a count of zero-sized {what} bounds nothing");
        let count = self.u64(what)?;
        let remaining = self.remaining();
        if count > (remaining / min_size) as u64 {
            return Err(DecodeError::CountTooLarge {
                what,
                count,
                remaining,
            });
        }
        Ok(count)
    }

    pub fn finish(&self, what: &'static str) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(DecodeError::TrailingBytes { what, count }),
        }
    }
}

/// The start of a snapshot: four bytes of magic, then a one-byte format version.
pub fn put_header(sink: &mut impl Sink, magic: &[u8; 4], version: u8) {
    sink.put(magic);
    sink.put_u8(version);
}

/// Reads what [`put_header`] wrote: `what` names the snapshot in the error when the magic is
/// another's, `format` when the version is one this code does not read.
pub fn read_header(
    reader: &mut Reader<'_>,
    magic: &[u8; 4],
    version: u8,
    (what, format): (&'static str, &'static str),
) -> Result<(), DecodeError> {
    if reader.take(4, "snapshot magic")? != magic {
        return Err(DecodeError::BadMagic { what });
    }
    let found = reader.u8("snapshot version")?;
    if found != version {
        return Err(DecodeError::UnsupportedVersion {
            what: format,
            version: found,
        });
    }
    Ok(())
}

const OP_GET: u8 = 0;
const OP_PUT: u8 = 1;
const OP_APPEND: u8 = 2;
const OP_CAS: u8 = 3;

pub fn put_op(sink: &mut impl Sink, op: OpView<'_>) {
    match op {
        OpView::Get { key } => {
            sink.put_u8(OP_GET);
            sink.put_str(key);
        }
        OpView::Put { key, value } => {
            sink.put_u8(OP_PUT);
            sink.put_str(key);
            sink.put_str(value);
        }
        OpView::Append { key, value } => {
            sink.put_u8(OP_APPEND);
            sink.put_str(key);
            sink.put_str(value);
        }
        OpView::Cas { key, expected, new } => {
            sink.put_u8(OP_CAS);
            sink.put_str(key);
            sink.put_str(expected);
            sink.put_str(new);
        }
    }
}

pub fn read_op(reader: &mut Reader<'_>) -> Result<Op, DecodeError> {
    Ok(read_op_view(reader)?.to_owned())
}

/// [`read_op`] without allocating: the operation's strings borrow the input.
pub fn read_op_view<'a>(reader: &mut Reader<'a>) -> Result<OpView<'a>, DecodeError> {
    let offset = reader.offset();
    let op = match reader.u8("operation tag")? {
        OP_GET => OpView::Get {
            key: reader.str("key")?,
        },
        OP_PUT => OpView::Put {
            key: reader.str("key")?,
            value: reader.str("value")?,
        },
        OP_APPEND => OpView::Append {
            key: reader.str("key")?,
            value: reader.str("value")?,
        },
        OP_CAS => OpView::Cas {
            key: reader.str("key")?,
            expected: reader.str("expected value")?,
            new: reader.str("new value")?,
        },
        tag => {
            return Err(DecodeError::UnknownTag {
                what: "operation",
                tag,
                offset,
            });
        }
    };
    Ok(op)
}

const RESULT_VALUE: u8 = 0;
const RESULT_WRITTEN: u8 = 1;
const RESULT_CAS_FAILED: u8 = 2;
const RESULT_CAS_SWAPPED: u8 = 3;

pub fn put_result(sink: &mut impl Sink, result: &OpResult) {
    match result {
        OpResult::Value(value) => {
            sink.put_u8(RESULT_VALUE);
            sink.put_str(value);
        }
        OpResult::Written => sink.put_u8(RESULT_WRITTEN),
        OpResult::Cas(false) => sink.put_u8(RESULT_CAS_FAILED),
        OpResult::Cas(true) => sink.put_u8(RESULT_CAS_SWAPPED),
    }
}

pub fn read_result(reader: &mut Reader<'_>) -> Result<OpResult, DecodeError> {
    let offset = reader.offset();
    let result = match reader.u8("result tag")? {
        RESULT_VALUE => OpResult::Value(reader.string("result value")?),
        RESULT_WRITTEN => OpResult::Written,
        RESULT_CAS_FAILED => OpResult::Cas(false),
        RESULT_CAS_SWAPPED => OpResult::Cas(true),
        tag => {
            return Err(DecodeError::UnknownTag {
                what: "result",
                tag,
                offset,
            });
        }
    };
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_matches_the_reference_vector() {
        // FNV-1a 64 of "a" from the reference test suite.
        let mut hash = Fnv64::new();
        hash.put(b"a");
        assert_eq!(hash.finish(), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn string_length_past_the_end_is_truncated_not_a_panic() {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&u32::MAX.to_le_bytes());
        bytes.extend_from_slice(b"abc");
        let error = Reader::new(&bytes).string("key").unwrap_err();
        let expected = DecodeError::Truncated {
            what: "key",
            offset: 4,
            needed: u32::MAX as usize,
            remaining: 3,
        };
        assert_eq!(error, expected);
    }

    #[test]
    fn huge_count_is_rejected_before_looping() {
        let bytes = u64::MAX.to_le_bytes();
        let error = Reader::new(&bytes).count("entries", 8).unwrap_err();
        assert_eq!(
            error,
            DecodeError::CountTooLarge {
                what: "entries",
                count: u64::MAX,
                remaining: 0
            }
        );
    }
}
