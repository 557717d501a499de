//! The event queue: a binary heap ordered by (time, insertion sequence), so events at the same
//! virtual time run in the order they were scheduled, on every machine.
//!
//! The heap holds only small keys; event payloads sit in a slab and are never moved while the
//! heap reorders, which keeps the per-event cost flat whatever the payload's size.
//!
//! A pop leaves its key at the root as a hole instead of restoring the heap at once: most
//! events schedule another (a delivery answers, a timer re-arms), and that push then fills the
//! hole in one pass, where a pop and a push would each restore the heap. Keys are unique,
//! so the order events come out in is the keys' order whatever shape the heap has.

/// Upper bound on pending events; a run that exceeds it has a runaway feedback loop. It is also
/// the number of slab slots a key can name.
pub const QUEUE_CAPACITY_MAX: usize = 1 << SLOT_BITS;

/// A key packs (time, insertion sequence, slab slot) into one `u128`, so the heap orders by one
/// integer comparison: time in the high 64 bits, then the sequence, then the slot (unique per
/// pending event, so it never decides an order the sequence has not).
const SLOT_BITS: u32 = 24;
const SEQ_MAX: u64 = (1 << (64 - SLOT_BITS)) - 1;

/// Up to this many keys, [`EventQueue::fill_from`] sifts down comparing as it goes.
const SMALL_HEAP: usize = 16;

#[inline]
fn key(time_ns: u64, seq: u64, slot: u32) -> u128 {
    (u128::from(time_ns) << 64) | u128::from(seq << SLOT_BITS) | u128::from(slot)
}

pub struct EventQueue<E> {
    /// A binary min-heap of keys.
    heap: Vec<u128>,
    /// The root key is the last one popped (its event already taken), waiting to be replaced
    /// by the next push or removed by the next pop.
    hole: bool,
    slots: Vec<Option<E>>,
    /// The slot freed last, handed out first: most pops are followed by a push, and this keeps
    /// that pair off the free list.
    spare: Option<u32>,
    free_slots: Vec<u32>,
    next_seq: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self {
            heap: Vec::new(),
            hole: false,
            slots: Vec::new(),
            spare: None,
            free_slots: Vec::new(),
            next_seq: 0,
        }
    }
}

impl<E> EventQueue<E> {
    #[inline(always)]
    pub fn push(&mut self, time_ns: u64, event: E) {
        assert!(
            self.next_seq <= SEQ_MAX,
            "more than {SEQ_MAX} events queued in one run"
        );
        let slot = match self.spare.take().or_else(|| self.free_slots.pop()) {
            Some(slot) => {
                self.slots[slot as usize] = Some(event);
                slot
            }
            None => {
                // Every pending event holds a slot of its own, so the slab bounds the queue.
                assert!(
                    self.slots.len() < QUEUE_CAPACITY_MAX,
                    "event queue over its bound of {QUEUE_CAPACITY_MAX} events"
                );
                self.slots.push(Some(event));
                (self.slots.len() - 1) as u32
            }
        };
        let seq = self.next_seq;
        // Cannot wrap: the sequence was checked against `SEQ_MAX` above.
        self.next_seq = seq.wrapping_add(1);
        let key = key(time_ns, seq, slot);
        if self.hole {
            self.hole = false;
            self.fill_from(0, key);
        } else {
            self.heap.push(key);
            self.sift_up(self.heap.len() - 1, key);
        }
    }

    #[inline]
    pub fn pop(&mut self) -> Option<(u64, E)> {
        if std::mem::replace(&mut self.hole, false) {
            let last = self
                .heap
                .pop()
                .expect("a hole is the root of a non-empty heap");
            if !self.heap.is_empty() {
                self.fill_from(0, last);
            }
        }
        let key = *self.heap.first()?;
        self.hole = true;
        let slot = (key as u32) & ((1 << SLOT_BITS) - 1);
        if let Some(older) = self.spare.replace(slot) {
            self.free_slots.push(older);
        }
        let event = self.slots[slot as usize]
            .take()
            .expect("a queued key has its event");
        Some(((key >> 64) as u64, event))
    }

    pub fn peek_time_ns(&self) -> Option<u64> {
        let keys = &self.heap;
        let next = if self.hole {
            // Under the hole, the smallest live key is one of the root's two children.
            keys.get(1..3.min(keys.len()))?.iter().min()
        } else {
            keys.first()
        };
        next.map(|key| (key >> 64) as u64)
    }

