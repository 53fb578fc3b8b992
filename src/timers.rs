//! The timer queue: a 4-ary min-heap of small keys ordered by `(deadline, seq)`,
//! so equal deadlines fire in scheduling order (T2), with lazy purging of
//! cancelled entries (T6). The callbacks live in a slab; the heap holds only
//! 16-byte keys, so a node's four children share a cache line and a pop at a
//! million timers touches few lines.
//!
//! The queue also owns the loop's [`HandleTable`] (the states of every
//! scheduled callback, timer or not), which shares its cancelled-timers counter.

use std::panic::Location;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;

use slab::Slab;

use crate::handle::{Handle, HandleTable};

/// Purge when at least this many timers are queued and more than half of them
/// are cancelled (asyncio's `_MIN_SCHEDULED_TIMER_HANDLES` and
/// `_MIN_CANCELLED_TIMER_HANDLES_FRACTION`).
const MIN_PURGE: usize = 100;

/// Children per heap node.
const ARITY: usize = 4;

/// A timer taken out of the queue: due, cancelled, or dropped at close.
pub(crate) struct TimerEntry {
    /// The entry's slot in the [`HandleTable`].
    pub(crate) slot: u32,
    pub(crate) created_at: &'static Location<'static>,
    pub(crate) callback: Box<dyn FnOnce()>,
}

/// Cancelled entries taken out of the queue, to be dropped once the loop is
/// no longer borrowed (a callback's captures may touch the loop in `Drop`).
#[derive(Default)]
pub(crate) struct Dead {
    /// Popped one by one.
    entries: Vec<TimerEntry>,
    /// Slabs left holding only cancelled entries by a purge.
    slabs: Vec<Slab<TimerEntry>>,
}

impl Dead {
    fn into_entries(self) -> impl Iterator<Item = TimerEntry> {
        self.entries.into_iter().chain(
            self.slabs
                .into_iter()
                .flat_map(|s| s.into_iter().map(|(_, e)| e)),
        )
    }
}

/// A heap key. Derived `Ord` compares `deadline`, then `tie`, whose high half is
/// the scheduling sequence number, so equal deadlines pop FIFO; the low half is
/// the slab index of the entry (unique among live keys, never decides order).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
struct Key {
    /// The deadline (ns since the loop's epoch) with its sign bit flipped, so
    /// unsigned order is signed order.
    deadline: u64,
    /// `seq << 32 | slot`.
    tie: u64,
}

impl Key {
    fn new(deadline: i64, seq: u32, slot: u32) -> Key {
        Key {
            deadline: (deadline as u64) ^ (1 << 63),
            tie: (u64::from(seq) << 32) | u64::from(slot),
        }
    }

    fn deadline(self) -> i64 {
        (self.deadline ^ (1 << 63)) as i64
    }

    fn slot(self) -> usize {
        (self.tie & u64::from(u32::MAX)) as usize
    }
}

pub(crate) struct TimerQueue {
    /// A 4-ary min-heap: the children of `i` are `4i + 1 ..= 4i + 4`.
    heap: Vec<Key>,
    entries: Slab<TimerEntry>,
    /// The next sequence number. When it reaches `seq_limit`, the live keys are
    /// renumbered `0..len` in order (see [`renumber`](Self::renumber)).
    next_seq: u32,
    seq_limit: u32,
    cancelled: Arc<AtomicIsize>,
    handles: HandleTable,
    /// Cancelled entries taken out of the heap and not yet dropped. The loop
    /// drops them with [`take_dead`](Self::take_dead) once it holds no borrow,
    /// since a callback's captures may touch the loop in their `Drop`.
    dead: Dead,
}

impl TimerQueue {
    pub(crate) fn new() -> Self {
        let cancelled = Arc::new(AtomicIsize::new(0));
        TimerQueue {
            heap: Vec::new(),
            entries: Slab::new(),
            next_seq: 0,
            seq_limit: u32::MAX,
            handles: HandleTable::new(cancelled.clone()),
            cancelled,
            dead: Dead::default(),
        }
    }

