//! A global allocator that counts the heap in use while switched on, so
//! the snapshot's own heap is measured to the byte: what `introspect`
//! leaves allocated (the `Snapshot` it returns) and the most it had
//! allocated at once while it ran.
//!
//! A `realloc` counts as its change in size: a block that moves is not
//! counted twice while it is copied (glibc moves large blocks with
//! `mremap`, without a copy), so the peak is the peak of the sizes asked
//! for.
//!
//! Off (the default, and always in the servers of the rate comparison),
//! it costs one relaxed load and a branch per allocation, the same in both
//! builds.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering::Relaxed};

/// The system allocator, counting while [`start`] is in force.
#[derive(Debug)]
pub struct Counting;

static ON: AtomicBool = AtomicBool::new(false);
/// Bytes allocated minus bytes freed since the count began.
static LIVE: AtomicIsize = AtomicIsize::new(0);
/// The largest `LIVE` since the last [`reset_peak`].
static PEAK: AtomicIsize = AtomicIsize::new(0);

fn note(delta: isize) {
    if ON.load(Relaxed) {
        let live = LIVE.fetch_add(delta, Relaxed) + delta;
        PEAK.fetch_max(live, Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to `System`, which upholds
// `GlobalAlloc`'s contract; the counting around it touches only atomics and
// never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's `layout` obligations pass through to System.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            note(layout.size() as isize);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            note(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` (through us) with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        note(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` was allocated by `System` (through us) with `layout`,
        // and the caller guarantees `new_size` is valid for it.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            note(new_size as isize - layout.size() as isize);
        }
        p
    }
}

/// Starts counting (from 0).
pub fn start() {
    LIVE.store(0, Relaxed);
    PEAK.store(0, Relaxed);
    ON.store(true, Relaxed);
}

/// Stops counting.
pub fn stop() {
    ON.store(false, Relaxed);
}

/// Bytes in use since [`start`] (allocated minus freed; negative when more
/// was freed than allocated).
pub fn live() -> isize {
    LIVE.load(Relaxed)
}

/// Makes the peak the current figure, and returns it.
pub fn reset_peak() -> isize {
    let live = LIVE.load(Relaxed);
    PEAK.store(live, Relaxed);
    live
}

/// The most in use at once since the last [`reset_peak`].
pub fn peak() -> isize {
    PEAK.load(Relaxed)
}
