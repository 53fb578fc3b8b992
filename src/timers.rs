//! The timer queue: a min-heap ordered by `(deadline, seq)`, so equal deadlines
//! fire in scheduling order (T2), with lazy purging of cancelled entries (T6).

use std::cmp::Ordering as CmpOrdering;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;

use crate::handle::HandleState;

/// Purge when at least this many timers are queued and more than half of them
/// are cancelled (asyncio's `_MIN_SCHEDULED_TIMER_HANDLES` and
/// `_MIN_CANCELLED_TIMER_HANDLES_FRACTION`).
const MIN_PURGE: usize = 100;

pub(crate) struct TimerEntry {
    /// Nanoseconds since the loop's epoch.
    pub(crate) deadline: i64,
    seq: u64,
    pub(crate) state: Arc<HandleState>,
    pub(crate) callback: Box<dyn FnOnce()>,
}

impl PartialEq for TimerEntry {
    fn eq(&self, other: &Self) -> bool {
        (self.deadline, self.seq) == (other.deadline, other.seq)
    }
}
impl Eq for TimerEntry {}
impl PartialOrd for TimerEntry {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}
impl Ord for TimerEntry {
    // Reversed, so the std max-heap pops the earliest (deadline, seq) first.
    fn cmp(&self, other: &Self) -> CmpOrdering {
        (other.deadline, other.seq).cmp(&(self.deadline, self.seq))
    }
}

pub(crate) struct TimerQueue {
    heap: BinaryHeap<TimerEntry>,
    seq: u64,
    cancelled: Arc<AtomicIsize>,
    /// Cancelled entries taken out of the heap and not yet dropped. The loop
    /// drops them with [`take_dead`](Self::take_dead) once it holds no borrow,
    /// since a callback's captures may touch the loop in their `Drop`.
    dead: Vec<TimerEntry>,
}

impl TimerQueue {
    pub(crate) fn new() -> Self {
        TimerQueue {
            heap: BinaryHeap::new(),
            seq: 0,
            cancelled: Arc::new(AtomicIsize::new(0)),
            dead: Vec::new(),
        }
    }

    /// The counter that cancelled timer handles bump.
    pub(crate) fn cancel_counter(&self) -> Arc<AtomicIsize> {
        self.cancelled.clone()
    }

    pub(crate) fn push(
        &mut self,
        deadline: i64,
        state: Arc<HandleState>,
        callback: Box<dyn FnOnce()>,
    ) {
        self.seq += 1;
        self.heap.push(TimerEntry {
            deadline,
            seq: self.seq,
            state,
            callback,
        });
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    /// The deadline of the earliest timer that is still live; cancelled heads
    /// are removed on the way (see [`take_dead`](Self::take_dead)), so the poll
    /// timeout never comes from one.
    pub(crate) fn next_deadline(&mut self) -> Option<i64> {
        while let Some(head) = self.heap.peek() {
            if head.state.is_cancelled() {
                if let Some(e) = self.heap.pop() {
                    self.dead.push(e);
                }
                self.cancelled.fetch_sub(1, Ordering::Relaxed);
            } else {
                return Some(head.deadline);
            }
        }
        None
    }

    /// Pops the earliest entry if it is due at `now` (cancelled or not; the
    /// caller skips cancelled ones when it runs them).
    pub(crate) fn pop_due(&mut self, now: i64) -> Option<TimerEntry> {
        if self.heap.peek()?.deadline <= now {
            let e = self.heap.pop()?;
            if e.state.is_cancelled() {
                self.cancelled.fetch_sub(1, Ordering::Relaxed);
            }
            Some(e)
        } else {
            None
        }
    }

    /// Removes cancelled entries when they are more than half of a large heap
    /// (see [`take_dead`](Self::take_dead)).
    pub(crate) fn maybe_purge(&mut self) {
        let len = self.heap.len();
        let cancelled = self.cancelled.load(Ordering::Relaxed).max(0) as usize;
        if len >= MIN_PURGE && cancelled * 2 > len {
            let (keep, dead): (Vec<_>, Vec<_>) = std::mem::take(&mut self.heap)
                .into_vec()
                .into_iter()
                .partition(|e| !e.state.is_cancelled());
            self.heap = BinaryHeap::from(keep);
            self.cancelled
                .fetch_sub(dead.len() as isize, Ordering::Relaxed);
            self.dead.extend(dead);
        }
    }

    /// Hands over the cancelled entries removed so far, for the caller to drop
    /// once it no longer borrows the loop.
    pub(crate) fn take_dead(&mut self) -> Vec<TimerEntry> {
        std::mem::take(&mut self.dead)
    }

    /// Empties the queue (loop close); the callbacks are returned so they can be
    /// dropped outside any borrow of the loop.
    pub(crate) fn drain(&mut self) -> Vec<TimerEntry> {
        self.cancelled.store(0, Ordering::Relaxed);
        let mut all = std::mem::take(&mut self.heap).into_vec();
        all.append(&mut self.dead);
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::panic::Location;
    use std::rc::Rc;

    fn state(q: &TimerQueue) -> Arc<HandleState> {
        HandleState::new(Location::caller(), Some(q.cancel_counter()))
    }

    #[test]
    fn t2_equal_deadlines_pop_in_scheduling_order() {
        let mut q = TimerQueue::new();
        let order = Rc::new(RefCell::new(Vec::new()));
        for i in 0..20 {
            let o = order.clone();
            let s = state(&q);
            q.push(5, s, Box::new(move || o.borrow_mut().push(i)));
        }
        while let Some(e) = q.pop_due(5) {
            (e.callback)();
        }
        assert_eq!(*order.borrow(), (0..20).collect::<Vec<_>>());
    }

    #[test]
    fn t6_next_deadline_skips_cancelled_head() {
        let mut q = TimerQueue::new();
        let s5 = state(&q);
        q.push(5, s5.clone(), Box::new(|| {}));
        q.push(10, state(&q), Box::new(|| {}));
        crate::Handle { state: s5 }.cancel();
        assert_eq!(q.next_deadline(), Some(10));
        assert_eq!(q.len(), 1);
    }

    #[test]
    fn t6_purges_when_more_than_half_cancelled() {
        let mut q = TimerQueue::new();
        let mut states = Vec::new();
        for i in 0..200 {
            let s = state(&q);
            states.push(s.clone());
            q.push(i, s, Box::new(|| {}));
        }
        for s in states.iter().take(101) {
            crate::Handle { state: s.clone() }.cancel();
        }
        q.maybe_purge();
        assert_eq!(q.len(), 99);
        assert_eq!(q.cancelled.load(Ordering::Relaxed), 0);
    }
}
