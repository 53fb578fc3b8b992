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

use crate::handle::Handle;
use crate::handle_table::HandleTable;

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

    /// True when no timer is scheduled (live or cancelled).
    pub(crate) fn is_empty(&self) -> bool {
        self.heap.is_empty()
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
mod tests;
