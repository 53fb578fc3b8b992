//! Errors of supervision.

use std::time::Duration;

/// A supervisor that could not keep its children running.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SupervisorError {
    /// More restarts than the intensity allows: the supervisor stopped its
    /// children and exited (at the root, `run` returns this).
    #[error("supervisor {name} gave up: more than {max_restarts} restarts within {within:?}")]
    GaveUp {
        /// The supervisor's name.
        name: String,
        /// The most restarts allowed within `within`.
        max_restarts: u32,
        /// The window.
        within: Duration,
    },
    /// A [`LoopGroup`](crate::LoopGroup) gave up: its loops failed more
    /// often than its intensity allows; every loop was stopped.
    #[error("the loop group gave up: more than {max_restarts} loop restarts within {within:?} (last: loop {index}: {last})")]
    GroupGaveUp {
        /// The loop whose failure was one too many.
        index: usize,
        /// The most restarts allowed within `within`.
        max_restarts: u32,
        /// The window.
        within: Duration,
        /// That loop's error, as text.
        last: String,
    },
    /// A server child could not start.
    #[error("supervisor {supervisor} cannot start child {child}: {message}")]
    StartFailed {
        /// The supervisor's name.
        supervisor: String,
        /// The child's name.
        child: String,
        /// Why, as text (the error itself went to the exception handler).
        message: String,
    },
}
