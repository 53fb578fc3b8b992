//! The loop-owned table of callback states behind `Handle` and `TimerHandle`.
//!
//! The state of a scheduled callback is one `AtomicU64` (the *word*): its
//! generation, its state bits and a count of the handles that refer to it. The
//! loop keeps the words in chunks of [`CHUNK`] slots; a handle holds an
//! `Arc` of its chunk and a slot index, so scheduling allocates nothing for
//! the state. A slot is reused only once the loop is done with it *and* no
//! handle refers to it, so `cancelled()` stays true for a cancelled handle
//! however long it is kept. A callback posted from another thread gets a
//! chunk of one word of its own ([`AloneSlot`]), since the table belongs to
//! the loop thread; a handle is then the same 16 bytes either way.

use std::panic::Location;
use std::sync::atomic::{AtomicIsize, AtomicU64, Ordering};
use std::sync::Arc;

use crate::handle::Handle;

/// The loop claimed the callback (set by [`HandleTable::start`]).
const STARTED: u64 = 1;
/// `cancel()` won before the loop claimed it.
const CANCELLED: u64 = 2;
/// The callback returned (or panicked).
const DONE: u64 = 4;
/// A timer: a cancel bumps the loop's count of cancelled timers (T6).
const TIMER: u64 = 8;
/// The handle count occupies bits 4..32, the generation bits 32..64.
const COUNT_ONE: u64 = 1 << 4;
const COUNT_MASK: u64 = ((1 << 28) - 1) << 4;
const GEN_SHIFT: u32 = 32;

/// Slots per chunk.
pub(crate) const CHUNK: usize = 1024;

