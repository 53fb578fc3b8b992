//! The loop-side wrapper of an application actor: downcasts its messages,
//! runs its hooks, and keeps how it stopped.

use std::any::Any;
use std::rc::Weak;
use std::sync::Arc;

use switchboard_actors::{LoopContext, Status};
use switchboard_protocols::internal::{self, Capacity};
use switchboard_protocols::{Addr, Exception, ExceptionContext, ExitReason};

use crate::actor::{Actor, ActorContext};
use crate::event_loop::LoopCore;
use crate::supervision::system::System;

/// Sent once to a new actor (and to each new incarnation of a supervised
/// one) so that `started` runs even if no message comes.
#[derive(Debug)]
pub(crate) struct StartActor;

pub(crate) struct Mailbox<A: Actor> {
    pub(crate) actor: A,
    pub(crate) addr: Addr<A::Message>,
    pub(crate) started: bool,
    pub(crate) trap: bool,
    pub(crate) reason: Option<ExitReason>,
    pub(crate) core: Weak<LoopCore>,
    pub(crate) name: &'static str,
    /// The bound of a bounded mailbox: released after each message.
    pub(crate) capacity: Option<Arc<Capacity>>,
}

impl<A: Actor> Mailbox<A> {
    pub(crate) fn new(actor: A, addr: Addr<A::Message>, core: Weak<LoopCore>) -> Self {
        Mailbox {
            actor,
            capacity: internal::capacity_of(&addr),
            addr,
            started: false,
            trap: false,
            reason: None,
            core,
            name: std::any::type_name::<A>()
                .rsplit("::")
                .next()
                .unwrap_or("Actor"),
        }
    }
}

impl<A: Actor> Mailbox<A> {
    /// The actor stopped: senders waiting for room look again (and find
    /// it gone).
    fn wake_senders(&self) {
        if let Some(cap) = &self.capacity {
            cap.wake_all();
        }
    }
}

impl<A: Actor> switchboard_actors::LoopActor for Mailbox<A> {
    fn deliver(&mut self, msg: Box<dyn Any>, cx: &mut dyn LoopContext) -> Status {
        let mut ctx = ActorContext {
            addr: &self.addr,
            stop: None,
            trap: &mut self.trap,
            cx,
            core: &self.core,
        };
        if !self.started {
            self.started = true;
            self.actor.started(&mut ctx);
        }
        if msg.is::<StartActor>() {
            // Started above if it had not been.
        } else if msg.is::<System>() {
            if let Ok(sys) = msg.downcast::<System>() {
                match *sys {
                    System::Exited(e) | System::LinkExited(e) => self.actor.exited(e, &mut ctx),
                    System::Shutdown => self.actor.shutdown_requested(&mut ctx),
                    System::Kill(reason) => ctx.stop = Some(reason),
                }
            }
        } else {
            match msg.downcast::<A::Message>() {
                Ok(m) => {
                    if let Some(cap) = &self.capacity {
                        // Taken out of the mailbox: room for the next one.
                        cap.release();
                    }
                    self.actor.handle(*m, &mut ctx)
                }
                Err(_) => ctx.cx.report(
                    ExceptionContext::new(format!("{} got a message of the wrong type", self.name))
                        .with_exception(Exception::Error("message dropped".into())),
                ),
            }
        }
        let stop = ctx.stop.take();
        if stop.is_some() {
            if let Some(cap) = &self.capacity {
                // Once more after the loop has marked the actor gone (right
                // after this returns): a sender on another thread that looked
                // in between, found it alive and full, and waited, would
                // otherwise wait for good.
                let cap = cap.clone();
                ctx.cx.call_soon(Box::new(move || cap.wake_all()));
            }
        }
        match stop {
            Some(reason) => {
                self.reason = Some(reason);
                self.actor.stopped();
                self.wake_senders();
                Status::Done
            }
            None => Status::Alive,
        }
    }

    fn shutdown(&mut self, _cx: &mut dyn LoopContext) {
        self.actor.stopped();
        self.wake_senders();
    }

    fn exit_reason(&mut self) -> ExitReason {
        self.reason.take().unwrap_or(ExitReason::Normal)
    }

    fn traps_exits(&self) -> bool {
        self.trap
    }

    fn describe(&self) -> String {
        format!("<{} {}>", self.name, self.addr.id())
    }

    fn inspect(&self, info: &mut switchboard_actors::inspect::ActorInfo) {
        info.kind = switchboard_actors::inspect::ActorKind::Application;
        info.state = if self.started { "running" } else { "starting" }.into();
        if info.name.is_none() {
            info.name = Some(self.name.to_string());
        }
        if let Some(cap) = &self.capacity {
            info.mailbox.depth = cap.depth();
            info.mailbox.bound = Some(cap.bound());
        }
    }
}
