//! Asking an actor from inside a protocol: `t.call(&addr, make, wrap)`.
//!
//! The question goes to the actor with a [`ReplyTo`] that, instead of waking
//! a future, posts the answer to the connection as a message (a
//! [`CallAnswer`]). The transport keeps one entry per call, in call order,
//! and hands each answer to the protocol as `StreamEvent::Message(wrap(..))`
//! once every earlier call was answered: no task, no waker, no reorder map in
//! the protocol.

use std::any::Any;
use std::cell::Cell;
use std::sync::Arc;

use crate::addr::{Addr, CallError, ReplyTo, SendError};
use crate::ids::ActorId;
use crate::internal::Mailer;
use crate::stream::StreamTransport;

/// Turns a posted answer (a `Result<T, CallError>` or a bare [`CallError`],
/// boxed) into the protocol's own message.
pub type Convert<M> = Box<dyn FnOnce(Box<dyn Any + Send>) -> M>;

thread_local! {
    /// Calls made from protocols on this thread whose answer has not been
    /// handed to the protocol yet: each is one entry in its connection's
    /// table (which lives on its loop's thread) and, until it is answered,
    /// one [`ReplyTo`] held by an actor.
    static LIVE: Cell<usize> = const { Cell::new(0) };
}

/// How many calls made with `t.call` by connections of this thread's loops
/// are live: asked and not yet handed to their protocol (or dropped with
/// their connection). Zero once every connection that called was answered
/// or is gone; a test reads it to show that answers to lost connections
/// leak nothing.
///
/// ```
/// // No connection of this thread has asked anything yet.
/// assert_eq!(switchboard::testing::live_calls(), 0);
/// ```
pub fn live_calls() -> usize {
    LIVE.with(Cell::get)
}

/// One live call, counted in [`live_calls`] from when it is made until it is
/// dropped (its answer handed over, or its connection gone).
#[derive(Debug)]
pub struct LiveCall(());

impl LiveCall {
    /// Counts one more live call.
    pub fn new() -> Self {
        LIVE.with(|n| n.set(n.get() + 1));
        LiveCall(())
    }
}

impl Default for LiveCall {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for LiveCall {
    fn drop(&mut self) {
        LIVE.with(|n| n.set(n.get() - 1));
    }
}

/// The answer to call number `seq` of a connection, posted to it.
#[derive(Debug)]
pub struct CallAnswer {
    /// The call's number in its connection (from 0, in call order).
    pub seq: u64,
    /// A `Result<T, CallError>` or a bare [`CallError`], boxed.
    pub value: Box<dyn Any + Send>,
}

/// Where the answer to one call goes: incarnation `gen` of connection `to`,
/// as call number `seq`. Made by the transport ([`StreamTransport::call_ticket`]).
pub struct Ticket {
    mailer: Arc<dyn Mailer>,
    to: ActorId,
    gen: u64,
    seq: u64,
}

impl std::fmt::Debug for Ticket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ticket")
            .field("to", &self.to)
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

impl Ticket {
    /// A ticket for call `seq` of incarnation `gen` of connection `to`.
    pub fn new(mailer: Arc<dyn Mailer>, to: ActorId, gen: u64, seq: u64) -> Self {
        Ticket {
            mailer,
            to,
            gen,
            seq,
        }
    }

    /// Posts `value`; gives it back if the connection is gone.
    pub(crate) fn answer<V: Send + 'static>(&self, value: V) -> Result<(), Box<dyn Any + Send>> {
        let msg = CallAnswer {
            seq: self.seq,
            value: Box::new(value),
        };
        self.mailer
            .post(self.to, self.gen, Box::new(msg))
            .map_err(|back| match back.downcast::<CallAnswer>() {
                Ok(answer) => answer.value,
                Err(other) => other,
            })
    }

    /// Ends the call without an answer ([`CallError::NoReply`]).
    pub(crate) fn no_reply(&self) {
        // A connection that is gone needs no word.
        let _ = self.answer(CallError::NoReply);
    }

    /// True while the connection that asked still lives.
    pub(crate) fn is_waiting(&self) -> bool {
        self.mailer.generation(self.to) == self.gen
    }
}

