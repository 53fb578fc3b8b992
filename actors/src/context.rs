//! What an actor needs from the loop that owns it.
//!
//! The loop (crate `switchboard`) implements [`LoopContext`]; actors never name
//! the loop's own types, which keeps the dependency pointing one way.

use std::any::Any;
use std::time::Duration;

use bytes::BytesMut;
use switchboard_protocols::{ActorId, ExceptionContext, ExitReason};

/// Why the loop calls an actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readiness {
    /// The source can be read (or accepted from), or hit EOF or an error.
    pub readable: bool,
    /// The source can be written to.
    pub writable: bool,
    /// The peer hung up or the source is in error; reads will tell which.
    pub closed: bool,
    /// Which of the actor's sources this is: 0 for the one registered under
    /// [`LoopContext::token_of`], `n` for one registered under
    /// [`source_token`]`(token, n)` (a subprocess registers its pidfd and
    /// its pipes this way).
    pub source: u8,
}

/// Where the source number sits in a mio token: the top byte, above any
/// actor index a loop can hold.
const SOURCE_SHIFT: u32 = usize::BITS - 8;

/// The token for source `source` of the actor whose own token is `token`.
pub fn source_token(token: mio::Token, source: u8) -> mio::Token {
    mio::Token(token.0 | (usize::from(source) << SOURCE_SHIFT))
}

/// Splits a token into the actor's own token and the source number.
pub fn split_token(token: mio::Token) -> (mio::Token, u8) {
    let mask = (1usize << SOURCE_SHIFT) - 1;
    (mio::Token(token.0 & mask), (token.0 >> SOURCE_SHIFT) as u8)
}

/// Whether an actor lives on after a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Keep the actor and its registration.
    Alive,
    /// The actor is finished: the loop drops it (closing what it owns) and frees
    /// its id.
    Done,
}

/// A thing the loop owns and drives: a transport, a server, a watcher, or an
/// application actor.
///
/// The loop calls one method at a time, on its own thread, never re-entrantly.
pub trait LoopActor: 'static {
    /// The actor's mio source became ready (it registered with token
    /// [`LoopContext::token_of`] of its id).
    fn ready(&mut self, readiness: Readiness, cx: &mut dyn LoopContext) -> Status {
        let _ = (readiness, cx);
        Status::Alive
    }

    /// The end of the loop iteration in which the actor asked for it with
    /// [`LoopContext::at_end_of_turn`]: after every callback, message and
    /// readiness event of the iteration's snapshot. A transport flushes here
    /// what it held back during the turn, so many small writes leave in one
    /// syscall.
    fn end_of_turn(&mut self, cx: &mut dyn LoopContext) -> Status {
        let _ = cx;
        Status::Alive
    }

    /// A timer the actor set with [`LoopContext::wake_after`] fired.
    fn timer(&mut self, tag: u64, cx: &mut dyn LoopContext) -> Status {
        let _ = (tag, cx);
        Status::Alive
    }

    /// A message or command for this actor: an application message for its
    /// protocol, or a command from a handle held outside the actor (close,
    /// abort, write from `main`). The actor downcasts what it understands and
    /// drops the rest.
    fn deliver(&mut self, msg: Box<dyn Any>, cx: &mut dyn LoopContext) -> Status {
        let _ = (msg, cx);
        Status::Alive
    }

    /// The loop is closing: release everything now (no event will follow).
    fn shutdown(&mut self, cx: &mut dyn LoopContext) {
        let _ = cx;
    }

    /// Why the actor stopped, asked once after a call returned
    /// [`Status::Done`] (monitors, links and supervisors receive it). Clean
    /// by default.
    fn exit_reason(&mut self) -> ExitReason {
        ExitReason::Normal
    }

    /// Stop now (a linked actor failed, or a supervisor's deadline passed).
    /// By default the same as [`shutdown`](Self::shutdown), and the actor is
    /// gone; an actor that owes its protocol a last event (a transport's
    /// `ConnectionLost`) aborts instead and answers `Alive` until it has
    /// delivered it.
    fn kill(&mut self, cx: &mut dyn LoopContext) -> Status {
        self.shutdown(cx);
        Status::Done
    }

    /// True if the actor takes the exit of a linked actor as a message
    /// instead of stopping with it (Erlang's `trap_exit`).
    fn traps_exits(&self) -> bool {
        false
    }

    /// The descriptor of the socket this actor owns as a transport, while it
    /// is open: the loop refuses `add_reader`/`add_writer` on it, as asyncio
    /// refuses to watch a descriptor a transport uses.
    fn transport_fd(&self) -> Option<std::os::fd::RawFd> {
        None
    }

    /// A short description for exception contexts and introspection, like
    /// `TcpTransport fd=7 peer=127.0.0.1:4000`.
    fn describe(&self) -> String;

    /// Fills in what introspection shows of this actor: its kind, state and
    /// the figures of its kind (the loop has filled in its row, incarnation,
    /// description, name and messages handled). Nothing by default.
    fn inspect(&self, info: &mut crate::inspect::ActorInfo) {
        let _ = info;
    }
}

/// The loop services an actor may use while it is being called.
pub trait LoopContext {
    /// The id of the actor being called.
    fn id(&self) -> ActorId;

    /// The mio registry, to register, reregister and deregister sources.
    fn registry(&self) -> &mio::Registry;

    /// The mio token that routes readiness to actor `id`.
    fn token_of(&self, id: ActorId) -> mio::Token;

    /// Reserves an id for an actor about to be created (so it can register its
    /// source with the right token); follow with [`insert`](Self::insert).
    fn reserve(&mut self) -> ActorId;

    /// Puts a new actor in the table under a reserved id.
    fn insert(&mut self, id: ActorId, actor: Box<dyn LoopActor>);

    /// Gives back an id from [`reserve`](Self::reserve) that will hold no
    /// actor (setting the actor up failed), so its slot is not leaked.
    fn release(&mut self, id: ActorId);

    /// Queues a message for another actor (or this one); delivered after the
    /// current call returns, never re-entrantly, and only to the incarnation
    /// living in `to` when it was queued: an actor that ends first takes the
    /// message with it.
    fn send(&mut self, to: ActorId, msg: Box<dyn Any>);

    /// Calls this actor's [`LoopActor::end_of_turn`] once the current loop
    /// iteration has run its snapshot (once per call: ask once per turn).
    fn at_end_of_turn(&mut self);

    /// The incarnation living in row `id` now (0 for none), so a reference
    /// kept for later (a server's list of its connections) can name it.
    fn generation(&self, id: ActorId) -> u64;

    /// Calls this actor's [`LoopActor::timer`] with `tag` after `delay`.
    fn wake_after(&mut self, delay: Duration, tag: u64);

    /// Reports to the loop's exception handler.
    fn report(&mut self, context: ExceptionContext);

    /// True in debug mode.
    fn debug(&self) -> bool;

    /// The loop's shared read buffer: read into it, then `split().freeze()` what
    /// was read, so idle connections hold no read buffer of their own.
    fn read_buffer(&mut self) -> &mut BytesMut;

    /// Runs `f` on the loop's ready queue after this call returns (for
    /// completions the loop's futures are waiting for).
    fn call_soon(&mut self, f: Box<dyn FnOnce()>);

    /// Leaves the loop with an `Interrupt` once this call has returned: for
    /// an actor that caught one from the code it runs (a protocol handler)
    /// and first brings its own state to rest. The actor stays in the
    /// table; the loop is stopped, not closed, and runs again as asyncio's
    /// does after a `KeyboardInterrupt`.
    fn interrupt(&mut self);
}
