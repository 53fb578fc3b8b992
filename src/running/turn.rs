//! One loop iteration, in asyncio's `_run_once` order.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use switchboard_protocols::{Exception, ExceptionContext};

use crate::callbacks::store::Callback;
use crate::event_loop::{LoopCore, Ready, FIRST_ACTOR_TOKEN, WAKER_TOKEN};
use crate::handle_table::Claimed;
use crate::interrupt::is_interrupt;
use crate::shared::Inbox;
use crate::task::{Propagated, TaskKey};

/// Runs one iteration:
///
/// 1. **Timeout**: zero if callbacks are ready, tasks are woken, the inbox is
///    non-empty or the loop is stopping; else until the nearest live timer;
///    else block.
/// 2. **Poll**, and queue each readiness event for the actor that owns its
///    token (asyncio's `_process_events` adding the I/O callbacks to
///    `_ready`).
/// 3. **Inbox**: move callbacks and messages from other threads to the ready
///    queue, and woken tasks after them. Only what the inbox held when this
///    phase began is taken, and at most a fixed batch of it; the rest, and
///    what other threads send meanwhile, waits for the next iteration.
/// 4. **Timers**: move due timers to the ready queue, earliest first.
/// 5. **Run** what was ready when this phase began: callbacks, messages, and
///    the actors' I/O, so protocol handlers run inside the snapshot like any
///    callback. Anything scheduled while they run (a callback, a message, a
///    `ConnectionLost` after `close()`) waits for the next iteration, and
///    `stop()` from a handler lets only the rest of the snapshot run. If an
///    [`Interrupt`](crate::Interrupt) leaves this phase, what it had not run
///    yet (other I/O events of the same poll included) stays queued, in
///    order, for the next run.
/// 6. **End of turn**: the actors that asked for it
///    ([`LoopContext::at_end_of_turn`](switchboard_actors::LoopContext::at_end_of_turn))
///    hear that the snapshot is done: a transport that held its writes while
///    answers to calls were handed over sends them now, in one syscall.
pub(crate) fn run_once(core: &LoopCore) {
    // 1. Timeout.
    core.shared.arm();
    let timeout = compute_timeout(core);
    drop_dead_timers(core);

    // 2. Poll and dispatch readiness.
    {
        let mut events = core.events.borrow_mut();
        if let Err(e) = core.poll.borrow_mut().poll(&mut events, timeout) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                crate::diag::error!("poll failed: {e}");
            }
            events.clear();
        }
        core.shared.disarm();
        core.stats.polled();
        let actors = core.actors.borrow();
        let mut ready = core.ready.borrow_mut();
        for event in events.iter() {
            let (token, source) = switchboard_actors::split_token(event.token());
            if token == WAKER_TOKEN || token.0 < FIRST_ACTOR_TOKEN {
                continue;
            }
            let id = switchboard_protocols::internal::actor_id(token.0 - FIRST_ACTOR_TOKEN);
            let Some(slot) = actors.get(id.index()) else {
                continue;
            };
            let readiness = switchboard_actors::Readiness {
                readable: event.is_readable() || event.is_read_closed() || event.is_error(),
                writable: event.is_writable() || event.is_write_closed(),
                closed: event.is_read_closed() || event.is_error(),
                source,
            };
            ready.push_back(Ready::Io {
                id,
                gen: slot.gen,
                readiness,
            });
        }
    }

    // 3. Inbox and woken tasks.
    drain_inbox(core);
    drain_woken(core);

    // 4. Due timers.
    {
        // Purge first (asyncio's order), so due cancelled entries are not
        // popped one by one.
        let mut timers = core.timers.borrow_mut();
        // No timer at all: no clock read.
        if !timers.is_empty() {
            let now = core.now_ns();
            timers.maybe_purge();
            let mut ready = core.ready.borrow_mut();
            while let Some(entry) = timers.pop_due(now) {
                core.stats.timer_lag(timers.last_due(), now);
                entry.callback.prefetch();
                ready.push_back(Ready::Timer {
                    slot: entry.slot,
                    at: entry.created_at,
                    f: entry.callback,
                });
            }
        }
        drop(timers);
        // Cancelled callbacks are dropped with no borrow held: their captures'
        // `Drop` may schedule on the loop.
        drop_dead_timers(core);
    }

    // 5. Run the ready snapshot.
    let n = core.ready.borrow().len();
    for _ in 0..n {
        let item = core.ready.borrow_mut().pop_front();
        match item {
            Some(Ready::Call { slot, at, f }) => run_callback(core, Claim::Table(slot), at, f),
            Some(Ready::Timer { slot, at, f }) => {
                run_callback(core, Claim::Table(slot), at, || f.call())
            }
            Some(Ready::CallAlone { state, f }) => {
                run_callback(core, Claim::Alone(&state), state.created_at, f)
            }
            Some(Ready::Task(key)) => run_task(core, key),
            Some(Ready::DeliverTo(to, gen, msg)) => {
                crate::routing::dispatch_message(core, to, Some(gen), msg)
            }
            Some(Ready::Io { id, gen, readiness }) => {
                crate::routing::dispatch_ready(core, id, gen, readiness)
            }
            None => break,
        }
    }

    // 6. The actors that asked to hear the end of this turn (transports
    // flushing the writes they held back during it). Taken one at a time,
    // so an `Interrupt` out of one leaves the others queued for the next
    // turn (whose timeout is then zero).
    let due = core.end_of_turn.borrow().len();
    for _ in 0..due {
        let next = core.end_of_turn.borrow_mut().pop();
        let Some((id, gen)) = next else {
            break;
        };
        crate::routing::dispatch(core, id, Some(gen), |a, cx| a.end_of_turn(cx));
    }
    core.stats.turned();
}

