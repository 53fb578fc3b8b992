//! Deadlines and composition of futures: asyncio's `wait_for` and `gather`.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::event_loop::Delay;
use crate::sleep::Sleep;

/// [`wait_for`] ran out of time (asyncio's `TimeoutError`).
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error("timed out after {seconds} seconds")]
pub struct TimeoutError {
    /// The timeout that passed, in seconds.
    pub seconds: f64,
}

/// Waits for `future` for at most `timeout` (seconds as `f64`, or a
/// `Duration`, as `call_later` takes a delay) on the running loop's clock
/// (asyncio's `asyncio.wait_for`).
///
/// Resolves to `Ok(output)` if the future finishes first, and to
/// `Err(TimeoutError)` otherwise, in which case the inner future is dropped
/// (Rust's cancellation). A timeout of zero or less checks the future once. To
/// be awaited inside a switchboard loop.
///
/// ```
/// use std::time::Duration;
/// switchboard::run(|_lp| async move {
///     let quick = switchboard::wait_for(async { 7 }, 1.0).await?;
///     assert_eq!(quick, 7);
///     let slow = switchboard::wait_for(switchboard::sleep(10.0), Duration::from_millis(10)).await;
///     assert!(slow.is_err());
///     Ok::<(), switchboard::Error>(())
/// })?;
/// # Ok::<(), switchboard::Error>(())
/// ```
pub fn wait_for<F: IntoFuture>(future: F, timeout: impl Into<Delay>) -> WaitFor<F::IntoFuture> {
    let timeout = timeout.into().0;
    WaitFor {
        inner: Some(Box::pin(future.into_future())),
        timer: crate::sleep::sleep(timeout),
        seconds: timeout,
    }
}

/// The future [`wait_for`] returns.
#[must_use = "a WaitFor does nothing until awaited"]
pub struct WaitFor<F> {
    inner: Option<Pin<Box<F>>>,
    timer: Sleep,
    seconds: f64,
}

impl<F> fmt::Debug for WaitFor<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitFor")
            .field("seconds", &self.seconds)
            .field("done", &self.inner.is_none())
            .finish()
    }
}

impl<F: Future> Future for WaitFor<F> {
    type Output = Result<F::Output, TimeoutError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(Err(TimeoutError {
                seconds: this.seconds,
            }));
        };
        if let Poll::Ready(out) = inner.as_mut().poll(cx) {
            this.inner = None;
            return Poll::Ready(Ok(out));
        }
        if Pin::new(&mut this.timer).poll(cx).is_ready() {
            // Drop the inner future now: asyncio cancels it before raising.
            this.inner = None;
            return Poll::Ready(Err(TimeoutError {
                seconds: this.seconds,
            }));
        }
        Poll::Pending
    }
}

/// Runs every future of `futures` concurrently and resolves to their outputs,
/// in the order given (asyncio's `asyncio.gather`). The futures are polled in
/// place (not as separate tasks); each is dropped as soon as it finished, and
/// all are dropped if the `Gather` is. To keep going when some fail, give it
/// futures that return `Result`s and look at each one.
///
/// ```
/// switchboard::run(|lp| async move {
///     let a = lp.create_task(async { 1 })?;
///     let b = lp.create_task(async { 2 })?;
///     let outs = switchboard::gather([a, b]).await;
///     assert_eq!(outs, vec![1, 2]);
///     Ok::<(), switchboard::Error>(())
/// })?;
/// # Ok::<(), switchboard::Error>(())
/// ```
pub fn gather<I>(futures: I) -> Gather<<I::Item as IntoFuture>::IntoFuture>
where
    I: IntoIterator,
    I::Item: IntoFuture,
{
    let slots: Vec<_> = futures
        .into_iter()
        .map(|f| Slot::Running(Box::pin(f.into_future())))
        .collect();
    Gather { slots }
}

enum Slot<F: Future> {
    Running(Pin<Box<F>>),
    Done(F::Output),
    Taken,
}

/// The future [`gather`] returns.
#[must_use = "a Gather does nothing until awaited"]
pub struct Gather<F: Future> {
    slots: Vec<Slot<F>>,
}

impl<F: Future> fmt::Debug for Gather<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let done = self
            .slots
            .iter()
            .filter(|s| !matches!(s, Slot::Running(_)))
            .count();
        write!(f, "Gather({done}/{} done)", self.slots.len())
    }
}

impl<F: Future> Unpin for Gather<F> {}

impl<F: Future> Future for Gather<F> {
    type Output = Vec<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut pending = false;
        for slot in self.slots.iter_mut() {
            if let Slot::Running(f) = slot {
                match f.as_mut().poll(cx) {
                    Poll::Ready(out) => *slot = Slot::Done(out),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            return Poll::Pending;
        }
        let outs = self
            .slots
            .iter_mut()
            .map(|slot| match std::mem::replace(slot, Slot::Taken) {
                Slot::Done(out) => out,
                _ => unreachable!("every slot finished"),
            })
            .collect();
        Poll::Ready(outs)
    }
}
