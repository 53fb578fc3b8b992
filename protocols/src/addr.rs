//! Addresses of actors: how other actors and threads send them messages, and
//! ask them questions.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::capacity::Capacity;
use crate::ids::ActorId;
use crate::internal::Mailer;
pub use crate::reply::ReplyTo;
use crate::reply::{self, Answer};

/// A message that could not be delivered; the message is given back.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError<M> {
    /// The actor has stopped, or its loop is closed.
    #[error("cannot deliver the message: the actor has stopped or its loop is closed")]
    Stopped(M),
    /// The actor's bounded mailbox holds its bound (see
    /// [`Addr::send_wait`] to wait for room instead).
    #[error("cannot deliver the message: the actor's mailbox is full")]
    Full(M),
}

impl<M> SendError<M> {
    /// The message that was not delivered.
    pub fn into_inner(self) -> M {
        match self {
            SendError::Stopped(m) | SendError::Full(m) => m,
        }
    }

    /// True for [`SendError::Full`].
    pub fn is_full(&self) -> bool {
        matches!(self, SendError::Full(_))
    }
}

impl<M> fmt::Debug for SendError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Stopped(_) => f.write_str("Stopped(..)"),
            SendError::Full(_) => f.write_str("Full(..)"),
        }
    }
}

/// How an [`Addr::call`] ended without an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// The question could not be delivered: the actor has stopped, or its loop
    /// is closed.
    #[error("cannot ask the actor: it has stopped or its loop is closed")]
    Stopped,
    /// The question could not be delivered: the actor's bounded mailbox is
    /// full.
    #[error("cannot ask the actor: its mailbox is full")]
    MailboxFull,
    /// The actor dropped the [`ReplyTo`] without answering (it stopped, or it
    /// chose not to answer).
    #[error("the actor dropped the question without answering")]
    NoReply,
}

/// The typed address of an actor that takes messages of type `M`: an
/// application actor, or a connection's protocol. `Send + Sync + Clone`, usable
/// from any thread. Messages from one sender arrive in the order sent. Once
/// the actor has stopped, [`send`](Addr::send) fails and gives the message
/// back; a message already on its way when the actor stops is dropped.
///
/// Only the loop makes addresses (`spawn`, a transport's `addr()`), so an
/// `Addr` always names an actor that existed:
///
/// ```compile_fail
/// // There is no public constructor…
/// fn forge(id: switchboard::ActorId) -> switchboard::Addr<u8> {
///     switchboard::Addr::new(id)
/// }
/// ```
///
/// ```compile_fail
/// // …and an `ActorId` cannot be made either.
/// let id = switchboard::ActorId(3);
/// ```
pub struct Addr<M> {
    id: ActorId,
    gen: u64,
    mailer: Arc<dyn Mailer>,
    /// The bound of a bounded mailbox.
    capacity: Option<Arc<Capacity>>,
    _msg: PhantomData<fn(M)>,
}

impl<M> Clone for Addr<M> {
    fn clone(&self) -> Self {
        Addr {
            id: self.id,
            gen: self.gen,
            mailer: self.mailer.clone(),
            capacity: self.capacity.clone(),
            _msg: PhantomData,
        }
    }
}

