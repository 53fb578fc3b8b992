//! The application-message slot that every event enum carries.

/// The message type of a protocol that takes no application messages.
///
/// It has no values, so the `Message(_)` variant of an event enum can never be
/// built for such a protocol; a `match` may leave that arm out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoMessage {}
