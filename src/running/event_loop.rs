//! `EventLoop`: the loop's state and its asyncio-named methods for lifecycle and
//! scheduling. The iteration itself is in `turn.rs`; actors in `routing.rs`.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::future::IntoFuture;
use std::panic::Location;
use std::rc::{Rc, Weak};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use slab::Slab;
use switchboard_protocols::ActorId;

use crate::callbacks::store::{new_store, Callback, Store};
use crate::error::LoopError;
use crate::exception::ExceptionHandler;
use crate::executor::ThreadPool;
use crate::handle::{Handle, TimerHandle};
use crate::handle_table::AloneSlot;
use crate::ready::ReadyQueue;
use crate::routing::ActorSlot;
use crate::shared::{LoopHandle, Shared};
use crate::task::{TaskKey, TaskSlot, TaskSpec};
use crate::timers::TimerQueue;

/// Mio token of the cross-thread waker.
pub(crate) const WAKER_TOKEN: mio::Token = mio::Token(0);
/// First mio token that belongs to an actor (token = actor id + this).
pub(crate) const FIRST_ACTOR_TOKEN: usize = 2;

/// A task factory: sees every task [`create_task`](EventLoop::create_task) makes
/// and may rename it or wrap its future.
pub type TaskFactory = Rc<dyn Fn(&EventLoop, TaskSpec) -> TaskSpec>;

/// One entry of the ready queue.
pub(crate) enum Ready {
    /// A callback whose state is `slot` of the loop's handle table.
    Call {
        slot: u32,
        at: &'static Location<'static>,
        f: Box<dyn FnOnce()>,
    },
    /// A due timer: its callback waits in the loop's store, not a box.
    Timer {
        slot: u32,
        at: &'static Location<'static>,
        f: Callback,
    },
    /// A callback posted from another thread, with a state of its own.
    CallAlone {
        state: AloneSlot,
        f: Box<dyn FnOnce()>,
    },
    Task(TaskKey),
    /// A message or command for incarnation `gen` of actor `id` only: an
    /// actor that ended before it is delivered takes it with it, and the
    /// row's next tenant never sees it.
    DeliverTo(ActorId, u64, Box<dyn Any>),
    /// A readiness event from the poll, for the actor `id` of generation
    /// `gen` (so a slot reused within the iteration gets nothing).
    Io {
        id: ActorId,
        gen: u64,
        readiness: switchboard_actors::Readiness,
    },
}

/// A delay for [`call_later`](EventLoop::call_later): seconds as `f64` (negative
/// means "already due", infinity means "never") or a [`Duration`].
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Delay(pub f64);

impl From<f64> for Delay {
    fn from(secs: f64) -> Self {
        Delay(secs)
    }
}

impl From<Duration> for Delay {
    fn from(d: Duration) -> Self {
        Delay(d.as_secs_f64())
    }
}

pub(crate) struct LoopCore {
    pub(crate) me: Weak<LoopCore>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) inbox: crate::running::inbox::InboxQueue,
    pub(crate) poll: RefCell<mio::Poll>,
    pub(crate) registry: mio::Registry,
    pub(crate) events: RefCell<mio::Events>,
    pub(crate) ready: RefCell<ReadyQueue<Ready>>,
    pub(crate) timers: RefCell<TimerQueue>,
    /// The slabs timer callbacks wait in (see [`Callback`]).
    pub(crate) callbacks: Store,
    pub(crate) tasks: RefCell<Slab<TaskSlot>>,
    pub(crate) task_gen: Cell<u64>,
    pub(crate) actors: RefCell<Slab<ActorSlot>>,
    pub(crate) actor_gen: Cell<u64>,
    /// Monitors and links, per incarnation of a row of the actor table.
    pub(crate) watchers: RefCell<crate::supervision::watchers::Watchers>,
    /// Rows of supervised children, kept across restarts; `Some` holds the
    /// messages that arrive between two incarnations.
    pub(crate) supervised: RefCell<crate::routing::SupervisedRows>,
    /// Every server made on this loop, for `shutdown`.
    pub(crate) servers: RefCell<Vec<Weak<crate::net::ServerInner>>>,
    /// The loop's child processes, for `shutdown` to wait for.
    pub(crate) subprocesses: RefCell<Vec<Weak<switchboard_actors::subprocess::ProcessInfo>>>,
    /// `shutdown` began: supervisors restart nothing more.
    pub(crate) shutting_down: Cell<bool>,
    /// Root supervisors (row, incarnation), for `shutdown`.
    pub(crate) roots: RefCell<Vec<(ActorId, u64)>>,
    /// A root supervisor gave up: `run` returns this.
    pub(crate) fatal: RefCell<Option<crate::supervision::SupervisorError>>,
    pub(crate) read_buf: RefCell<BytesMut>,
    /// Actors (row, incarnation) to call at the end of this iteration.
    pub(crate) end_of_turn: RefCell<Vec<(ActorId, u64)>>,
    epoch: Instant,
    pub(crate) running: Cell<bool>,
    pub(crate) closed: Cell<bool>,
    pub(crate) debug: Cell<bool>,
    pub(crate) slow_callback: Cell<Duration>,
    pub(crate) handler: RefCell<Option<ExceptionHandler>>,
    pub(crate) executor: RefCell<Option<ThreadPool>>,
    pub(crate) task_factory: RefCell<Option<TaskFactory>>,
    /// The descriptors `add_reader`/`add_writer` watch.
    pub(crate) watches: RefCell<crate::fd_watch::Watches>,
    /// The loop's place in its loop group, if it has one.
    pub(crate) group: RefCell<Option<crate::group::GroupHandle>>,
    /// The loop's own figures, for `introspect`.
    pub(crate) stats: crate::introspect::stats::LoopStats,
    /// The names actors were given (few: kept aside, not in every row).
    pub(crate) names: crate::introspect::names::Names,
}

