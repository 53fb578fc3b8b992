//! The loop's graceful shutdown: drain every server, then stop every
//! supervision tree, and report what happened to each connection.

use std::cell::RefCell;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use crate::event_loop::{EventLoop, Ready};
use crate::future::LoopFuture;
use crate::net::{Drain, DrainReport, Server, DEFAULT_CLOSE_GRACE};
use crate::signals::{Signal, SignalError};
use crate::supervision::system::System;
use crate::task::Task;

/// The drains of a shutdown, one per server.
type Drains = Rc<RefCell<Vec<Drain>>>;

/// What [`EventLoop::shutdown`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShutdownReport {
    /// How the drains ended the servers' connections, summed.
    pub connections: DrainReport,
    /// How many servers were drained.
    pub servers: usize,
    /// How many supervision trees were stopped.
    pub trees: usize,
    /// How many child processes the shutdown waited for, that exited.
    pub subprocesses: usize,
    /// How many child processes were still running at the deadline (they
    /// are left to their handles).
    pub subprocesses_running: usize,
}

/// Sums two reports (a loop group's, over its loops).
impl std::ops::AddAssign for ShutdownReport {
    fn add_assign(&mut self, other: ShutdownReport) {
        self.connections += other.connections;
        self.servers += other.servers;
        self.trees += other.trees;
        self.subprocesses += other.subprocesses;
        self.subprocesses_running += other.subprocesses_running;
    }
}

impl fmt::Display for ShutdownReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} servers drained ({}), {} supervision trees stopped, {} child processes exited",
            self.servers, self.connections, self.trees, self.subprocesses
        )?;
        if self.subprocesses_running > 0 {
            write!(f, ", {} still running", self.subprocesses_running)?;
        }
        Ok(())
    }
}

/// A shutdown in progress, from [`EventLoop::shutdown`]; await it for the
/// [`ShutdownReport`].
pub struct Shutdown {
    drains: Drains,
    /// `None` on a closed loop, which has nothing to shut down.
    task: Option<Task<ShutdownReport>>,
}

impl fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shutdown")
            .field("drains", &self.drains.borrow())
            .finish()
    }
}

impl Shutdown {
    /// Aborts every connection the drains still wait for (what a second
    /// SIGTERM does); the trees are stopped as before.
    pub fn abort_now(&self) {
        for d in self.drains.borrow().iter() {
            d.abort_now();
        }
    }

    /// The drains, one per server.
    pub fn drains(&self) -> Vec<Drain> {
        self.drains.borrow().clone()
    }
}

impl IntoFuture for Shutdown {
    type Output = ShutdownReport;
    type IntoFuture = Pin<Box<dyn Future<Output = ShutdownReport>>>;
    fn into_future(self) -> Self::IntoFuture {
        match self.task {
            Some(task) => Box::pin(task),
            None => Box::pin(std::future::ready(ShutdownReport::default())),
        }
    }
}

