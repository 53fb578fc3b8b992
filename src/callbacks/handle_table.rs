//! The table of callback states behind `Handle` and `TimerHandle`.
//!
//! The state of a scheduled callback is one `AtomicU64` (the *word*): its
//! generation, its state bits and a count of the handles that refer to it.
//! Words live in chunks of [`CHUNK`]; a handle holds a `&'static` reference
//! to its chunk and a slot index, so making, cloning and dropping a handle
//! touch only its word, with no reference count of the chunk besides. A
//! chunk is leaked once, when first made, and lives for the process: a loop
//! that closes hands its chunks to a process-wide pool, and the next table
//! that needs one takes it from there, so memory stays bounded by the most
//! chunks in use at once. A slot is reused only once its loop is done with it
//! *and* no handle refers to it, so `cancelled()` stays true for a cancelled
//! handle however long it is kept, whichever loop owns the chunk by then.
//!
//! Each loop owns a [`HandleTable`] for its thread. A callback posted from
//! another thread takes a slot of one process-wide table behind a mutex
//! ([`AloneSlot`]), so a handle is the same 16 bytes either way.

use std::panic::Location;
// Under `--cfg switchboard_loom` the words are loom's, so the models in
// `callbacks/loom_models.rs` check this very code.
#[cfg(switchboard_loom)]
use loom::sync::atomic::{AtomicIsize, AtomicU64, Ordering};
#[cfg(not(switchboard_loom))]
use std::sync::atomic::{AtomicIsize, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::handle::Handle;

/// The loop claimed the callback (set by [`HandleTable::start`]).
const STARTED: u64 = 1;
/// `cancel()` won before the loop claimed it.
const CANCELLED: u64 = 2;
/// The callback returned (or panicked), or its loop closed before it ran.
const DONE: u64 = 4;
/// A timer: a cancel bumps its chunk's count of cancelled timers (T6).
const TIMER: u64 = 8;
/// The handle count occupies bits 4..32, the generation bits 32..64.
const COUNT_ONE: u64 = 1 << 4;
const COUNT_MASK: u64 = ((1 << 28) - 1) << 4;
const GEN_SHIFT: u32 = 32;

/// Slots per chunk (4 under loom, to keep its models small).
pub(crate) const CHUNK: usize = if cfg!(switchboard_loom) { 4 } else { 1024 };

/// Cancels the callback of `word` if the loop has not claimed it; true when this
/// call cancelled a timer. The compare-exchange races the loop's `fetch_or`
/// of [`STARTED`] on the same word, which is what makes X5 hold.
fn cancel_word(word: &AtomicU64, gen: u32) -> bool {
    let mut cur = word.load(Ordering::Acquire);
    loop {
        debug_assert_eq!((cur >> GEN_SHIFT) as u32, gen, "slot reused under a handle");
        if cur & (STARTED | CANCELLED | DONE) != 0 || (cur >> GEN_SHIFT) as u32 != gen {
            return false;
        }
        match word.compare_exchange_weak(cur, cur | CANCELLED, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => return cur & TIMER != 0,
            Err(now) => cur = now,
        }
    }
}

fn describe(word: u64) -> &'static str {
    if word & CANCELLED != 0 {
        "cancelled"
    } else if word & DONE != 0 {
        "done"
    } else if word & STARTED != 0 {
        "running"
    } else {
        "pending"
    }
}

/// A chunk of words, shared with the handles of its slots.
#[derive(Debug)]
pub(crate) struct Chunk {
    words: [AtomicU64; CHUNK],
    /// Timers of this chunk cancelled and still in their loop's queue: each
    /// cancel counts one in, the loop counts it out when it takes the entry
    /// out. The loop's total is the sum over its chunks.
    cancelled: AtomicIsize,
}

/// Chunks no table owns. Their words may still be referred to by handles;
/// the table that takes one reuses only the slots no handle refers to.
static POOL: Mutex<Vec<&'static Chunk>> = Mutex::new(Vec::new());

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing here panics while holding the lock; if something did, the
    // lists it guards are still sound.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Forgets the pool and the table of other threads' callbacks without
/// touching their words: each loom execution starts from none (the words
/// of an earlier execution are not to be touched again).
#[cfg(switchboard_loom)]
pub(crate) fn reset_for_model() {
    lock(&POOL).clear();
    std::mem::forget(std::mem::replace(&mut *lock(&ALONE), HandleTable::new()));
}

/// A chunk from the pool, or a new one, leaked: it lives for the process.
fn take_chunk() -> &'static Chunk {
    let pooled = lock(&POOL).pop();
    pooled.unwrap_or_else(new_chunk)
}

