//! Tasks: Rust futures driven by the loop (asyncio's `Task`).

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use crate::error::TaskError;
use crate::event_loop::LoopCore;
use crate::shared::Shared;

/// Where a task lives in the loop's task table; `gen` tells a reused slot apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TaskKey {
    pub(crate) index: usize,
    pub(crate) gen: u64,
}

/// The waker of one task: any thread may wake it; a wake queues the task once.
pub(crate) struct TaskWaker {
    pub(crate) key: TaskKey,
    pub(crate) scheduled: AtomicBool,
    pub(crate) shared: Arc<Shared>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        if !self.scheduled.swap(true, Ordering::AcqRel) {
            self.shared.wake_task(self.key);
        }
    }
}

/// A type-erased task future, as the loop stores it and a task factory sees it.
pub type LocalBoxFuture = Pin<Box<dyn Future<Output = ()>>>;

/// What a task factory receives and returns: the task's name and its erased
/// future. A factory may rename the task or wrap the future (to time or trace it).
#[non_exhaustive]
pub struct TaskSpec {
    /// The task's name.
    pub name: String,
    /// The future the loop will poll.
    pub future: LocalBoxFuture,
}

impl fmt::Debug for TaskSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskSpec")
            .field("name", &self.name)
            .finish()
    }
}

/// The loop's view of a task, independent of its output type.
pub(crate) trait TaskControl {
    fn cancel_requested(&self) -> bool;
    fn fail(&self, err: TaskError);
    fn name(&self) -> String;
}

pub(crate) struct TaskSlot {
    pub(crate) future: Option<LocalBoxFuture>,
    pub(crate) waker: Arc<TaskWaker>,
    pub(crate) control: Rc<dyn TaskControl>,
}

enum Outcome<T> {
    Pending,
    Done(Result<T, TaskError>),
    Taken,
}

pub(crate) struct TaskCell<T> {
    outcome: RefCell<Outcome<T>>,
    waiters: RefCell<Vec<Waker>>,
    done_callbacks: RefCell<Vec<Box<dyn FnOnce()>>>,
    cancel: Cell<bool>,
    /// Ended by cancellation; kept after an awaiter takes the outcome.
    ended_cancelled: Cell<bool>,
    name: RefCell<String>,
}

impl<T> TaskCell<T> {
    pub(crate) fn new(name: String) -> Rc<Self> {
        Rc::new(TaskCell {
            outcome: RefCell::new(Outcome::Pending),
            waiters: RefCell::new(Vec::new()),
            done_callbacks: RefCell::new(Vec::new()),
            cancel: Cell::new(false),
            ended_cancelled: Cell::new(false),
            name: RefCell::new(name),
        })
    }

    pub(crate) fn complete(&self, result: Result<T, TaskError>) {
        if !matches!(*self.outcome.borrow(), Outcome::Pending) {
            return;
        }
        self.ended_cancelled
            .set(matches!(result, Err(TaskError::Cancelled { .. })));
        *self.outcome.borrow_mut() = Outcome::Done(result);
        for w in self.waiters.take() {
            w.wake();
        }
        for cb in self.done_callbacks.take() {
            cb();
        }
    }

    fn is_done(&self) -> bool {
        !matches!(*self.outcome.borrow(), Outcome::Pending)
    }
}

impl<T> TaskControl for TaskCell<T> {
    fn cancel_requested(&self) -> bool {
        self.cancel.get()
    }
    fn fail(&self, err: TaskError) {
        self.complete(Err(err));
    }
    fn name(&self) -> String {
        self.name.borrow().clone()
    }
}

