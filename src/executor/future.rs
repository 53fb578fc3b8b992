//! The one-shot future a worker completes: the result side of `submit`.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::mem;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use super::error::ExecutorError;

/// The result of a job submitted to a [`ThreadPool`], as a [`Future`].
///
/// This is the Rust side of the `concurrent.futures.Future` that
/// `loop.run_in_executor` wraps. The worker that runs the job completes it
/// exactly once and wakes the last waker that polled it. It may be polled,
/// moved and dropped on any thread.
///
/// It resolves to:
/// - `Ok(value)` when the job returned,
/// - [`ExecutorError::Panicked`] when the job panicked (the worker survives),
/// - [`ExecutorError::Shutdown`] when the job was dropped without running.
///
/// Dropping the future does not stop the job (asyncio's `cancel()` cannot
/// stop a running thread either): the job runs to completion, its result is
/// discarded, and the worker does not wake the waker the future stored.
///
/// [`ThreadPool`]: crate::ThreadPool
///
/// # Examples
///
/// ```
/// # use std::future::Future;
/// # use std::pin::Pin;
/// # use std::sync::Arc;
/// # use std::task::{Context, Poll, Wake, Waker};
/// # struct Unpark(std::thread::Thread);
/// # impl Wake for Unpark {
/// #     fn wake(self: Arc<Self>) { self.0.unpark() }
/// # }
/// # fn block_on<F: Future + Unpin>(mut fut: F) -> F::Output {
/// #     let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
/// #     loop {
/// #         if let Poll::Ready(out) = Pin::new(&mut fut).poll(&mut Context::from_waker(&waker)) {
/// #             return out;
/// #         }
/// #         std::thread::park();
/// #     }
/// # }
/// use switchboard::{ExecutorError, ThreadPool};
///
/// # fn main() -> Result<(), ExecutorError> {
/// let pool = ThreadPool::new(1)?;
///
/// // A panic in the job becomes an error; the worker stays alive.
/// let failed = pool.submit(|| -> u32 { panic!("no answer") })?;
/// match block_on(failed) {
///     Err(ExecutorError::Panicked { message }) => assert_eq!(message, "no answer"),
///     other => panic!("unexpected {other:?}"),
/// }
///
/// // The same worker runs the next job. `block_on` stands in for any executor,
/// // such as the event loop awaiting `run_in_executor`.
/// let answer = block_on(pool.submit(|| 6 * 7)?)?;
/// assert_eq!(answer, 42);
/// # Ok(())
/// # }
/// ```
pub struct ExecutorFuture<T> {
    slot: Arc<Mutex<Slot<T>>>,
}

/// Where the result lives between the worker and the future.
///
/// # `Waiting`
/// The job has not finished. Holds the waker of the last poll, if any.
///
/// # `Ready`
/// The worker stored the outcome; the next poll takes it.
///
/// # `Taken`
/// A poll returned the outcome. Polling again is a bug in the caller.
///
/// # `Abandoned`
/// The future was dropped. The worker drops the outcome and wakes nobody.
enum Slot<T> {
    Waiting(Option<Waker>),
    Ready(Result<T, ExecutorError>),
    Taken,
    Abandoned,
}

/// The worker's half: completes the future once, with the job's outcome or,
/// if the job is dropped without running, with [`ExecutorError::Shutdown`].
pub(super) struct Completer<T> {
    slot: Option<Arc<Mutex<Slot<T>>>>,
}

/// Creates a linked future and completer.
pub(super) fn pair<T>() -> (ExecutorFuture<T>, Completer<T>) {
    let slot = Arc::new(Mutex::new(Slot::Waiting(None)));
    let future = ExecutorFuture {
        slot: Arc::clone(&slot),
    };
    (future, Completer { slot: Some(slot) })
}

