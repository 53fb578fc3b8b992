//! A fixed-size pool of worker threads: the default executor behind
//! `run_in_executor`.

use std::fmt;
use std::mem;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use flume::{Receiver, Sender};

use super::error::ExecutorError;
use super::future::{self, ExecutorFuture};

/// A unit of work on the queue: the user's function wrapped with its completer.
type Job = Box<dyn FnOnce() + Send>;

/// A pool of worker threads that runs blocking functions off the loop thread,
/// like `concurrent.futures.ThreadPoolExecutor`, the default executor of
/// asyncio's `loop.run_in_executor(None, ...)`.
///
/// Workers are started lazily: `submit` starts a new one only when no idle
/// worker is free to take the job, up to `max_workers`. Workers then stay
/// until shutdown and are reused. They are named `switchboard-pool-N`, with
/// `N` counting from 0 within the pool.
///
/// `ThreadPool` is a cheap, clonable handle; all clones share one pool. When
/// the last handle is dropped the pool shuts down as with
/// [`shutdown(false)`](ThreadPool::shutdown): queued jobs still run, then the
/// workers exit.
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
/// // Up to two workers; none is started yet.
/// let pool = ThreadPool::new(2)?;
///
/// // The job runs on a worker thread, and the future carries its result back.
/// // `block_on` stands in for any executor, such as the event loop.
/// let future = pool.submit(|| std::thread::current().name().map(str::to_owned))?;
/// let name = block_on(future)?;
/// assert_eq!(name.as_deref(), Some("switchboard-pool-0"));
///
/// // Stop accepting jobs and wait for the workers to exit.
/// pool.shutdown(true);
/// assert!(matches!(pool.submit(|| ()), Err(ExecutorError::Shutdown)));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ThreadPool {
    pool: Arc<Pool>,
}

/// Owned by the user's handles only, so that dropping the last handle stops
/// the pool even though the workers keep the [`Core`] alive.
struct Pool {
    core: Arc<Core>,
}

/// What the handles and the workers share.
struct Core {
    max_workers: usize,
    state: Mutex<State>,
    /// Signalled each time a worker thread exits.
    exited: Condvar,
}

/// The pool's counters, all under one lock so `submit` sees an exact picture
/// when it decides whether to start a worker.
struct State {
    lifecycle: Lifecycle,
    /// One handle per worker ever started; taken only once none is alive.
    threads: Vec<JoinHandle<()>>,
    /// Workers waiting for a job (or about to wait for one).
    idle: usize,
    /// Jobs sent but not yet taken by a worker.
    queued: usize,
    /// Workers whose thread has not exited yet.
    live: usize,
}

/// The pool only moves forward, from `Running` to `ShutDown`.
///
/// # `Running`
/// `submit` accepts jobs. The pool keeps both ends of the queue: the sender
/// for `submit`, and a receiver to clone for each new worker.
///
/// # `ShutDown`
/// `submit` fails. Both ends are dropped, so once the queue is drained each
/// worker's `recv` fails and the worker exits.
enum Lifecycle {
    Running {
        jobs: Sender<Job>,
        queue: Receiver<Job>,
    },
    ShutDown,
}

