//! `Handle` and `TimerHandle`: what `call_soon` and `call_later` return.

use std::fmt;
use std::panic::Location;
use std::sync::atomic::{AtomicIsize, AtomicU8, Ordering};
use std::sync::Arc;

const PENDING: u8 = 0;
const RUNNING: u8 = 1;
const DONE: u8 = 2;
const CANCELLED: u8 = 3;

/// The shared state of one scheduled callback. The loop and every clone of the
/// handle (on any thread) agree on it through one atomic, so that a `cancel`
/// that returns before the loop starts the callback always wins (X5).
#[derive(Debug)]
pub(crate) struct HandleState {
    state: AtomicU8,
    /// For timers: the loop's count of cancelled entries still in its heap.
    cancelled_timers: Option<Arc<AtomicIsize>>,
    pub(crate) created_at: &'static Location<'static>,
}

impl HandleState {
    pub(crate) fn new(
        created_at: &'static Location<'static>,
        cancelled_timers: Option<Arc<AtomicIsize>>,
    ) -> Arc<Self> {
        Arc::new(HandleState {
            state: AtomicU8::new(PENDING),
            cancelled_timers,
            created_at,
        })
    }

    /// The loop claims the callback; false when it was cancelled first.
    pub(crate) fn start(&self) -> bool {
        self.state
            .compare_exchange(PENDING, RUNNING, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    pub(crate) fn finish(&self) {
        self.state.store(DONE, Ordering::Release);
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.state.load(Ordering::Acquire) == CANCELLED
    }

    fn cancel(&self) {
        if self
            .state
            .compare_exchange(PENDING, CANCELLED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            if let Some(counter) = &self.cancelled_timers {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// A callback scheduled with [`call_soon`](crate::EventLoop::call_soon) or
/// [`call_soon_threadsafe`](crate::LoopHandle::call_soon_threadsafe)
/// (asyncio's `asyncio.Handle`).
///
/// A handle is `Send + Sync + Clone`: [`cancel`](Handle::cancel) may be called
/// from any thread. If `cancel` returns before the loop has started the
/// callback, the callback never runs. Cancelling a callback that already ran,
/// or is running, does nothing, and `cancelled()` stays false.
///
/// ```
/// let lp = switchboard::new_event_loop()?;
/// let h = lp.call_soon(|| unreachable!("cancelled before it ran"))?;
/// h.cancel();
/// assert!(h.cancelled());
/// lp.stop();
/// lp.run_forever()?;
/// # Ok::<(), switchboard::LoopError>(())
/// ```
#[derive(Clone)]
pub struct Handle {
    pub(crate) state: Arc<HandleState>,
}

impl Handle {
    /// Cancels the callback if it has not started; idempotent.
    pub fn cancel(&self) {
        self.state.cancel();
    }

    /// True when the callback was cancelled before it ran.
    pub fn cancelled(&self) -> bool {
        self.state.is_cancelled()
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state.state.load(Ordering::Acquire) {
            PENDING => "pending",
            RUNNING => "running",
            DONE => "done",
            _ => "cancelled",
        };
        write!(f, "<Handle {state} created at {}>", self.state.created_at)
    }
}

/// A callback scheduled with [`call_later`](crate::EventLoop::call_later) or
/// [`call_at`](crate::EventLoop::call_at) (asyncio's `asyncio.TimerHandle`).
///
/// It is a [`Handle`] (it derefs to one) with the time it is scheduled for.
///
/// ```
/// let lp = switchboard::new_event_loop()?;
/// let t = lp.call_later(0.5, || {})?;
/// assert!(t.when() >= lp.time() + 0.4);
/// t.cancel();
/// assert!(t.when() > 0.0); // still known after cancel (T3)
/// # Ok::<(), switchboard::LoopError>(())
/// ```
#[derive(Clone)]
pub struct TimerHandle {
    pub(crate) handle: Handle,
    pub(crate) when: f64,
}

impl TimerHandle {
    /// The loop time ([`EventLoop::time`](crate::EventLoop::time)) the callback
    /// is scheduled for; valid before, after firing and after cancel.
    pub fn when(&self) -> f64 {
        self.when
    }
}

impl std::ops::Deref for TimerHandle {
    type Target = Handle;
    fn deref(&self) -> &Handle {
        &self.handle
    }
}

impl fmt::Debug for TimerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<TimerHandle when={:.6} {:?}>", self.when, self.handle)
    }
}