fn drop_dead_timers(core: &LoopCore) {
    let dead = core.timers.borrow_mut().take_dead();
    drop(dead);
}

fn compute_timeout(core: &LoopCore) -> Option<Duration> {
    let busy = !core.ready.borrow().is_empty()
        || !core.end_of_turn.borrow().is_empty()
        || core.shared.stopping.load(Ordering::SeqCst)
        || core.shared.inbox_waiting()
        || !lock_woken(core).is_empty();
    if busy {
        return Some(Duration::ZERO);
    }
    let deadline = core.timers.borrow_mut().next_deadline()?;
    let wait = deadline.saturating_sub(core.now_ns()).max(0);
    Some(Duration::from_nanos(wait as u64))
}

fn lock_woken(core: &LoopCore) -> std::sync::MutexGuard<'_, Vec<TaskKey>> {
    core.shared
        .woken
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The most one iteration takes from the inbox: about a millisecond of
/// small callbacks, even with other threads contending for the cores. Small
/// enough that timers, I/O and `stop()` wait about that long behind a
/// backlog; large enough that the extra zero-timeout poll per batch is small
/// next to running it.
const INBOX_BATCH: usize = 1024;

/// Moves what other threads sent to the ready queue: at most what was
/// counted in `inbox_pending` when this phase began (asyncio's snapshot of
/// `_ready`, applied to the inbox), and at most [`INBOX_BATCH`] items.
/// Whatever arrives meanwhile, or is left over, waits in the inbox, in
/// order, for the next iteration. So senders on other threads, however many
/// and however fast, cannot keep an iteration from reaching its timers, its
/// I/O and a `stop()` (X6, issue 16). Taking items for as long as there were
/// any kept one iteration here for seconds under eight sending threads.
///
/// The snapshot alone is not enough: when other threads post faster than the
/// loop runs their callbacks (eight busy threads on two cores do, by about
/// five to one), what waits at the start of an iteration is the whole
/// backlog, which grows from one iteration to the next, and so would the
/// time between two looks at the timers.
fn drain_inbox(core: &LoopCore) {
    // The count includes sends still in progress (counted before they reach
    // the channel): the loop below stops early when the channel is empty.
    let n = core
        .shared
        .inbox_pending
        .load(Ordering::Acquire)
        .min(INBOX_BATCH);
    for _ in 0..n {
        let Some(item) = core.inbox.pop() else {
            break;
        };
        core.shared.inbox_pending.fetch_sub(1, Ordering::AcqRel);
        match item {
            Inbox::Call(state, f) => core
                .ready
                .borrow_mut()
                .push_back(Ready::CallAlone { state, f }),
            Inbox::Deliver(to, gen, msg) => core
                .ready
                .borrow_mut()
                .push_back(Ready::DeliverTo(to, gen, msg)),
            Inbox::DeliverAfter(to, gen, msg, delay) => {
                let me = core.me.clone();
                let deadline = core
                    .now_ns()
                    .saturating_add(i64::try_from(delay.as_nanos()).unwrap_or(i64::MAX));
                let deliver = move || {
                    if let Some(core) = me.upgrade() {
                        core.ready
                            .borrow_mut()
                            .push_back(Ready::DeliverTo(to, gen, msg));
                    }
                };
                let _ = core.call_at_ns(
                    deadline,
                    Callback::new(&core.callbacks, deliver),
                    std::panic::Location::caller(),
                );
            }
        }
    }
}

fn drain_woken(core: &LoopCore) {
    let keys = std::mem::take(&mut *lock_woken(core));
    if keys.is_empty() {
        return;
    }
    let mut ready = core.ready.borrow_mut();
    ready.extend(keys.into_iter().map(Ready::Task));
}

