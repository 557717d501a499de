//! The event queue: a binary heap ordered by (time, insertion sequence), so events at the same
//! virtual time run in the order they were scheduled, on every machine.
//!
//! The heap holds only small keys; event payloads sit in a slab and are never moved while the
//! heap reorders, which keeps the per-event cost flat whatever the payload's size.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Upper bound on pending events; a run that exceeds it has a runaway feedback loop. It is also
/// the number of slab slots a key can name.
pub const QUEUE_CAPACITY_MAX: usize = 1 << SLOT_BITS;

/// A key packs (time, insertion sequence, slab slot) into one `u128`, so the heap orders by one
/// integer comparison: time in the high 64 bits, then the sequence, then the slot (unique per
/// pending event, so it never decides an order the sequence has not).
const SLOT_BITS: u32 = 24;
const SEQ_MAX: u64 = (1 << (64 - SLOT_BITS)) - 1;

#[inline]
fn key(time_ns: u64, seq: u64, slot: u32) -> u128 {
    (u128::from(time_ns) << 64) | u128::from(seq << SLOT_BITS) | u128::from(slot)
}

pub struct EventQueue<E> {
    heap: BinaryHeap<Reverse<u128>>,
    slots: Vec<Option<E>>,
    free_slots: Vec<u32>,
    next_seq: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self {
            heap: BinaryHeap::new(),
            slots: Vec::new(),
            free_slots: Vec::new(),
            next_seq: 0,
        }
    }
}

impl<E> EventQueue<E> {
    #[inline]
    pub fn push(&mut self, time_ns: u64, event: E) {
        assert!(
            self.heap.len() < QUEUE_CAPACITY_MAX,
            "event queue over its bound of {QUEUE_CAPACITY_MAX} events"
        );
        assert!(
            self.next_seq <= SEQ_MAX,
            "more than {SEQ_MAX} events queued in one run"
        );
        let slot = match self.free_slots.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(event);
                slot
            }
            None => {
                self.slots.push(Some(event));
                (self.slots.len() - 1) as u32
            }
        };
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Reverse(key(time_ns, seq, slot)));
    }

    #[inline]
    pub fn pop(&mut self) -> Option<(u64, E)> {
        let Reverse(key) = self.heap.pop()?;
        let slot = (key as u32) & ((1 << SLOT_BITS) - 1);
        self.free_slots.push(slot);
        let event = self.slots[slot as usize]
            .take()
            .expect("a queued key has its event");
        Some(((key >> 64) as u64, event))
    }

    pub fn peek_time_ns(&self) -> Option<u64> {
        self.heap.peek().map(|Reverse(key)| (key >> 64) as u64)
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
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