    /// The loop's table of callback states (for `call_soon` and for running
    /// callbacks).
    pub(crate) fn handles(&mut self) -> &mut HandleTable {
        &mut self.handles
    }

    /// Queues a timer and returns its handle.
    pub(crate) fn push(
        &mut self,
        deadline: i64,
        callback: Box<dyn FnOnce()>,
        created_at: &'static Location<'static>,
    ) -> Handle {
        if self.next_seq >= self.seq_limit {
            self.renumber();
        }
        let (slot, handle) = self.handles.schedule(true, created_at);
        let slot = self.entries.insert(TimerEntry {
            slot,
            created_at,
            callback,
        });
        let slot = u32::try_from(slot).expect("more than 2^32 timers queued");
        self.heap.push(Key::new(deadline, self.next_seq, slot));
        self.next_seq += 1;
        self.sift_up(self.heap.len() - 1);
        handle
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    fn is_cancelled(&self, key: Key) -> bool {
        self.handles.is_cancelled(self.entries[key.slot()].slot)
    }

    /// The deadline of the earliest timer that is still live; cancelled heads
    /// are removed on the way (see [`take_dead`](Self::take_dead)), so the poll
    /// timeout never comes from one.
    pub(crate) fn next_deadline(&mut self) -> Option<i64> {
        self.maybe_purge();
        while let Some(&head) = self.heap.first() {
            if !self.is_cancelled(head) {
                return Some(head.deadline());
            }
            self.pop_head();
            self.bury(head);
        }
        None
    }

    /// Pops the earliest live entry due at `now`; cancelled ones due on the way
    /// are buried (see [`take_dead`](Self::take_dead)). A cancel after this
    /// returns is uncounted by [`HandleTable::start`].
    pub(crate) fn pop_due(&mut self, now: i64) -> Option<TimerEntry> {
        loop {
            let head = *self.heap.first()?;
            if head.deadline() > now {
                return None;
            }
            self.pop_head();
            if !self.is_cancelled(head) {
                return Some(self.entries.remove(head.slot()));
            }
            self.bury(head);
        }
    }

    /// Moves the cancelled entry of a key already out of the heap to `dead`
    /// and gives its slot back.
    fn bury(&mut self, key: Key) {
        let e = self.entries.remove(key.slot());
        self.handles.release(e.slot);
        self.dead.entries.push(e);
        self.cancelled.fetch_sub(1, Ordering::Relaxed);
    }

    /// Removes cancelled entries when they are more than half of a large heap
    /// (see [`take_dead`](Self::take_dead)).
    pub(crate) fn maybe_purge(&mut self) {
        let len = self.heap.len();
        let cancelled = self.cancelled.load(Ordering::Relaxed).max(0) as usize;
        if len >= MIN_PURGE && cancelled * 2 > len {
            self.purge();
        }
    }

    /// One pass over the slab (in memory order) marks the cancelled entries
    /// in a bitmap; the heap is compacted in place, its survivors (fewer than
    /// half) move to a new slab, and the old slab, now holding only cancelled
    /// entries, is handed to [`take_dead`](Self::take_dead) whole.
    fn purge(&mut self) {
        // The state is read once per entry: a cancel from another thread in
        // between is counted and purged next time.
        let mut marked = vec![0u64; self.entries.capacity().div_ceil(64)];
        let mut removed = 0usize;
        for (slot, e) in self.entries.iter() {
            if self.handles.is_cancelled(e.slot) {
                marked[slot / 64] |= 1 << (slot % 64);
                self.handles.release(e.slot);
                removed += 1;
            }
        }
        if removed == 0 {
            return;
        }
        let survivors = self.entries.len() - removed;
        let mut old = std::mem::replace(&mut self.entries, Slab::with_capacity(survivors));
        let entries = &mut self.entries;
        self.heap.retain_mut(|k| {
            let slot = k.slot();
            if marked[slot / 64] & (1 << (slot % 64)) != 0 {
                return false;
            }
            let moved = entries.insert(old.remove(slot)) as u32;
            k.tie = (k.tie & !u64::from(u32::MAX)) | u64::from(moved);
            true
        });
        self.dead.slabs.push(old);
        self.heapify();
        self.cancelled
            .fetch_sub(removed as isize, Ordering::Relaxed);
    }

    /// Hands over the cancelled entries removed so far, for the caller to drop
    /// once it no longer borrows the loop.
    pub(crate) fn take_dead(&mut self) -> Dead {
        std::mem::take(&mut self.dead)
    }

    /// Empties the queue (loop close); the callbacks are returned so they can be
    /// dropped outside any borrow of the loop.
    pub(crate) fn drain(&mut self) -> Vec<TimerEntry> {
        self.cancelled.store(0, Ordering::Relaxed);
        self.heap.clear();
        let mut all: Vec<TimerEntry> = std::mem::take(&mut self.dead).into_entries().collect();
        all.extend(self.entries.drain());
        all
    }

    /// Renumbers the live keys `0..len` in `(deadline, seq)` order, so the
    /// 32-bit sequence numbers never wrap. A sorted array is a valid heap.
    fn renumber(&mut self) {
        self.heap.sort_unstable();
        for (seq, k) in self.heap.iter_mut().enumerate() {
            let seq = u32::try_from(seq).expect("more than 2^32 timers queued");
            *k = Key::new(k.deadline(), seq, k.slot() as u32);
        }
        self.next_seq = self.heap.len() as u32;
    }

    fn pop_head(&mut self) {
        let last = self.heap.pop();
        if let (Some(last), false) = (last, self.heap.is_empty()) {
            self.heap[0] = last;
            self.sift_down(0);
        }
    }

    fn sift_up(&mut self, mut i: usize) {
        let k = self.heap[i];
        while i > 0 {
            let parent = (i - 1) / ARITY;
            if self.heap[parent] <= k {
                break;
            }
            self.heap[i] = self.heap[parent];
            i = parent;
        }
        self.heap[i] = k;
    }

    fn sift_down(&mut self, mut i: usize) {
        let n = self.heap.len();
        let k = self.heap[i];
        loop {
            let first = i * ARITY + 1;
            if first >= n {
                break;
            }
            let end = (first + ARITY).min(n);
            let mut min = first;
            for c in first + 1..end {
                if self.heap[c] < self.heap[min] {
                    min = c;
                }
            }
            if k <= self.heap[min] {
                break;
            }
            self.heap[i] = self.heap[min];
            i = min;
        }
        self.heap[i] = k;
    }

    fn heapify(&mut self) {
        let n = self.heap.len();
        if n > 1 {
            for i in (0..=(n - 2) / ARITY).rev() {
                self.sift_down(i);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::panic::Location;
    use std::rc::Rc;

    fn push_nop(q: &mut TimerQueue, deadline: i64) -> crate::Handle {
        q.push(deadline, Box::new(|| {}), Location::caller())
    }

    /// Pushes a timer that records `id` when it runs.
    fn push_rec(
        q: &mut TimerQueue,
        deadline: i64,
        id: u64,
        log: &Rc<RefCell<Vec<u64>>>,
    ) -> crate::Handle {
        let log = log.clone();
        q.push(
            deadline,
            Box::new(move || log.borrow_mut().push(id)),
            Location::caller(),
        )
    }

    /// Runs every live entry due at `now`, in order; returns how many were
    /// cancelled (buried by `pop_due`, or cancelled after it).
    fn run_due(q: &mut TimerQueue, now: i64) -> usize {
        let buried = q.dead.entries.len();
        let mut skipped = 0;
        while let Some(e) = q.pop_due(now) {
            // As the loop does: a cancel after `start` has no effect.
            if q.handles().start(e.slot) {
                (e.callback)();
                q.handles().finish(e.slot);
            } else {
                skipped += 1;
            }
        }
        skipped + q.dead.entries.len() - buried
    }

    /// A fixed-seed xorshift for shuffled deadlines.
    fn rng(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }

    fn check_heap(q: &TimerQueue) {
        for i in 1..q.heap.len() {
            assert!(q.heap[(i - 1) / ARITY] <= q.heap[i], "heap order at {i}");
        }
        assert_eq!(q.heap.len(), q.entries.len());
    }

    #[test]
    fn t2_equal_deadlines_pop_in_scheduling_order() {
        let mut q = TimerQueue::new();
        let order = Rc::new(RefCell::new(Vec::new()));
        for i in 0..20 {
            push_rec(&mut q, 5, i, &order);
        }
        run_due(&mut q, 5);
        assert_eq!(*order.borrow(), (0..20).collect::<Vec<_>>());
    }

    #[test]
    fn t2_random_deadlines_pop_in_deadline_then_fifo_order() {
        let mut q = TimerQueue::new();
        let order = Rc::new(RefCell::new(Vec::new()));
        let mut seed = 0x1234_5678_9abc_def1;
        let mut expected = Vec::new();
        for id in 0..5000 {
            // Few distinct deadlines, including negative ones, so ties abound.
            let d = (rng(&mut seed) % 64) as i64 - 16;
            push_rec(&mut q, d, id, &order);
            expected.push((d, id));
        }
        check_heap(&q);
        expected.sort();
        // Nothing is popped before its deadline.
        assert_eq!(run_due(&mut q, -17), 0);
        assert!(order.borrow().is_empty());
        for now in -16..48 {
            run_due(&mut q, now);
            let n = order.borrow().len();
            let due = expected.iter().take_while(|(d, _)| *d <= now).count();
            assert_eq!(n, due, "popped at {now}");
        }
        let want: Vec<u64> = expected.iter().map(|&(_, id)| id).collect();
        assert_eq!(*order.borrow(), want);
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn t2_extreme_deadlines_keep_order() {
        let mut q = TimerQueue::new();
        let order = Rc::new(RefCell::new(Vec::new()));
        push_rec(&mut q, i64::MAX, 0, &order);
        push_rec(&mut q, 0, 1, &order);
        push_rec(&mut q, i64::MIN, 2, &order);
        push_rec(&mut q, -1, 3, &order);
        push_rec(&mut q, i64::MAX, 4, &order);
        run_due(&mut q, i64::MAX);
        assert_eq!(*order.borrow(), [2, 3, 1, 0, 4]);
    }

    #[test]
    fn t2_sequence_renumbering_keeps_fifo() {
        let mut q = TimerQueue::new();
        q.seq_limit = 64;
        let order = Rc::new(RefCell::new(Vec::new()));
        let mut seed = 0x0dd_ba11;
        let mut expected = Vec::new();
        for id in 0..2000 {
            // Deadlines move on with `id`, so interleaved pops keep the heap
            // small and each pop only takes entries no later push can precede.
            let d = (id / 4 + rng(&mut seed) % 5) as i64;
            push_rec(&mut q, d, id, &order);
            expected.push((d, id));
            if id % 7 == 6 {
                run_due(&mut q, (id / 4) as i64 - 1);
            }
            check_heap(&q);
            assert!(q.next_seq <= 64);
        }
        expected.sort();
        run_due(&mut q, i64::MAX);
        let want: Vec<u64> = expected.iter().map(|&(_, id)| id).collect();
        assert_eq!(*order.borrow(), want);
    }

    #[test]
    fn t6_next_deadline_skips_cancelled_head() {
        let mut q = TimerQueue::new();
        let h5 = push_nop(&mut q, 5);
        let _h10 = push_nop(&mut q, 10);
        h5.cancel();
        assert_eq!(q.next_deadline(), Some(10));
        assert_eq!(q.len(), 1);
        assert_eq!(q.take_dead().into_entries().count(), 1);
    }

    #[test]
    fn t6_purges_when_more_than_half_cancelled() {
        let mut q = TimerQueue::new();
        let mut states = Vec::new();
        for i in 0..200 {
            states.push(push_nop(&mut q, i));
        }
        for s in states.iter().take(100) {
            s.cancel();
        }
        q.maybe_purge();
        assert_eq!(q.len(), 200, "exactly half cancelled: no purge");
        states[100].cancel();
        q.maybe_purge();
        assert_eq!(q.len(), 99);
        assert_eq!(q.cancelled.load(Ordering::Relaxed), 0);
        assert_eq!(q.take_dead().into_entries().count(), 101);
        check_heap(&q);
    }

    #[test]
    fn t6_purge_keeps_order_of_the_survivors() {
        let mut q = TimerQueue::new();
        let order = Rc::new(RefCell::new(Vec::new()));
        let mut seed = 0xfeed_f00d;
        let mut live = Vec::new();
        let mut states = Vec::new();
        for id in 0..3000 {
            let d = (rng(&mut seed) % 100) as i64;
            states.push(push_rec(&mut q, d, id, &order));
            if id % 3 == 0 {
                live.push((d, id));
            }
        }
        // Pop some first, so the slab has holes that later pushes reuse.
        run_due(&mut q, 3);
        let popped = order.borrow().len();
        live.retain(|&(d, _)| d > 3);
        for (id, s) in states.iter().enumerate() {
            if id % 3 != 0 {
                s.cancel();
            }
        }
        q.maybe_purge();
        check_heap(&q);
        assert_eq!(q.len(), live.len());
        assert_eq!(q.cancelled.load(Ordering::Relaxed), 0);
        let dead = q.take_dead().into_entries().count();
        assert_eq!(dead, 3000 - popped - live.len());
        // Survivors moved to a new slab; new timers go in beside them.
        for id in 3000..3100 {
            let d = (rng(&mut seed) % 100) as i64;
            push_rec(&mut q, d, id, &order);
            live.push((d, id));
        }
        check_heap(&q);
        live.sort();
        order.borrow_mut().clear();
        assert_eq!(run_due(&mut q, 1000), 0);
        let want: Vec<u64> = live.iter().map(|&(_, id)| id).collect();
        assert_eq!(*order.borrow(), want, "{popped} popped before the purge");
    }

    #[test]
    fn x5_cancel_from_another_thread_is_purged_and_never_runs() {
        let mut q = TimerQueue::new();
        let ran = Rc::new(RefCell::new(Vec::new()));
        let handles: Vec<crate::Handle> = (0..1000)
            .map(|i| push_rec(&mut q, i % 10, i as u64, &ran))
            .collect();
        let to_cancel: Vec<_> = handles.iter().skip(1).step_by(2).cloned().collect();
        std::thread::spawn(move || {
            for h in to_cancel.iter().chain(to_cancel.iter()) {
                h.cancel();
            }
        })
        .join()
        .unwrap();
        assert_eq!(q.cancelled.load(Ordering::Relaxed), 500);
        // Due at 4: deadlines 0..=4, of which 1 and 3 are cancelled.
        assert_eq!(run_due(&mut q, 4), 200);
        assert_eq!(q.cancelled.load(Ordering::Relaxed), 300);
        q.maybe_purge();
        assert_eq!(q.len(), 200);
        assert_eq!(q.cancelled.load(Ordering::Relaxed), 0);
        run_due(&mut q, 10);
        assert!(ran.borrow().iter().all(|id| id % 2 == 0));
        assert_eq!(ran.borrow().len(), 500);
        for (i, h) in handles.iter().enumerate() {
            assert_eq!(h.cancelled(), i % 2 == 1, "handle {i}");
        }
    }

    #[test]
    fn drain_returns_queued_and_dead_entries() {
        let mut q = TimerQueue::new();
        let h = push_nop(&mut q, 1);
        let _h2 = push_nop(&mut q, 2);
        h.cancel();
        assert_eq!(q.next_deadline(), Some(2));
        assert_eq!(q.drain().len(), 2);
        assert_eq!(q.len(), 0);
        assert_eq!(q.next_deadline(), None);
    }
}
