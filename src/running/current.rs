//! The current and running loop of a thread: `get_running_loop`,
//! `get_event_loop`, `set_event_loop`, `new_event_loop`.

use std::cell::RefCell;
use std::rc::{Rc, Weak};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::error::{LoopError, TaskError};
use crate::event_loop::{EventLoop, LoopCore};
use crate::shared::Shared;
use crate::task::Task;

thread_local! {
    static RUNNING: RefCell<Option<Weak<LoopCore>>> = const { RefCell::new(None) };
    /// Every live loop made on this thread, so that a [`LoopHandle`] used on
    /// its own loop's thread can reach the ready queue directly.
    ///
    /// [`LoopHandle`]: crate::LoopHandle
    static LOCAL: RefCell<Vec<Weak<LoopCore>>> = const { RefCell::new(Vec::new()) };
}

/// Records a new loop of this thread (and forgets dropped ones).
pub(crate) fn register_local(core: &Rc<LoopCore>) {
    LOCAL.with(|l| {
        let mut l = l.borrow_mut();
        l.retain(|w| w.strong_count() > 0);
        l.push(Rc::downgrade(core));
    });
}

/// The loop of this thread that owns `shared`, if it is still alive.
pub(crate) fn local_loop(shared: &Arc<Shared>) -> Option<Rc<LoopCore>> {
    LOCAL.with(|l| {
        l.borrow()
            .iter()
            .filter_map(Weak::upgrade)
            .find(|core| Arc::ptr_eq(&core.shared, shared))
    })
}

pub(crate) fn running_loop_exists() -> bool {
    RUNNING.with(|r| r.borrow().as_ref().is_some_and(|w| w.strong_count() > 0))
}

/// True when a loop other than `owner` is running on this thread: a task or
/// future of `owner` awaited there would wait forever (L5).
pub(crate) fn other_loop_running(owner: &Weak<LoopCore>) -> bool {
    RUNNING.with(|r| {
        r.borrow()
            .as_ref()
            .is_some_and(|w| w.strong_count() > 0 && !Weak::ptr_eq(w, owner))
    })
}

/// Marks a loop running on this thread; undone on drop, also when a panic
/// unwinds out of `run_forever`, so no stale state or stop request survives (L8).
pub(crate) struct RunningGuard {
    lp: EventLoop,
}

impl RunningGuard {
    pub(crate) fn enter(lp: &EventLoop) -> Result<RunningGuard, LoopError> {
        if running_loop_exists() {
            return Err(LoopError::AnotherLoopRunning);
        }
        RUNNING.with(|r| *r.borrow_mut() = Some(lp.core.me.clone()));
        lp.core.running.set(true);
        lp.core.stats.run_begins();
        Ok(RunningGuard { lp: lp.clone() })
    }
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        self.lp.core.running.set(false);
        self.lp.core.shared.stopping.store(false, Ordering::SeqCst);
        RUNNING.with(|r| *r.borrow_mut() = None);
    }
}

/// Takes the output of a task known to be done.
pub(crate) fn take_ready<T>(task: Task<T>) -> Result<T, TaskError> {
    /// A waker that does nothing (`Waker::noop` needs Rust 1.85; MSRV is 1.80).
    struct Noop;
    impl std::task::Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }
    let waker = std::task::Waker::from(Arc::new(Noop));
    let mut cx = std::task::Context::from_waker(&waker);
    match task.poll_outcome(&mut cx) {
        std::task::Poll::Ready(r) => r,
        std::task::Poll::Pending => Err(TaskError::LoopClosed {
            name: task.get_name(),
        }),
    }
}

/// The loop running on this thread (asyncio's `get_running_loop`), or
/// [`LoopError::NoRunningLoop`].
///
/// ```
/// let lp = switchboard::new_event_loop()?;
/// assert!(switchboard::get_running_loop().is_err());
/// let same = lp.run_until_complete(async { switchboard::get_running_loop().is_ok() })?;
/// assert!(same);
/// # Ok::<(), switchboard::LoopError>(())
/// ```
pub fn get_running_loop() -> Result<EventLoop, LoopError> {
    RUNNING.with(|r| {
        r.borrow()
            .as_ref()
            .and_then(Weak::upgrade)
            .map(|core| EventLoop { core })
            .ok_or(LoopError::NoRunningLoop)
    })
}

/// The running loop if there is one, else the current policy's loop for this
/// thread (asyncio's `get_event_loop`). With the default policy that is the loop
/// given to [`set_event_loop`], or [`LoopError::NoCurrentLoop`] (asyncio 3.14
/// no longer creates one implicitly).
pub fn get_event_loop() -> Result<EventLoop, LoopError> {
    if let Ok(lp) = get_running_loop() {
        return Ok(lp);
    }
    crate::policy::get_event_loop_policy().get_event_loop()
}

/// Makes `lp` the current loop of this thread through the current policy.
pub fn set_event_loop(lp: Option<EventLoop>) {
    crate::policy::get_event_loop_policy().set_event_loop(lp);
}

/// A new loop from the current policy (asyncio's `new_event_loop`).
pub fn new_event_loop() -> Result<EventLoop, LoopError> {
    crate::policy::get_event_loop_policy().new_event_loop()
}