/// A new chunk, leaked.
fn new_chunk() -> &'static Chunk {
    Box::leak(Box::new(Chunk {
        words: std::array::from_fn(|_| AtomicU64::new(0)),
        cancelled: AtomicIsize::new(0),
    }))
}

/// A callback posted from another thread: a slot of the process-wide table
/// (the loop's own belongs to the loop thread). Given back when dropped.
#[derive(Debug)]
pub(crate) struct AloneSlot {
    chunk: &'static Chunk,
    slot: u32,
    pub(crate) created_at: &'static Location<'static>,
}

/// The table of the callbacks posted from other threads, of every loop.
static ALONE: Mutex<HandleTable> = Mutex::new(HandleTable::new());

impl AloneSlot {
    /// A fresh state, and its first handle.
    pub(crate) fn new(created_at: &'static Location<'static>) -> (Self, Handle) {
        let mut table = lock(&ALONE);
        let (slot, handle) = table.schedule(false, created_at);
        let chunk = table.chunks[slot as usize / CHUNK];
        (
            AloneSlot {
                chunk,
                slot,
                created_at,
            },
            handle,
        )
    }

    fn word(&self) -> &AtomicU64 {
        &self.chunk.words[self.slot as usize % CHUNK]
    }

    /// The loop claims the callback; false when it was cancelled first.
    pub(crate) fn start(&self) -> bool {
        self.word().fetch_or(STARTED, Ordering::AcqRel) & CANCELLED == 0
    }

    pub(crate) fn finish(&self) {
        self.word().fetch_or(DONE, Ordering::Release);
    }
}

impl Drop for AloneSlot {
    fn drop(&mut self) {
        // Run, cancelled, or dropped with its loop: mark it over first, so a
        // cancel after this fails as it would after a run.
        self.word().fetch_or(DONE, Ordering::AcqRel);
        lock(&ALONE).release(self.slot);
    }
}

/// What [`HandleTable::start`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Claimed {
    /// A cancel won: the callback must not run (its slot was given back).
    Cancelled,
    /// Run it, then call [`HandleTable::finish`].
    Watched,
    /// Run it; no handle is left, the slot was given back already, and
    /// there is nothing to finish.
    Unwatched,
}

/// A table of callback states. Only its owner touches the table itself
/// (the loop thread, or whoever holds the lock of the process-wide one);
/// handles on any thread touch only their own word.
#[derive(Debug)]
pub(crate) struct HandleTable {
    chunks: Vec<&'static Chunk>,
    /// Per chunk, the timer slots this table holds (queued, or due and not
    /// yet claimed): only those chunks' cancel counts can be non-zero, so
    /// [`cancelled_timers`](Self::cancelled_timers) reads only theirs.
    timers: Vec<u32>,
    /// Slots ready for reuse, the lowest last.
    free: Vec<u32>,
    /// Slots given up by the loop while handles still referred to them.
    deferred: Vec<u32>,
    /// Rescan `deferred` when it reaches this length (amortized: at least
    /// twice what the last rescan kept).
    rescan_at: usize,
}

impl HandleTable {
    pub(crate) const fn new() -> Self {
        HandleTable {
            chunks: Vec::new(),
            timers: Vec::new(),
            free: Vec::new(),
            deferred: Vec::new(),
            rescan_at: CHUNK,
        }
    }

