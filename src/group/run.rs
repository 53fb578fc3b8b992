//! `LoopGroup`: the builder, and the supervisor of the loop threads.

use std::future::IntoFuture;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::group::error::GroupError;
use crate::group::handle::{GroupHandle, GroupShared};
use crate::supervision::intensity::Intensity;
use crate::supervision::{Strategy, SupervisorError, DEFAULT_INTENSITY};
use crate::{Error, EventLoop, LoopError};

/// N event loops, one per thread (one per core by default), each running
/// the same setup; a supervised group that serves one address and whose
/// actors reach each other across loops.
///
/// Each loop is a whole switchboard loop with its own executor, timers,
/// actors and servers: what works on one loop works on each. Loops share
/// nothing but messages: an [`Addr`](crate::Addr) works from any loop
/// (`send`, `call`, and `t.call` from a protocol), and the group's registry
/// ([`GroupHandle::register`], [`GroupHandle::lookup`]) finds a named actor
/// on any loop. Two ways to serve one address from every loop:
/// `create_server(..).reuse_port(true)` on each loop with the same port
/// (the kernel spreads connections by a hash of their addresses), or
/// `create_server(..).balanced(true)` (one listening socket, accepted on a
/// thread of its own, each connection handed to the loop with the fewest
/// live connections).
///
/// # Supervision
///
/// Each loop is a child of the group. A loop whose setup future returns an
/// error, or whose thread panics outside a handler, is restarted: its
/// thread makes a fresh loop (the old one is closed as
/// [`run`](crate::run) closes it: servers closed, connections dropped,
/// child processes killed) and runs the setup again, so its servers are
/// bound and its actors made anew; the names it registered are removed
/// first. [`Strategy::OneForOne`] (the default) restarts that loop;
/// [`OneForAll`](Strategy::OneForAll) every loop still running;
/// [`RestForOne`](Strategy::RestForOne) that loop and those with higher
/// indices. More than `max_restarts` restarts within `within` (3 in 5 s by
/// default) and the group gives up: every loop is stopped (and closed as
/// above) and `run` returns [`SupervisorError::GroupGaveUp`]. With
/// `intensity(0, ..)` nothing is restarted and `run` returns the first
/// loop's error itself.
///
/// Ctrl+C: the loops run on threads of their own, so unlike
/// [`run`](crate::run) on the main thread, a SIGINT no handler takes ends
/// the process as usual; [`GroupHandle::shutdown_on_signals`] makes it a
/// graceful shutdown of every loop.
///
/// A loop whose future completes with `Ok` ends (its loop is closed), and
/// the others go on; `run` returns once every loop has ended, with the
/// outputs in loop order.
///
/// An echo server on every core, one port, drained on SIGINT or SIGTERM
/// (`examples/sharded_echo.rs` is the whole service):
///
/// ```no_run
/// use std::time::Duration;
/// use switchboard::prelude::*;
///
/// switchboard::LoopGroup::new().run(|lp: EventLoop| async move {
///     let group = lp.group().expect("a loop of the group");
///     let _server = lp.create_server(|| switchboard::ready_made::Echo)
///         .host("127.0.0.1").port(8888).balanced(true).await?;
///     let signals = [Signal::SIGINT, Signal::SIGTERM];
///     let report = group.shutdown_on_signals(&signals, Duration::from_secs(10))?.await;
///     if group.index() == 0 {
///         println!("{report}");
///     }
///     Ok::<(), switchboard::Error>(())
/// })?;
/// # Ok::<(), switchboard::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct LoopGroup {
    loops: Option<usize>,
    pin: bool,
    strategy: Strategy,
    intensity: (u32, Duration),
}

impl Default for LoopGroup {
    fn default() -> Self {
        LoopGroup::new()
    }
}

/// What a loop thread tells the group when it ends.
enum Ended<T> {
    Done(usize, u64, Result<T, Error>),
    Panicked(usize, u64, String),
}

impl LoopGroup {
    /// A group with one loop per core this process may run on, not pinned,
    /// one-for-one, 3 restarts within 5 s.
    pub fn new() -> Self {
        LoopGroup {
            loops: None,
            pin: false,
            strategy: Strategy::OneForOne,
            intensity: DEFAULT_INTENSITY,
        }
    }

    /// How many loops (at least 1).
    pub fn loops(mut self, n: usize) -> Self {
        self.loops = Some(n);
        self
    }

    /// Pins loop `i` to the `i`-th core this process may run on (modulo
    /// their number), so each loop keeps its core's caches.
    pub fn pin_cores(mut self, on: bool) -> Self {
        self.pin = on;
        self
    }

    /// Which loops a failed loop takes down with it to restart.
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// At most `max_restarts` restarts within `within`; one more and the
    /// group gives up.
    pub fn intensity(mut self, max_restarts: u32, within: Duration) -> Self {
        self.intensity = (max_restarts, within);
        self
    }

