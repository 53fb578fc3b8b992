//! The part of a loop that other threads may touch, and the `Send` handle over it.

use std::any::Any;
use std::fmt;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;

use switchboard_protocols::ActorId;

use crate::error::LoopError;
use crate::handle::Handle;
use crate::handle_table::AloneSlot;
use crate::task::TaskKey;

/// What other threads put in a loop's inbox.
pub(crate) enum Inbox {
    Call(Arc<AloneSlot>, Box<dyn FnOnce() + Send>),
    Deliver(ActorId, Box<dyn Any + Send>),
    DeliverAfter(ActorId, Box<dyn Any + Send>, std::time::Duration),
}

/// State shared between the loop thread and every [`LoopHandle`] and task waker.
pub(crate) struct Shared {
    waker: mio::Waker,
    /// Set while a wakeup is already pending (or the loop is not about to
    /// block), so a burst of wakes costs one syscall.
    notified: AtomicBool,
    pub(crate) stopping: AtomicBool,
    pub(crate) closed: AtomicBool,
    pub(crate) woken: Mutex<Vec<TaskKey>>,
    pub(crate) inbox: flume::Sender<Inbox>,
    pub(crate) thread: ThreadId,
}

impl Shared {
    pub(crate) fn new(waker: mio::Waker, inbox: flume::Sender<Inbox>) -> Self {
        Shared {
            waker,
            notified: AtomicBool::new(true),
            stopping: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            woken: Mutex::new(Vec::new()),
            inbox,
            thread: std::thread::current().id(),
        }
    }

    /// Wakes the loop out of poll, at most one syscall per poll.
    pub(crate) fn notify(&self) {
        if !self.notified.swap(true, Ordering::SeqCst) {
            // A failed wake means the poller is gone (loop closed): nothing to wake.
            let _ = self.waker.wake();
        }
    }

    /// Called by the loop just before it decides how long to block: from here on
    /// any enqueue must wake it.
    pub(crate) fn arm(&self) {
        self.notified.store(false, Ordering::SeqCst);
    }

    /// Called by the loop after poll returns: wakes until the next `arm` are free.
    pub(crate) fn disarm(&self) {
        self.notified.store(true, Ordering::SeqCst);
    }

    pub(crate) fn wake_task(&self, key: TaskKey) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        match self.woken.lock() {
            Ok(mut q) => q.push(key),
            Err(poisoned) => poisoned.into_inner().push(key),
        }
        self.notify();
    }
}

/// A `Send + Sync + Clone` handle on a loop, for other threads: asyncio's
/// `call_soon_threadsafe` and a `stop` that always wakes the loop.
///
/// ```
/// let lp = switchboard::new_event_loop()?;
/// let remote = lp.handle();
/// std::thread::spawn(move || {
///     remote.call_soon_threadsafe(|| println!("hello from the loop thread")).ok();
///     remote.stop();
/// });
/// lp.run_forever()?;
/// # Ok::<(), switchboard::LoopError>(())
/// ```
#[derive(Clone)]
pub struct LoopHandle {
    pub(crate) shared: Arc<Shared>,
}

impl LoopHandle {
    /// Schedules `f` on the loop thread and wakes the loop if it is blocked in
    /// poll. FIFO with `call_soon` for calls made on the loop thread itself.
    /// After the loop is closed this is [`LoopError::Closed`]; a call that races
    /// `close` is either refused or queued and then dropped, never run after
    /// close.
    #[track_caller]
    pub fn call_soon_threadsafe(
        &self,
        f: impl FnOnce() + Send + 'static,
    ) -> Result<Handle, LoopError> {
        if self.shared.closed.load(Ordering::Acquire) {
            return Err(LoopError::Closed);
        }
        if std::thread::current().id() == self.shared.thread {
            // On the loop's own thread this is `call_soon`: the same queue keeps
            // the two FIFO together (X1), and no wakeup is needed.
            if let Some(core) = crate::current::local_loop(&self.shared) {
                return core.call_soon_boxed(Box::new(f), Location::caller());
            }
        }
        let state = AloneSlot::new(Location::caller());
        self.shared
            .inbox
            .send(Inbox::Call(state.clone(), Box::new(f)))
            .map_err(|_| LoopError::Closed)?;
        self.shared.notify();
        Ok(Handle::alone(state))
    }

    /// Stops the loop after its current iteration, waking it at once if it is
    /// blocked in poll (stricter than asyncio, whose `stop` from another thread
    /// waits for the next event).
    pub fn stop(&self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.shared.notify();
    }

    /// True once the loop was closed.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }

    fn post_inbox(&self, item: Inbox) -> Result<(), Inbox> {
        if self.is_closed() {
            return Err(item);
        }
        self.shared.inbox.send(item).map_err(|e| e.into_inner())?;
        self.shared.notify();
        Ok(())
    }
}

/// Delivers actor messages through the loop's inbox, from any thread.
impl switchboard_protocols::Mailer for LoopHandle {
    fn post(&self, to: ActorId, msg: Box<dyn Any + Send>) -> Result<(), Box<dyn Any + Send>> {
        self.post_inbox(Inbox::Deliver(to, msg))
            .map_err(|i| match i {
                Inbox::Deliver(_, m) | Inbox::DeliverAfter(_, m, _) => m,
                Inbox::Call(..) => unreachable!("posted a Deliver"),
            })
    }

    fn post_after(
        &self,
        to: ActorId,
        msg: Box<dyn Any + Send>,
        delay: std::time::Duration,
    ) -> Result<(), Box<dyn Any + Send>> {
        self.post_inbox(Inbox::DeliverAfter(to, msg, delay))
            .map_err(|i| match i {
                Inbox::Deliver(_, m) | Inbox::DeliverAfter(_, m, _) => m,
                Inbox::Call(..) => unreachable!("posted a DeliverAfter"),
            })
    }
}

impl fmt::Debug for LoopHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoopHandle")
            .field("closed", &self.is_closed())
            .field("thread", &self.shared.thread)
            .finish()
    }
}