/// Locks a slot. Nothing panics while holding the lock, but if a waker's
/// `clone` ever did, the slot would still be in a valid state, so poisoning is
/// ignored rather than spread to every later caller.
fn lock<T>(slot: &Mutex<Slot<T>>) -> MutexGuard<'_, Slot<T>> {
    slot.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<T> ExecutorFuture<T> {
    /// Returns `true` once the job has finished (returned, panicked, or was
    /// dropped without running), like asyncio's `Future.done()`.
    ///
    /// # Examples
    ///
    /// ```
    /// use switchboard::{ExecutorError, ThreadPool};
    ///
    /// # fn main() -> Result<(), ExecutorError> {
    /// let pool = ThreadPool::new(2)?;
    /// let future = pool.submit(|| "done")?;
    ///
    /// // Waiting for the workers guarantees the job has finished.
    /// pool.shutdown(true);
    /// assert!(future.is_done());
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_done(&self) -> bool {
        matches!(*lock(&self.slot), Slot::Ready(_) | Slot::Taken)
    }
}

impl<T, E> ExecutorFuture<Result<T, E>>
where
    E: Into<crate::Error>,
{
    /// For a job that returns a `Result`: one [`Error`](crate::Error) for both
    /// the executor's failure and the job's own, so the output takes one `?`.
    ///
    /// ```
    /// switchboard::run(|lp| async move {
    ///     let text = lp.run_in_executor(None, || std::fs::read_to_string("/proc/self/stat"))?
    ///         .flatten()
    ///         .await?;
    ///     assert!(!text.is_empty());
    ///     Ok::<(), switchboard::Error>(())
    /// })?;
    /// # Ok::<(), switchboard::Error>(())
    /// ```
    pub async fn flatten(self) -> Result<T, crate::Error> {
        match self.await {
            Ok(Ok(out)) => Ok(out),
            Ok(Err(e)) => Err(e.into()),
            Err(e) => Err(e.into()),
        }
    }
}

impl<T> Future for ExecutorFuture<T> {
    type Output = Result<T, ExecutorError>;

    /// Takes the outcome if the worker has stored it, otherwise keeps this
    /// task's waker for the worker to wake.
    ///
    /// # Panics
    ///
    /// Panics if polled again after it returned `Poll::Ready`.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut slot = lock(&self.slot);
        match &mut *slot {
            Slot::Waiting(waker) => {
                match waker {
                    Some(waker) if waker.will_wake(cx.waker()) => {}
                    _ => *waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
            Slot::Ready(_) => match mem::replace(&mut *slot, Slot::Taken) {
                Slot::Ready(outcome) => Poll::Ready(outcome),
                _ => unreachable!("the slot was just matched as ready"),
            },
            Slot::Taken | Slot::Abandoned => panic!("ExecutorFuture polled after completion"),
        }
    }
}

impl<T> Drop for ExecutorFuture<T> {
    fn drop(&mut self) {
        let old = mem::replace(&mut *lock(&self.slot), Slot::Abandoned);
        // An unclaimed result or a stale waker is dropped here, after the lock
        // is released, so its destructor cannot run under the lock.
        drop(old);
    }
}

impl<T> fmt::Debug for ExecutorFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecutorFuture")
            .field("done", &self.is_done())
            .finish()
    }
}

impl<T> Completer<T> {
    /// Runs `job` on the current thread and completes the future with its
    /// result. A panic in `job` is caught and becomes
    /// [`ExecutorError::Panicked`].
    pub(super) fn run(mut self, job: impl FnOnce() -> T) {
        let outcome =
            panic::catch_unwind(AssertUnwindSafe(job)).map_err(|payload| ExecutorError::Panicked {
                message: panic_message(payload.as_ref()),
            });
        if let Some(slot) = self.slot.take() {
            complete(&slot, outcome);
        }
    }
}

impl<T> Drop for Completer<T> {
    /// A completer dropped before `run` belongs to a job that will never run.
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            complete(&slot, Err(ExecutorError::Shutdown));
        }
    }
}

