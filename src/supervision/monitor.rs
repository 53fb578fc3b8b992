//! Setting up monitors and links: `EventLoop::monitor` and the shared code
//! behind `ActorContext::monitor` and `link`.

use switchboard_protocols::internal;
use switchboard_protocols::{ActorExited, ActorId, Addr, ExitReason};

use crate::event_loop::{EventLoop, LoopCore, Ready};
use crate::future::LoopFuture;
use crate::supervision::rows;
use crate::supervision::system::System;
use crate::supervision::watchers::{MonitorRef, Watcher};

/// True if incarnation `gen` of row `id` is in the table (running, or a
/// supervised child between two incarnations).
pub(crate) fn is_live(core: &LoopCore, id: ActorId, gen: u64) -> bool {
    gen != 0
        && core
            .actors
            .borrow()
            .get(id.index())
            .is_some_and(|slot| slot.gen == gen)
}

/// How incarnation `gen` of `id` ended, for a watcher set up too late.
fn gone(core: &LoopCore, id: ActorId, gen: u64) -> ActorExited {
    let reason = core
        .watchers
        .borrow()
        .last_reason(id.index(), gen)
        .unwrap_or(ExitReason::NoProc);
    ActorExited { id, reason }
}

/// Adds the watcher `make` builds for incarnation `gen` of `id`; if that
/// incarnation is gone already, tells the watcher at once.
pub(crate) fn watch(
    core: &LoopCore,
    id: ActorId,
    gen: u64,
    make: impl FnOnce(u64) -> Watcher,
) -> MonitorRef {
    let token = core.watchers.borrow_mut().token();
    let w = make(token);
    if is_live(core, id, gen) {
        core.watchers.borrow_mut().add(id.index(), gen, w);
    } else {
        rows::notify(core, gone(core, id, gen), vec![w]);
    }
    MonitorRef(token)
}

/// Takes a monitor back; true if it had not fired yet.
pub(crate) fn demonitor(core: &LoopCore, r: MonitorRef) -> bool {
    core.watchers.borrow_mut().remove_token(r.0)
}

/// Links `a` and `b` (incarnations `ga`, `gb`) both ways. If `b` is gone
/// already, `a` is told at once, as if it had just stopped.
pub(crate) fn link(core: &LoopCore, a: ActorId, ga: u64, b: ActorId, gb: u64) {
    if a == b || core.watchers.borrow().linked(a.index(), ga, b) {
        return;
    }
    if is_live(core, b, gb) {
        let mut w = core.watchers.borrow_mut();
        w.add(b.index(), gb, Watcher::Link { by: a, gen: ga });
        w.add(a.index(), ga, Watcher::Link { by: b, gen: gb });
    } else {
        let exited = gone(core, b, gb);
        core.ready.borrow_mut().push_back(Ready::DeliverTo(
            a,
            ga,
            Box::new(System::LinkExited(exited)),
        ));
    }
}

/// Removes the link between `a` and `b`, both halves.
pub(crate) fn unlink(core: &LoopCore, a: ActorId, b: ActorId) {
    let mut w = core.watchers.borrow_mut();
    w.remove_link(a.index(), b);
    w.remove_link(b.index(), a);
}

impl EventLoop {
    /// Watches the actor at `addr` (an application actor, a connection's
    /// protocol, a supervised child): the future resolves with
    /// [`ActorExited`] once it stops, after its last message was handled,
    /// and at once if it has stopped already (with its reason if the loop
    /// still knows it, else [`ExitReason::NoProc`]). A supervised child's
    /// monitor fires at the end of the incarnation that is running now.
    ///
    /// ```
    /// use switchboard::prelude::*;
    /// use switchboard::ExitReason;
    ///
    /// struct Once;
    /// impl Actor for Once {
    ///     type Message = ();
    ///     fn handle(&mut self, _: (), ctx: &mut ActorContext<'_, ()>) { ctx.stop(); }
    /// }
    ///
    /// switchboard::run(|lp: EventLoop| async move {
    ///     let addr = lp.spawn(Once)?;
    ///     let exited = lp.monitor(&addr);
    ///     addr.send(())?;
    ///     assert_eq!(exited.await?.reason, ExitReason::Normal);
    ///     Ok::<(), switchboard::Error>(())
    /// })?;
    /// # Ok::<(), switchboard::Error>(())
    /// ```
    pub fn monitor<M: Send + 'static>(&self, addr: &Addr<M>) -> LoopFuture<ActorExited> {
        let fut = self.create_future();
        let f = fut.clone();
        watch(
            &self.core,
            addr.id(),
            internal::generation_of(addr),
            move |token| Watcher::Future { token, fut: f },
        );
        fut
    }
}
