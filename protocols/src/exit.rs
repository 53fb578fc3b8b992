//! Why an actor stopped, and the message its monitors and links receive.

use std::fmt;

use crate::ids::ActorId;

/// Why an actor stopped. Supervisors decide on it whether a child is
/// restarted; monitors and links receive it in [`ActorExited`].
///
/// `Normal` and `Shutdown` are clean ends: a *transient* child is not
/// restarted after them, and a link does not stop the other side for them.
/// Everything else is abnormal.
///
/// ```
/// use switchboard::ExitReason;
///
/// assert!(ExitReason::Shutdown.is_clean());
/// let crash = ExitReason::failed("attempt to divide by zero");
/// assert!(!crash.is_clean());
/// assert_eq!(crash.to_string(), "failed: attempt to divide by zero");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExitReason {
    /// The actor stopped itself (`ctx.stop()`), or a connection ended
    /// cleanly (`ConnectionLost(None)`).
    Normal,
    /// The actor stopped because it was asked to: its supervisor, or the
    /// loop's `shutdown`, stopped it within its deadline.
    Shutdown,
    /// The actor was stopped at once: its shutdown deadline passed, or its
    /// supervisor gave up.
    Killed,
    /// The actor failed: its handler panicked (the panic message), it
    /// stopped itself with an error, a connection was lost with an error,
    /// or an actor linked to it failed.
    Failed {
        /// The panic message or the error, as text.
        message: String,
    },
    /// The actor was already gone when the monitor was set up, and how it
    /// ended is no longer known (Erlang's `noproc`).
    NoProc,
}

impl ExitReason {
    /// A failure with `message`.
    pub fn failed(message: impl Into<String>) -> Self {
        ExitReason::Failed {
            message: message.into(),
        }
    }

    /// True for `Normal` and `Shutdown`: the ends a transient child is not
    /// restarted after, and a link lets pass.
    pub fn is_clean(&self) -> bool {
        matches!(self, ExitReason::Normal | ExitReason::Shutdown)
    }
}

impl fmt::Display for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitReason::Normal => f.write_str("normal"),
            ExitReason::Shutdown => f.write_str("shutdown"),
            ExitReason::Killed => f.write_str("killed"),
            ExitReason::Failed { message } => write!(f, "failed: {message}"),
            ExitReason::NoProc => f.write_str("no such actor"),
        }
    }
}

/// An actor a monitor watches (or one linked to a trapping actor) has
/// stopped. Sent once per monitor, after the actor's last message was
/// handled; sent at once when the actor was already gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorExited {
    /// The actor that stopped.
    pub id: ActorId,
    /// Why.
    pub reason: ExitReason,
}
