//! The search's memo: the (set of linearized operations, model state) pairs already explored,
//! kept in memory that grows with the search's concurrency, not with the partition's length.
//!
//! A linearized set is stored as its frontier and its window. Rank the operations by the
//! position of their return entry (indefinite operations, which have none, after all others).
//! The frontier is the smallest rank not in the set: every operation ranked below it is in the
//! set. The window is the set's operations ranked above the frontier: they were linearized ahead
//! of an operation that returns earlier, so they overlap it in time, and there are only as many as
//! the history has operations in flight at once (plus the indefinite ones linearized). The pair
//! (frontier, window) is the set exactly; a 64-bit Zobrist hash of the set, updated in O(1) per
//! step, finds candidates in the table, and the pair then decides equality exactly, so a hash
//! collision never merges two different sets.

use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::mem::size_of;

use indexmap::{Equivalent, IndexSet};

/// A small fixed multiplicative hasher (the Fx hash of rustc): fast on short keys and the same
/// in every process, so the memo behaves identically in every run.
#[derive(Clone, Copy, Debug, Default)]
pub struct FxHasher {
    hash: u64,
}

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(FX_SEED);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        for &byte in chunks.remainder() {
            self.add(u64::from(byte));
        }
    }

    fn write_u8(&mut self, value: u8) {
        self.add(u64::from(value));
    }

    fn write_u64(&mut self, value: u64) {
        self.add(value);
    }

    fn write_usize(&mut self, value: usize) {
        self.add(value as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

pub type FxBuildHasher = BuildHasherDefault<FxHasher>;

/// A fixed pseudo-random 64-bit key per operation (SplitMix64 of its index), the same in every
/// process, so that the memo behaves identically in every run.
fn zobrist(operation: usize) -> u64 {
    let mut z = (operation as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The set of operations linearized (or decided never to happen) on the search's current path.
#[derive(Clone)]
pub(crate) struct LinearizedSet {
    member: Vec<bool>,
    /// Rank of each operation: its return entry's position among return entries.
    rank: Vec<u32>,
    hash: u64,
    /// The smallest rank not in the set.
    frontier: u32,
    /// Ranks in the set above `frontier`, in descending order (the smallest last).
    window: Vec<u32>,
}

impl LinearizedSet {
    /// `rank` must be a permutation of `0..rank.len()`.
    pub(crate) fn new(rank: Vec<u32>) -> LinearizedSet {
        assert!(
            u32::try_from(rank.len()).is_ok(),
            "{} operations do not fit 32-bit ranks",
            rank.len()
        );
        LinearizedSet {
            member: vec![false; rank.len()],
            rank,
            hash: 0,
            frontier: 0,
            window: Vec::new(),
        }
    }

    pub(crate) fn contains(&self, operation: usize) -> bool {
        self.member[operation]
    }

    pub(crate) fn insert(&mut self, operation: usize) {
        assert!(
            !self.member[operation],
            "operation {operation} is linearized twice"
        );
        self.member[operation] = true;
        self.hash ^= zobrist(operation);
        let rank = self.rank[operation];
        if rank == self.frontier {
            self.frontier += 1;
            while self.window.last() == Some(&self.frontier) {
                self.window.pop();
                self.frontier += 1;
            }
        } else {
            assert!(rank > self.frontier, "rank {rank} is below the frontier");
            let position = self.window.partition_point(|&other| other > rank);
            self.window.insert(position, rank);
        }
    }

    /// Undoes the `insert` of `operation`; removals come in the reverse order of insertions.
    pub(crate) fn remove(&mut self, operation: usize) {
        assert!(
            self.member[operation],
            "operation {operation} is not linearized"
        );
        self.member[operation] = false;
        self.hash ^= zobrist(operation);
        let rank = self.rank[operation];
        if rank < self.frontier {
            // The insert moved the frontier from `rank` over a run of ranks that were in the
            // window: put them back, largest first, so the smallest ends last.
            for back in (rank + 1..self.frontier).rev() {
                self.window.push(back);
            }
            self.frontier = rank;
        } else {
            let position = self.window.partition_point(|&other| other > rank);
            assert_eq!(self.window.get(position), Some(&rank), "rank not in window");
            self.window.remove(position);
        }
    }
}

/// The set with one more operation, seen without changing the set: the memo is asked about it
/// at almost every step, and most answers are "seen", after which the set would have to be
/// changed back.
pub(crate) struct WithOne<'s> {
    set: &'s LinearizedSet,
    hash: u64,
    frontier: u32,
    /// The window is `set.window[..keep]`, with `rank` inserted at `at` when given.
    keep: usize,
    inserted: Option<(usize, u32)>,
}

impl LinearizedSet {
    /// This set with `operation` added, as `insert` would make it.
    pub(crate) fn with_one(&self, operation: usize) -> WithOne<'_> {
        assert!(
            !self.member[operation],
            "operation {operation} is linearized twice"
        );
        let rank = self.rank[operation];
        let hash = self.hash ^ zobrist(operation);
        if rank == self.frontier {
            // The frontier moves past the run of window ranks right above it (at the end).
            let mut frontier = rank + 1;
            let mut keep = self.window.len();
            while keep > 0 && self.window[keep - 1] == frontier {
                keep -= 1;
                frontier += 1;
            }
            return WithOne {
                set: self,
                hash,
                frontier,
                keep,
                inserted: None,
            };
        }
        let at = self.window.partition_point(|&other| other > rank);
        WithOne {
            set: self,
            hash,
            frontier: self.frontier,
            keep: self.window.len(),
            inserted: Some((at, rank)),
        }
    }
}

impl WithOne<'_> {
    fn window_len(&self) -> usize {
        self.keep + usize::from(self.inserted.is_some())
    }

    fn window_equals(&self, stored: &[u32]) -> bool {
        let window = &self.set.window[..self.keep];
        match self.inserted {
            None => stored == window,
            Some((at, rank)) => {
                stored.len() == window.len() + 1
                    && stored[..at] == window[..at]
                    && stored[at] == rank
                    && stored[at + 1..] == window[at..]
            }
        }
    }
}

struct MemoKey<S> {
    set_hash: u64,
    frontier: u32,
    window_start: u32,
    window_len: u32,
    state: S,
}

// The key and the probe hash the same fields, as `Equivalent` requires; window and frontier are
// compared only, the Zobrist hash already stands for the whole set.
impl<S: Hash> Hash for MemoKey<S> {
    fn hash<H: Hasher>(&self, hasher: &mut H) {
        hasher.write_u64(self.set_hash);
        self.state.hash(hasher);
    }
}

impl<S: Eq> PartialEq for MemoKey<S> {
    fn eq(&self, other: &Self) -> bool {
        self.set_hash == other.set_hash
            && self.frontier == other.frontier
            && self.window_start == other.window_start
            && self.window_len == other.window_len
            && self.state == other.state
    }
}

impl<S: Eq> Eq for MemoKey<S> {}

struct MemoProbe<'a, S> {
    set: &'a WithOne<'a>,
    windows: &'a [u32],
    state: &'a S,
}

