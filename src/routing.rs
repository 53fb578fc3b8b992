//! The actor table: routes readiness, timers and messages to the actors the
//! loop owns, and gives them a [`LoopContext`].

use std::any::Any;
use std::cell::RefMut;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::rc::Weak;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::BytesMut;
use switchboard_actors::{LoopActor, LoopContext, Readiness, Status};
use switchboard_protocols::internal;
use switchboard_protocols::{ActorId, Exception, ExceptionContext};

use crate::error::LoopError;
use crate::event_loop::{LoopCore, Ready, FIRST_ACTOR_TOKEN};
use crate::interrupt::is_interrupt;

/// One row of the actor table. `actor` is `None` while the actor is being
/// called (it is taken out, so it may use the loop freely) or only reserved.
pub(crate) struct ActorSlot {
    pub(crate) gen: u64,
    pub(crate) actor: Option<Box<dyn LoopActor>>,
}

/// The [`LoopContext`] an actor sees while the loop calls it.
pub(crate) struct LoopCx<'a> {
    core: &'a LoopCore,
    id: ActorId,
    gen: u64,
    buf: Option<RefMut<'a, BytesMut>>,
    /// The actor asked to leave the loop with an `Interrupt` once it returns.
    interrupt: bool,
}

impl LoopContext for LoopCx<'_> {
    fn id(&self) -> ActorId {
        self.id
    }

    fn registry(&self) -> &mio::Registry {
        &self.core.registry
    }

    fn token_of(&self, id: ActorId) -> mio::Token {
        mio::Token(id.index() + FIRST_ACTOR_TOKEN)
    }

    fn reserve(&mut self) -> ActorId {
        reserve(self.core)
    }

    fn insert(&mut self, id: ActorId, actor: Box<dyn LoopActor>) {
        insert(self.core, id, actor);
    }

    fn release(&mut self, id: ActorId) {
        release(self.core, id);
    }

    fn send(&mut self, to: ActorId, msg: Box<dyn Any>) {
        self.core
            .ready
            .borrow_mut()
            .push_back(Ready::Deliver(to, msg));
    }

    fn wake_after(&mut self, delay: Duration, tag: u64) {
        let me: Weak<LoopCore> = self.core.me.clone();
        let (id, gen) = (self.id, self.gen);
        let deadline = self
            .core
            .now_ns()
            .saturating_add(i64::try_from(delay.as_nanos()).unwrap_or(i64::MAX));
        let fire = move || {
            if let Some(core) = me.upgrade() {
                dispatch(&core, id, Some(gen), |a, cx| a.timer(tag, cx));
            }
        };
        // Refused only on a closed loop, where no actor is called again anyway.
        let _ = self
            .core
            .call_at_ns(deadline, Box::new(fire), Location::caller());
    }

    fn report(&mut self, context: ExceptionContext) {
        crate::exception::report(self.core, context);
    }

    fn debug(&self) -> bool {
        self.core.debug.get()
    }

    fn read_buffer(&mut self) -> &mut BytesMut {
        let core = self.core;
        self.buf.get_or_insert_with(|| core.read_buf.borrow_mut())
    }

    fn call_soon(&mut self, f: Box<dyn FnOnce()>) {
        let _ = self.core.call_soon_boxed(f, Location::caller());
    }

    fn interrupt(&mut self) {
        self.interrupt = true;
    }
}

pub(crate) fn reserve(core: &LoopCore) -> ActorId {
    reserve_gen(core).0
}

/// Reserves a row and returns it with the incarnation that lives there.
pub(crate) fn reserve_gen(core: &LoopCore) -> (ActorId, u64) {
    let gen = core.actor_gen.get() + 1;
    core.actor_gen.set(gen);
    let index = core
        .actors
        .borrow_mut()
        .insert(ActorSlot { gen, actor: None });
    core.shared.set_live(index, gen);
    (internal::actor_id(index), gen)
}

/// Takes actor `id` out of the table for good: its address refuses messages
/// from now on.
pub(crate) fn remove(core: &LoopCore, id: ActorId) -> Option<ActorSlot> {
    let slot = core.actors.borrow_mut().try_remove(id.index());
    if slot.is_some() {
        core.shared.set_live(id.index(), 0);
    }
    slot
}

/// Frees a reserved id that never got an actor. An id whose slot holds an
/// actor, or none (not reserved, or already reused), is left alone.
pub(crate) fn release(core: &LoopCore, id: ActorId) {
    let mut actors = core.actors.borrow_mut();
    if actors
        .get(id.index())
        .is_some_and(|slot| slot.actor.is_none())
    {
        actors.try_remove(id.index());
        core.shared.set_live(id.index(), 0);
    }
}

pub(crate) fn insert(core: &LoopCore, id: ActorId, actor: Box<dyn LoopActor>) {
    if let Some(slot) = core.actors.borrow_mut().get_mut(id.index()) {
        slot.actor = Some(actor);
    }
}