/// Stores the outcome and wakes the waiting task, or discards the outcome if
/// the future is gone. Waking and dropping happen after the lock is released.
fn complete<T>(slot: &Mutex<Slot<T>>, outcome: Result<T, ExecutorError>) {
    let mut guard = lock(slot);
    match mem::replace(&mut *guard, Slot::Ready(outcome)) {
        Slot::Waiting(waker) => {
            drop(guard);
            if let Some(waker) = waker {
                waker.wake();
            }
        }
        Slot::Abandoned => {
            let unclaimed = mem::replace(&mut *guard, Slot::Abandoned);
            drop(guard);
            drop(unclaimed);
        }
        Slot::Ready(_) | Slot::Taken => unreachable!("a completer completes its future once"),
    }
}

/// The text of a panic payload: `panic!` produces a `&str` or a `String`.
fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&str>() {
        (*message).to_owned()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::task::Wake;
    use std::thread::{self, Thread};
    use std::time::{Duration, Instant};

    struct Unpark(Thread);

    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }

    impl<T> ExecutorFuture<T> {
        /// Blocks the calling thread until the future resolves or `timeout`
        /// passes, parking between polls (the worker's wake unparks it).
        pub(crate) fn wait_timeout(
            mut self,
            timeout: Duration,
        ) -> Option<Result<T, ExecutorError>> {
            let deadline = Instant::now() + timeout;
            let waker = Waker::from(Arc::new(Unpark(thread::current())));
            let mut cx = Context::from_waker(&waker);
            loop {
                if let Poll::Ready(outcome) = Pin::new(&mut self).poll(&mut cx) {
                    return Some(outcome);
                }
                let now = Instant::now();
                if now >= deadline {
                    return None;
                }
                thread::park_timeout(deadline - now);
            }
        }
    }

    const DEADLINE: Duration = Duration::from_secs(5);

    #[test]
    fn e1_completed_on_another_thread_wakes_the_poller() {
        let (future, completer) = pair();
        let (go, gate) = mpsc::channel::<()>();
        let worker = thread::spawn(move || {
            gate.recv().unwrap();
            completer.run(|| 7);
        });
        assert!(!future.is_done());
        // Whether the worker completes before or after the first poll, the
        // poller must end up with the value.
        go.send(()).unwrap();
        assert_eq!(future.wait_timeout(DEADLINE).unwrap().unwrap(), 7);
        worker.join().unwrap();
    }

    #[test]
    fn panic_becomes_panicked_error() {
        let (future, completer) = pair::<()>();
        completer.run(|| panic!("boom {}", 1));
        assert!(future.is_done());
        match future.wait_timeout(DEADLINE) {
            Some(Err(ExecutorError::Panicked { message })) => assert_eq!(message, "boom 1"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn dropped_completer_resolves_shutdown() {
        let (future, completer) = pair::<u8>();
        drop(completer);
        assert!(matches!(
            future.wait_timeout(DEADLINE),
            Some(Err(ExecutorError::Shutdown))
        ));
    }

    #[test]
    fn e2_result_of_dropped_future_is_discarded() {
        let (future, completer) = pair();
        let value = Arc::new(());
        drop(future);
        let sent = Arc::clone(&value);
        completer.run(move || sent);
        // The completer dropped the unclaimed result instead of keeping it.
        assert_eq!(Arc::strong_count(&value), 1);
    }

    #[test]
    #[should_panic(expected = "polled after completion")]
    fn poll_after_ready_panics() {
        let (mut future, completer) = pair();
        completer.run(|| 1);
        let waker = Waker::from(Arc::new(Unpark(thread::current())));
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut future).poll(&mut cx).is_ready());
        let _ = Pin::new(&mut future).poll(&mut cx);
    }

    #[test]
    fn future_is_send_sync_and_unpin() {
        fn check<T: Send + Sync + Unpin>() {}
        check::<ExecutorFuture<Vec<u8>>>();
    }
}
