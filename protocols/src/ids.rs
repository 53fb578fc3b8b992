//! Identifiers of the things a loop owns.

use std::fmt;

/// Identifies an actor (transport, server, application actor) in its loop's
/// actor table. Ids of finished actors may be reused; an [`Addr`](crate::Addr)
/// also carries the incarnation it was made for, so it never reaches a later
/// actor that got the same id. Only the loop makes ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ActorId(usize);

impl ActorId {
    /// The index of the actor's row in its loop's table.
    pub fn index(self) -> usize {
        self.0
    }

    pub(crate) fn from_index(index: usize) -> Self {
        ActorId(index)
    }
}

impl fmt::Display for ActorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "actor#{}", self.0)
    }
}