impl<M: Send + 'static> Addr<M> {
    pub(crate) fn from_parts(
        id: ActorId,
        gen: u64,
        mailer: Arc<dyn Mailer>,
        capacity: Option<Arc<Capacity>>,
    ) -> Self {
        Addr {
            id,
            gen,
            mailer,
            capacity,
            _msg: PhantomData,
        }
    }

    /// The actor's id.
    pub fn id(&self) -> ActorId {
        self.id
    }

    pub(crate) fn generation(&self) -> u64 {
        self.gen
    }

    pub(crate) fn capacity_arc(&self) -> Option<Arc<Capacity>> {
        self.capacity.clone()
    }

    /// Sends `msg`; it is delivered on the actor's loop thread, never inside the
    /// caller. Fails, giving `msg` back, once the actor has stopped or its loop
    /// is closed ([`SendError::Stopped`]), or while its bounded mailbox holds
    /// its bound ([`SendError::Full`]).
    pub fn send(&self, msg: M) -> Result<(), SendError<M>> {
        if let Some(cap) = &self.capacity {
            if !cap.try_reserve() {
                return Err(SendError::Full(msg));
            }
        }
        self.post(msg)
    }

    /// Posts a message already counted against the bound.
    fn post(&self, msg: M) -> Result<(), SendError<M>> {
        self.mailer
            .post(self.id, self.gen, Box::new(msg))
            .map_err(|b| {
                if let Some(cap) = &self.capacity {
                    cap.release();
                }
                SendError::Stopped(unbox(b))
            })
    }

    /// Sends `msg`, waiting for room in a bounded mailbox (at once for an
    /// unbounded one). Fails with [`SendError::Stopped`] if the actor stops
    /// first.
    pub fn send_wait(&self, msg: M) -> SendWait<M> {
        SendWait {
            addr: self.clone(),
            msg: Some(msg),
        }
    }

    /// Sends `msg` from inside a stream protocol's handler, with
    /// backpressure: the message is always accepted (unless the actor has
    /// stopped), and if that fills the bounded mailbox, the transport `t`
    /// stops reading until the mailbox has room again. So a connection that
    /// feeds a slow actor slows its peer down through TCP instead of growing
    /// memory. What is already read is still forwarded: one message over the
    /// bound for a protocol that forwards once per `DataReceived`, but a
    /// framer that finds many frames in one read forwards them all, so the
    /// mailbox can exceed its bound by one read's worth of frames (a read is
    /// at most the loop's read size) per forwarding connection.
    /// For an unbounded mailbox this is [`send`](Self::send).
    ///
    /// ```
    /// use switchboard::prelude::*;
    ///
    /// /// Hands every chunk it reads to a (bounded) consumer.
    /// struct Feed(Addr<Bytes>);
    ///
    /// impl StreamProtocol for Feed {
    ///     fn handle(&mut self, ev: StreamEvent, t: &mut dyn StreamTransport) -> Result<(), ProtocolError> {
    ///         if let StreamEvent::DataReceived(data) = ev {
    ///             // Reading pauses here while the consumer is full.
    ///             self.0.forward(data, t)?;
    ///         }
    ///         Ok(())
    ///     }
    /// }
    /// # let _ = Feed;
    /// ```
    pub fn forward<N: Send + 'static>(
        &self,
        msg: M,
        t: &mut dyn crate::StreamTransport<N>,
    ) -> Result<(), SendError<M>> {
        let Some(cap) = &self.capacity else {
            return self.post(msg);
        };
        let full = cap.force_reserve();
        self.post(msg)?;
        if full {
            if let Some(me) = t.addr() {
                t.pause_reading();
                let (mailer, id, gen) = (me.mailer.clone(), me.id, me.gen);
                cap.on_room(Box::new(move || {
                    let _ = mailer.post(id, gen, Box::new(crate::StreamCommand::ResumeReading));
                }));
            }
        }
        Ok(())
    }

    /// The bound of the actor's mailbox, if it has one.
    pub fn capacity(&self) -> Option<usize> {
        self.capacity.as_ref().map(|c| c.bound())
    }

    /// Messages sent to a bounded mailbox and not yet handled (0 for an
    /// unbounded one, which does not count them).
    pub fn mailbox_depth(&self) -> usize {
        self.capacity.as_ref().map(|c| c.depth()).unwrap_or(0)
    }

    /// Sends `msg` after `delay` (a timer owned by the actor's loop).
    ///
    /// Not counted against a bounded mailbox: a timer's message is the
    /// actor's own.
    pub fn send_later(&self, msg: M, delay: Duration) -> Result<(), SendError<M>> {
        self.mailer
            .post_after(self.id, self.gen, Box::new(msg), delay)
            .map_err(|b| SendError::Stopped(unbox(b)))
    }

    /// True while the actor runs (a later `send` may still fail if it stops
    /// in between).
    pub fn is_alive(&self) -> bool {
        self.gen != 0 && self.mailer.generation(self.id) == self.gen
    }

    /// Asks the actor a question: `make` builds the message around a
    /// [`ReplyTo`], and the returned future resolves to the answer the actor
    /// gives with [`ReplyTo::send`].
    ///
    /// The call never hangs on a dead actor: if the question cannot be
    /// delivered it ends with [`CallError::Stopped`], and if the `ReplyTo` is
    /// dropped unanswered (the actor stopped with the question in its mailbox,
    /// or ignored it) with [`CallError::NoReply`]. Wrap it in
    /// `switchboard::wait_for` to bound how long a live actor may take.
    ///
    /// The future may be awaited on any loop or thread.
    pub fn call<T, F>(&self, make: F) -> Call<T>
    where
        T: Send + 'static,
        F: FnOnce(ReplyTo<T>) -> M,
    {
        let (reply, answer) = reply::channel();
        let state = match self.send(make(reply)) {
            Ok(()) => CallState::Waiting(answer),
            Err(SendError::Full(_)) => CallState::Refused(CallError::MailboxFull),
            Err(_) => CallState::Refused(CallError::Stopped),
        };
        Call { state }
    }
}