impl ThreadPool {
    /// Creates a pool of at most `max_workers` threads. No thread starts
    /// until the first `submit`.
    ///
    /// # Errors
    ///
    /// [`ExecutorError::InvalidSize`] if `max_workers` is 0, like
    /// `ThreadPoolExecutor`'s `ValueError`.
    ///
    /// # Examples
    ///
    /// ```
    /// use switchboard::{ExecutorError, ThreadPool};
    ///
    /// # fn main() -> Result<(), ExecutorError> {
    /// let pool = ThreadPool::new(4)?;
    /// assert_eq!(pool.max_workers(), 4);
    /// assert!(ThreadPool::new(0).is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(max_workers: usize) -> Result<ThreadPool, ExecutorError> {
        if max_workers == 0 {
            return Err(ExecutorError::InvalidSize { max_workers });
        }
        let (jobs, queue) = flume::unbounded();
        let state = State {
            lifecycle: Lifecycle::Running { jobs, queue },
            threads: Vec::new(),
            idle: 0,
            queued: 0,
            live: 0,
        };
        let core = Arc::new(Core {
            max_workers,
            state: Mutex::new(state),
            exited: Condvar::new(),
        });
        Ok(ThreadPool {
            pool: Arc::new(Pool { core }),
        })
    }

    /// Creates a pool with asyncio's default size: `min(32, cpus + 4)`, where
    /// `cpus` is the parallelism available to this process (1 if unknown).
    /// The `+ 4` keeps I/O-bound jobs from starving on small machines; the cap
    /// keeps large machines from starting hundreds of threads.
    ///
    /// # Examples
    ///
    /// ```
    /// use switchboard::ThreadPool;
    ///
    /// let pool = ThreadPool::with_default_size();
    /// assert!((5..=32).contains(&pool.max_workers()));
    /// ```
    pub fn with_default_size() -> ThreadPool {
        let cpus = thread::available_parallelism().map_or(1, |n| n.get());
        ThreadPool::new(cpus.saturating_add(4).min(32)).expect("the default size is at least 5")
    }

    /// The most worker threads this pool will run at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use switchboard::{ExecutorError, ThreadPool};
    ///
    /// # fn main() -> Result<(), ExecutorError> {
    /// assert_eq!(ThreadPool::new(3)?.max_workers(), 3);
    /// # Ok(())
    /// # }
    /// ```
    pub fn max_workers(&self) -> usize {
        self.pool.core.max_workers
    }

    /// Queues `f` to run on a worker thread and returns a future for its
    /// result. Starts a new worker if no idle one is free and fewer than
    /// `max_workers` exist.
    ///
    /// Jobs start in submission order. Dropping the returned future does not
    /// stop the job.
    ///
    /// # Errors
    ///
    /// - [`ExecutorError::Shutdown`] once [`shutdown`](ThreadPool::shutdown)
    ///   was called (asyncio: "cannot schedule new futures after shutdown").
    /// - [`ExecutorError::Spawn`] if a worker was needed, the OS refused to
    ///   start it, and the pool has no worker at all. With at least one
    ///   worker the job is queued anyway and waits for it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use switchboard::{ExecutorError, ThreadPool};
    ///
    /// # fn main() -> Result<(), ExecutorError> {
    /// let pool = ThreadPool::new(2)?;
    /// let count = Arc::new(AtomicUsize::new(0));
    /// let futures = (0..10)
    ///     .map(|_| {
    ///         let count = Arc::clone(&count);
    ///         pool.submit(move || count.fetch_add(1, Ordering::SeqCst))
    ///     })
    ///     .collect::<Result<Vec<_>, _>>()?;
    ///
    /// pool.shutdown(true);
    /// assert_eq!(count.load(Ordering::SeqCst), 10);
    /// assert!(futures.iter().all(|f| f.is_done()));
    /// # Ok(())
    /// # }
    /// ```
    pub fn submit<T, F>(&self, f: F) -> Result<ExecutorFuture<T>, ExecutorError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let core = &self.pool.core;
        let mut state = core.lock();
        let Lifecycle::Running { jobs, queue } = &state.lifecycle else {
            return Err(ExecutorError::Shutdown);
        };
        let jobs = jobs.clone();
        // Start a worker when every idle one already has a queued job waiting
        // for it (Python's `_adjust_thread_count`, with exact counts).
        let needs_worker = state.queued >= state.idle && state.threads.len() < core.max_workers;
        if let Some(queue) = needs_worker.then(|| queue.clone()) {
            match spawn_worker(core, state.threads.len(), queue) {
                Ok(handle) => {
                    state.threads.push(handle);
                    state.idle += 1;
                    state.live += 1;
                }
                Err(err) if state.threads.is_empty() => return Err(ExecutorError::Spawn(err)),
                Err(err) => crate::diag::warning!(
                    "cannot spawn executor worker thread, queueing for the {} running: {err}",
                    state.threads.len()
                ),
            }
        }

        let (future, completer) = future::pair();
        let job: Job = Box::new(move || completer.run(f));
        // The pool holds a receiver while running, so the send cannot fail; if
        // it did, the dropped job would resolve its future to `Shutdown`.
        jobs.send(job).map_err(|_| ExecutorError::Shutdown)?;
        state.queued += 1;
        Ok(future)
    }

    /// Stops accepting jobs, like `Executor.shutdown(wait)`.
    ///
    /// Jobs already queued still run (`cancel_futures=False`), then the
    /// workers exit. With `wait` true, returns once every worker thread has
    /// exited and been joined; with `wait` false, returns at once. Calling it
    /// again is harmless, and `shutdown(true)` after `shutdown(false)` waits.
    ///
    /// Called with `wait` true from one of this pool's own workers, it does
    /// not wait (that would wait for itself forever) and logs a warning.
    ///
    /// # Examples
    ///
    /// ```
    /// use switchboard::{ExecutorError, ThreadPool};
    ///
    /// # fn main() -> Result<(), ExecutorError> {
    /// let pool = ThreadPool::new(1)?;
    /// let first = pool.submit(|| 1)?;
    /// let second = pool.submit(|| 2)?;
    ///
    /// // Both queued jobs run before the worker exits.
    /// pool.shutdown(true);
    /// assert!(first.is_done() && second.is_done());
    /// # Ok(())
    /// # }
    /// ```
    pub fn shutdown(&self, wait: bool) {
        self.pool.core.stop();
        if wait {
            self.pool.core.join(None);
        }
    }

    /// Waits up to `timeout` for every worker thread to exit and returns
    /// `true` if they all did. Meant to follow `shutdown(false)`, as
    /// `loop.shutdown_default_executor(timeout)` does: on `false` the caller
    /// warns, and the stuck workers are left to finish on their own.
    ///
    /// Without a shutdown the workers never exit, so this returns `false`
    /// once any worker was started. Called from one of this pool's own
    /// workers, it returns `false` at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use switchboard::{ExecutorError, ThreadPool};
    ///
    /// # fn main() -> Result<(), ExecutorError> {
    /// let pool = ThreadPool::new(2)?;
    /// let future = pool.submit(|| "quick")?;
    ///
    /// pool.shutdown(false);
    /// assert!(pool.join_timeout(Duration::from_secs(5)));
    /// assert!(future.is_done());
    /// # Ok(())
    /// # }
    /// ```
    pub fn join_timeout(&self, timeout: Duration) -> bool {
        self.pool.core.join(Some(timeout))
    }
}