    fn chunk(&self, slot: u32) -> &'static Chunk {
        self.chunks[slot as usize / CHUNK]
    }

    fn word(&self, slot: u32) -> &'static AtomicU64 {
        &self.chunk(slot).words[slot as usize % CHUNK]
    }

    /// Takes a slot for a new callback and returns it with the first handle.
    pub(crate) fn schedule(
        &mut self,
        timer: bool,
        created_at: &'static Location<'static>,
    ) -> (u32, Handle) {
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => self.new_slot(),
        };
        let chunk = self.chunk(slot);
        let index = slot % CHUNK as u32;
        let word = &chunk.words[index as usize];
        // No handle refers to the slot and only this table writes its
        // generation, so a plain store publishes the fresh state.
        let gen = ((word.load(Ordering::Relaxed) >> GEN_SHIFT) as u32).wrapping_add(1);
        let kind = if timer {
            self.timers[slot as usize / CHUNK] += 1;
            TIMER
        } else {
            0
        };
        word.store(
            (u64::from(gen) << GEN_SHIFT) | COUNT_ONE | kind,
            Ordering::Release,
        );
        let handle = Handle::from_slot(HandleSlot { chunk, index, gen }, created_at);
        (slot, handle)
    }

    fn new_slot(&mut self) -> u32 {
        if self.deferred.len() >= self.rescan_at {
            let mut deferred = std::mem::take(&mut self.deferred);
            deferred.retain(|&slot| {
                let unused = self.word(slot).load(Ordering::Acquire) & COUNT_MASK == 0;
                if unused {
                    self.free.push(slot);
                }
                !unused
            });
            self.rescan_at = (deferred.len() * 2).max(CHUNK);
            self.deferred = deferred;
            if let Some(slot) = self.free.pop() {
                return slot;
            }
        }
        self.adopt(take_chunk());
        self.free.pop().unwrap_or_else(|| self.new_slot())
    }

    /// Makes `chunk` this table's: its slots no handle refers to become
    /// free, the others wait in `deferred`.
    fn adopt(&mut self, chunk: &'static Chunk) {
        // Whatever a previous owner counted is over: its loop is closed.
        chunk.cancelled.store(0, Ordering::Relaxed);
        let base = u32::try_from(self.chunks.len() * CHUNK).expect("fewer than 2^32 callbacks");
        self.chunks.push(chunk);
        self.timers.push(0);
        // Room for every slot in the free list, taken now, while slots are
        // handed out: it then never grows while a burst of callbacks runs
        // and frees their boxes (a large allocation then makes glibc
        // consolidate every small block freed so far).
        self.free
            .reserve(self.chunks.len() * CHUNK - self.free.len());
        // Lowest slot last, so slots are handed out in address order. Slots
        // a handle of the chunk's previous owner still refers to wait.
        for (i, word) in chunk.words.iter().enumerate().rev() {
            let slot = base + i as u32;
            if word.load(Ordering::Acquire) & COUNT_MASK == 0 {
                self.free.push(slot);
            } else {
                self.deferred.push(slot);
            }
        }
    }

    /// True when the callback of `slot` was cancelled.
    pub(crate) fn is_cancelled(&self, slot: u32) -> bool {
        self.word(slot).load(Ordering::Acquire) & CANCELLED != 0
    }

    /// Cancelled timers still queued: the sum over this table's chunks.
    pub(crate) fn cancelled_timers(&self) -> isize {
        // A scan of one small `Vec`, touching the (shared) count of only the
        // chunks that hold timers: a loop that once had a million callbacks
        // pending and has a few timers now reads a few counts.
        self.timers
            .iter()
            .zip(&self.chunks)
            .filter(|(&n, _)| n > 0)
            .map(|(_, c)| c.cancelled.load(Ordering::Relaxed))
            .sum()
    }

    /// Counts out one cancelled timer of `slot` (taken out of the queue).
    pub(crate) fn uncount(&self, slot: u32) {
        self.chunk(slot).cancelled.fetch_sub(1, Ordering::Relaxed);
    }

    /// Forgets every count of cancelled timers (the queue was emptied).
    pub(crate) fn reset_counts(&self) {
        for chunk in &self.chunks {
            chunk.cancelled.store(0, Ordering::Relaxed);
        }
    }

    /// The loop claims the callback before it runs it. A timer cancelled after
    /// it left the queue is counted out here, so each cancelled timer is
    /// counted out exactly once.
    ///
    /// With no handle left (the common `call_soon(f)` whose handle is
    /// dropped at once), nobody can cancel the callback or see its state any
    /// more, and nobody can make a new handle (handles are only cloned): one
    /// plain load claims it, and the slot is given back at once, with no
    /// read-modify-write to start or finish it.
    pub(crate) fn start(&mut self, slot: u32) -> Claimed {
        let word = self.word(slot);
        // Acquire: pairs with the Release of the last handle's drop.
        let now = word.load(Ordering::Acquire);
        if now & (COUNT_MASK | CANCELLED) == 0 {
            self.give_back(slot, now);
            return Claimed::Unwatched;
        }
        let old = word.fetch_or(STARTED, Ordering::AcqRel);
        if old & CANCELLED == 0 {
            return Claimed::Watched;
        }
        if old & TIMER != 0 {
            self.uncount(slot);
        }
        self.release(slot);
        Claimed::Cancelled
    }

    /// The callback of `slot` returned: marks it done and releases the slot.
    pub(crate) fn finish(&mut self, slot: u32) {
        let old = self.word(slot).fetch_or(DONE, Ordering::AcqRel);
        self.give_back(slot, old);
    }

    /// Gives `slot` back if its callback was cancelled (one load of its
    /// state, for a purge's pass over every queued timer) and counts it
    /// out; true if it was.
    pub(crate) fn release_if_cancelled(&mut self, slot: u32) -> bool {
        let word = self.word(slot).load(Ordering::Acquire);
        if word & CANCELLED == 0 {
            return false;
        }
        self.uncount(slot);
        self.give_back(slot, word);
        true
    }

    /// The loop is done with `slot` (it ran, or was cancelled and taken out of
    /// the queue); it is reused once no handle refers to it.
    pub(crate) fn release(&mut self, slot: u32) {
        let word = self.word(slot).load(Ordering::Acquire);
        self.give_back(slot, word);
    }

    fn give_back(&mut self, slot: u32, word: u64) {
        if word & TIMER != 0 {
            self.timers[slot as usize / CHUNK] -= 1;
        }
        if word & COUNT_MASK == 0 {
            self.free.push(slot);
        } else {
            self.deferred.push(slot);
        }
    }
}