impl<S: Hash> Hash for MemoProbe<'_, S> {
    fn hash<H: Hasher>(&self, hasher: &mut H) {
        hasher.write_u64(self.set.hash);
        self.state.hash(hasher);
    }
}

impl<S: Eq> Equivalent<MemoKey<S>> for MemoProbe<'_, S> {
    fn equivalent(&self, key: &MemoKey<S>) -> bool {
        let start = key.window_start as usize;
        key.set_hash == self.set.hash
            && key.frontier == self.set.frontier
            && key.window_len as usize == self.set.window_len()
            && self
                .set
                .window_equals(&self.windows[start..start + key.window_len as usize])
            && key.state == *self.state
    }
}

/// Bytes per table slot besides the key: the stored hash and the index, with the index table's
/// spare capacity.
const SLOT_OVERHEAD_BYTES: usize = 8 + 16;

/// The memo, with an account of the bytes it holds. The account counts capacities, which grow
/// the same way in every run, so a budget on it is deterministic.
pub(crate) struct Memo<S> {
    table: IndexSet<MemoKey<S>, FxBuildHasher>,
    /// Every key's window, one after another.
    windows: Vec<u32>,
    state_heap_bytes: usize,
}

impl<S: Clone + Eq + Hash> Memo<S> {
    pub(crate) fn new() -> Memo<S> {
        Memo {
            table: IndexSet::default(),
            windows: Vec::new(),
            state_heap_bytes: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether (the set with one more operation, state) was recorded.
    pub(crate) fn contains(&self, set: &WithOne<'_>, state: &S) -> bool {
        self.table.contains(&MemoProbe {
            set,
            windows: &self.windows,
            state,
        })
    }

    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.table.capacity() * (size_of::<MemoKey<S>>() + SLOT_OVERHEAD_BYTES)
            + self.windows.capacity() * size_of::<u32>()
            + self.state_heap_bytes
    }

    /// The bytes after inserting one more key whose state holds `state_heap_bytes` of its own,
    /// counting the growth of the table or the window store if it has to grow.
    pub(crate) fn bytes_after_insert(&self, set: &LinearizedSet, state_heap_bytes: usize) -> usize {
        let slot_bytes = size_of::<MemoKey<S>>() + SLOT_OVERHEAD_BYTES;
        // The table's slots grow by about doubling (hashbrown's buckets, which indexmap's entries
        // follow); one more than double is an upper bound at every size.
        let table_capacity = if self.table.len() == self.table.capacity() {
            (self.table.capacity() * 2 + 1).max(8)
        } else {
            self.table.capacity()
        };
        let windows_needed = self.windows.len() + set.window.len();
        let windows_capacity = if windows_needed > self.windows.capacity() {
            (self.windows.capacity() * 2).max(windows_needed)
        } else {
            self.windows.capacity()
        };
        table_capacity * slot_bytes
            + windows_capacity * size_of::<u32>()
            + self.state_heap_bytes
            + state_heap_bytes
    }

    /// Records (set, state). Returns false when the window store would outgrow 32-bit offsets.
    pub(crate) fn insert(
        &mut self,
        set: &LinearizedSet,
        state: S,
        state_heap_bytes: usize,
    ) -> bool {
        let Ok(window_start) = u32::try_from(self.windows.len()) else {
            return false;
        };
        if u32::try_from(self.windows.len() + set.window.len()).is_err() {
            return false;
        }
        self.windows.extend_from_slice(&set.window);
        self.state_heap_bytes += state_heap_bytes;
        let inserted = self.table.insert(MemoKey {
            set_hash: set.hash,
            frontier: set.frontier,
            window_start,
            window_len: set.window.len() as u32,
            state,
        });
        assert!(inserted, "a memo key was inserted twice");
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::hash::Hash;

    #[test]
    fn fx_hasher_is_fixed() {
        let mut hasher = FxHasher::default();
        "key".hash(&mut hasher);
        let first = hasher.finish();
        let mut again = FxHasher::default();
        "key".hash(&mut again);
        assert_eq!(first, again.finish());
        assert_ne!(first, 0);
    }

    /// Ranks 0..n with operation i at rank i.
    fn set(count: usize) -> LinearizedSet {
        LinearizedSet::new((0..count as u32).collect())
    }

    #[test]
    fn frontier_and_window_describe_the_set() {
        let mut linearized = set(6);
        linearized.insert(2);
        linearized.insert(4);
        assert_eq!(
            (linearized.frontier, linearized.window.clone()),
            (0, vec![4, 2])
        );
        linearized.insert(0);
        linearized.insert(1);
        // 0, 1 and 2 are in: the frontier passes 2 and stops at 3.
        assert_eq!(
            (linearized.frontier, linearized.window.clone()),
            (3, vec![4])
        );
        linearized.remove(1);
        assert_eq!(
            (linearized.frontier, linearized.window.clone()),
            (1, vec![4, 2])
        );
        linearized.remove(0);
        linearized.remove(4);
        linearized.remove(2);
        assert_eq!((linearized.frontier, linearized.window.len()), (0, 0));
        assert_eq!(linearized.hash, 0);
    }

    #[test]
    fn equal_sets_reached_in_different_orders_are_one_memo_entry() {
        let mut memo: Memo<u8> = Memo::new();
        let mut first = set(5);
        first.insert(3);
        first.insert(0);
        assert!(memo.insert(&first, 7, 0));
        let mut second = set(5);
        second.insert(0);
        assert!(memo.contains(&second.with_one(3), &7));
        assert!(!memo.contains(&second.with_one(3), &8));
        assert!(!memo.contains(&second.with_one(1), &7));
    }

    #[test]
    fn a_hash_collision_does_not_merge_different_sets() {
        let mut memo: Memo<u8> = Memo::new();
        let mut first = set(5);
        first.insert(1);
        assert!(memo.insert(&first, 0, 0));
        // Force the same hash on a different set: the exact comparison still tells them apart.
        let mut second = set(5);
        second.hash = first.hash ^ zobrist(2);
        assert_eq!(second.with_one(2).hash, first.hash);
        assert!(!memo.contains(&second.with_one(2), &0));
        assert!(memo.contains(&set(5).with_one(1), &0));
    }

    #[test]
    fn with_one_sees_what_insert_makes() {
        // Random paths of inserts and removals, ranks shuffled: before each insert, the view
        // must equal the set the insert then makes.
        let count = 40;
        let mut random = crate::generate::SplitMix64::new(3);
        for _ in 0..200 {
            let mut rank: Vec<u32> = (0..count as u32).collect();
            for index in (1..count).rev() {
                rank.swap(index, random.below(index as u64 + 1) as usize);
            }
            let mut linearized = LinearizedSet::new(rank);
            let mut path: Vec<usize> = Vec::new();
            for _ in 0..60 {
                if !path.is_empty() && random.below(3) == 0 {
                    linearized.remove(path.pop().expect("a path"));
                    continue;
                }
                let free: Vec<usize> = (0..count).filter(|&op| !linearized.contains(op)).collect();
                let Some(&operation) = free.get(random.below(free.len().max(1) as u64) as usize)
                else {
                    break;
                };
                let view = linearized.with_one(operation);
                let (hash, frontier, length) = (view.hash, view.frontier, view.window_len());
                let mut copy = linearized.clone();
                copy.insert(operation);
                assert!(view.window_equals(&copy.window));
                assert_eq!(
                    (hash, frontier, length),
                    (copy.hash, copy.frontier, copy.window.len())
                );
                linearized.insert(operation);
                path.push(operation);
            }
        }
    }

    #[test]
    fn bytes_grow_with_entries_and_stay_within_the_prediction() {
        let mut memo: Memo<u64> = Memo::new();
        let mut linearized = set(100);
        for operation in (0..100).rev().step_by(3) {
            linearized.insert(operation);
            let predicted = memo.bytes_after_insert(&linearized, 10);
            assert!(memo.insert(&linearized, operation as u64, 10));
            assert!(memo.bytes() <= predicted, "after operation {operation}");
        }
        assert!(memo.bytes() > 34 * 10);
    }
}
