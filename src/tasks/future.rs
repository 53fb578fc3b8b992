//! `LoopFuture`: a value that is set once, later, on the loop thread
//! (asyncio's `asyncio.Future`).

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};

use crate::error::{FutureError, InvalidStateError};
use crate::event_loop::LoopCore;

enum State<T, E> {
    Pending,
    Done(Result<T, FutureError<E>>),
    Taken,
}

struct Inner<T, E> {
    state: State<T, E>,
    waiters: Vec<Waker>,
    callbacks: Vec<Box<dyn FnOnce()>>,
    /// Ended by `cancel`; kept after an awaiter takes the outcome.
    cancelled: bool,
}

/// A future made by [`create_future`](crate::EventLoop::create_future): settable
/// once with a value ([`set_result`](Self::set_result)) or an error
/// ([`set_exception`](Self::set_exception)), cancellable, awaitable, with done
/// callbacks that run on the loop thread through `call_soon`.
///
/// Clones share one future. Awaiting moves the value out to the awaiter; a later
/// awaiter gets [`FutureError::Taken`]. Awaited inside another loop (on the
/// same thread), it resolves at once to [`FutureError::WrongLoop`] instead of
/// waiting forever. `E` defaults to
/// [`Infallible`](std::convert::Infallible) for futures that only carry values.
///
/// ```
/// let lp = switchboard::new_event_loop()?;
/// let fut = lp.create_future::<&str>();
/// let setter = fut.clone();
/// lp.call_later(0.01, move || { setter.set_result("done").ok(); })?;
/// assert_eq!(lp.run_until_complete(fut)?, Ok("done"));
/// # Ok::<(), switchboard::LoopError>(())
/// ```
pub struct LoopFuture<T, E = std::convert::Infallible> {
    inner: Rc<RefCell<Inner<T, E>>>,
    core: Weak<LoopCore>,
}

impl<T, E> Clone for LoopFuture<T, E> {
    fn clone(&self) -> Self {
        LoopFuture {
            inner: self.inner.clone(),
            core: self.core.clone(),
        }
    }
}

impl<T: 'static, E: 'static> LoopFuture<T, E> {
    pub(crate) fn new(core: Weak<LoopCore>) -> Self {
        LoopFuture {
            inner: Rc::new(RefCell::new(Inner {
                state: State::Pending,
                waiters: Vec::new(),
                callbacks: Vec::new(),
                cancelled: false,
            })),
            core,
        }
    }

    fn settle(&self, result: Result<T, FutureError<E>>) -> Result<(), InvalidStateError> {
        let (waiters, callbacks) = {
            let mut inner = self.inner.borrow_mut();
            if !matches!(inner.state, State::Pending) {
                return Err(InvalidStateError);
            }
            inner.cancelled = matches!(result, Err(FutureError::Cancelled));
            inner.state = State::Done(result);
            (
                std::mem::take(&mut inner.waiters),
                std::mem::take(&mut inner.callbacks),
            )
        };
        for w in waiters {
            w.wake();
        }
        if let Some(core) = self.core.upgrade() {
            for cb in callbacks {
                // On a closed loop the callbacks are dropped, as asyncio drops
                // pending callbacks on close.
                let _ = core.call_soon_boxed(cb, std::panic::Location::caller());
            }
        }
        Ok(())
    }

    /// Marks the future done with `value`; an error if it was already done.
    pub fn set_result(&self, value: T) -> Result<(), InvalidStateError> {
        self.settle(Ok(value))
    }

    /// Marks the future failed with `error`; an error if it was already done.
    pub fn set_exception(&self, error: E) -> Result<(), InvalidStateError> {
        self.settle(Err(FutureError::Failed(error)))
    }

    /// Cancels the future; returns false if it was already done.
    pub fn cancel(&self) -> bool {
        self.settle(Err(FutureError::Cancelled)).is_ok()
    }

    /// True once the future has a result, an error, or was cancelled.
    pub fn done(&self) -> bool {
        !matches!(self.inner.borrow().state, State::Pending)
    }

    /// True once the future was cancelled.
    pub fn cancelled(&self) -> bool {
        self.inner.borrow().cancelled
    }

    /// Runs `f` on the loop thread (through `call_soon`) once the future is
    /// done; if it is done already, `f` is scheduled at once.
    pub fn add_done_callback(&self, f: impl FnOnce() + 'static) {
        let done = {
            let mut inner = self.inner.borrow_mut();
            if matches!(inner.state, State::Pending) {
                inner.callbacks.push(Box::new(f));
                return;
            }
            Box::new(f) as Box<dyn FnOnce()>
        };
        if let Some(core) = self.core.upgrade() {
            let _ = core.call_soon_boxed(done, std::panic::Location::caller());
        }
    }
}

impl<T: Clone, E: Clone> LoopFuture<T, E> {
    /// A copy of the outcome, without taking it: `None` while pending.
    pub fn result(&self) -> Option<Result<T, FutureError<E>>> {
        match &self.inner.borrow().state {
            State::Pending => None,
            State::Done(r) => Some(r.clone()),
            State::Taken => Some(Err(FutureError::Taken)),
        }
    }
}

impl<T, E> Future for LoopFuture<T, E> {
    type Output = Result<T, FutureError<E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if crate::current::other_loop_running(&self.core) {
            return Poll::Ready(Err(FutureError::WrongLoop));
        }
        let mut inner = self.inner.borrow_mut();
        match inner.state {
            State::Pending => {
                if !inner.waiters.iter().any(|w| w.will_wake(cx.waker())) {
                    inner.waiters.push(cx.waker().clone());
                }
                Poll::Pending
            }
            State::Taken => Poll::Ready(Err(FutureError::Taken)),
            State::Done(_) => match std::mem::replace(&mut inner.state, State::Taken) {
                State::Done(r) => Poll::Ready(r),
                _ => unreachable!("matched Done above"),
            },
        }
    }
}

impl<T, E> fmt::Debug for LoopFuture<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self.inner.borrow().state {
            State::Pending => "pending",
            State::Done(Ok(_)) => "finished",
            State::Done(Err(FutureError::Cancelled)) => "cancelled",
            State::Done(Err(_)) => "failed",
            State::Taken => "taken",
        };
        write!(f, "<LoopFuture {s}>")
    }
}