impl EventLoop {
    /// Shuts the loop's work down gracefully and resolves once it is done:
    /// every server is [drained](Server::drain) (listening sockets closed at
    /// once; open connections have until `deadline` to end, then are
    /// closed, and aborted if still open a close grace later), supervisors
    /// stop restarting children, then every supervision tree is stopped
    /// (children in reverse start order, each within its own deadline;
    /// supervised child processes get SIGTERM), and last the loop's other
    /// child processes are waited for until `deadline` (counted from the
    /// start). The loop itself keeps running and is not closed.
    ///
    /// The drains end within `deadline` plus a close grace of
    /// `min(`[`DEFAULT_CLOSE_GRACE`]`, deadline)`, TLS connections included:
    /// one stuck in its handshake or waiting for the peer's close_notify is
    /// aborted then, not left to its own 60 s or 30 s TLS timeout.
    ///
    /// ```
    /// use std::time::Duration;
    /// use switchboard::prelude::*;
    ///
    /// switchboard::run(|lp: EventLoop| async move {
    ///     let _server = lp.create_server(|| switchboard::ready_made::Echo)
    ///         .host("127.0.0.1").port(0).await?;
    ///     let report = lp.shutdown(Duration::from_secs(10)).await;
    ///     assert_eq!(report.servers, 1);
    ///     Ok::<(), switchboard::Error>(())
    /// })?;
    /// # Ok::<(), switchboard::Error>(())
    /// ```
    pub fn shutdown(&self, deadline: Duration) -> Shutdown {
        let core = &self.core;
        core.shutting_down.set(true);
        let servers: Vec<Server> = core
            .servers
            .borrow()
            .iter()
            .filter_map(|w| w.upgrade())
            .map(Server)
            .filter(|s| !s.is_closed_for_drain())
            .collect();
        let drains: Vec<Drain> = servers
            .iter()
            .map(|s| s.drain_with(deadline, DEFAULT_CLOSE_GRACE.min(deadline)))
            .collect();
        let drains = Rc::new(RefCell::new(drains));
        let lp = self.clone();
        let all = drains.clone();
        let end = self.time() + deadline.as_secs_f64();
        let run = async move {
            let mut report = ShutdownReport {
                servers: all.borrow().len(),
                ..Default::default()
            };
            let list = all.borrow().clone();
            for d in list {
                report.connections += d.await;
            }
            let roots: Vec<_> = lp.core.roots.borrow().clone();
            for (id, gen) in roots.into_iter().rev() {
                if crate::supervision::monitor::is_live(&lp.core, id, gen) {
                    let done: LoopFuture<_> = lp.create_future();
                    let f = done.clone();
                    crate::supervision::monitor::watch(&lp.core, id, gen, |token| {
                        crate::supervision::watchers::Watcher::Future { token, fut: f }
                    });
                    lp.core.ready.borrow_mut().push_back(Ready::DeliverTo(
                        id,
                        gen,
                        Box::new(System::Shutdown),
                    ));
                    let _ = done.await;
                    report.trees += 1;
                }
            }
            // Then the loop's child processes, until the deadline.
            let children: Vec<_> = lp
                .core
                .subprocesses
                .borrow()
                .iter()
                .filter_map(|w| w.upgrade())
                .filter(|i| i.returncode().is_none())
                .collect();
            for info in children {
                let exited: LoopFuture<i32> = lp.create_future();
                let e = exited.clone();
                info.on_exit(Box::new(move |code| {
                    let _ = e.set_result(code);
                }));
                let left = (end - lp.time()).max(0.0);
                if crate::compose::wait_for(exited, left).await.is_ok() {
                    report.subprocesses += 1;
                } else {
                    report.subprocesses_running += 1;
                }
            }
            report
        };
        let task = self.create_task(run).ok();
        Shutdown { drains, task }
    }

    /// Binds `sig` (SIGTERM, say) to [`shutdown`](Self::shutdown): the
    /// first signal starts it with `deadline`, a second one aborts the
    /// connections it still waits for. The returned future resolves with
    /// the report once the shutdown is done.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use switchboard::prelude::*;
    ///
    /// switchboard::run(|lp: EventLoop| async move {
    ///     let done = lp.shutdown_on_signal(Signal::SIGTERM, Duration::from_secs(10))?;
    ///     let report = done.await?;
    ///     println!("{report}");
    ///     Ok::<(), switchboard::Error>(())
    /// })?;
    /// # Ok::<(), switchboard::Error>(())
    /// ```
    pub fn shutdown_on_signal(
        &self,
        sig: Signal,
        deadline: Duration,
    ) -> Result<LoopFuture<ShutdownReport>, SignalError> {
        self.shutdown_on_signals(&[sig], deadline)
    }

    /// [`shutdown_on_signal`](Self::shutdown_on_signal) for several
    /// signals (SIGTERM and SIGINT, say): the first of any of them drains,
    /// the next one aborts.
    pub fn shutdown_on_signals(
        &self,
        sigs: &[Signal],
        deadline: Duration,
    ) -> Result<LoopFuture<ShutdownReport>, SignalError> {
        let done: LoopFuture<ShutdownReport> = self.create_future();
        let started: Rc<RefCell<Option<Drains>>> = Rc::default();
        for &sig in sigs {
            let lp = self.clone();
            let d = done.clone();
            let started = started.clone();
            self.add_signal_handler(sig, move || {
                if let Some(drains) = started.borrow().as_ref() {
                    for drain in drains.borrow().iter() {
                        drain.abort_now();
                    }
                    return;
                }
                let shutdown = lp.shutdown(deadline);
                *started.borrow_mut() = Some(shutdown.drains.clone());
                let d = d.clone();
                let _ = lp.create_task(async move {
                    let report = shutdown.await;
                    let _ = d.set_result(report);
                });
            })?;
        }
        Ok(done)
    }
}
