//! Errors raised by the thread-pool executor.

use std::io;

/// Why a job could not be submitted, or why its [`ExecutorFuture`] resolved
/// without a value.
///
/// asyncio surfaces these conditions as separate exceptions: `RuntimeError`
/// ("cannot schedule new futures after shutdown"), the exception raised by
/// the function itself, and `ValueError` for a bad `max_workers`.
///
/// [`ExecutorFuture`]: crate::ExecutorFuture
///
/// # Examples
///
/// ```
/// use switchboard::{ExecutorError, ThreadPool};
///
/// // A pool needs at least one worker, as in `ThreadPoolExecutor(max_workers=0)`.
/// let err = ThreadPool::new(0).unwrap_err();
/// assert!(matches!(err, ExecutorError::InvalidSize { max_workers: 0 }));
/// assert_eq!(err.to_string(), "max_workers must be greater than 0, got 0");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecutorError {
    /// The pool was shut down: returned by `submit` after `shutdown`, and by a
    /// future whose job was dropped without ever running.
    #[error("executor is shut down")]
    Shutdown,
    /// The submitted function panicked on its worker thread. The worker caught
    /// the panic and went on serving jobs.
    #[error("executor job panicked: {message}")]
    Panicked {
        /// The panic payload when it was a string, otherwise a placeholder.
        message: String,
    },
    /// `max_workers` was 0 (asyncio raises `ValueError`).
    #[error("max_workers must be greater than 0, got {max_workers}")]
    InvalidSize {
        /// The rejected size.
        max_workers: usize,
    },
    /// The operating system refused to start a worker thread, and the pool had
    /// no other worker to run the job.
    #[error("cannot spawn executor worker thread: {0}")]
    Spawn(#[source] io::Error),
}
