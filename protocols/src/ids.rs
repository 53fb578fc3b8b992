//! Identifiers of the things a loop owns.

use std::fmt;

/// Identifies an actor (transport, server, application actor) in its loop's
/// actor table. Ids of finished actors may be reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ActorId(pub usize);

impl fmt::Display for ActorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "actor#{}", self.0)
    }
}
