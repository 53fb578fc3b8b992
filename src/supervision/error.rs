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
