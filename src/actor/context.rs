//! `ActorContext`: what an application actor may do while it handles a
//! message.

use std::fmt;
use std::rc::Weak;
use std::time::Duration;

use switchboard_actors::LoopContext;
use switchboard_protocols::internal;
use switchboard_protocols::{ActorId, Addr, ExceptionContext, ExitReason};

use crate::event_loop::{EventLoop, LoopCore};
use crate::supervision::monitor;
use crate::supervision::watchers::{MonitorRef, Watcher};

/// What an actor may do while it handles a message.
pub struct ActorContext<'a, M> {
    pub(crate) addr: &'a Addr<M>,
    pub(crate) stop: Option<ExitReason>,
    pub(crate) trap: &'a mut bool,
    pub(crate) cx: &'a mut dyn LoopContext,
    pub(crate) core: &'a Weak<LoopCore>,
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

    /// The loop this actor runs on (to spawn actors, start servers, set
    /// timers).
    pub fn get_loop(&self) -> EventLoop {
        let core = self
            .core
            .upgrade()
            .expect("an actor is only called while its loop exists");
        EventLoop { core }
    }

    /// Stops the actor after this message, with [`ExitReason::Normal`];
    /// later messages are dropped.
    pub fn stop(&mut self) {
        self.stop_with(ExitReason::Normal);
    }

    /// Stops the actor after this message with `reason`: monitors, links
    /// and the supervisor see it (a `Failed` reason counts as a crash).
    pub fn stop_with(&mut self, reason: ExitReason) {
        self.stop = Some(reason);
    }

    /// Sends this actor `msg` after `delay` (a timer owned by the loop).
    pub fn send_later(&mut self, msg: M, delay: Duration) {
        let _ = self.addr.send_later(msg, delay);
    }

    /// Reports to the loop's exception handler.
    pub fn report(&mut self, context: ExceptionContext) {
        self.cx.report(context);
    }

    /// Watches the actor at `addr` (of this loop): once it stops, this
    /// actor's [`Actor::exited`](crate::Actor::exited) gets an
    /// [`ActorExited`](crate::ActorExited), at once if it is already gone.
    /// One message per call; [`demonitor`](Self::demonitor) takes it back.
    ///
    /// ```
    /// use switchboard::prelude::*;
    ///
    /// /// Watches the actors it is told about; done after the first exit.
    /// struct Watch(switchboard::LoopFuture<ExitReason>);
    ///
    /// impl Actor for Watch {
    ///     type Message = Addr<()>;
    ///     fn handle(&mut self, who: Addr<()>, ctx: &mut ActorContext<'_, Addr<()>>) {
    ///         ctx.monitor(&who);
    ///     }
    ///     fn exited(&mut self, e: ActorExited, ctx: &mut ActorContext<'_, Addr<()>>) {
    ///         let _ = self.0.set_result(e.reason);
    ///         ctx.stop();
    ///     }
    /// }
    ///
    /// struct Quits;
    /// impl Actor for Quits {
    ///     type Message = ();
    ///     fn handle(&mut self, _: (), ctx: &mut ActorContext<'_, ()>) {
    ///         ctx.stop_with(ExitReason::failed("done for"));
    ///     }
    /// }
    ///
    /// switchboard::run(|lp: EventLoop| async move {
    ///     let heard = lp.create_future();
    ///     let watch = lp.spawn(Watch(heard.clone()))?;
    ///     let quits = lp.spawn(Quits)?;
    ///     watch.send(quits.clone())?;
    ///     quits.send(())?;
    ///     assert_eq!(heard.await?, ExitReason::failed("done for"));
    ///     Ok::<(), switchboard::Error>(())
    /// })?;
    /// # Ok::<(), switchboard::Error>(())
    /// ```
    pub fn monitor<N: Send + 'static>(&mut self, addr: &Addr<N>) -> MonitorRef {
        let Some(core) = self.core.upgrade() else {
            return MonitorRef(0);
        };
        let (by, gen) = (self.addr.id(), internal::generation_of(self.addr));
        monitor::watch(&core, addr.id(), internal::generation_of(addr), |token| {
            Watcher::Monitor { token, by, gen }
        })
    }

    /// Takes a monitor back; true if it had not fired yet.
    pub fn demonitor(&mut self, monitor: MonitorRef) -> bool {
        self.core
            .upgrade()
            .is_some_and(|core| monitor::demonitor(&core, monitor))
    }

    /// Links this actor and the one at `addr` both ways: when either stops
    /// abnormally (anything but `Normal` or `Shutdown`), the other stops
    /// with the same reason, unless it [traps exits](Self::trap_exit), in
    /// which case its [`Actor::exited`](crate::Actor::exited) gets the
    /// exit instead (clean exits too). Linking to an actor that is already
    /// gone acts at once.
    pub fn link<N: Send + 'static>(&mut self, addr: &Addr<N>) {
        if let Some(core) = self.core.upgrade() {
            monitor::link(
                &core,
                self.addr.id(),
                internal::generation_of(self.addr),
                addr.id(),
                internal::generation_of(addr),
            );
        }
    }

    /// Removes the link with the actor at `addr`, if any.
    pub fn unlink<N: Send + 'static>(&mut self, addr: &Addr<N>) {
        if let Some(core) = self.core.upgrade() {
            monitor::unlink(&core, self.addr.id(), addr.id());
        }
    }

    /// With `true`, exits of linked actors come to
    /// [`Actor::exited`](crate::Actor::exited) as messages instead of
    /// stopping this actor (Erlang's `trap_exit`).
    pub fn trap_exit(&mut self, on: bool) {
        *self.trap = on;
    }
}

impl<M> fmt::Debug for ActorContext<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ActorContext({:?})", self.addr)
    }
}
