//! The timer queue: a hierarchical timing wheel of unsorted buckets for the
//! timers that are not due soon; the current tick's (about a millisecond)
//! sorted once into a *run* when the tick comes; and a small 4-ary min-heap
//! for the timers scheduled into a tick already taken out. Both are ordered
//! by `(deadline, seq)`, so equal deadlines fire in scheduling order (T2).
//! Cancelled entries are purged lazily (T6).
//!
//! Scheduling is a push onto one bucket; a bucket is sorted when its tick
//! comes, and each pop then takes the end of the run, so firing costs one
//! sort of about one tick's timers, which stays in cache, not a heap
//! operation per timer. Entries live inline in the buckets, the run and the
//! heap: a bucket is read front to back, and a purge is a pass over memory
//! in order.
//!
//! The queue also owns the loop's [`HandleTable`] (the states of every
//! scheduled callback, timer or not), whose chunks count the cancelled timers.

mod wheel;

use std::panic::Location;

use crate::callbacks::store::Callback;
use crate::handle::Handle;
use crate::handle_table::HandleTable;
use wheel::Wheel;

/// Purge when at least this many timers are queued and more than half of them
/// are cancelled (asyncio's `_MIN_SCHEDULED_TIMER_HANDLES` and
/// `_MIN_CANCELLED_TIMER_HANDLES_FRACTION`).
const MIN_PURGE: usize = 100;

/// Children per heap node.
const ARITY: usize = 4;

/// A tick is 2^20 ns (about 1.05 ms) of the queue's time.
const TICK_SHIFT: u32 = 20;

/// A timer taken out of the queue: due, cancelled, or dropped at close.
pub(crate) struct TimerEntry {
    /// The entry's slot in the [`HandleTable`].
    pub(crate) slot: u32,
    pub(crate) created_at: &'static Location<'static>,
    pub(crate) callback: Callback,
}

/// Cancelled entries taken out of the queue, to be dropped once the loop is
/// no longer borrowed (a callback's captures may touch the loop in `Drop`).
#[derive(Default)]
pub(crate) struct Dead {
    /// Taken out one by one.
    entries: Vec<TimerEntry>,
    /// Buckets left holding only cancelled entries by a purge.
    buckets: Vec<Vec<Queued>>,
}

impl Dead {
    fn into_entries(self) -> impl Iterator<Item = TimerEntry> {
        self.entries
            .into_iter()
            .chain(self.buckets.into_iter().flatten().map(|q| q.entry))
    }
}

/// A timer's order. Derived `Ord` compares `deadline`, then `seq`, the
/// scheduling sequence number, so equal deadlines pop FIFO. A 64-bit `seq`
/// does not wrap.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
struct Key {
    /// The deadline (ns since the loop's epoch) with its sign bit flipped, so
    /// unsigned order is signed order.
    deadline: u64,
    seq: u64,
}

/// `deadline` (ns) with its sign bit flipped: unsigned order is signed order.
fn flip(deadline: i64) -> u64 {
    (deadline as u64) ^ (1 << 63)
}

/// The tick of a flipped deadline.
fn tick_of(flipped: u64) -> u64 {
    flipped >> TICK_SHIFT
}

impl Key {
    fn deadline(self) -> i64 {
        flip_back(self.deadline)
    }

    fn tick(self) -> u64 {
        tick_of(self.deadline)
    }
}

/// A queued timer.
pub(crate) struct Queued {
    key: Key,
    entry: TimerEntry,
}

pub(crate) struct TimerQueue {
    /// The timers of the wheel's current tick as it was taken out, sorted
    /// latest first: the earliest is at the end.
    run: Vec<Queued>,
    /// A 4-ary min-heap of the timers scheduled at or before the wheel's
    /// current tick after it was taken out: the children of `i` are
    /// `4i + 1 ..= 4i + 4`.
    heap: Vec<Queued>,
    /// The timers after the current tick.
    wheel: Wheel<Queued>,
    /// Timers in the run, the heap and the wheel.
    len: usize,
    /// The deadline of the entry [`pop_due`](Self::pop_due) gave last (for
    /// the loop's lag figures).
    last_due: i64,
    next_seq: u64,
    handles: HandleTable,
    /// Cancelled entries taken out and not yet dropped. The loop drops them
    /// with [`take_dead`](Self::take_dead) once it holds no borrow, since a
    /// callback's captures may touch the loop in their `Drop`.
    dead: Dead,
}

