//! The actor table: routes readiness, timers and messages to the actors the
//! loop owns, and gives them a [`LoopContext`].

use std::any::Any;
use std::cell::RefMut;
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::rc::Weak;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::BytesMut;
use switchboard_actors::{LoopActor, LoopContext, Readiness, Status};
use switchboard_protocols::internal;

use crate::callbacks::store::Callback;
use switchboard_protocols::{ActorExited, ActorId, Exception, ExceptionContext, ExitReason};

use crate::error::LoopError;
use crate::event_loop::{LoopCore, Ready, FIRST_ACTOR_TOKEN};
use crate::interrupt::is_interrupt;
use crate::supervision::rows;
use crate::supervision::system::System;

/// Rows of supervised children (kept across restarts), by index; `Some`
/// holds the messages that arrived since the last incarnation stopped.
pub(crate) type SupervisedRows = std::collections::HashMap<usize, Option<VecDeque<Box<dyn Any>>>>;

/// One row of the actor table. `actor` is `None` while the actor is being
/// called (it is taken out, so it may use the loop freely) or only reserved.
pub(crate) struct ActorSlot {
    pub(crate) gen: u64,
    pub(crate) actor: Option<Box<dyn LoopActor>>,
    /// Calls the incarnation has had (messages, readiness, timers), for
    /// introspection.
    pub(crate) handled: switchboard_actors::inspect::Counter,
    /// Its `tracing` span, made when the actor is put in the row.
    #[cfg(feature = "tracing")]
    pub(crate) span: tracing::Span,
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
        // For the incarnation living in `to` now: if it ends before the
        // message is delivered, the row's next tenant never sees it.
        let gen = if to == self.id {
            Some(self.gen)
        } else {
            generation(self.core, to)
        };
        if let Some(gen) = gen {
            deliver(self.core, to, gen, msg);
        }
    }

    fn generation(&self, id: ActorId) -> u64 {
        generation(self.core, id).unwrap_or(0)
    }

    fn at_end_of_turn(&mut self) {
        self.core.end_of_turn.borrow_mut().push((self.id, self.gen));
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
        let _ = self.core.call_at_ns(
            deadline,
            Callback::new(&self.core.callbacks, fire),
            Location::caller(),
        );
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

/// The incarnation living in row `id` now, if any (reserved rows count).
pub(crate) fn generation(core: &LoopCore, id: ActorId) -> Option<u64> {
    core.actors.borrow().get(id.index()).map(|slot| slot.gen)
}

/// Queues `msg` for incarnation `gen` of actor `id`, after what is queued
/// already. Every command, start and message the loop queues for an actor
/// goes through here or [`Ready::DeliverTo`] with the incarnation it was
/// meant for, so nothing queued for an actor reaches a later tenant of its
/// row.
pub(crate) fn deliver(core: &LoopCore, id: ActorId, gen: u64, msg: Box<dyn Any>) {
    core.ready
        .borrow_mut()
        .push_back(Ready::DeliverTo(id, gen, msg));
}

/// Gives `msg` to incarnation `gen` of actor `id` now, on this thread, if
/// the actor is in its slot (not being called) and no actor being called
/// holds the loop's read buffer (which the actor may need); otherwise hands
/// `msg` back for the caller to [`deliver`] as usual. The caller makes sure
/// nothing it queued earlier for the actor must come first.
pub(crate) fn deliver_now(
    core: &LoopCore,
    id: ActorId,
    gen: u64,
    msg: Box<dyn Any>,
) -> Result<(), Box<dyn Any>> {
    if core.read_buf.try_borrow_mut().is_err() {
        return Err(msg);
    }
    match take(core, id, Some(gen)) {
        Some((actor, slot_gen)) => {
            run(core, id, actor, slot_gen, |a, cx| a.deliver(msg, cx));
            Ok(())
        }
        None => Err(msg),
    }
}

pub(crate) fn reserve(core: &LoopCore) -> ActorId {
    reserve_gen(core).0
}

/// Reserves a row and returns it with the incarnation that lives there.
pub(crate) fn reserve_gen(core: &LoopCore) -> (ActorId, u64) {
    let gen = core.actor_gen.get() + 1;
    core.actor_gen.set(gen);
    let index = core.actors.borrow_mut().insert(ActorSlot {
        gen,
        actor: None,
        handled: Default::default(),
        #[cfg(feature = "tracing")]
        span: tracing::Span::none(),
    });
    core.shared.set_live(index, gen);
    core.watchers.borrow_mut().reused(index);
    (internal::actor_id(index), gen)
}

/// Takes actor `id` out of the table for good: its address refuses messages
/// from now on.
pub(crate) fn remove(core: &LoopCore, id: ActorId) -> Option<ActorSlot> {
    let slot = core.actors.borrow_mut().try_remove(id.index());
    if slot.is_some() {
        core.shared.set_live(id.index(), 0);
        core.names.forget(id.index());
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
        #[cfg(feature = "tracing")]
        {
            let name = core.names.get(id.index(), slot.gen);
            slot.span = crate::introspect::spans::actor_span(id, &*actor, name.as_deref());
        }
        slot.actor = Some(actor);
    }
}

/// Takes actor `id` (of incarnation `gen`, if given) out of its slot, with
/// the slot's incarnation; `None` if there is none, or it is being called.
fn take(core: &LoopCore, id: ActorId, gen: Option<u64>) -> Option<(Box<dyn LoopActor>, u64)> {
    let mut actors = core.actors.borrow_mut();
    let slot = actors.get_mut(id.index())?;
    if gen.is_some_and(|g| g != slot.gen) {
        return None;
    }
    let actor = slot.actor.take()?;
    slot.handled.add(1);
    Some((actor, slot.gen))
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
    if let Some((actor, slot_gen)) = take(core, id, gen) {
        run(core, id, actor, slot_gen, f);
    }
}

fn run(
    core: &LoopCore,
    id: ActorId,
    mut actor: Box<dyn LoopActor>,
    slot_gen: u64,
    f: impl FnOnce(&mut dyn LoopActor, &mut dyn LoopContext) -> Status,
) {
    #[cfg(feature = "tracing")]
    let entered = crate::introspect::spans::enter(core, id);
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
    #[cfg(feature = "tracing")]
    drop(entered);
    match result {
        Ok(Status::Alive) => put_back(core, id, slot_gen, actor),
        Ok(Status::Done) => {
            let reason = catch_unwind(AssertUnwindSafe(|| actor.exit_reason()))
                .unwrap_or_else(|p| ExitReason::failed(panic_message(&*p)));
            drop(actor);
            finish(core, id, slot_gen, reason);
        }
        Err(payload) if is_interrupt(&*payload) => {
            put_back(core, id, slot_gen, actor);
            std::panic::resume_unwind(payload);
        }
        Err(payload) => {
            let what = actor.describe();
            drop(actor);
            let exception = Exception::from_panic(&*payload);
            let ctx = ExceptionContext::new(format!("Exception in actor {what}"))
                .with_exception(exception);
            crate::exception::report(core, ctx);
            finish(
                core,
                id,
                slot_gen,
                ExitReason::failed(panic_message(&*payload)),
            );
        }
    }
    if interrupt {
        std::panic::resume_unwind(Box::new(crate::Interrupt));
    }
}

/// The text of a panic payload.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    match Exception::from_panic(payload) {
        Exception::Panic(m) => m,
        other => other.to_string(),
    }
}