impl LoopCore {
    /// Nanoseconds since the loop's epoch.
    pub(crate) fn now_ns(&self) -> i64 {
        // Seconds and nanoseconds apart: no 128-bit product on every
        // `call_later` (saturates after 292 years, like the u128 path did).
        let d = self.epoch.elapsed();
        i64::try_from(d.as_secs())
            .unwrap_or(i64::MAX)
            .saturating_mul(1_000_000_000)
            .saturating_add(i64::from(d.subsec_nanos()))
    }

    pub(crate) fn check_open(&self) -> Result<(), LoopError> {
        if self.closed.get() {
            Err(LoopError::Closed)
        } else {
            Ok(())
        }
    }

    pub(crate) fn call_soon_boxed(
        &self,
        f: Box<dyn FnOnce()>,
        at: &'static Location<'static>,
    ) -> Result<Handle, LoopError> {
        self.check_open()?;
        let (slot, handle) = self.timers.borrow_mut().handles().schedule(false, at);
        self.ready
            .borrow_mut()
            .push_back(Ready::Call { slot, at, f });
        Ok(handle)
    }

    pub(crate) fn call_at_ns(
        &self,
        deadline: i64,
        f: Callback,
        at: &'static Location<'static>,
    ) -> Result<Handle, LoopError> {
        self.check_open()?;
        Ok(self.timers.borrow_mut().push(deadline, f, at))
    }
}

/// Disarms `run_until_complete`'s done callback when the run ends, also when
/// it ends by unwinding.
struct StopOnDone(Rc<Cell<bool>>);

impl Drop for StopOnDone {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

/// Converts loop-time seconds to the loop's nanosecond clock, saturating.
fn secs_to_ns(secs: f64) -> Result<i64, LoopError> {
    if secs.is_nan() {
        return Err(LoopError::InvalidDelay { delay: secs });
    }
    // `as` saturates for floats: +inf and huge values become i64::MAX (never).
    Ok((secs * 1e9) as i64)
}

fn ns_to_secs(ns: i64) -> f64 {
    ns as f64 / 1e9
}

/// An event loop: asyncio's `AbstractEventLoop`, single-threaded.
///
/// An `EventLoop` is a cheap, cloneable handle that stays on the thread that made
/// it (it is neither `Send` nor `Sync`, so asyncio's debug-mode check "non-thread-safe
/// operation invoked from another thread" (X3) holds at compile time). Other
/// threads use a [`LoopHandle`] from [`handle`](EventLoop::handle).
///
/// ```
/// let lp = switchboard::new_event_loop()?;
/// lp.call_soon(|| println!("Hello World"))?;
/// lp.call_later(0.01, { let lp = lp.clone(); move || lp.stop() })?;
/// lp.run_forever()?;
/// lp.close()?;
/// # Ok::<(), switchboard::LoopError>(())
/// ```
///
/// ```compile_fail
/// // X3: a loop cannot be used from another thread.
/// let lp = switchboard::new_event_loop().unwrap();
/// std::thread::spawn(move || { lp.call_soon(|| {}).ok(); });
/// ```
#[derive(Clone)]
pub struct EventLoop {
    pub(crate) core: Rc<LoopCore>,
}

impl EventLoop {
    /// Makes a loop with its own poller. Prefer [`new_event_loop`](crate::new_event_loop),
    /// which goes through the current policy. Debug mode starts on when the
    /// environment variable `SWITCHBOARD_DEBUG` is set to a non-empty value
    /// other than `0`.
    pub fn new() -> Result<EventLoop, LoopError> {
        let poll = mio::Poll::new().map_err(LoopError::Poller)?;
        let waker = mio::Waker::new(poll.registry(), WAKER_TOKEN).map_err(LoopError::Poller)?;
        let registry = poll.registry().try_clone().map_err(LoopError::Poller)?;
        let (tx, rx) = flume::unbounded();
        let debug = std::env::var("SWITCHBOARD_DEBUG").is_ok_and(|v| !v.is_empty() && v != "0");
        let core = Rc::new_cyclic(|me| LoopCore {
            me: me.clone(),
            shared: Arc::new(Shared::new(waker, tx)),
            inbox: crate::running::inbox::InboxQueue::new(rx),
            poll: RefCell::new(poll),
            registry,
            events: RefCell::new(mio::Events::with_capacity(1024)),
            ready: RefCell::new(ReadyQueue::default()),
            timers: RefCell::new(TimerQueue::new()),
            callbacks: new_store(),
            tasks: RefCell::new(Slab::new()),
            task_gen: Cell::new(0),
            actors: RefCell::new(Slab::new()),
            actor_gen: Cell::new(0),
            watchers: RefCell::new(Default::default()),
            supervised: RefCell::new(HashMap::new()),
            fatal: RefCell::new(None),
            servers: RefCell::new(Vec::new()),
            roots: RefCell::new(Vec::new()),
            shutting_down: Cell::new(false),
            subprocesses: RefCell::new(Vec::new()),
            read_buf: RefCell::new(BytesMut::new()),
            end_of_turn: RefCell::new(Vec::new()),
            epoch: Instant::now(),
            running: Cell::new(false),
            closed: Cell::new(false),
            debug: Cell::new(debug),
            slow_callback: Cell::new(Duration::from_millis(100)),
            handler: RefCell::new(None),
            executor: RefCell::new(None),
            task_factory: RefCell::new(None),
            watches: RefCell::new(crate::fd_watch::Watches::default()),
            group: RefCell::new(None),
            stats: Default::default(),
            names: Default::default(),
        });
        crate::current::register_local(&core);
        Ok(EventLoop { core })
    }