    /// Puts `key` into the heap through the empty position `pos`.
    ///
    /// Two ways, by the heap's size. On a handful of keys (echo's five in flight), smaller
    /// children move up only while they are earlier than `key`: the fewest instructions. On
    /// hundreds (a Raft cluster's messages and timers), the smaller child moves up until the
    /// empty position is a leaf, picked without a branch, and `key` then rises from there:
    /// which child is smaller cannot be predicted, and pushed keys are mostly later than most
    /// queued ones, so they rise little (callgrind's branch model: fewer mispredictions than
    /// the standard library's heap on the standard run).
    #[inline(always)]
    fn fill_from(&mut self, mut pos: usize, key: u128) {
        let keys = self.heap.as_mut_slice();
        let len = keys.len();
        if len <= SMALL_HEAP {
            loop {
                let left = 2 * pos + 1;
                let Some(&left_key) = keys.get(left) else {
                    break;
                };
                let (child, child_key) = match keys.get(left + 1) {
                    Some(&right_key) if right_key < left_key => (left + 1, right_key),
                    _ => (left, left_key),
                };
                if child_key >= key {
                    break;
                }
                keys[pos] = child_key;
                pos = child;
            }
            keys[pos] = key;
            return;
        }
        loop {
            let left = 2 * pos + 1;
            if left + 1 < len {
                let child = left + usize::from(keys[left + 1] < keys[left]);
                keys[pos] = keys[child];
                pos = child;
            } else {
                if left < len {
                    keys[pos] = keys[left];
                    pos = left;
                }
                break;
            }
        }
        self.sift_up(pos, key);
    }

    /// Puts `key` at the empty position `pos` or, while it is earlier than its parent, higher.
    #[inline(always)]
    fn sift_up(&mut self, mut pos: usize, key: u128) {
        let keys = &mut self.heap;
        while pos > 0 {
            let parent = (pos - 1) / 2;
            if keys[parent] <= key {
                break;
            }
            keys[pos] = keys[parent];
            pos = parent;
        }
        keys[pos] = key;
    }

    pub fn len(&self) -> usize {
        self.heap.len() - usize::from(self.hole)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_by_time_then_insertion() {
        let mut queue = EventQueue::default();
        queue.push(20, "c");
        queue.push(10, "a");
        queue.push(20, "d");
        queue.push(10, "b");
        let order: Vec<_> = std::iter::from_fn(|| queue.pop()).collect();
        assert_eq!(order, vec![(10, "a"), (10, "b"), (20, "c"), (20, "d")]);
    }

    #[test]
    fn pops_and_pushes_in_any_mix_keep_key_order() {
        // A reference run against a sorted list, with pops leaving holes that pushes fill.
        let mut queue = EventQueue::default();
        let mut reference: Vec<(u64, u64)> = Vec::new();
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next_id = 0u64;
        for _ in 0..5_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            if state.is_multiple_of(3) {
                let expected = (!reference.is_empty()).then(|| reference.remove(0));
                assert_eq!(queue.peek_time_ns(), expected.map(|(time, _)| time));
                assert_eq!(queue.pop(), expected);
            } else {
                let time = state % 64;
                queue.push(time, next_id);
                let at = reference.partition_point(|&(t, _)| t <= time);
                reference.insert(at, (time, next_id));
                next_id += 1;
            }
            assert_eq!(queue.len(), reference.len());
            assert_eq!(
                queue.peek_time_ns(),
                reference.first().map(|&(time, _)| time)
            );
        }
    }

    #[test]
    fn slots_are_reused_without_mixing_events() {
        let mut queue = EventQueue::default();
        for round in 0..100u64 {
            queue.push(1_000 + round, round * 10 + 1);
            queue.push(round, round * 10);
            assert_eq!(queue.pop(), Some((round, round * 10)));
        }
        assert!(
            queue.slots.len() <= 101,
            "slab grew to {}",
            queue.slots.len()
        );
        let rest: Vec<_> = std::iter::from_fn(|| queue.pop()).map(|(_, e)| e).collect();
        assert_eq!(rest, (0..100).map(|r| r * 10 + 1).collect::<Vec<_>>());
    }
}