impl TimerQueue {
    /// An empty queue whose wheel starts at time 0 (the loop's epoch).
    pub(crate) fn new() -> Self {
        TimerQueue {
            run: Vec::new(),
            heap: Vec::new(),
            wheel: Wheel::new(tick_of(flip(0))),
            len: 0,
            last_due: 0,
            next_seq: 0,
            handles: HandleTable::new(),
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
        callback: Callback,
        created_at: &'static Location<'static>,
    ) -> Handle {
        let (slot, handle) = self.handles.schedule(true, created_at);
        let key = Key {
            deadline: flip(deadline),
            seq: self.next_seq,
        };
        self.next_seq += 1;
        self.len += 1;
        let q = Queued {
            key,
            entry: TimerEntry {
                slot,
                created_at,
                callback,
            },
        };
        self.place(q);
        handle
    }

    /// Puts `q` in the heap when its tick has come, else in the wheel.
    fn place(&mut self, q: Queued) {
        let tick = q.key.tick();
        if tick <= self.wheel.cur() {
            self.heap.push(q);
            self.sift_up(self.heap.len() - 1);
        } else {
            self.wheel.insert(tick, q);
        }
    }

    /// Timers queued, live or cancelled and not yet taken out.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The deadline (loop nanoseconds) of the entry `pop_due` gave last.
    pub(crate) fn last_due(&self) -> i64 {
        self.last_due
    }

    /// True when no timer is queued (live or cancelled).
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn is_cancelled(&self, q: &Queued) -> bool {
        self.handles.is_cancelled(q.entry.slot)
    }

    /// The earliest timer at or before the current tick: the end of the run
    /// or the top of the heap, whichever is earlier.
    fn head(&self) -> Option<(&Queued, bool)> {
        match (self.run.last(), self.heap.first()) {
            (Some(r), Some(h)) if h.key < r.key => Some((h, true)),
            (Some(r), _) => Some((r, false)),
            (None, Some(h)) => Some((h, true)),
            (None, None) => None,
        }
    }

    /// Takes the [`head`](Self::head) out.
    fn take_head(&mut self, from_heap: bool) -> Queued {
        if from_heap {
            self.pop_head()
        } else {
            self.run.pop().expect("a run to pop")
        }
    }

    /// The deadline of the earliest timer that is still live, or an earlier
    /// time at which the queue must be looked at again; cancelled heads are
    /// removed on the way (see [`take_dead`](Self::take_dead)), so the poll
    /// timeout never comes from one.
    ///
    /// When the run and the heap are empty and the earliest bucket is one
    /// tick, that bucket becomes the run and the answer is exact. A bucket of a
    /// higher level spans many ticks; its start is returned, at which
    /// [`pop_due`](Self::pop_due) spreads it over the levels below. A timer
    /// thus costs at most one early wake-up per level (8), none once the
    /// loop is busy, and never fires early.
    pub(crate) fn next_deadline(&mut self) -> Option<i64> {
        self.maybe_purge();
        loop {
            if let Some((head, from_heap)) = self.head() {
                if !self.is_cancelled(head) {
                    return Some(head.key.deadline());
                }
                let q = self.take_head(from_heap);
                self.bury(q.entry);
                continue;
            }
            let slot = self.wheel.earliest()?;
            if slot.level > 0 {
                return Some(flip_back(slot.start << TICK_SHIFT));
            }
            self.take_bucket(slot);
        }
    }

    /// Pops the earliest live entry due at `now`; cancelled ones due on the way
    /// are buried (see [`take_dead`](Self::take_dead)). A cancel after this
    /// returns is uncounted by [`HandleTable::start`].
    ///
    /// Every timer in the wheel is after every one in the run and the heap,
    /// so the wheel is looked at only once both are empty, and then gives
    /// one bucket (one tick) at a time: a backlog of due timers is worked off
    /// in tick order, one tick's run at a time, not merged into one big heap.
    pub(crate) fn pop_due(&mut self, now: i64) -> Option<TimerEntry> {
        let now_flipped = flip(now);
        loop {
            match self.head() {
                Some((head, from_heap)) if head.key.deadline <= now_flipped => {
                    let q = self.take_head(from_heap);
                    if !self.is_cancelled(&q) {
                        self.len -= 1;
                        self.last_due = flip_back(q.key.deadline);
                        return Some(q.entry);
                    }
                    self.bury(q.entry);
                }
                Some(_) => return None,
                None => {
                    let tick = tick_of(now_flipped);
                    match self.wheel.earliest().filter(|s| s.start <= tick) {
                        Some(slot) => self.take_bucket(slot),
                        None => {
                            self.wheel.advance(tick);
                            return None;
                        }
                    }
                }
            }
        }
    }

    /// Empties the earliest bucket (the run and the heap are empty): the
    /// wheel's current tick becomes its start, its timers of that tick become
    /// the run, the others go to lower levels.
    fn take_bucket(&mut self, slot: wheel::Slot) {
        debug_assert!(self.run.is_empty() && self.heap.is_empty());
        let mut items = self.wheel.take(slot);
        if slot.level == 0 {
            // One tick: all of it becomes the run, but the cancelled
            // entries, buried now. Reading every state here, in one pass of
            // independent loads, also brings their cache lines in together,
            // rather than one miss per pop.
            let mut k = 0;
            while k < items.len() {
                if self.is_cancelled(&items[k]) {
                    let q = items.swap_remove(k);
                    self.bury(q.entry);
                } else {
                    k += 1;
                }
            }
            // Latest first: each pop takes the end.
            items.sort_unstable_by_key(|q| std::cmp::Reverse(q.key));
            // The bucket's Vec becomes the run, and the run's (empty) Vec
            // goes back to the slot: nothing is copied or allocated.
            std::mem::swap(&mut self.run, &mut items);
        } else {
            let due = self
                .wheel
                .reserve_spread(slot.level, items.iter().map(|q| q.key.tick()));
            self.heap.reserve(due);
            // Every timer of the current tick goes to the heap; they are
            // few (a level above 0 is taken only at its start tick).
            for q in items.drain(..) {
                self.place(q);
            }
        }
        self.wheel.recycle(slot, items);
    }

    /// Moves the cancelled entry of a timer already out of the queue to `dead`
    /// and gives its slot back.
    fn bury(&mut self, e: TimerEntry) {
        self.handles.uncount(e.slot);
        self.handles.release(e.slot);
        self.dead.entries.push(e);
        self.len -= 1;
    }

    /// Removes cancelled entries when they are more than half of a large queue
    /// (see [`take_dead`](Self::take_dead)).
    pub(crate) fn maybe_purge(&mut self) {
        if self.len < MIN_PURGE {
            return;
        }
        let cancelled = self.handles.cancelled_timers().max(0) as usize;
        if cancelled * 2 > self.len {
            self.purge();
        }
    }

    /// One pass over the run, the heap and every bucket, in memory order
    /// (the run keeps its order; see the body). In each, the
    /// cancelled entries are swapped to the front; the survivors (order does
    /// not matter in a bucket, and the heap is rebuilt) move to a new `Vec`,
    /// and the old one, now holding only cancelled entries, is handed to
    /// [`take_dead`](Self::take_dead) whole.
    fn purge(&mut self) {
        // The state is read once per entry: a cancel from another thread in
        // between is counted and purged next time.
        let mut run_removed = 0;
        // The run keeps its order: its survivors move to a new Vec in turn.
        if self
            .run
            .iter()
            .any(|q| self.handles.is_cancelled(q.entry.slot))
        {
            let mut live = Vec::with_capacity(self.run.len());
            for q in self.run.drain(..) {
                if self.handles.release_if_cancelled(q.entry.slot) {
                    self.dead.entries.push(q.entry);
                    run_removed += 1;
                } else {
                    live.push(q);
                }
            }
            self.run = live;
        }
        let handles = &mut self.handles;
        let dead = &mut self.dead.buckets;
        let mut removed = run_removed;
        let mut split = |v: &mut Vec<Queued>| {
            let mut k = 0;
            for j in 0..v.len() {
                if handles.release_if_cancelled(v[j].entry.slot) {
                    v.swap(k, j);
                    k += 1;
                }
            }
            if k > 0 {
                let live: Vec<Queued> = v.drain(k..).collect();
                dead.push(std::mem::replace(v, live));
                removed += k;
            }
        };
        split(&mut self.heap);
        for bucket in self.wheel.buckets_mut() {
            if !bucket.is_empty() {
                split(bucket);
            }
        }
        if removed == 0 {
            return;
        }
        self.wheel.recount();
        self.heapify();
        self.len -= removed;
    }

    /// Hands over the cancelled entries removed so far, for the caller to drop
    /// once it no longer borrows the loop.
    pub(crate) fn take_dead(&mut self) -> Dead {
        std::mem::take(&mut self.dead)
    }

    /// Empties the queue (loop close); the callbacks are returned so they can be
    /// dropped outside any borrow of the loop.
    pub(crate) fn drain(&mut self) -> Vec<TimerEntry> {
        self.handles.reset_counts();
        self.len = 0;
        let mut all: Vec<TimerEntry> = std::mem::take(&mut self.dead).into_entries().collect();
        all.extend(self.run.drain(..).map(|q| q.entry));
        all.extend(self.heap.drain(..).map(|q| q.entry));
        for bucket in self.wheel.buckets_mut() {
            all.extend(bucket.drain(..).map(|q| q.entry));
        }
        self.wheel.recount();
        all
    }

    fn pop_head(&mut self) -> Queued {
        let last = self.heap.len() - 1;
        self.heap.swap(0, last);
        let head = self.heap.pop().expect("a head to pop");
        if !self.heap.is_empty() {
            self.sift_down(0);
        }
        head
    }

    fn sift_up(&mut self, mut i: usize) {
        let k = self.heap[i].key;
        while i > 0 {
            let parent = (i - 1) / ARITY;
            if self.heap[parent].key <= k {
                break;
            }
            self.heap.swap(i, parent);
            i = parent;
        }
    }

    fn sift_down(&mut self, mut i: usize) {
        let n = self.heap.len();
        let k = self.heap[i].key;
        loop {
            let first = i * ARITY + 1;
            if first >= n {
                break;
            }
            let end = (first + ARITY).min(n);
            let mut min = first;
            for c in first + 1..end {
                if self.heap[c].key < self.heap[min].key {
                    min = c;
                }
            }
            if k <= self.heap[min].key {
                break;
            }
            self.heap.swap(i, min);
            i = min;
        }
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

/// The deadline (ns) of a flipped time.
fn flip_back(flipped: u64) -> i64 {
    (flipped ^ (1 << 63)) as i64
}

#[cfg(test)]
mod tests;