    /// Runs `setup` on every loop, each in its own thread, until every
    /// loop's future has completed; returns their outputs in loop order, or
    /// the error that ended the group (see [Supervision](LoopGroup#supervision)).
    /// The future need not be `Send`: it is made and run on its loop's
    /// thread. Inside, [`EventLoop::group`] gives the loop its
    /// [`GroupHandle`]. It blocks the calling thread until then, so it
    /// refuses to start on a thread whose loop is running
    /// ([`LoopError::AnotherLoopRunning`]).
    pub fn run<S, F, T, E>(self, setup: S) -> crate::Result<Vec<T>>
    where
        S: Fn(EventLoop) -> F + Send + Sync + 'static,
        F: IntoFuture<Output = Result<T, E>> + 'static,
        F::IntoFuture: 'static,
        T: Send + 'static,
        E: Into<Error> + 'static,
    {
        // It blocks its thread until every loop has ended: not on a loop.
        if crate::current::running_loop_exists() {
            return Err(LoopError::AnotherLoopRunning.into());
        }
        let cpus = switchboard_actors::sys::cpu::allowed_cpus();
        let n = self.loops.unwrap_or(cpus.len().max(1));
        if n == 0 {
            return Err(GroupError::InvalidArgs("a group needs at least one loop").into());
        }
        let shared = GroupShared::new(n);
        let setup = Arc::new(setup);
        let (tx, rx) = mpsc::channel::<Ended<T>>();
        let pin = |i: usize| (self.pin && !cpus.is_empty()).then(|| cpus[i % cpus.len()]);
        let mut threads: Vec<JoinHandle<()>> = Vec::new();
        let spawn = |i: usize, inc: u64, threads: &mut Vec<JoinHandle<()>>| {
            let (shared, setup, tx) = (shared.clone(), setup.clone(), tx.clone());
            let cpu = pin(i);
            std::thread::Builder::new()
                .name(format!("switchboard-loop-{i}"))
                .spawn(move || loop_thread(shared, setup, i, inc, cpu, tx))
                .map(|t| threads.push(t))
                .map_err(|e| {
                    Error::from(GroupError::Start {
                        index: i,
                        message: e.to_string(),
                    })
                })
        };
        let mut outputs: Vec<Option<T>> = (0..n).map(|_| None).collect();
        let mut incs = vec![0u64; n];
        let mut running = vec![true; n];
        let mut failure: Option<Error> = None;
        for i in 0..n {
            if let Err(e) = spawn(i, 0, &mut threads) {
                failure = Some(e);
                break;
            }
        }
        let start = Instant::now();
        let mut intensity = Intensity::new(self.intensity.0, self.intensity.1);
        while failure.is_none() && running.iter().any(|&r| r) {
            let Ok(ended) = rx.recv() else { break };
            let (i, inc, result) = match ended {
                Ended::Done(i, inc, r) => (i, inc, r),
                Ended::Panicked(i, inc, message) => (
                    i,
                    inc,
                    Err(GroupError::Panicked { index: i, message }.into()),
                ),
            };
            if inc != incs[i] {
                continue; // an incarnation the group replaced
            }
            let err = match result {
                Ok(v) => {
                    outputs[i] = Some(v);
                    running[i] = false;
                    continue;
                }
                Err(e) => e,
            };
            let shutting_down = {
                let st = shared.lock();
                st.stopping || st.signals.started()
            };
            if shutting_down {
                running[i] = false;
                failure.get_or_insert(err);
                continue;
            }
            let now = i64::try_from(start.elapsed().as_nanos()).unwrap_or(i64::MAX);
            if !intensity.allow(now) {
                failure = Some(if self.intensity.0 == 0 {
                    err
                } else {
                    SupervisorError::GroupGaveUp {
                        index: i,
                        max_restarts: self.intensity.0,
                        within: self.intensity.1,
                        last: err.to_string(),
                    }
                    .into()
                });
                break;
            }
            let again: Vec<usize> = match self.strategy {
                Strategy::OneForOne => vec![i],
                Strategy::OneForAll => (0..n).filter(|&j| j == i || running[j]).collect(),
                Strategy::RestForOne => (i..n).filter(|&j| j == i || running[j]).collect(),
            };
            for j in again {
                incs[j] += 1;
                shared.replace(j, incs[j]);
                running[j] = true;
                if let Err(e) = spawn(j, incs[j], &mut threads) {
                    failure = Some(e);
                    break;
                }
            }
        }
        shared.stop_all();
        drop(tx);
        for t in threads {
            let _ = t.join();
        }
        crate::group::balance::finish_all(&shared);
        if let Some(e) = failure {
            return Err(e);
        }
        Ok(outputs.into_iter().flatten().collect())
    }
}

/// One loop's thread: a loop made and run as [`crate::run`] does, with the
/// group's handle on it.
fn loop_thread<S, F, T, E>(
    shared: Arc<GroupShared>,
    setup: Arc<S>,
    index: usize,
    inc: u64,
    cpu: Option<usize>,
    tx: mpsc::Sender<Ended<T>>,
) where
    S: Fn(EventLoop) -> F + Send + Sync + 'static,
    F: IntoFuture<Output = Result<T, E>> + 'static,
    F::IntoFuture: 'static,
    T: Send + 'static,
    E: Into<Error> + 'static,
{
    if let Some(cpu) = cpu {
        if let Err(e) = switchboard_actors::sys::cpu::pin_current_thread(cpu) {
            let err = GroupError::Start {
                index,
                message: format!("cannot pin to core {cpu}: {e}"),
            };
            let _ = tx.send(Ended::Done(index, inc, Err(err.into())));
            return;
        }
    }
    let group = shared.clone();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        crate::run(move |lp: EventLoop| {
            let handle = GroupHandle {
                shared: group.clone(),
                index,
                incarnation: inc,
            };
            *lp.core.group.borrow_mut() = Some(handle);
            let admitted = group.attach(index, inc, lp.handle());
            async move {
                if !admitted {
                    return Err(Error::from(GroupError::Stopped));
                }
                setup(lp).into_future().await.map_err(Into::into)
            }
        })
    }));
    shared.detach(index, inc);
    let _ = tx.send(match outcome {
        Ok(result) => Ended::Done(index, inc, result),
        Err(payload) => Ended::Panicked(index, inc, panic_message(&*payload)),
    });
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_owned()
    }
}
