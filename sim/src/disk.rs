//! Simulated disks. Writes are buffered until the node syncs; a sync completes after a latency
//! and makes durable exactly the writes issued before it. A crash loses every unsynced write
//! and, with the configured probability, tears the last unsynced append: a strict prefix of its
//! bytes lands at the end of the file, as a half-finished write would. Nodes must frame and
//! checksum what they store if they want to survive that.

use std::borrow::Cow;
use std::collections::VecDeque;

/// Files are named by static strings (`"hardstate"`, `"log"`, ...).
pub type FileName = &'static str;

/// Bound on buffered writes per disk: a node that never syncs is a bug.
pub const PENDING_WRITES_MAX: usize = 1_000_000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiskWrite {
    /// Append bytes at the end of the file.
    Append { file: FileName, bytes: Vec<u8> },
    /// Replace the whole file (an atomic rename: never torn).
    Replace { file: FileName, bytes: Vec<u8> },
    /// Cut the file to `len` bytes.
    Truncate { file: FileName, len: usize },
}

impl DiskWrite {
    fn file(&self) -> FileName {
        match self {
            DiskWrite::Append { file, .. }
            | DiskWrite::Replace { file, .. }
            | DiskWrite::Truncate { file, .. } => file,
        }
    }

    /// Applies the write, taking its bytes.
    fn apply_to(self, files: &mut Files) {
        match self {
            DiskWrite::Append { file, bytes } => files.entry(file).extend_from_slice(&bytes),
            DiskWrite::Replace { file, bytes } => *files.entry(file) = bytes,
            DiskWrite::Truncate { file, len } => {
                if let Some(content) = files.get_mut(file) {
                    content.truncate(len);
                }
            }
        }
    }
}

/// A disk's files: a node keeps a handful, so a short list searched by name (the same static
/// string almost always, so mostly a pointer comparison) beats a map.
#[derive(Clone, Debug, Default)]
struct Files {
    files: Vec<(FileName, Vec<u8>)>,
}

#[inline]
fn same_name(a: FileName, b: FileName) -> bool {
    std::ptr::eq(a, b) || a == b
}

impl Files {
    #[inline]
    fn get(&self, file: FileName) -> Option<&Vec<u8>> {
        self.files
            .iter()
            .find(|(name, _)| same_name(name, file))
            .map(|(_, content)| content)
    }

    #[inline]
    fn get_mut(&mut self, file: FileName) -> Option<&mut Vec<u8>> {
        self.files
            .iter_mut()
            .find(|(name, _)| same_name(name, file))
            .map(|(_, content)| content)
    }

    /// The file's content, created empty if it does not exist.
    #[inline]
    fn entry(&mut self, file: FileName) -> &mut Vec<u8> {
        let position = match self
            .files
            .iter()
            .position(|(name, _)| same_name(name, file))
        {
            Some(position) => position,
            None => {
                self.files.push((file, Vec::new()));
                self.files.len() - 1
            }
        };
        &mut self.files[position].1
    }

    /// The file names, in order.
    fn names(&self) -> Vec<FileName> {
        let mut names: Vec<FileName> = self.files.iter().map(|(name, _)| *name).collect();
        names.sort_unstable();
        names
    }
}

/// What a crash destroyed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CrashLoss {
    pub writes_lost: usize,
    /// Bytes of a torn append that reached the disk anyway.
    pub torn_bytes: usize,
}

#[derive(Clone, Debug, Default)]
pub struct Disk {
    durable: Files,
    /// Unsynced writes with their sequence numbers, oldest first.
    pending: VecDeque<(u64, DiskWrite)>,
    next_write_seq: u64,
}