/// Where the state of a callback in the ready queue lives.
#[derive(Clone, Copy)]
enum Claim<'a> {
    /// A slot of the loop's handle table.
    Table(u32),
    /// A callback posted from another thread.
    Alone(&'a crate::handle_table::AloneSlot),
}

impl Claim<'_> {
    /// `None` when a cancel won; else whether `finish` must follow the run.
    fn start(self, core: &LoopCore) -> Option<bool> {
        match self {
            Claim::Table(slot) => match core.timers.borrow_mut().handles().start(slot) {
                Claimed::Cancelled => None,
                Claimed::Watched => Some(true),
                Claimed::Unwatched => Some(false),
            },
            Claim::Alone(state) => state.start().then_some(true),
        }
    }

    fn finish(self, core: &LoopCore) {
        match self {
            Claim::Table(slot) => core.timers.borrow_mut().handles().finish(slot),
            Claim::Alone(state) => state.finish(),
        }
    }
}

/// Runs one callback under `catch_unwind`; a panic goes to the exception
/// handler, an [`Interrupt`](crate::Interrupt) leaves the loop.
fn run_callback(
    core: &LoopCore,
    claim: Claim<'_>,
    created_at: &'static std::panic::Location<'static>,
    f: impl FnOnce(),
) {
    let Some(finish) = claim.start(core) else {
        return;
    };
    core.stats.callback();
    let started = core.debug.get().then(Instant::now);
    let result = catch_unwind(AssertUnwindSafe(f));
    if finish {
        claim.finish(core);
    }
    if let Some(t0) = started {
        warn_if_slow(core, t0, || format!("<Handle created at {created_at}>"));
    }
    if let Err(payload) = result {
        if is_interrupt(&*payload) {
            std::panic::resume_unwind(payload);
        }
        let mut ctx = ExceptionContext::new(format!(
            "Exception in callback <Handle created at {}>",
            created_at
        ))
        .with_exception(Exception::from_panic(&*payload));
        ctx.handle = Some(format!("<Handle created at {}>", created_at));
        if core.debug.get() {
            ctx.source_traceback = Some(created_at);
        }
        crate::exception::report(core, ctx);
    }
}

pub(crate) fn warn_if_slow(core: &LoopCore, t0: Instant, what: impl FnOnce() -> String) {
    let took = t0.elapsed();
    if took >= core.slow_callback.get() {
        crate::diag::warning!(
            "Executing {} took {:.3} seconds",
            what(),
            took.as_secs_f64()
        );
    }
}

/// Polls one task once.
fn run_task(core: &LoopCore, key: TaskKey) {
    let taken = {
        let mut tasks = core.tasks.borrow_mut();
        match tasks.get_mut(key.index) {
            Some(slot) if slot.waker.key == key => slot
                .future
                .take()
                .map(|f| (f, slot.waker.clone(), slot.control.clone())),
            _ => None,
        }
    };
    let Some((mut fut, waker, control)) = taken else {
        return;
    };
    if control.cancel_requested() {
        core.tasks.borrow_mut().remove(key.index);
        drop(fut);
        control.fail(crate::TaskError::Cancelled {
            name: control.name(),
        });
        return;
    }
    waker.scheduled.store(false, Ordering::Release);
    let std_waker = std::task::Waker::from(waker);
    let mut cx = Context::from_waker(&std_waker);
    let started = core.debug.get().then(Instant::now);
    let result = catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(&mut cx)));
    if let Some(t0) = started {
        warn_if_slow(core, t0, || format!("<Task {:?}>", control.name()));
    }
    match result {
        Ok(Poll::Pending) => {
            if let Some(slot) = core.tasks.borrow_mut().get_mut(key.index) {
                slot.future = Some(fut);
            }
        }
        Ok(Poll::Ready(())) => {
            core.tasks.borrow_mut().remove(key.index);
            drop(fut);
        }
        Err(payload) => {
            core.tasks.borrow_mut().remove(key.index);
            drop(fut);
            let payload = match payload.downcast::<Propagated>() {
                Ok(propagated) => {
                    // An awaited task failed: this one fails with the same
                    // error (naming the task where it began; cancellation
                    // cancels this one too), already reported once.
                    control.fail(propagated.0);
                    return;
                }
                Err(payload) => payload,
            };
            let exception = Exception::from_panic(&*payload);
            let message = match &exception {
                Exception::Panic(m) => m.clone(),
                other => other.to_string(),
            };
            control.fail(crate::TaskError::Panicked {
                name: control.name(),
                message,
            });
            if is_interrupt(&*payload) {
                std::panic::resume_unwind(payload);
            }
            let mut ctx = ExceptionContext::new(format!("Exception in task {:?}", control.name()))
                .with_exception(exception);
            ctx.task = Some(format!("<Task name={:?}>", control.name()));
            crate::exception::report(core, ctx);
        }
    }
}