impl HandleTable {
    /// The loop closed: every callback it never claimed is marked over, so
    /// a handle that cancels it later neither succeeds nor counts into the
    /// chunk's next owner. Returns the chunks, which the table no longer
    /// owns.
    fn close(&mut self) -> Vec<&'static Chunk> {
        for chunk in &self.chunks {
            for word in &chunk.words {
                let cur = word.load(Ordering::Acquire);
                if cur & COUNT_MASK != 0 && cur & (STARTED | CANCELLED | DONE) == 0 {
                    word.fetch_or(DONE, Ordering::AcqRel);
                }
            }
        }
        self.free.clear();
        self.deferred.clear();
        self.timers.clear();
        std::mem::take(&mut self.chunks)
    }
}

impl Drop for HandleTable {
    /// Closes the table and hands its chunks to the pool.
    fn drop(&mut self) {
        let mut chunks = self.close();
        lock(&POOL).append(&mut chunks);
    }
}

/// What a handle holds: its chunk, and its word's place and generation.
#[derive(Debug)]
pub(crate) struct HandleSlot {
    chunk: &'static Chunk,
    index: u32,
    gen: u32,
}

impl HandleSlot {
    fn word(&self) -> &AtomicU64 {
        &self.chunk.words[self.index as usize]
    }

