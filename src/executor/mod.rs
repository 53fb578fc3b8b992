//! The thread-pool executor behind `run_in_executor`: blocking functions run
//! on worker threads and their results come back as futures.
//!
//! ```text
//!  loop thread                     worker threads (switchboard-pool-N)
//!  ───────────                     ───────────────────────────────────
//!  ThreadPool::submit(f) ──Job──▶ flume queue ──▶ recv, run f (panic caught)
//!  ExecutorFuture ◀──────── outcome + wake ────── Completer
//! ```
//!
//! Mirrors `concurrent.futures.ThreadPoolExecutor`, asyncio's default
//! executor. It depends on nothing else in the crate.

mod error;
mod future;
pub(crate) mod run_in_executor;
mod thread_pool;

pub use self::error::ExecutorError;
pub use self::future::ExecutorFuture;
pub use self::thread_pool::ThreadPool;