fn unbox<M: 'static>(b: Box<dyn std::any::Any + Send>) -> M {
    match b.downcast::<M>() {
        Ok(m) => *m,
        // The mailer returns exactly the box it was given.
        Err(_) => unreachable!("a mailer returned a different message than it was given"),
    }
}

impl<M> fmt::Debug for Addr<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Addr({})", self.id)
    }
}

impl<M> PartialEq for Addr<M> {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id && self.gen == other.gen && Arc::ptr_eq(&self.mailer, &other.mailer)
    }
}

impl<M> Eq for Addr<M> {}

enum CallState<T: 'static> {
    Waiting(Answer<T>),
    Refused(CallError),
    Done,
}

/// The future [`Addr::call`] returns: the answer, or why there is none.
#[must_use = "a call's answer is lost unless the future is awaited"]
pub struct Call<T: 'static> {
    state: CallState<T>,
}

impl<T> fmt::Debug for Call<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            CallState::Waiting(_) => "waiting",
            CallState::Refused(_) => "refused",
            CallState::Done => "done",
        };
        write!(f, "Call({state})")
    }
}

impl<T> Future for Call<T> {
    type Output = Result<T, CallError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.state {
            CallState::Waiting(answer) => match answer.poll(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(r) => {
                    self.state = CallState::Done;
                    Poll::Ready(r.map_err(|_| CallError::NoReply))
                }
            },
            CallState::Refused(e) => {
                let e = *e;
                self.state = CallState::Done;
                Poll::Ready(Err(e))
            }
            CallState::Done => Poll::Ready(Err(CallError::NoReply)),
        }
    }
}

/// The future of [`Addr::send_wait`].
#[must_use = "the message is sent only when the future is awaited"]
pub struct SendWait<M> {
    addr: Addr<M>,
    msg: Option<M>,
}

impl<M> fmt::Debug for SendWait<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SendWait({:?})", self.addr)
    }
}

impl<M> Unpin for SendWait<M> {}

impl<M: Send + 'static> Future for SendWait<M> {
    type Output = Result<(), SendError<M>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(msg) = self.msg.take() else {
            return Poll::Ready(Ok(()));
        };
        let Some(cap) = self.addr.capacity.clone() else {
            return Poll::Ready(self.addr.post(msg));
        };
        if !self.addr.is_alive() {
            return Poll::Ready(Err(SendError::Stopped(msg)));
        }
        if cap.try_reserve() {
            return Poll::Ready(self.addr.post(msg));
        }
        cap.wait(cx.waker());
        // Room may have come before the waker was in place.
        if cap.try_reserve() {
            return Poll::Ready(self.addr.post(msg));
        }
        self.msg = Some(msg);
        Poll::Pending
    }
}