/// Calls `f` on actor `id` with the actor taken out of the table, so that it may
/// use the loop (spawn actors, send messages) while it runs. A panic stops the
/// actor (dropping it closes what it owns) and is reported.
///
/// An [`Interrupt`](crate::Interrupt), asked for through
/// [`LoopContext::interrupt`] (the actor finished its step first) or
/// unwinding out of the actor, leaves through the caller once the actor is
/// back in its slot: like asyncio's `KeyboardInterrupt`, it stops the loop
/// but costs no transport its connection.
pub(crate) fn dispatch(
    core: &LoopCore,
    id: ActorId,
    gen: Option<u64>,
    f: impl FnOnce(&mut dyn LoopActor, &mut dyn LoopContext) -> Status,
) {
    let (mut actor, slot_gen) = {
        let mut actors = core.actors.borrow_mut();
        let Some(slot) = actors.get_mut(id.index()) else {
            return;
        };
        if gen.is_some_and(|g| g != slot.gen) {
            return;
        }
        let Some(actor) = slot.actor.take() else {
            return;
        };
        (actor, slot.gen)
    };
    let (result, interrupt) = {
        let mut cx = LoopCx {
            core,
            id,
            gen: slot_gen,
            buf: None,
            interrupt: false,
        };
        let result = catch_unwind(AssertUnwindSafe(|| f(&mut *actor, &mut cx)));
        (result, cx.interrupt)
    };
    match result {
        Ok(Status::Alive) => put_back(core, id, slot_gen, actor),
        Ok(Status::Done) => {
            remove_gen(core, id, slot_gen);
            drop(actor);
        }
        Err(payload) if is_interrupt(&*payload) => {
            put_back(core, id, slot_gen, actor);
            std::panic::resume_unwind(payload);
        }
        Err(payload) => {
            let what = actor.describe();
            remove_gen(core, id, slot_gen);
            drop(actor);
            let ctx = ExceptionContext::new(format!("Exception in actor {what}"))
                .with_exception(Exception::from_panic(&*payload));
            crate::exception::report(core, ctx);
        }
    }
    if interrupt {
        std::panic::resume_unwind(Box::new(crate::Interrupt));
    }
}

/// Puts a called actor back in its row, unless the row was removed while it
/// ran (an fd watcher whose callback removed it) or already holds another
/// incarnation: then the actor is dropped.
fn put_back(core: &LoopCore, id: ActorId, gen: u64, actor: Box<dyn LoopActor>) {
    let mut actors = core.actors.borrow_mut();
    match actors.get_mut(id.index()) {
        Some(slot) if slot.gen == gen && slot.actor.is_none() => slot.actor = Some(actor),
        _ => {
            drop(actors);
            drop(actor);
        }
    }
}

/// [`remove`], only if the row still holds incarnation `gen`.
pub(crate) fn remove_gen(core: &LoopCore, id: ActorId, gen: u64) {
    let current = core.actors.borrow().get(id.index()).map(|slot| slot.gen);
    if current == Some(gen) {
        remove(core, id);
    }
}

pub(crate) fn dispatch_ready(core: &LoopCore, id: ActorId, gen: u64, readiness: Readiness) {
    dispatch(core, id, Some(gen), |a, cx| a.ready(readiness, cx));
}

pub(crate) fn dispatch_message(core: &LoopCore, id: ActorId, gen: Option<u64>, msg: Box<dyn Any>) {
    dispatch(core, id, gen, |a, cx| a.deliver(msg, cx));
}

/// `EventLoop::close`: everything the loop holds is taken out first and dropped
/// after, so destructors that touch the loop find it closed, not borrowed.
pub(crate) fn close_loop(core: &LoopCore) -> Result<(), LoopError> {
    if core.running.get() {
        return Err(LoopError::CloseRunning);
    }
    if core.closed.get() {
        return Ok(());
    }
    core.closed.set(true);
    core.shared.closed.store(true, Ordering::SeqCst);

    let ready = std::mem::take(&mut *core.ready.borrow_mut());
    let timers = core.timers.borrow_mut().drain();
    let tasks = std::mem::take(&mut *core.tasks.borrow_mut());
    let actors = std::mem::take(&mut *core.actors.borrow_mut());
    let inbox: Vec<_> = core.inbox.drain().collect();
    core.shared.clear_live();
    core.shared
        .woken
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clear();

    for (index, slot) in actors {
        if let Some(mut actor) = slot.actor {
            if core.debug.get() {
                // asyncio's ResourceWarning for transports and servers left open.
                crate::diag::warning!("unclosed resource at loop close: {}", actor.describe());
            }
            let mut cx = LoopCx {
                core,
                id: internal::actor_id(index),
                gen: slot.gen,
                buf: None,
                interrupt: false,
            };
            actor.shutdown(&mut cx);
        }
    }
    for (_, slot) in tasks {
        let control = slot.control.clone();
        drop(slot);
        control.fail(crate::TaskError::LoopClosed {
            name: control.name(),
        });
    }
    // fd watchers' callbacks, and what they captured.
    let watches = std::mem::take(&mut *core.watches.borrow_mut());
    drop((ready, timers, inbox, watches));
    if let Some(pool) = core.executor.borrow_mut().take() {
        pool.shutdown(false);
    }
    Ok(())
}

impl Drop for LoopCore {
    fn drop(&mut self) {
        if !self.closed.get() {
            if self.debug.get() {
                crate::diag::warning!("unclosed event loop dropped; call close() first");
            }
            // Still release actors, tasks and the executor (not running: the
            // last handle is gone, so nothing can be borrowed here).
            let _ = close_loop(self);
        }
    }
}
