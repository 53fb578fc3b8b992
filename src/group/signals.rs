//! One graceful shutdown for every loop of a group, on a signal handled
//! once for the process.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::group::handle::{GroupHandle, GroupShared, GroupState};
use crate::net::Drain;
use crate::signals::{Signal, SignalError};
use crate::ShutdownReport;

/// Where a group's signal shutdown stands.
#[derive(Default)]
pub(crate) struct SignalState {
    /// The loop (index, incarnation) whose handlers take the signals.
    installer: Option<(usize, u64)>,
    deadline: Duration,
    phase: Phase,
    /// The futures waiting for [`Phase::Done`].
    waiters: Vec<Waker>,
}

/// The group shutdown's life cycle.
#[derive(Default)]
enum Phase {
    /// No signal yet.
    #[default]
    Waiting,
    /// The first signal came: every loop is shutting down.
    Draining {
        /// Loops whose report is still to come.
        pending: Vec<usize>,
        /// The reports so far, summed.
        combined: ShutdownReport,
    },
    /// Every loop reported (or ended).
    Done(ShutdownReport),
}

impl SignalState {
    /// True once the first signal came: the group restarts no loop.
    pub(crate) fn started(&self) -> bool {
        !matches!(self.phase, Phase::Waiting)
    }

    /// Ends the shutdown with `report`, waking every future waiting.
    fn finish(&mut self, report: ShutdownReport) {
        self.phase = Phase::Done(report);
        for w in self.waiters.drain(..) {
            w.wake();
        }
    }
}

thread_local! {
    /// This loop thread's drains, for the abort a second signal asks for.
    static DRAINS: RefCell<Vec<Drain>> = const { RefCell::new(Vec::new()) };
}

impl GroupHandle {
    /// Binds `sigs` (SIGINT and SIGTERM, say) to a graceful shutdown of
    /// every loop of the group, as
    /// [`EventLoop::shutdown_on_signals`](crate::EventLoop::shutdown_on_signals)
    /// does for one loop: the first signal makes every loop run
    /// [`shutdown(deadline)`](crate::EventLoop::shutdown) (drain its
    /// servers, stop its trees), a second one aborts the connections the
    /// drains still wait for. The returned future resolves on every loop
    /// that asked, with one [`ShutdownReport`] summed over the loops.
    ///
    /// The signals are handled once for the process: the first loop that
    /// calls this installs the handlers (the others' calls only wait for
    /// the report; the first call's `deadline` is the one used). If that
    /// loop is restarted, the next call installs them again. Once the
    /// shutdown has begun, the group restarts no loop. Call it on the
    /// loop's own thread, while it runs (in the setup future).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use switchboard::prelude::*;
    ///
    /// switchboard::LoopGroup::new().run(|lp: EventLoop| async move {
    ///     let group = lp.group().expect("in a group");
    ///     let _server = lp.create_server(|| switchboard::ready_made::Echo)
    ///         .host("127.0.0.1").port(8888).reuse_port(true).await?;
    ///     let report = group
    ///         .shutdown_on_signals(&[Signal::SIGINT, Signal::SIGTERM], Duration::from_secs(10))?
    ///         .await;
    ///     println!("loop {}: {report}", group.index());
    ///     Ok::<(), switchboard::Error>(())
    /// })?;
    /// # Ok::<(), switchboard::Error>(())
    /// ```
    pub fn shutdown_on_signals(
        &self,
        sigs: &[Signal],
        deadline: Duration,
    ) -> Result<GroupShutdown, SignalError> {
        let lp = crate::get_running_loop().map_err(|_| SignalError::Closed)?;
        let mut st = self.shared.lock();
        let installed = st.signals.installer.is_some();
        if !installed && !st.signals.started() {
            for &sig in sigs {
                let shared = self.shared.clone();
                if let Err(e) = lp.add_signal_handler(sig, move || signalled(&shared)) {
                    for &s in sigs {
                        let _ = lp.remove_signal_handler(s);
                    }
                    return Err(e);
                }
            }
            st.signals.installer = Some((self.index, self.incarnation));
            st.signals.deadline = deadline;
        }
        Ok(GroupShutdown {
            shared: self.shared.clone(),
        })
    }
}

