//! A server's graceful drain, as a state machine one can watch: stop
//! accepting, let open connections finish until a deadline, close them,
//! abort what is left.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::compose::wait_for;
use crate::net::Server;

/// Where a drain is. It only moves forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum DrainState {
    /// The listening sockets are closed (new connects are refused at
    /// once); open connections may finish on their own until the deadline.
    Draining,
    /// The deadline passed: the connections left were told to close
    /// (`close_clients`: each flushes what it has buffered, then ends).
    Closing,
    /// The close grace passed too: what was still open was aborted
    /// (`abort_clients`).
    Aborting,
    /// Every connection has ended.
    Drained,
}

/// How a drain ended each connection that was open when it began.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct DrainReport {
    /// Ended on their own before the deadline.
    pub finished: usize,
    /// Ended after `close_clients`.
    pub closed: usize,
    /// Aborted.
    pub aborted: usize,
}

impl DrainReport {
    /// Every connection counted.
    pub fn total(&self) -> usize {
        self.finished + self.closed + self.aborted
    }
}

impl std::ops::AddAssign for DrainReport {
    fn add_assign(&mut self, other: DrainReport) {
        self.finished += other.finished;
        self.closed += other.closed;
        self.aborted += other.aborted;
    }
}

impl fmt::Display for DrainReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} finished, {} closed, {} aborted",
            self.finished, self.closed, self.aborted
        )
    }
}

struct Shared {
    state: Cell<DrainState>,
    report: Cell<DrainReport>,
    /// Connections open when the drain began, and when it began closing.
    opened: Cell<usize>,
    left: Cell<usize>,
    waiters: RefCell<Vec<Waker>>,
}

impl Shared {
    fn set(&self, state: DrainState) {
        self.state.set(state);
        for w in self.waiters.take() {
            w.wake();
        }
    }

    /// Draining -> Closing with `open` connections left.
    fn to_closing(&self, open: usize) {
        let mut r = self.report.get();
        r.finished = self.opened.get().saturating_sub(open);
        self.report.set(r);
        self.left.set(open);
        self.set(DrainState::Closing);
    }

    /// -> Aborting with `open` connections left (from Draining or Closing).
    fn to_aborting(&self, open: usize) {
        if self.state.get() == DrainState::Draining {
            self.to_closing(open);
        }
        let mut r = self.report.get();
        r.closed = self.left.get().saturating_sub(open);
        r.aborted = open;
        self.report.set(r);
        self.set(DrainState::Aborting);
    }

    /// Every connection has ended; those not counted yet ended in the step
    /// the drain was in.
    fn to_drained(&self) {
        let mut r = self.report.get();
        match self.state.get() {
            DrainState::Draining => r.finished = self.opened.get(),
            DrainState::Closing => r.closed = self.left.get(),
            _ => {}
        }
        self.report.set(r);
        self.set(DrainState::Drained);
    }
}

/// A drain in progress, from [`Server::drain`]: its [`state`](Self::state)
/// and counts so far, a future for each step ([`reached`](Self::reached)),
/// and, awaited, the final [`DrainReport`]. Clones watch the same drain.
#[derive(Clone)]
pub struct Drain {
    shared: Rc<Shared>,
    server: Server,
}

impl fmt::Debug for Drain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Drain")
            .field("state", &self.state())
            .field("report", &self.report())
            .finish()
    }
}

impl Drain {
    /// The current step.
    pub fn state(&self) -> DrainState {
        self.shared.state.get()
    }

    /// The counts so far (final once [`Drained`](DrainState::Drained)).
    pub fn report(&self) -> DrainReport {
        self.shared.report.get()
    }

    /// How many connections are still open.
    pub fn open(&self) -> usize {
        self.server.connection_count()
    }

    /// Resolves once the drain has reached `state` (at once if it has).
    pub fn reached(&self, state: DrainState) -> Reached {
        Reached {
            shared: self.shared.clone(),
            state,
        }
    }

    /// Stops waiting: aborts every connection still open now (what a second
    /// SIGTERM does).
    pub fn abort_now(&self) {
        if self.state() < DrainState::Aborting {
            self.shared.to_aborting(self.open());
            self.server.abort_clients();
        }
    }
}

