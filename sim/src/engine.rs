//! The event queue: a binary min-heap ordered by time, ties broken by insertion order.
//!
//! Only events the platform generates itself (completions and timers) live here. Trace arrivals
//! stay in their sorted input stream and are merged with the heap by the driver, so the heap holds
//! O(live sandboxes + running invocations) entries however long the trace is.
//!
//! Events are never removed from the heap. A timer that is no longer wanted is left to fire and
//! recognised as stale by its generation counter (see [`crate::controller`]), which is cheaper
//! than a heap with deletion.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use workloads::Time;

struct Scheduled<E> {
    /// Time in the high 64 bits, insertion order in the low: a total order, which is what makes
    /// runs reproducible, compared in one operation.
    key: u128,
    event: E,
}

impl<E> PartialEq for Scheduled<E> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl<E> Eq for Scheduled<E> {}

impl<E> PartialOrd for Scheduled<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<E> Ord for Scheduled<E> {
    /// Reversed, so that `BinaryHeap` (a max-heap) pops the earliest event first.
    fn cmp(&self, other: &Self) -> Ordering {
        other.key.cmp(&self.key)
    }
}

/// A priority queue of future events.
pub struct EventQueue<E> {
    heap: BinaryHeap<Scheduled<E>>,
    next_seq: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            next_seq: 0,
        }
    }
}

impl<E> EventQueue<E> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, time: Time, event: E) {
        let key = (u128::from(time) << 64) | u128::from(self.next_seq);
        self.next_seq += 1;
        self.heap.push(Scheduled { key, event });
    }

    pub fn peek_time(&self) -> Option<Time> {
        self.heap.peek().map(|s| (s.key >> 64) as Time)
    }

    pub fn pop(&mut self) -> Option<(Time, E)> {
        self.heap.pop().map(|s| ((s.key >> 64) as Time, s.event))
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
    fn pops_in_time_order_with_fifo_ties() {
        let mut q = EventQueue::new();
        q.push(30, 'a');
        q.push(10, 'b');
        q.push(20, 'c');
        q.push(10, 'd');
        q.push(10, 'e');
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(
            order,
            vec![(10, 'b'), (10, 'd'), (10, 'e'), (20, 'c'), (30, 'a')]
        );
        assert!(q.is_empty());
    }

    #[test]
    fn matches_a_sorted_order_on_many_interleaved_operations() {
        // A linear congruential sequence of times, pushed and popped in bursts; every pop must
        // return the smallest (time, insertion) pair still queued.
        let mut q = EventQueue::new();
        let mut reference: Vec<(Time, u64)> = Vec::new();
        let mut x: u64 = 12345;
        let mut seq = 0;
        for round in 0..2_000 {
            for _ in 0..(round % 7) {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let t = (x >> 33) % 1000;
                q.push(t, seq);
                reference.push((t, seq));
                seq += 1;
            }
            for _ in 0..(round % 5) {
                reference.sort_unstable();
                let expected = (!reference.is_empty()).then(|| reference.remove(0));
                assert_eq!(q.pop(), expected);
            }
        }
        reference.sort_unstable();
        let rest: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(rest, reference);
    }
}