/// The converter for answers of type `T`, wrapped by `wrap`.
fn converter<T, M>(wrap: impl FnOnce(Result<T, CallError>) -> M + 'static) -> Convert<M>
where
    T: Send + 'static,
{
    Box::new(move |value: Box<dyn Any + Send>| {
        let result = match value.downcast::<Result<T, CallError>>() {
            Ok(r) => *r,
            Err(other) => Err(other
                .downcast::<CallError>()
                .map_or(CallError::NoReply, |e| *e)),
        };
        wrap(result)
    })
}

impl<M: 'static> dyn StreamTransport<M> + '_ {
    /// Asks the actor at `addr` a question from inside this connection's
    /// protocol; the answer comes back as an event of this connection,
    /// `StreamEvent::Message(wrap(answer))` (`BufferedEvent::Message` for a
    /// buffered protocol). `make` builds the actor's message around the
    /// [`ReplyTo`] it answers through, as with [`Addr::call`].
    ///
    /// - **In order.** Answers to one connection's calls reach its protocol
    ///   in the order the calls were made, whatever order the actors answer
    ///   in: a pipelined protocol writes each answer as it comes.
    /// - **Never a hang.** A call to an actor that has stopped (or whose loop
    ///   is closed) is answered `Err(CallError::Stopped)`, one whose bounded
    ///   mailbox is full `Err(CallError::MailboxFull)`, and one the actor
    ///   drops unanswered `Err(CallError::NoReply)`: each as an event, in its
    ///   place in the order.
    /// - **Bounded.** A connection has at most
    ///   [`max_calls_in_flight`](StreamTransport::max_calls_in_flight) calls
    ///   unanswered (64 unless the server or connection builder says
    ///   otherwise). At the bound the transport stops reading its socket
    ///   until answers have been handed over, so a peer that pipelines
    ///   requests and never reads the answers costs a bounded amount. The
    ///   bound holds reading, not `call` itself: a protocol that parses many
    ///   requests out of one read may go past it by what that read held (the
    ///   ready-made framers stop taking frames at the bound instead).
    /// - **Nothing lost at EOF.** A peer that half-closes while calls are
    ///   pending still gets every answer: the transport stays open for
    ///   writing until the last one was handed over and its handler returned,
    ///   then closes as after any `EofReceived` (unless the protocol called
    ///   `keep_open`). TLS cannot half-close: there the peer's close_notify
    ///   ends the connection at once, and answers still pending are dropped.
    /// - **Written together.** What the protocol writes while answers are
    ///   handed over is held until the end of the loop's turn and leaves in
    ///   one syscall: the answers to a pipelined batch cost one write, not
    ///   one each. The held bytes count in the write buffer meanwhile (and
    ///   in its watermarks).
    /// - `wrap` runs when the answer arrives (not necessarily in call
    ///   order); a panic in it fails the connection as a panicking handler
    ///   does.
    /// - An answer for a connection already lost is dropped, without an
    ///   event and without a leak. On a closing transport `call` asks
    ///   nothing and returns `Ok(())`, as a write after close is dropped.
    ///
    /// It fails only for a transport that cannot take answers (a test
    /// double without calls): [`CallError::Stopped`].
    ///
    /// ```
    /// use switchboard::prelude::*;
    ///
    /// # #[allow(dead_code)]
    /// enum Kv { Get(String, ReplyTo<String>) }
    /// enum Conn { Got(Result<String, CallError>) }
    ///
    /// struct Client { store: Addr<Kv> }
    ///
    /// impl StreamProtocol<Conn> for Client {
    ///     fn handle(&mut self, ev: StreamEvent<Conn>, t: &mut dyn StreamTransport<Conn>) -> Result<(), ProtocolError> {
    ///         match ev {
    ///             StreamEvent::DataReceived(key) => {
    ///                 let key = String::from_utf8_lossy(&key).trim().to_string();
    ///                 t.call(&self.store, |reply| Kv::Get(key, reply), Conn::Got)?;
    ///             }
    ///             StreamEvent::Message(Conn::Got(Ok(value))) => t.write(value.as_bytes())?,
    ///             StreamEvent::Message(Conn::Got(Err(e))) => t.write(format!("ERR {e}\n").as_bytes())?,
    ///             _ => {}
    ///         }
    ///         Ok(())
    ///     }
    /// }
    /// # let _ = |store: Addr<Kv>| Client { store };
    /// ```
    pub fn call<A, T>(
        &mut self,
        addr: &Addr<A>,
        make: impl FnOnce(ReplyTo<T>) -> A,
        wrap: impl FnOnce(Result<T, CallError>) -> M + 'static,
    ) -> Result<(), CallError>
    where
        A: Send + 'static,
        T: Send + 'static,
    {
        if self.is_closing() {
            return Ok(());
        }
        let Some(ticket) = self.call_ticket(converter(wrap)) else {
            return Err(CallError::Stopped);
        };
        let seq = ticket.seq;
        let refused = match addr.send(make(crate::reply::posting::<T>(ticket))) {
            Ok(()) => return Ok(()),
            Err(SendError::Stopped(msg)) => (CallError::Stopped, msg),
            Err(SendError::Full(msg)) => (CallError::MailboxFull, msg),
        };
        // Answered here, before the question (and its `ReplyTo`, which would
        // say `NoReply`) is dropped: the first answer of a call is the one.
        self.call_refused(seq, refused.0);
        drop(refused.1);
        Ok(())
    }
}