/// The future of [`Drain::reached`].
#[derive(Debug)]
pub struct Reached {
    shared: Rc<Shared>,
    state: DrainState,
}

impl Future for Reached {
    type Output = DrainReport;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<DrainReport> {
        if self.shared.state.get() >= self.state {
            Poll::Ready(self.shared.report.get())
        } else {
            self.shared.waiters.borrow_mut().push(cx.waker().clone());
            Poll::Pending
        }
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.state.get())
    }
}

impl IntoFuture for Drain {
    type Output = DrainReport;
    type IntoFuture = Reached;
    fn into_future(self) -> Reached {
        self.reached(DrainState::Drained)
    }
}

/// How long connections have after `close_clients` before they are
/// aborted, unless [`Server::drain_with`] says otherwise.
pub const DEFAULT_CLOSE_GRACE: Duration = Duration::from_secs(1);

impl Server {
    /// Drains the server: closes its listening sockets at once (after
    /// accepting what the kernel had already queued, so no connection it
    /// completed is reset; later connects are refused), lets the open
    /// connections end on their own until `deadline`, then closes them
    /// ([`close_clients`](Self::close_clients)), and aborts what is still
    /// open a close grace of [`DEFAULT_CLOSE_GRACE`] later. Each step is
    /// a [`DrainState`]; the [`Drain`] reports the counts.
    ///
    /// The abort ends TLS connections too, whatever they wait for: one
    /// whose client never finished its handshake (bounded on its own only
    /// by the 60 s `ssl_handshake_timeout`) and one whose peer never
    /// answers our close_notify (the 30 s `ssl_shutdown_timeout`) count as
    /// aborted, so a drain resolves within `deadline` plus the close grace.
    ///
    /// ```
    /// use std::time::Duration;
    /// use switchboard::prelude::*;
    /// use switchboard::DrainState;
    ///
    /// switchboard::run(|lp: EventLoop| async move {
    ///     let server = lp.create_server(|| switchboard::ready_made::Echo)
    ///         .host("127.0.0.1").port(0).await?;
    ///     let drain = server.drain(Duration::from_secs(10));
    ///     assert_eq!(drain.state(), DrainState::Draining);
    ///     assert!(server.sockets().is_empty(), "no longer listening");
    ///     let report = drain.await;
    ///     assert_eq!(report.total(), 0);
    ///     Ok::<(), switchboard::Error>(())
    /// })?;
    /// # Ok::<(), switchboard::Error>(())
    /// ```
    pub fn drain(&self, deadline: Duration) -> Drain {
        self.drain_with(deadline, DEFAULT_CLOSE_GRACE)
    }

    /// [`drain`](Self::drain) with the close grace given.
    pub fn drain_with(&self, deadline: Duration, close_grace: Duration) -> Drain {
        let shared = Rc::new(Shared {
            state: Cell::new(DrainState::Draining),
            report: Cell::new(DrainReport::default()),
            opened: Cell::new(0),
            left: Cell::new(0),
            waiters: RefCell::new(Vec::new()),
        });
        self.close_for_drain();
        // Counted after the last accept, so those connections count too.
        shared.opened.set(self.connection_count());
        let drain = Drain {
            shared: shared.clone(),
            server: self.clone(),
        };
        let server = self.clone();
        let lp = self.get_loop();
        let run = async move {
            let s = &shared;
            if wait_for(server.wait_closed(), deadline).await.is_err()
                && s.state.get() == DrainState::Draining
            {
                s.to_closing(server.connection_count());
                server.close_clients();
                if wait_for(server.wait_closed(), close_grace).await.is_err()
                    && s.state.get() == DrainState::Closing
                {
                    s.to_aborting(server.connection_count());
                    server.abort_clients();
                }
            }
            server.wait_closed().await;
            s.to_drained();
        };
        if lp.create_task(run).is_err() {
            // A closed loop has no connections left.
            drain.shared.set(DrainState::Drained);
        }
        drain
    }
}
