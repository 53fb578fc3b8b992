//! `run_in_executor`, the default executor and its shutdown.

use std::future::Future;
use std::time::Duration;

use crate::error::LoopError;
use crate::event_loop::EventLoop;
use crate::executor::{ExecutorFuture, ThreadPool};

impl EventLoop {
    /// Runs `f` on `executor` (or the loop's default thread pool, made on first
    /// use with asyncio's size, min(32, cpus + 4)) and returns a future of its
    /// result. Dropping the future does not stop `f` (E2); a panic in `f` comes
    /// back as [`ExecutorError::Panicked`](crate::ExecutorError::Panicked).
    /// Workers never call into the loop: they complete the future, whose waker
    /// does nothing once the loop is closed.
    ///
    /// ```
    /// let lp = switchboard::new_event_loop()?;
    /// let fut = lp.run_in_executor(None, || std::thread::current().name().map(String::from))?;
    /// let name = lp.run_until_complete(fut)??;
    /// assert!(name.unwrap().starts_with("switchboard-pool"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn run_in_executor<T, F>(
        &self,
        executor: Option<&ThreadPool>,
        f: F,
    ) -> Result<ExecutorFuture<T>, LoopError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        self.core.check_open()?;
        let fut = match executor {
            Some(pool) => pool.submit(f)?,
            None => self.default_executor().submit(f)?,
        };
        Ok(fut)
    }

    fn default_executor(&self) -> ThreadPool {
        self.core
            .executor
            .borrow_mut()
            .get_or_insert_with(ThreadPool::with_default_size)
            .clone()
    }

    /// Makes `pool` the default executor. The previous default, if any, is shut
    /// down without waiting.
    pub fn set_default_executor(&self, pool: ThreadPool) {
        if let Some(old) = self.core.executor.borrow_mut().replace(pool) {
            old.shutdown(false);
        }
    }

    /// Shuts the default executor down and waits, off the loop thread, for its
    /// workers to finish, up to `timeout` (`None`: no limit). If they do not
    /// finish in time, a warning is logged and the future still completes, as
    /// asyncio's `RuntimeWarning`. Later `run_in_executor(None, …)` calls get a
    /// fresh pool.
    pub fn shutdown_default_executor(
        &self,
        timeout: Option<Duration>,
    ) -> impl Future<Output = ()> + 'static {
        let pool = self.core.executor.borrow_mut().take();
        let (tx, rx) = flume::bounded::<bool>(1);
        if let Some(pool) = pool {
            pool.shutdown(false);
            let limit = timeout.unwrap_or(Duration::MAX);
            let spawned = std::thread::Builder::new()
                .name("switchboard-executor-shutdown".into())
                .spawn(move || {
                    let _ = tx.send(pool.join_timeout(limit));
                });
            if spawned.is_err() {
                crate::diag::warning!("could not start a thread to join the default executor");
            }
        } else {
            let _ = tx.send(true);
        }
        async move {
            match rx.recv_async().await {
                Ok(true) => {}
                Ok(false) => crate::diag::warning!(
                    "the default executor did not finish joining its threads within {timeout:?}"
                ),
                Err(_) => crate::diag::warning!(
                    "the default executor's joiner thread ended without a result"
                ),
            }
        }
    }
}