    /// A `Send` handle for other threads.
    pub fn handle(&self) -> LoopHandle {
        LoopHandle {
            shared: self.core.shared.clone(),
        }
    }

    /// The loop's clock: seconds on a monotonic clock, as an `f64` (asyncio's
    /// `loop.time()`). It keeps moving while a callback blocks.
    pub fn time(&self) -> f64 {
        ns_to_secs(self.core.now_ns())
    }

    /// Schedules `f` to run on the next iteration; callbacks run in the order
    /// they were scheduled, each exactly once (L1).
    #[track_caller]
    pub fn call_soon(&self, f: impl FnOnce() + 'static) -> Result<Handle, LoopError> {
        self.core.call_soon_boxed(Box::new(f), Location::caller())
    }

    /// [`LoopHandle::call_soon_threadsafe`], for convenience on the loop thread.
    /// On the loop thread it is the same queue as [`call_soon`](Self::call_soon),
    /// so the two are FIFO together (X1).
    #[track_caller]
    pub fn call_soon_threadsafe(
        &self,
        f: impl FnOnce() + Send + 'static,
    ) -> Result<Handle, LoopError> {
        self.core.call_soon_boxed(Box::new(f), Location::caller())
    }

    /// Schedules `f` after `delay` (seconds as `f64`, or a `Duration`). A timer
    /// never fires early; a negative delay is already due; infinite or huge
    /// delays never fire but can be cancelled. Timers due at the same time fire
    /// in the order they were scheduled.
    #[track_caller]
    pub fn call_later(
        &self,
        delay: impl Into<Delay>,
        f: impl FnOnce() + 'static,
    ) -> Result<TimerHandle, LoopError> {
        let delay = delay.into().0;
        let deadline = self.core.now_ns().saturating_add(secs_to_ns(delay)?);
        let f = Callback::new(&self.core.callbacks, f);
        self.schedule_at(deadline, f, Location::caller())
    }

    /// Schedules `f` at loop time `when` (see [`time`](Self::time)).
    #[track_caller]
    pub fn call_at(&self, when: f64, f: impl FnOnce() + 'static) -> Result<TimerHandle, LoopError> {
        let deadline = secs_to_ns(when)?;
        let f = Callback::new(&self.core.callbacks, f);
        self.schedule_at(deadline, f, Location::caller())
    }

    fn schedule_at(
        &self,
        deadline: i64,
        f: Callback,
        at: &'static Location<'static>,
    ) -> Result<TimerHandle, LoopError> {
        let handle = self.core.call_at_ns(deadline, f, at)?;
        Ok(TimerHandle {
            handle,
            when: ns_to_secs(deadline),
        })
    }