impl Disk {
    /// The file as the node sees it: durable content plus its own unsynced writes.
    pub fn read(&self, file: FileName) -> Cow<'_, [u8]> {
        let durable = self.durable.get(file).map_or(&[][..], Vec::as_slice);
        if !self.pending.iter().any(|(_, write)| write.file() == file) {
            return Cow::Borrowed(durable);
        }
        let mut view = Files::default();
        view.entry(file).extend_from_slice(durable);
        for (_, write) in self
            .pending
            .iter()
            .filter(|(_, write)| write.file() == file)
        {
            // Reads are rare (a node reads its disk when it starts): a copy of each write.
            write.clone().apply_to(&mut view);
        }
        Cow::Owned(std::mem::take(view.entry(file)))
    }

    /// The file as it would be after a crash without tearing.
    pub fn durable(&self, file: FileName) -> &[u8] {
        self.durable.get(file).map_or(&[][..], Vec::as_slice)
    }

    pub fn files(&self) -> impl Iterator<Item = FileName> + '_ {
        self.durable.names().into_iter()
    }

    pub fn unsynced_writes(&self) -> usize {
        self.pending.len()
    }

    pub(crate) fn write(&mut self, write: DiskWrite) {
        assert!(
            self.pending.len() < PENDING_WRITES_MAX,
            "disk has {} unsynced writes; the node never syncs",
            self.pending.len()
        );
        self.pending.push_back((self.next_write_seq, write));
        self.next_write_seq += 1;
    }

    /// The sequence number a sync issued now will make durable up to (exclusive).
    pub(crate) fn sync_target(&self) -> u64 {
        self.next_write_seq
    }

    /// Makes durable every write issued before the sync whose target is `target`.
    pub(crate) fn complete_sync(&mut self, target: u64) {
        while let Some((seq, _)) = self.pending.front() {
            if *seq >= target {
                break;
            }
            let (_, write) = self.pending.pop_front().expect("front exists");
            write.apply_to(&mut self.durable);
        }
    }

    /// Drops every unsynced write. If `tear_at` is `Some(fraction)` and the last unsynced
    /// write is an append, a strict prefix of `fraction` of it lands at the end of its file.
    pub(crate) fn crash(&mut self, tear_fraction: Option<f64>) -> CrashLoss {
        let mut loss = CrashLoss {
            writes_lost: self.pending.len(),
            torn_bytes: 0,
        };
        if let (Some(fraction), Some((_, DiskWrite::Append { file, bytes }))) =
            (tear_fraction, self.pending.back())
            && bytes.len() > 1
        {
            let kept = ((bytes.len() as f64 * fraction) as usize).clamp(1, bytes.len() - 1);
            self.durable.entry(file).extend_from_slice(&bytes[..kept]);
            loss.torn_bytes = kept;
        }
        self.pending.clear();
        loss
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn append(file: FileName, bytes: &[u8]) -> DiskWrite {
        DiskWrite::Append {
            file,
            bytes: bytes.to_vec(),
        }
    }

    #[test]
    fn reads_see_unsynced_writes_and_sync_makes_them_durable() {
        let mut disk = Disk::default();
        disk.write(append("log", b"ab"));
        assert_eq!(&*disk.read("log"), b"ab");
        assert_eq!(disk.durable("log"), b"");
        let target = disk.sync_target();
        disk.write(append("log", b"cd"));
        disk.complete_sync(target);
        assert_eq!(disk.durable("log"), b"ab");
        assert_eq!(&*disk.read("log"), b"abcd");
    }

    #[test]
    fn crash_keeps_a_strict_prefix_of_a_torn_append() {
        let mut disk = Disk::default();
        disk.write(append("log", b"ab"));
        disk.complete_sync(disk.sync_target());
        disk.write(DiskWrite::Replace {
            file: "hs",
            bytes: b"x".to_vec(),
        });
        disk.write(append("log", b"0123456789"));
        let loss = disk.crash(Some(0.5));
        assert_eq!(
            loss,
            CrashLoss {
                writes_lost: 2,
                torn_bytes: 5
            }
        );
        assert_eq!(disk.durable("log"), b"ab01234");
        assert_eq!(disk.durable("hs"), b"");
    }

    #[test]
    fn truncate_and_replace_apply_in_order() {
        let mut disk = Disk::default();
        disk.write(append("log", b"abcdef"));
        disk.write(DiskWrite::Truncate {
            file: "log",
            len: 2,
        });
        disk.write(append("log", b"z"));
        disk.write(DiskWrite::Replace {
            file: "hs",
            bytes: b"t1".to_vec(),
        });
        assert_eq!(&*disk.read("log"), b"abz");
        disk.complete_sync(disk.sync_target());
        assert_eq!(disk.durable("log"), b"abz");
        assert_eq!(disk.durable("hs"), b"t1");
    }
}
