//! Application actors: `spawn(actor)` gives a typed [`Addr`]; messages are
//! handled one at a time on the loop thread.

use std::sync::Arc;

use switchboard_protocols::internal::{self, Mailer};
use switchboard_protocols::{ActorExited, Addr, ExitReason};

use crate::error::LoopError;
use crate::event_loop::EventLoop;
use crate::routing;

mod context;
pub(crate) mod mailbox;

pub use context::ActorContext;
use mailbox::{Mailbox, StartActor};

/// An application actor: state plus one entry point for its messages.
///
/// The loop calls [`handle`](Actor::handle) with one message at a time, in the
/// order they were sent from each sender, never re-entrantly. A panic in the
/// actor stops it: the panic goes to the exception handler, later messages are
/// dropped, and everything else on the loop goes on.
///
/// ```
/// use switchboard::{Actor, ActorContext};
///
/// struct Counter { total: u64, done: switchboard::LoopFuture<u64> }
///
/// enum Msg { Add(u64), Finish }
///
/// impl Actor for Counter {
///     type Message = Msg;
///     fn handle(&mut self, msg: Msg, ctx: &mut ActorContext<'_, Msg>) {
///         match msg {
///             Msg::Add(n) => self.total += n,
///             Msg::Finish => { let _ = self.done.set_result(self.total); ctx.stop(); }
///         }
///     }
/// }
///
/// let lp = switchboard::new_event_loop()?;
/// let done = lp.create_future();
/// let addr = lp.spawn(Counter { total: 0, done: done.clone() })?;
/// for n in 1..=4 { addr.send(Msg::Add(n)).ok(); }
/// addr.send(Msg::Finish).ok();
/// assert_eq!(lp.run_until_complete(done)?, Ok(10));
/// # Ok::<(), switchboard::LoopError>(())
/// ```
pub trait Actor: 'static {
    /// The messages this actor takes.
    type Message: Send + 'static;

    /// Runs once, before the first message.
    fn started(&mut self, ctx: &mut ActorContext<'_, Self::Message>) {
        let _ = ctx;
    }

    /// Handles one message.
    fn handle(&mut self, msg: Self::Message, ctx: &mut ActorContext<'_, Self::Message>);

    /// Runs once when the actor stops (by [`ActorContext::stop`], a kill,
    /// or loop close).
    fn stopped(&mut self) {}

    /// An actor this one monitors has stopped (see
    /// [`ActorContext::monitor`]), or, while this one traps exits, a linked
    /// one did ([`ActorContext::link`]). Nothing by default.
    fn exited(&mut self, exited: ActorExited, ctx: &mut ActorContext<'_, Self::Message>) {
        let _ = (exited, ctx);
    }

    /// Its supervisor (or the loop's `shutdown`) asks the actor to stop.
    /// The request comes in order after the messages sent before it. By
    /// default the actor stops at once with [`ExitReason::Shutdown`]; an
    /// actor that must finish something first stops later with
    /// [`ActorContext::stop_with`], before its shutdown deadline, after
    /// which it is killed.
    fn shutdown_requested(&mut self, ctx: &mut ActorContext<'_, Self::Message>) {
        ctx.stop_with(ExitReason::Shutdown);
    }
}

impl EventLoop {
    /// Starts `actor` on this loop and returns its address. `started` runs on
    /// the next iteration, before any message.
    ///
    /// Addresses come only from the loop: user code cannot make one for an
    /// id of its choosing, nor make an id.
    ///
    /// ```compile_fail
    /// let forged: switchboard::Addr<u8> = switchboard::Addr::new(switchboard::ActorId(3));
    /// ```
    ///
    /// ```compile_fail
    /// let id = switchboard::ActorId(3);
    /// ```
    pub fn spawn<A: Actor>(&self, actor: A) -> Result<Addr<A::Message>, LoopError> {
        self.spawn_inner(actor, None)
    }

    /// [`spawn`](Self::spawn) with a name, which introspection shows
    /// ([`introspect`](Self::introspect), `switchboard-ctl ps`, metrics
    /// labels) instead of the actor's type name.
    ///
    /// ```
    /// use switchboard::prelude::*;
    ///
    /// struct Worker;
    /// impl Actor for Worker {
    ///     type Message = ();
    ///     fn handle(&mut self, _: (), _: &mut ActorContext<'_, ()>) {}
    /// }
    ///
    /// switchboard::run(|lp: EventLoop| async move {
    ///     let w = lp.spawn_named("worker-1", Worker)?;
    ///     let snap = lp.introspect();
    ///     assert!(snap.actors.iter().any(|a| a.id == w.id().index()
    ///         && a.name.as_deref() == Some("worker-1")));
    ///     Ok::<(), switchboard::Error>(())
    /// })?;
    /// # Ok::<(), switchboard::Error>(())
    /// ```
    pub fn spawn_named<A: Actor>(
        &self,
        name: impl Into<String>,
        actor: A,
    ) -> Result<Addr<A::Message>, LoopError> {
        let addr = self.spawn_inner(actor, None)?;
        self.name_actor(&addr, name);
        Ok(addr)
    }

    /// [`spawn`](Self::spawn) with a mailbox of at most `bound` messages
    /// (sent and not yet handled; at least 1). While it is full,
    /// [`Addr::send`] fails with [`SendError::Full`](crate::SendError::Full),
    /// [`Addr::send_wait`] waits for room, and [`Addr::forward`] from a
    /// protocol pauses that connection's reading until there is room.
    ///
    /// ```
    /// use switchboard::prelude::*;
    /// use switchboard::SendError;
    ///
    /// struct Sink;
    /// impl Actor for Sink {
    ///     type Message = u32;
    ///     fn handle(&mut self, _: u32, _: &mut ActorContext<'_, u32>) {}
    /// }
    ///
    /// switchboard::run(|lp: EventLoop| async move {
    ///     let sink = lp.spawn_bounded(Sink, 2)?;
    ///     sink.send(1)?;
    ///     sink.send(2)?;
    ///     assert!(matches!(sink.send(3), Err(SendError::Full(3))));
    ///     sink.send_wait(3).await?; // waits until the sink took one
    ///     Ok::<(), switchboard::Error>(())
    /// })?;
    /// # Ok::<(), switchboard::Error>(())
    /// ```
    pub fn spawn_bounded<A: Actor>(
        &self,
        actor: A,
        bound: usize,
    ) -> Result<Addr<A::Message>, LoopError> {
        self.spawn_inner(actor, Some(bound))
    }

    fn spawn_inner<A: Actor>(
        &self,
        actor: A,
        bound: Option<usize>,
    ) -> Result<Addr<A::Message>, LoopError> {
        let core = &self.core;
        core.check_open()?;
        let (id, gen) = routing::reserve_gen(core);
        let mailer: Arc<dyn Mailer> = Arc::new(self.handle());
        let addr = match bound {
            Some(b) => {
                internal::bounded_addr(id, gen, mailer, Arc::new(internal::Capacity::new(b)))
            }
            None => internal::addr(id, gen, mailer),
        };
        let mailbox = Mailbox::new(actor, addr.clone(), core.me.clone());
        routing::insert(core, id, Box::new(mailbox));
        routing::deliver(core, id, gen, Box::new(StartActor));
        Ok(addr)
    }
}