    /// Runs until [`stop`](Self::stop). Refused on a closed loop, on a running
    /// loop, and while another loop runs on this thread. If a callback panics
    /// with [`Interrupt`](crate::Interrupt), the panic leaves through this call
    /// and the loop is left stopped, not closed, and ready to run again.
    ///
    /// On the main thread, while SIGINT has its default disposition, a
    /// SIGINT that no handler of this loop wants (none added with
    /// [`add_signal_handler`](Self::add_signal_handler) or
    /// `subscribe_signal`, before or during the run) leaves the same way, as
    /// an `Interrupt`, instead of killing the process (asyncio's runner turns
    /// it into `KeyboardInterrupt`). The disposition is put back when the run
    /// ends. Loops on other threads leave SIGINT alone (SG6).
    pub fn run_forever(&self) -> Result<(), LoopError> {
        let core = &self.core;
        core.check_open()?;
        if core.running.get() {
            return Err(LoopError::AlreadyRunning);
        }
        let _running = crate::current::RunningGuard::enter(self)?;
        // SIGINT with no handler leaves as an `Interrupt` (SG6); given back
        // when the run ends, also by unwinding.
        let _sigint = crate::signals::SigintClaim::take(core);
        loop {
            crate::turn::run_once(core);
            if core.shared.stopping.load(Ordering::SeqCst) {
                break;
            }
        }
        Ok(())
    }

    /// Runs `future` (anything that implements `IntoFuture`: an `async` block,
    /// a [`Task`](crate::Task), a builder such as `create_server(..)`) to
    /// completion as a task and returns its output. If the loop is stopped
    /// first, this is [`LoopError::StoppedBeforeComplete`] and the task stays
    /// scheduled; a panic in the future (or in a task it awaited) is
    /// [`LoopError::Task`]. A task's output comes back as it is, not wrapped
    /// in another `Result`:
    ///
    /// ```
    /// let lp = switchboard::new_event_loop()?;
    /// let task = lp.create_task(async { 6 * 7 })?;
    /// let answer: i32 = lp.run_until_complete(task)?;
    /// assert_eq!(answer, 42);
    /// # Ok::<(), switchboard::LoopError>(())
    /// ```
    pub fn run_until_complete<F>(&self, future: F) -> Result<F::Output, LoopError>
    where
        F: IntoFuture + 'static,
        F::IntoFuture: 'static,
        F::Output: 'static,
    {
        self.core.check_open()?;
        if self.core.running.get() {
            return Err(LoopError::AlreadyRunning);
        }
        if crate::current::running_loop_exists() {
            return Err(LoopError::AnotherLoopRunning);
        }
        let task = self.create_task(future)?;
        // The done callback stops only this run: if the run ends first (stopped,
        // or an `Interrupt`), the task may finish during a later run, which it
        // must not stop (asyncio removes the callback in `finally`).
        let armed = StopOnDone(Rc::new(Cell::new(true)));
        let (flag, shared) = (armed.0.clone(), self.core.shared.clone());
        task.add_done_callback(move || {
            if flag.get() {
                shared.stopping.store(true, Ordering::SeqCst);
            }
        });
        let ran = self.run_forever();
        drop(armed);
        ran?;
        if !task.done() {
            return Err(LoopError::StoppedBeforeComplete);
        }
        crate::current::take_ready(task).map_err(LoopError::Task)
    }

    /// Stops the loop: the current iteration's batch of callbacks finishes, then
    /// `run_forever` returns. Called before `run_forever`, the next run does one
    /// iteration with a zero timeout and returns (L3).
    pub fn stop(&self) {
        self.core.shared.stopping.store(true, Ordering::SeqCst);
    }

    /// True while `run_forever`/`run_until_complete` runs.
    pub fn is_running(&self) -> bool {
        self.core.running.get()
    }

    /// True once [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.core.closed.get()
    }

    /// Closes the loop: drops every pending callback, timer and task, shuts down
    /// every actor (closing its sockets), and shuts the default executor down
    /// without waiting. Idempotent; refused while running.
    pub fn close(&self) -> Result<(), LoopError> {
        crate::routing::close_loop(&self.core)
    }

    /// Turns debug mode on or off.
    pub fn set_debug(&self, enabled: bool) {
        self.core.debug.set(enabled);
    }

    /// True in debug mode.
    pub fn get_debug(&self) -> bool {
        self.core.debug.get()
    }

    /// In debug mode, callbacks and task steps slower than this are reported
    /// (default 100 ms).
    pub fn slow_callback_duration(&self) -> Duration {
        self.core.slow_callback.get()
    }

    /// Sets [`slow_callback_duration`](Self::slow_callback_duration).
    pub fn set_slow_callback_duration(&self, d: Duration) {
        self.core.slow_callback.set(d);
    }
}

impl fmt::Debug for EventLoop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "<EventLoop running={} closed={} debug={}>",
            self.is_running(),
            self.is_closed(),
            self.get_debug()
        )
    }
}
