//! What can go wrong in a loop group.

/// An error of a [`LoopGroup`](crate::LoopGroup) or its
/// [`GroupHandle`](crate::GroupHandle). Converts into
/// [`switchboard::Error`](crate::Error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GroupError {
    /// [`GroupHandle::register`](crate::GroupHandle::register) with a name
    /// another live actor holds.
    #[error("the name {0:?} is registered already in this loop group")]
    NameTaken(String),
    /// [`GroupHandle::lookup`](crate::GroupHandle::lookup) asked for another
    /// message type than the registered actor takes.
    #[error("the actor registered as {name:?} takes {registered}, not {asked}")]
    WrongType {
        /// The name looked up.
        name: String,
        /// The message type of the registered address.
        registered: &'static str,
        /// The message type asked for.
        asked: &'static str,
    },
    /// The group is stopping (a loop gave up past the intensity, or every
    /// loop ended): nothing more is registered or found.
    #[error("the loop group is stopping")]
    Stopped,
    /// A bad argument to the builder.
    #[error("invalid loop group argument: {0}")]
    InvalidArgs(&'static str),
    /// A loop thread could not be started or pinned.
    #[error("cannot start loop {index} of the group: {message}")]
    Start {
        /// The loop's index.
        index: usize,
        /// The operating system's reason.
        message: String,
    },
    /// Loop `index` panicked outside a handler (its thread ended; with
    /// restarts disabled, `run` returns this).
    #[error("loop {index} of the group panicked: {message}")]
    Panicked {
        /// The loop's index.
        index: usize,
        /// The panic's message.
        message: String,
    },
}
