//! The part of a loop that other threads may touch, and the `Send` handle over it.

use std::any::Any;
use std::fmt;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;

use switchboard_protocols::internal::Mailer;
use switchboard_protocols::ActorId;

use crate::error::LoopError;
use crate::handle::Handle;
use crate::handle_table::AloneSlot;
use crate::task::TaskKey;

thread_local! {
    /// This thread's id, read without touching its `Thread` handle.
    static THREAD: ThreadId = std::thread::current().id();
}

/// True on thread `id`.
fn on_thread(id: ThreadId) -> bool {
    THREAD.with(|me| *me == id)
}

/// What other threads put in a loop's inbox.
pub(crate) enum Inbox {
    Call(AloneSlot, Box<dyn FnOnce() + Send>),
    Deliver(ActorId, u64, Box<dyn Any + Send>),
    DeliverAfter(ActorId, u64, Box<dyn Any + Send>, std::time::Duration),
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
    /// Items sent to the inbox and not yet taken out: counted before each
    /// send, so the loop (and a send on its own thread, which must not pass
    /// them) sees them without locking the channel.
    pub(crate) inbox_pending: AtomicUsize,
    pub(crate) thread: ThreadId,
    /// The incarnation living in each row of the actor table (0: none), so
    /// that a send from any thread to an actor that has stopped fails at once.
    live: Mutex<Vec<u64>>,
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
            inbox_pending: AtomicUsize::new(0),
            thread: std::thread::current().id(),
            live: Mutex::new(Vec::new()),
        }
    }

    fn lock_live(&self) -> std::sync::MutexGuard<'_, Vec<u64>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records that incarnation `gen` now lives in row `index` (0: none).
    pub(crate) fn set_live(&self, index: usize, gen: u64) {
        let mut live = self.lock_live();
        if live.len() <= index {
            live.resize(index + 1, 0);
        }
        live[index] = gen;
    }

    /// The incarnation living in row `index` (0: none).
    pub(crate) fn live_gen(&self, index: usize) -> u64 {
        self.lock_live().get(index).copied().unwrap_or(0)
    }

    /// Forgets every actor (the loop closed).
    pub(crate) fn clear_live(&self) {
        self.lock_live().clear();
    }

    /// Sends `item` to the inbox, counted in `inbox_pending`.
    fn send_inbox(&self, item: Inbox) -> Result<(), Inbox> {
        self.inbox_pending.fetch_add(1, Ordering::AcqRel);
        self.inbox.send(item).map_err(|e| {
            self.inbox_pending.fetch_sub(1, Ordering::AcqRel);
            e.into_inner()
        })
    }

    /// True while items sent to the inbox wait to be taken out.
    pub(crate) fn inbox_waiting(&self) -> bool {
        self.inbox_pending.load(Ordering::Acquire) > 0
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

    pub(crate) fn wake_task(self: &Arc<Self>, key: TaskKey) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        // Woken on the loop's own thread (an actor answered a `call`, a
        // future was set): straight to the ready queue, for the next
        // iteration, as through `woken`.
        if on_thread(self.thread) && !self.inbox_waiting() {
            if let Some(core) = crate::current::local_loop(self) {
                if let Ok(mut ready) = core.ready.try_borrow_mut() {
                    ready.push_back(crate::event_loop::Ready::Task(key));
                    return;
                }
            }
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
    ///
    /// # What bounds the queue
    ///
    /// Nothing but the senders' own pace, as in asyncio: this never blocks
    /// and never refuses for being busy, so callbacks posted faster than the
    /// loop runs them wait in memory. What the loop does guarantee is that
    /// they cannot starve it: each iteration takes only what was waiting
    /// when it began, and at most a fixed batch of about a thousand of
    /// those, so timers, I/O and [`stop`](Self::stop) come round at least
    /// once per batch however many threads post (X6). The loop does not
    /// always keep pace: eight threads posting empty callbacks in a tight
    /// loop on two cores post several times faster than one loop thread runs
    /// them, and that backlog grows until they stop. To make other threads
    /// slow down instead, send to an actor spawned with
    /// [`EventLoop::spawn_bounded`](crate::EventLoop::spawn_bounded): its
    /// [`Addr::send`](crate::Addr::send) fails with `SendError::Full` and
    /// [`Addr::send_wait`](crate::Addr::send_wait) waits for room.
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
        let (state, handle) = AloneSlot::new(Location::caller());
        self.shared
            .send_inbox(Inbox::Call(state, Box::new(f)))
            .map_err(|_| LoopError::Closed)?;
        self.shared.notify();
        Ok(handle)
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
        self.shared.send_inbox(item)?;
        self.shared.notify();
        Ok(())
    }
}

impl LoopHandle {
    /// Posts on the loop's own thread, straight to its ready queue; gives
    /// the message back (to go through the inbox) anywhere else, or when
    /// the queues are in use.
    #[allow(clippy::type_complexity)]
    fn post_local(
        &self,
        to: ActorId,
        gen: u64,
        msg: Box<dyn Any + Send>,
    ) -> Result<Result<(), Box<dyn Any + Send>>, Box<dyn Any + Send>> {
        // Behind messages other threads sent first (still in the inbox), a
        // message must wait its turn there too: what happened before the
        // send is delivered before it.
        if !on_thread(self.shared.thread) || self.is_closed() || self.shared.inbox_waiting() {
            return Err(msg);
        }
        let Some(core) = crate::current::local_loop(&self.shared) else {
            return Err(msg);
        };
        let live = match core.actors.try_borrow() {
            Ok(actors) => actors.get(to.index()).is_some_and(|slot| slot.gen == gen),
            Err(_) => return Err(msg),
        };
        if !live {
            return Ok(Err(msg));
        }
        let pushed = match core.ready.try_borrow_mut() {
            Ok(mut ready) => {
                ready.push_back(crate::event_loop::Ready::DeliverTo(to, gen, msg));
                Ok(Ok(()))
            }
            Err(_) => Err(msg),
        };
        pushed
    }
}

fn message_of(item: Inbox) -> Box<dyn Any + Send> {
    match item {
        Inbox::Deliver(_, _, m) | Inbox::DeliverAfter(_, _, m, _) => m,
        Inbox::Call(..) => unreachable!("posted a message, not a call"),
    }
}

/// Delivers actor messages through the loop's inbox, from any thread. A
/// message for an incarnation that has stopped is refused at once.
impl Mailer for LoopHandle {
    fn post(
        &self,
        to: ActorId,
        gen: u64,
        msg: Box<dyn Any + Send>,
    ) -> Result<(), Box<dyn Any + Send>> {
        // On the loop's own thread (an actor or task sending to another),
        // the message joins the ready queue directly: no channel, no lock.
        // It is delivered on the next iteration, as through the inbox.
        let msg = match self.post_local(to, gen, msg) {
            Ok(done) => return done,
            Err(msg) => msg,
        };
        if self.shared.live_gen(to.index()) != gen {
            return Err(msg);
        }
        self.post_inbox(Inbox::Deliver(to, gen, msg))
            .map_err(message_of)
    }

    fn post_after(
        &self,
        to: ActorId,
        gen: u64,
        msg: Box<dyn Any + Send>,
        delay: std::time::Duration,
    ) -> Result<(), Box<dyn Any + Send>> {
        if self.shared.live_gen(to.index()) != gen {
            return Err(msg);
        }
        self.post_inbox(Inbox::DeliverAfter(to, gen, msg, delay))
            .map_err(message_of)
    }

    fn generation(&self, id: ActorId) -> u64 {
        self.shared.live_gen(id.index())
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
