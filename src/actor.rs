//! Application actors: `spawn(actor)` gives a typed [`Addr`]; messages are
//! handled one at a time on the loop thread.

use std::any::Any;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use switchboard_actors::{LoopContext, Status};
use switchboard_protocols::internal::{self, Mailer};
use switchboard_protocols::{ActorId, Addr, Exception, ExceptionContext};

use crate::error::LoopError;
use crate::event_loop::{EventLoop, Ready};
use crate::routing;

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

    /// Runs once when the actor stops (by [`ActorContext::stop`] or loop close).
    fn stopped(&mut self) {}
}

/// What an actor may do while it handles a message.
pub struct ActorContext<'a, M> {
    addr: &'a Addr<M>,
    stop: bool,
    cx: &'a mut dyn LoopContext,
}

impl<M: Send + 'static> ActorContext<'_, M> {
    /// This actor's own address.
    pub fn addr(&self) -> Addr<M> {
        self.addr.clone()
    }

    /// This actor's id.
    pub fn id(&self) -> ActorId {
        self.addr.id()
    }

    /// Stops the actor after this message; later messages are dropped.
    pub fn stop(&mut self) {
        self.stop = true;
    }

    /// Sends this actor `msg` after `delay` (a timer owned by the loop).
    pub fn send_later(&mut self, msg: M, delay: Duration) {
        let _ = self.addr.send_later(msg, delay);
    }

    /// Reports to the loop's exception handler.
    pub fn report(&mut self, context: ExceptionContext) {
        self.cx.report(context);
    }
}

impl<M> fmt::Debug for ActorContext<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ActorContext({:?})", self.addr)
    }
}

#[derive(Debug)]
struct StartActor;

/// The loop-side wrapper of an application actor.
struct Mailbox<A: Actor> {
    actor: A,
    addr: Addr<A::Message>,
    started: bool,
    name: &'static str,
}

impl<A: Actor> switchboard_actors::LoopActor for Mailbox<A> {
    fn deliver(&mut self, msg: Box<dyn Any>, cx: &mut dyn LoopContext) -> Status {
        let mut ctx = ActorContext {
            addr: &self.addr,
            stop: false,
            cx,
        };
        if msg.is::<StartActor>() {
            if !self.started {
                self.started = true;
                self.actor.started(&mut ctx);
            }
        } else {
            match msg.downcast::<A::Message>() {
                Ok(m) => self.actor.handle(*m, &mut ctx),
                Err(_) => ctx.cx.report(
                    ExceptionContext::new(format!("{} got a message of the wrong type", self.name))
                        .with_exception(Exception::Error("message dropped".into())),
                ),
            }
        }
        if ctx.stop {
            self.actor.stopped();
            Status::Done
        } else {
            Status::Alive
        }
    }

    fn shutdown(&mut self, _cx: &mut dyn LoopContext) {
        self.actor.stopped();
    }

    fn describe(&self) -> String {
        format!("<{} {}>", self.name, self.addr.id())
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
        let core = &self.core;
        core.check_open()?;
        let (id, gen) = routing::reserve_gen(core);
        let mailer: Arc<dyn Mailer> = Arc::new(self.handle());
        let addr = internal::addr(id, gen, mailer);
        let mailbox = Mailbox {
            actor,
            addr: addr.clone(),
            started: false,
            name: std::any::type_name::<A>()
                .rsplit("::")
                .next()
                .unwrap_or("Actor"),
        };
        routing::insert(core, id, Box::new(mailbox));
        core.ready
            .borrow_mut()
            .push_back(Ready::Deliver(id, Box::new(StartActor)));
        Ok(addr)
    }
}