/// A future scheduled on a loop with [`create_task`](crate::EventLoop::create_task)
/// (asyncio's `asyncio.Task`).
///
/// The loop polls the future on its own thread until it completes; the `Task`
/// is the handle: await it for the output, [`cancel`](Task::cancel) it, name it.
/// Cancelling drops the future at its next step (Rust's form of throwing
/// `CancelledError` into a coroutine). A task keeps running if its handle is
/// dropped.
///
/// Awaiting a task gives its output itself, as `await task` does in asyncio,
/// so results do not stack a layer per task. A task that did not produce one
/// (it panicked, was cancelled, or its loop closed) passes that on to whoever
/// awaits it, again as asyncio does: an awaiting task ends with the same
/// [`TaskError`] (a cancelled task cancels its awaiter), and
/// [`run_until_complete`](crate::EventLoop::run_until_complete) returns it as
/// [`LoopError::Task`](crate::LoopError::Task). To look at the failure
/// instead, await [`join`](Task::join), which resolves to
/// `Result<T, TaskError>`. Awaiting moves the output out: a second awaiter
/// gets [`TaskError::Taken`]. Awaited inside another loop (on the same
/// thread), it fails at once with [`TaskError::WrongLoop`] instead of waiting
/// forever. Await tasks from switchboard tasks only: the failure travels as an
/// unwind that the loop's task runner catches.
///
/// ```
/// let lp = switchboard::new_event_loop()?;
/// let task = lp.create_task(async { 6 * 7 })?;
/// assert_eq!(lp.run_until_complete(task)?, 42);
///
/// let failing = lp.create_task(async { panic!("boom") })?;
/// let outcome = lp.run_until_complete(failing.join())?;
/// assert!(matches!(outcome, Err(switchboard::TaskError::Panicked { .. })));
/// # Ok::<(), switchboard::LoopError>(())
/// ```
pub struct Task<T> {
    pub(crate) cell: Rc<TaskCell<T>>,
    pub(crate) waker: Waker,
    /// The loop that drives the task.
    pub(crate) owner: Weak<LoopCore>,
}

impl<T> Task<T> {
    /// Asks the task to stop: its future is dropped at its next step and the task
    /// ends with [`TaskError::Cancelled`]. Returns false if it was already done.
    pub fn cancel(&self) -> bool {
        if self.cell.is_done() {
            return false;
        }
        self.cell.cancel.set(true);
        self.waker.wake_by_ref();
        true
    }

    /// True once the task ended by cancellation.
    pub fn cancelled(&self) -> bool {
        self.cell.ended_cancelled.get()
    }

    /// True once the task ended (output, panic or cancel).
    pub fn done(&self) -> bool {
        self.cell.is_done()
    }

    /// The task's name.
    pub fn get_name(&self) -> String {
        self.cell.name()
    }

    /// Renames the task.
    pub fn set_name(&self, name: impl Into<String>) {
        *self.cell.name.borrow_mut() = name.into();
    }

    /// Runs `f` on the loop thread when the task ends (at once if it has ended).
    pub fn add_done_callback(&self, f: impl FnOnce() + 'static) {
        if self.cell.is_done() {
            f();
        } else {
            self.cell.done_callbacks.borrow_mut().push(Box::new(f));
        }
    }
}

/// A task's failure on its way to whoever awaits the task: the payload of the
/// unwind that [`Task`]'s `poll` starts and the task runner catches.
pub(crate) struct Propagated(pub(crate) TaskError);

impl<T> Future for Task<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match self.poll_outcome(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(out)) => Poll::Ready(out),
            // `resume_unwind` skips the panic hook: nothing is printed, and
            // the runner turns it back into this error.
            Poll::Ready(Err(e)) => std::panic::resume_unwind(Box::new(Propagated(e))),
        }
    }
}

impl<T> Task<T> {
    /// A future of the task's outcome: its output, or the [`TaskError`] that
    /// says why there is none (asyncio's `task.result()` / `task.exception()`).
    pub fn join(self) -> Join<T> {
        Join { task: self }
    }

    pub(crate) fn poll_outcome(&self, cx: &mut Context<'_>) -> Poll<Result<T, TaskError>> {
        if crate::current::other_loop_running(&self.owner) {
            return Poll::Ready(Err(TaskError::WrongLoop {
                name: self.cell.name(),
            }));
        }
        let mut outcome = self.cell.outcome.borrow_mut();
        match &*outcome {
            Outcome::Pending => {
                self.cell.waiters.borrow_mut().push(cx.waker().clone());
                Poll::Pending
            }
            Outcome::Taken => Poll::Ready(Err(TaskError::Taken {
                name: self.cell.name(),
            })),
            Outcome::Done(_) => match std::mem::replace(&mut *outcome, Outcome::Taken) {
                Outcome::Done(r) => Poll::Ready(r),
                _ => unreachable!("matched Done above"),
            },
        }
    }
}

/// The future [`Task::join`] returns.
#[must_use = "a Join does nothing until awaited"]
pub struct Join<T> {
    task: Task<T>,
}

impl<T> Future for Join<T> {
    type Output = Result<T, TaskError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.task.poll_outcome(cx)
    }
}

impl<T> fmt::Debug for Join<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Join({:?})", self.task)
    }
}

impl<T> fmt::Debug for Task<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = if self.cancelled() {
            "cancelled"
        } else if self.done() {
            "finished"
        } else {
            "pending"
        };
        write!(f, "<Task {state} name={:?}>", self.cell.name())
    }
}