    /// Cancels the callback if the loop has not claimed it; idempotent.
    pub(crate) fn cancel(&self) {
        if cancel_word(self.word(), self.gen) {
            self.chunk.cancelled.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// True when a cancel won.
    pub(crate) fn cancelled(&self) -> bool {
        self.word().load(Ordering::Acquire) & CANCELLED != 0
    }

    /// "pending", "running", "done" or "cancelled".
    pub(crate) fn state_name(&self) -> &'static str {
        describe(self.word().load(Ordering::Acquire))
    }
}

impl Clone for HandleSlot {
    fn clone(&self) -> Self {
        let old = self.word().fetch_add(COUNT_ONE, Ordering::Relaxed);
        // Like `Arc`: abort long before the count could carry into the
        // generation (2^27 handles of one callback).
        if old & COUNT_MASK >= COUNT_MASK / 2 {
            std::process::abort();
        }
        HandleSlot {
            chunk: self.chunk,
            index: self.index,
            gen: self.gen,
        }
    }
}

impl Drop for HandleSlot {
    fn drop(&mut self) {
        // Release: this thread's reads of the word happen before the loop
        // reuses the slot (it loads the count with Acquire).
        self.word().fetch_sub(COUNT_ONE, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> HandleTable {
        HandleTable::new()
    }

    #[test]
    fn slot_is_reused_only_after_the_loop_and_every_handle_let_go() {
        let mut t = table();
        let (a, ha) = t.schedule(false, Location::caller());
        let ha2 = ha.clone();
        ha.cancel();
        assert!(t.is_cancelled(a));
        assert_eq!(t.start(a), Claimed::Cancelled, "cancelled first");
        drop(ha);
        // The loop let go but one handle is left: the slot is not reused.
        let (b, hb) = t.schedule(false, Location::caller());
        assert_ne!(a, b);
        // Handles dropped before the loop lets go: reused at once.
        drop(hb);
        assert_eq!(t.start(b), Claimed::Unwatched);
        let (c, hc) = t.schedule(false, Location::caller());
        assert_eq!(c, b);
        // Fill the deferred list past its rescan threshold while `a` still has
        // a handle; after that handle goes, a rescan frees `a`.
        let kept: Vec<_> = (0..CHUNK)
            .map(|_| {
                let (s, h) = t.schedule(false, Location::caller());
                assert_eq!(t.start(s), Claimed::Watched);
                t.finish(s);
                (s, h)
            })
            .collect();
        assert!(
            ha2.cancelled(),
            "still cancelled after the slot was deferred"
        );
        assert!(kept.iter().all(|(s, _)| *s != a));
        drop(ha2);
        drop(kept);
        // A rescan (due once deferred slots pile up and the free list is
        // empty) frees `a` with the rest. Forced here: when it falls due
        // depends on the chunks the pool hands over, shared by every test.
        t.rescan_at = 0;
        t.free.clear();
        let s = t.new_slot();
        assert!(s == a || t.free.contains(&a), "a rescan freed `a`");
        assert!(!t.deferred.contains(&a));
        drop(hc);
    }

    #[test]
    fn a_chunk_outlives_its_loop_and_its_next_owner_spares_the_slots_still_held() {
        // A new chunk, not one from the pool, which other tests share.
        let mut old = table();
        old.adopt(new_chunk());
        let (s, pending) = old.schedule(true, Location::caller());
        let kept = pending.clone();
        let chunk = old.chunk(s);
        drop(pending);
        // What dropping the table does, but for the pool: the chunk comes
        // here, so no other test's table can take it meanwhile.
        assert_eq!(old.close().len(), 1);
        drop(old);
        // The loop closed before the callback ran: it is over, and a cancel
        // now neither succeeds nor counts anywhere.
        kept.cancel();
        assert!(!kept.cancelled());
        assert!(format!("{kept:?}").contains("done"), "{kept:?}");
        assert_eq!(chunk.cancelled.load(Ordering::Relaxed), 0);

        // The chunk's next owner hands out every slot but the one held.
        let mut next = table();
        next.adopt(chunk);
        let handed: Vec<u32> = std::iter::from_fn(|| next.free.pop()).collect();
        assert_eq!(handed.len(), CHUNK - 1);
        assert!(!handed.contains(&(s % CHUNK as u32)));
        assert_eq!(next.deferred, [s % CHUNK as u32]);
        // Once the last handle goes, a rescan frees it.
        drop(kept);
        next.rescan_at = 0;
        assert_eq!(next.new_slot(), s % CHUNK as u32);
    }

    #[test]
    fn a_callback_from_another_thread_gives_its_slot_back_when_done() {
        let (state, handle) = AloneSlot::new(Location::caller());
        handle.cancel();
        assert!(!state.start(), "a cancel before the loop claims it wins");
        drop(state);
        assert!(handle.cancelled());
        let (state, handle) = AloneSlot::new(Location::caller());
        assert!(state.start());
        handle.cancel();
        state.finish();
        drop(state);
        assert!(!handle.cancelled(), "a cancel after the start does nothing");
        assert!(format!("{handle:?}").contains("done"));
    }

    #[test]
    fn timer_cancel_is_counted_once() {
        let mut t = table();
        let (s, h) = t.schedule(true, Location::caller());
        h.cancel();
        h.clone().cancel();
        assert_eq!(t.cancelled_timers(), 1);
        // Left the heap live, cancelled in the ready queue: `start` uncounts it.
        assert_eq!(t.timers.iter().sum::<u32>(), 1, "the table holds one timer");
        assert_eq!(t.start(s), Claimed::Cancelled);
        assert_eq!(t.cancelled_timers(), 0);
        assert_eq!(t.timers.iter().sum::<u32>(), 0, "and gave it back");
        assert!(h.cancelled());
        assert!(format!("{h:?}").contains("cancelled"));
    }

    #[test]
    fn cancel_after_start_does_nothing() {
        let mut t = table();
        let (s, h) = t.schedule(true, Location::caller());
        assert_eq!(t.start(s), Claimed::Watched);
        assert!(format!("{h:?}").contains("running"));
        h.cancel();
        t.finish(s);
        assert!(!h.cancelled());
        assert!(format!("{h:?}").contains("done"));
        assert_eq!(t.cancelled_timers(), 0);
    }

    #[test]
    fn a_callback_without_handles_is_claimed_and_its_slot_reused_at_once() {
        let mut t = table();
        let (s, h) = t.schedule(false, Location::caller());
        drop(h);
        assert_eq!(t.start(s), Claimed::Unwatched);
        // Given back already: the next schedule reuses it with a new generation.
        let (s2, h2) = t.schedule(false, Location::caller());
        assert_eq!(s2, s);
        assert!(!h2.cancelled());
        h2.cancel();
        assert_eq!(t.start(s2), Claimed::Cancelled);
    }
}