/// A signal came, on the loop that handles them for the group.
fn signalled(shared: &Arc<GroupShared>) {
    let mut st = shared.lock();
    let loops: Vec<_> = st
        .loops
        .iter()
        .enumerate()
        .filter_map(|(i, l)| l.as_ref().map(|(_, h)| (i, h.clone())))
        .collect();
    if st.signals.started() {
        for (_, h) in loops {
            let _ = h.call_soon_threadsafe(|| {
                DRAINS.with(|d| d.borrow().iter().for_each(Drain::abort_now));
            });
        }
        return;
    }
    let deadline = st.signals.deadline;
    if loops.is_empty() {
        st.signals.finish(ShutdownReport::default());
        return;
    }
    st.signals.phase = Phase::Draining {
        pending: loops.iter().map(|(i, _)| *i).collect(),
        combined: ShutdownReport::default(),
    };
    let mut refused = Vec::new();
    for (index, h) in loops {
        let group = shared.clone();
        let posted = h.call_soon_threadsafe(move || {
            let Ok(lp) = crate::get_running_loop() else {
                return report(&group, index, ShutdownReport::default());
            };
            let shutdown = lp.shutdown(deadline);
            DRAINS.with(|d| *d.borrow_mut() = shutdown.drains());
            let g = group.clone();
            let started = lp.create_task(async move {
                let r = shutdown.await;
                report(&g, index, r);
            });
            if started.is_err() {
                report(&group, index, ShutdownReport::default());
            }
        });
        if posted.is_err() {
            refused.push(index);
        }
    }
    for index in refused {
        arrived(&mut st, index, ShutdownReport::default());
    }
}

/// Loop `index` finished its part of the shutdown.
fn report(shared: &GroupShared, index: usize, r: ShutdownReport) {
    arrived(&mut shared.lock(), index, r);
}

fn arrived(st: &mut GroupState, index: usize, r: ShutdownReport) {
    let sig = &mut st.signals;
    let Phase::Draining { pending, combined } = &mut sig.phase else {
        return;
    };
    let Some(pos) = pending.iter().position(|&i| i == index) else {
        return;
    };
    pending.swap_remove(pos);
    *combined += r;
    if pending.is_empty() {
        let all = *combined;
        sig.finish(all);
    }
}

/// Loop `index` ended: it handles the signals no more, and a shutdown in
/// progress stops waiting for its report.
pub(crate) fn loop_ended(st: &mut GroupState, index: usize, inc: u64) {
    if st.signals.installer == Some((index, inc)) {
        st.signals.installer = None;
    }
    arrived(st, index, ShutdownReport::default());
}

/// Loop `index` is being replaced: whichever incarnation handled the
/// signals, the new one's call installs the handlers again.
pub(crate) fn loop_replaced(st: &mut GroupState, index: usize) {
    if st.signals.installer.is_some_and(|(i, _)| i == index) {
        st.signals.installer = None;
    }
}

/// The future [`GroupHandle::shutdown_on_signals`] returns: resolves with
/// the report summed over every loop once all of them have shut down.
#[must_use = "the shutdown report comes only when awaited"]
pub struct GroupShutdown {
    shared: Arc<GroupShared>,
}

impl fmt::Debug for GroupShutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GroupShutdown")
    }
}

impl Future for GroupShutdown {
    type Output = ShutdownReport;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<ShutdownReport> {
        let mut st = self.shared.lock();
        if let Phase::Done(r) = st.signals.phase {
            return Poll::Ready(r);
        }
        let w = &mut st.signals.waiters;
        if !w.iter().any(|x| x.will_wake(cx.waker())) {
            w.push(cx.waker().clone());
        }
        Poll::Pending
    }
}
