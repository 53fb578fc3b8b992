//! Messages the loop itself sends to actors, beside their own: exits of
//! watched and linked actors, shutdown requests and kills.

use switchboard_protocols::{ActorExited, ExitReason};

/// A loop message in an actor's mailbox. Routing handles `Kill` and
/// `LinkExited` for every kind of actor; an application actor's mailbox
/// handles the rest.
#[derive(Debug)]
pub(crate) enum System {
    /// A monitored actor stopped (or a linked one, to an actor that traps
    /// exits).
    Exited(ActorExited),
    /// A linked actor stopped: the receiver stops with the same reason if
    /// it was abnormal, unless it traps exits.
    LinkExited(ActorExited),
    /// Stop, finishing what you do first: the actor's `shutdown_requested`
    /// decides when (by default at once, with `ExitReason::Shutdown`).
    Shutdown,
    /// Stop now with this reason.
    Kill(ExitReason),
}