/// Incarnation `gen` of actor `id` has stopped with `reason` (the actor is
/// already out of its slot): frees the row, or, for a supervised child,
/// keeps it (and its address) for the next incarnation, holding messages
/// meanwhile; then tells the watchers.
pub(crate) fn finish(core: &LoopCore, id: ActorId, gen: u64, reason: ExitReason) {
    let supervised = match core.supervised.borrow_mut().get_mut(&id.index()) {
        Some(held) => {
            *held = Some(VecDeque::new());
            true
        }
        None => false,
    };
    if !supervised {
        remove_gen(core, id, gen);
    }
    let watchers = core.watchers.borrow_mut().exited(id.index(), gen, &reason);
    rows::notify(core, ActorExited { id, reason }, watchers);
}

/// Stops actor `id` now with `reason`: its `shutdown` runs, then it is
/// finished as if it had stopped itself. An actor being called right now
/// (this is a nested call) is stopped once that call returns.
pub(crate) fn kill(core: &LoopCore, id: ActorId, gen: Option<u64>, reason: ExitReason) {
    match take(core, id, gen) {
        Some((mut actor, slot_gen)) => {
            let status = {
                let mut cx = LoopCx {
                    core,
                    id,
                    gen: slot_gen,
                    buf: None,
                    interrupt: false,
                };
                catch_unwind(AssertUnwindSafe(|| actor.kill(&mut cx))).unwrap_or(Status::Done)
            };
            match status {
                // It ends on a later turn (a transport delivering its
                // `ConnectionLost`), with its own reason.
                Status::Alive => put_back(core, id, slot_gen, actor),
                Status::Done => {
                    drop(actor);
                    finish(core, id, slot_gen, reason);
                }
            }
        }
        None => {
            let busy = {
                let actors = core.actors.borrow();
                actors.get(id.index()).and_then(|slot| {
                    let held = core
                        .supervised
                        .borrow()
                        .get(&id.index())
                        .is_some_and(|h| h.is_some());
                    (slot.actor.is_none() && !held && gen.is_none_or(|g| g == slot.gen))
                        .then_some(slot.gen)
                })
            };
            if let Some(g) = busy {
                core.ready.borrow_mut().push_back(Ready::DeliverTo(
                    id,
                    g,
                    Box::new(System::Kill(reason)),
                ));
            }
        }
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
    if msg.is::<System>() {
        if let Ok(sys) = msg.downcast::<System>() {
            system(core, id, gen, *sys);
        }
        return;
    }
    match take(core, id, gen) {
        Some((actor, slot_gen)) => run(core, id, actor, slot_gen, |a, cx| a.deliver(msg, cx)),
        None => rows::hold(core, id, gen, msg),
    }
}

fn system(core: &LoopCore, id: ActorId, gen: Option<u64>, sys: System) {
    match sys {
        System::Kill(reason) => kill(core, id, gen, reason),
        System::LinkExited(exited) => {
            let traps = core
                .actors
                .borrow()
                .get(id.index())
                .filter(|slot| gen.is_none_or(|g| g == slot.gen))
                .and_then(|slot| slot.actor.as_ref().map(|a| a.traps_exits()));
            match traps {
                Some(true) => dispatch(core, id, gen, |a, cx| {
                    a.deliver(Box::new(System::Exited(exited)), cx)
                }),
                Some(false) if !exited.reason.is_clean() => {
                    kill(core, id, gen, exited.reason);
                }
                _ => {}
            }
        }
        other => match take(core, id, gen) {
            Some((actor, slot_gen)) => run(core, id, actor, slot_gen, |a, cx| {
                a.deliver(Box::new(other), cx)
            }),
            None => rows::hold(core, id, gen, Box::new(other)),
        },
    }
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
    let inbox = core.inbox.take_all();
    let watchers = core.watchers.borrow_mut().clear();
    let supervised = std::mem::take(&mut *core.supervised.borrow_mut());
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
    drop((ready, timers, inbox, watches, watchers, supervised));
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
