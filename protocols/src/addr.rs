//! Addresses of actors: how other actors and threads send them messages.

use std::any::Any;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use crate::ids::ActorId;

/// Delivers boxed messages to an actor of a loop; the loop implements it. A
/// refused message comes back.
pub trait Mailer: Send + Sync + 'static {
    /// Queues `msg` for actor `to`.
    fn post(&self, to: ActorId, msg: Box<dyn Any + Send>) -> Result<(), Box<dyn Any + Send>>;
    /// Queues `msg` for actor `to` after `delay`.
    fn post_after(
        &self,
        to: ActorId,
        msg: Box<dyn Any + Send>,
        delay: Duration,
    ) -> Result<(), Box<dyn Any + Send>>;
}

/// A message that could not be delivered (the actor's loop is closed); the
/// message is given back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot deliver the message: the actor's loop is closed")]
pub struct SendError<M>(pub M);

/// The typed address of an actor that takes messages of type `M`: an
/// application actor, or a connection's protocol. `Send + Sync + Clone`, usable
/// from any thread. Messages from one sender arrive in the order sent; a message
/// for an actor that has stopped is dropped.
pub struct Addr<M> {
    id: ActorId,
    mailer: Arc<dyn Mailer>,
    _msg: PhantomData<fn(M)>,
}

impl<M> Clone for Addr<M> {
    fn clone(&self) -> Self {
        Addr {
            id: self.id,
            mailer: self.mailer.clone(),
            _msg: PhantomData,
        }
    }
}

impl<M: Send + 'static> Addr<M> {
    /// An address for actor `id`, delivered through `mailer` (used by the loop).
    pub fn new(id: ActorId, mailer: Arc<dyn Mailer>) -> Self {
        Addr {
            id,
            mailer,
            _msg: PhantomData,
        }
    }

    /// The actor's id.
    pub fn id(&self) -> ActorId {
        self.id
    }

    /// Sends `msg`; it is delivered on the actor's loop thread, never inside the
    /// caller.
    pub fn send(&self, msg: M) -> Result<(), SendError<M>> {
        self.mailer
            .post(self.id, Box::new(msg))
            .map_err(|b| SendError(unbox(b)))
    }

    /// Sends `msg` after `delay`.
    pub fn send_later(&self, msg: M, delay: Duration) -> Result<(), SendError<M>> {
        self.mailer
            .post_after(self.id, Box::new(msg), delay)
            .map_err(|b| SendError(unbox(b)))
    }
}

fn unbox<M: 'static>(b: Box<dyn Any + Send>) -> M {
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
        self.id == other.id && Arc::ptr_eq(&self.mailer, &other.mailer)
    }
}