impl fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let core = &self.pool.core;
        let state = core.lock();
        f.debug_struct("ThreadPool")
            .field("max_workers", &core.max_workers)
            .field("workers", &state.threads.len())
            .field("idle", &state.idle)
            .field("queued", &state.queued)
            .field("shut_down", &matches!(state.lifecycle, Lifecycle::ShutDown))
            .finish()
    }
}

impl Drop for Pool {
    /// The last handle is gone: nobody can submit, so let the workers drain
    /// the queue and exit instead of waiting for jobs forever.
    fn drop(&mut self) {
        self.core.stop();
    }
}

impl Core {
    /// Locks the state. Jobs run outside the lock and no code panics while
    /// holding it, so a poisoned lock still guards consistent counters.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Moves to `ShutDown`, dropping the pool's ends of the queue.
    fn stop(&self) {
        let old = mem::replace(&mut self.lock().lifecycle, Lifecycle::ShutDown);
        drop(old);
    }

    /// Waits for every worker to exit (up to `timeout`, if given), then joins
    /// them. Returns `false` on timeout or when called from a worker of this
    /// pool.
    fn join(&self, timeout: Option<Duration>) -> bool {
        let state = self.lock();
        let me = thread::current().id();
        if state.threads.iter().any(|t| t.thread().id() == me) {
            crate::diag::warning!("executor worker cannot wait for its own pool to shut down");
            return false;
        }
        let mut state = match timeout {
            None => self
                .exited
                .wait_while(state, |s| s.live > 0)
                .unwrap_or_else(PoisonError::into_inner),
            Some(timeout) => {
                let (state, result) = self
                    .exited
                    .wait_timeout_while(state, timeout, |s| s.live > 0)
                    .unwrap_or_else(PoisonError::into_inner);
                if result.timed_out() {
                    return false;
                }
                state
            }
        };
        // No worker is alive, so none can be asking whether it is one of ours.
        let threads = mem::take(&mut state.threads);
        drop(state);
        for thread in threads {
            // A worker contains every job's panic, so join cannot fail.
            let _ = thread.join();
        }
        true
    }
}

/// Starts worker number `index`, serving jobs from `queue`.
fn spawn_worker(
    core: &Arc<Core>,
    index: usize,
    queue: Receiver<Job>,
) -> std::io::Result<JoinHandle<()>> {
    let core = Arc::clone(core);
    thread::Builder::new()
        .name(format!("switchboard-pool-{index}"))
        .spawn(move || run_worker(&core, &queue))
}

/// A worker's whole life: take jobs until the queue is closed and empty.
fn run_worker(core: &Core, queue: &Receiver<Job>) {
    let _exit = ExitGuard(core);
    while let Ok(job) = queue.recv() {
        {
            let mut state = core.lock();
            state.idle -= 1;
            state.queued -= 1;
        }
        // The job catches its own function's panic. This outer catch also
        // contains a panic from dropping an unclaimed result, so no job can
        // take its worker down.
        let _ = panic::catch_unwind(AssertUnwindSafe(job));
        core.lock().idle += 1;
    }
}

/// Counts the worker out when its thread function ends, however it ends.
struct ExitGuard<'a>(&'a Core);

impl Drop for ExitGuard<'_> {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.idle = state.idle.saturating_sub(1);
        state.live -= 1;
        drop(state);
        self.0.exited.notify_all();
    }
}

#[cfg(test)]
mod tests;
