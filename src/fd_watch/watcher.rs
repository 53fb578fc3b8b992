//! The actor behind one watched descriptor.

use std::cell::{Cell, RefCell};
use std::os::fd::RawFd;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

use mio::unix::SourceFd;
use switchboard_actors::{LoopActor, LoopContext, Readiness, Status};
use switchboard_protocols::{Exception, ExceptionContext};

use crate::interrupt::is_interrupt;

/// A reader or writer callback, shared between the watch table and the
/// current watcher actor.
pub(crate) type Callback = Rc<RefCell<dyn FnMut()>>;

/// Calls the reader and writer callbacks of one descriptor on readiness.
///
/// mio's registrations are edge-triggered; asyncio's watchers are
/// level-triggered. After its callbacks ran, the watcher re-registers the
/// descriptor (`EPOLL_CTL_MOD`), which raises a new event at once if the
/// descriptor is still ready: a callback that leaves data unread runs again
/// on the next iteration, as in asyncio.
pub(crate) struct FdWatcher {
    fd: RawFd,
    reader: Option<Callback>,
    writer: Option<Callback>,
    interest: mio::Interest,
    /// Set once a change replaced or removed this watcher.
    retired: Rc<Cell<bool>>,
}

impl FdWatcher {
    pub(crate) fn new(
        fd: RawFd,
        reader: Option<Callback>,
        writer: Option<Callback>,
        interest: mio::Interest,
        retired: Rc<Cell<bool>>,
    ) -> Self {
        FdWatcher {
            fd,
            reader,
            writer,
            interest,
            retired,
        }
    }

    /// Runs one callback; a panic goes to the exception handler and the
    /// watcher stays (asyncio keeps a reader whose callback raised). Returns
    /// false if an `Interrupt` must leave the loop.
    fn run(&self, cb: &Callback, side: &str, cx: &mut dyn LoopContext) -> bool {
        let result = catch_unwind(AssertUnwindSafe(|| (cb.borrow_mut())()));
        match result {
            Ok(()) => true,
            Err(payload) if is_interrupt(&*payload) => {
                cx.interrupt();
                false
            }
            Err(payload) => {
                let mut ctx =
                    ExceptionContext::new(format!("Exception in callback {side} fd={}", self.fd))
                        .with_exception(Exception::from_panic(&*payload));
                ctx.handle = Some(format!("<Handle {side} fd={}>", self.fd));
                cx.report(ctx);
                true
            }
        }
    }
}

impl LoopActor for FdWatcher {
    fn ready(&mut self, readiness: Readiness, cx: &mut dyn LoopContext) -> Status {
        let readable = readiness.readable || readiness.closed;
        if readable {
            if let Some(cb) = self.reader.clone() {
                if !self.run(&cb, "reader", cx) {
                    return Status::Alive;
                }
            }
        }
        // The reader may have removed or replaced this watcher.
        if readiness.writable && !self.retired.get() {
            if let Some(cb) = self.writer.clone() {
                if !self.run(&cb, "writer", cx) {
                    return Status::Alive;
                }
            }
        }
        if self.retired.get() {
            return Status::Done;
        }
        // Re-arm: level-triggered from edge-triggered. An error means the
        // descriptor was closed under us; it is out of the poller then.
        let token = cx.token_of(cx.id());
        let _ = cx
            .registry()
            .reregister(&mut SourceFd(&self.fd), token, self.interest);
        Status::Alive
    }

    fn inspect(&self, info: &mut switchboard_actors::inspect::ActorInfo) {
        info.kind = switchboard_actors::inspect::ActorKind::Watcher;
        info.state = "watching".into();
    }

    fn describe(&self) -> String {
        let sides = match (self.reader.is_some(), self.writer.is_some()) {
            (true, true) => "reader+writer",
            (true, false) => "reader",
            _ => "writer",
        };
        format!("<FdWatcher fd={} {sides}>", self.fd)
    }
}
