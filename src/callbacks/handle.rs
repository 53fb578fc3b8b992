//! `Handle` and `TimerHandle`: what `call_soon` and `call_later` return. Their
//! state lives in the loop's table (`handle_table.rs`).

use std::fmt;
use std::panic::Location;

use crate::handle_table::HandleSlot;

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
    slot: HandleSlot,
    created_at: &'static Location<'static>,
}

impl Handle {
    pub(crate) fn from_slot(slot: HandleSlot, created_at: &'static Location<'static>) -> Handle {
        Handle { slot, created_at }
    }

    /// Cancels the callback if it has not started; idempotent.
    pub fn cancel(&self) {
        self.slot.cancel();
    }

    /// True when the callback was cancelled before it ran.
    pub fn cancelled(&self) -> bool {
        self.slot.cancelled()
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.slot.state_name();
        write!(f, "<Handle {state} created at {}>", self.created_at)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_send_sync_clone() {
        fn check<T: Send + Sync + Clone>() {}
        check::<Handle>();
        check::<TimerHandle>();
    }

    /// A million timers kept by their handles cost 32 MB, not more: a
    /// handle is its chunk, slot and generation, and where it was made.
    #[test]
    fn handles_stay_small() {
        assert_eq!(std::mem::size_of::<Handle>(), 24);
        assert_eq!(std::mem::size_of::<TimerHandle>(), 32);
    }
}