/// Cancels the callback of `word` if the loop has not claimed it; true when this
/// call cancelled a timer. The compare-exchange races the loop's `fetch_or`
/// of [`STARTED`] on the same word, which is what makes X5 hold.
fn cancel_word(word: &AtomicU64, gen: u32) -> bool {
    let mut cur = word.load(Ordering::Acquire);
    loop {
        debug_assert_eq!((cur >> GEN_SHIFT) as u32, gen, "slot reused under a handle");
        if cur & (STARTED | CANCELLED) != 0 || (cur >> GEN_SHIFT) as u32 != gen {
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

/// A chunk of the loop's table, shared with the handles of its slots.
#[derive(Debug)]
pub(crate) struct Chunk {
    words: Box<[AtomicU64]>,
    /// The loop's count of cancelled entries still in its timer queue
    /// (`None` for an [`AloneSlot`], never a timer).
    cancelled_timers: Option<Arc<AtomicIsize>>,
}

/// The state of a callback posted from another thread: a chunk of one word,
/// as the table belongs to the loop thread.
#[derive(Debug)]
pub(crate) struct AloneSlot {
    chunk: Arc<Chunk>,
    pub(crate) created_at: &'static Location<'static>,
}

impl AloneSlot {
    /// A fresh state, counted with the one [`handle`](Self::handle) it gives.
    pub(crate) fn new(created_at: &'static Location<'static>) -> Self {
        AloneSlot {
            chunk: Arc::new(Chunk {
                words: Box::new([AtomicU64::new(COUNT_ONE)]),
                cancelled_timers: None,
            }),
            created_at,
        }
    }

    /// The handle the state was counted for: call once.
    pub(crate) fn handle(&self) -> Handle {
        Handle::from_slot(
            HandleSlot {
                chunk: self.chunk.clone(),
                index: 0,
                gen: 0,
            },
            self.created_at,
        )
    }

    /// The loop claims the callback; false when it was cancelled first.
    pub(crate) fn start(&self) -> bool {
        self.chunk.words[0].fetch_or(STARTED, Ordering::AcqRel) & CANCELLED == 0
    }

    pub(crate) fn finish(&self) {
        self.chunk.words[0].fetch_or(DONE, Ordering::Release);
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

/// The loop's table of callback states. Only the loop thread touches the
/// table itself; handles on any thread touch only their own word.
#[derive(Debug)]
pub(crate) struct HandleTable {
    chunks: Vec<Arc<Chunk>>,
    /// Slots ready for reuse.
    free: Vec<u32>,
    /// Slots given up by the loop while handles still referred to them.
    deferred: Vec<u32>,
    /// Rescan `deferred` when it reaches this length (amortized: at least
    /// twice what the last rescan kept).
    rescan_at: usize,
    /// Slots `fresh..` of the last chunk were never used.
    fresh: u32,
    cancelled_timers: Arc<AtomicIsize>,
}

impl HandleTable {
    pub(crate) fn new(cancelled_timers: Arc<AtomicIsize>) -> Self {
        HandleTable {
            chunks: Vec::new(),
            free: Vec::new(),
            deferred: Vec::new(),
            rescan_at: CHUNK,
            fresh: 0,
            cancelled_timers,
        }
    }

    fn word(&self, slot: u32) -> &AtomicU64 {
        let slot = slot as usize;
        &self.chunks[slot / CHUNK].words[slot % CHUNK]
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
        let chunk = &self.chunks[slot as usize / CHUNK];
        let index = slot % CHUNK as u32;
        let word = &chunk.words[index as usize];
        // No handle refers to the slot and only this thread writes its
        // generation, so a plain store publishes the fresh state.
        let gen = ((word.load(Ordering::Relaxed) >> GEN_SHIFT) as u32).wrapping_add(1);
        let kind = if timer { TIMER } else { 0 };
        word.store(
            (u64::from(gen) << GEN_SHIFT) | COUNT_ONE | kind,
            Ordering::Release,
        );
        let handle = Handle::from_slot(
            HandleSlot {
                chunk: chunk.clone(),
                index,
                gen,
            },
            created_at,
        );
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
        if self.fresh as usize % CHUNK == 0 && self.fresh as usize / CHUNK == self.chunks.len() {
            // Room for every slot in the free list, taken now, while slots
            // are handed out: it then never grows while a burst of
            // callbacks runs and frees their boxes (a large allocation then
            // makes glibc consolidate every small block freed so far).
            self.free
                .reserve((self.chunks.len() + 1) * CHUNK - self.free.len());
            let words = (0..CHUNK).map(|_| AtomicU64::new(0)).collect();
            self.chunks.push(Arc::new(Chunk {
                words,
                cancelled_timers: Some(self.cancelled_timers.clone()),
            }));
        }
        let slot = self.fresh;
        self.fresh = slot
            .checked_add(1)
            .expect("more than 2^32 callbacks pending");
        slot
    }

    /// True when the callback of `slot` was cancelled.
    pub(crate) fn is_cancelled(&self, slot: u32) -> bool {
        self.word(slot).load(Ordering::Acquire) & CANCELLED != 0
    }

    /// The loop claims the callback before it runs it. A timer cancelled after
    /// it left the heap is uncounted here, so each cancelled timer is counted
    /// out exactly once.
    ///
    /// With no handle left (the common `call_soon(f)` whose handle is
    /// dropped at once), nobody can cancel the callback or see its state any
    /// more, and nobody can make a new handle (handles are only cloned): one
    /// plain load claims it, and the slot is given back at once, with no
    /// read-modify-write to start or finish it.
    pub(crate) fn start(&mut self, slot: u32) -> Claimed {
        let word = self.word(slot);
        // Acquire: pairs with the Release of the last handle's drop.
        if word.load(Ordering::Acquire) & (COUNT_MASK | CANCELLED) == 0 {
            self.free.push(slot);
            return Claimed::Unwatched;
        }
        let old = word.fetch_or(STARTED, Ordering::AcqRel);
        if old & CANCELLED == 0 {
            return Claimed::Watched;
        }
        if old & TIMER != 0 {
            self.cancelled_timers.fetch_sub(1, Ordering::Relaxed);
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
    /// state, for a purge's pass over every queued timer); true if it was.
    pub(crate) fn release_if_cancelled(&mut self, slot: u32) -> bool {
        let word = self.word(slot).load(Ordering::Acquire);
        if word & CANCELLED == 0 {
            return false;
        }
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
        if word & COUNT_MASK == 0 {
            self.free.push(slot);
        } else {
            self.deferred.push(slot);
        }
    }
}

/// What a handle holds: its chunk, kept alive, and its word's place and
/// generation.
#[derive(Debug)]
pub(crate) struct HandleSlot {
    chunk: Arc<Chunk>,
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
            if let Some(counter) = &self.chunk.cancelled_timers {
                counter.fetch_add(1, Ordering::Relaxed);
            }
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
            chunk: self.chunk.clone(),
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
        HandleTable::new(Arc::new(AtomicIsize::new(0)))
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
        // Deferred slots are rescanned once their number doubled.
        let mut more = Vec::new();
        let reused = (0..2 * CHUNK).any(|_| {
            let (s, h) = t.schedule(false, Location::caller());
            assert_eq!(t.start(s), Claimed::Watched);
            t.finish(s);
            more.push(h);
            s == a
        });
        assert!(reused, "a rescan freed `a`");
        assert!(t.chunks.len() <= 3, "{} chunks", t.chunks.len());
        drop(hc);
    }

    #[test]
    fn timer_cancel_is_counted_once() {
        let counter = Arc::new(AtomicIsize::new(0));
        let mut t = HandleTable::new(counter.clone());
        let (s, h) = t.schedule(true, Location::caller());
        h.cancel();
        h.clone().cancel();
        assert_eq!(counter.load(Ordering::Relaxed), 1);
        // Left the heap live, cancelled in the ready queue: `start` uncounts it.
        assert_eq!(t.start(s), Claimed::Cancelled);
        assert_eq!(counter.load(Ordering::Relaxed), 0);
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
        assert_eq!(t.cancelled_timers.load(Ordering::Relaxed), 0);
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
