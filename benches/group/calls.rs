//! Cross-loop `call` round trips, each run in a child process of its own
//! (this binary re-executed with `--run calls PEER INFLIGHT WARMUP SECS PIN`),
//! measured over the whole process's CPU time (`getrusage(RUSAGE_SELF)`):
//!
//! - `group`: a `LoopGroup` of 2 loops; an actor on loop 0 (registered by
//!   name), INFLIGHT tasks on loop 1 each doing `addr.call(..).await` in a
//!   loop (found with `lookup`);
//! - `tokio`: two current-thread runtimes on two threads; a task on the
//!   first serves an unbounded `mpsc` channel, INFLIGHT tasks on the second
//!   each send `(x, oneshot::Sender)` and await the reply. Both runtimes
//!   have their I/O and time drivers (`enable_all`), as a runtime that
//!   also serves sockets has, and so park in `epoll_wait` as a loop does
//!   (without them they park on a condvar, measured ~1.5x faster here at
//!   16 in flight unpinned).
//!
//! With PIN 1, both put the actor's side on the first core this process may
//! run on and the callers on the second (the group with `pin_cores(true)`,
//! tokio's two threads pinned by hand), so every round trip crosses cores
//! and wakes a sleeping thread there; with PIN 0 the scheduler places the
//! threads (often both on one core, where a wake-up is cheap, so the rate
//! swings from run to run). Both count each answer into one atomic counter that the main thread
//! reads at the start and end of the measured window, after a warm-up; the
//! main thread only sleeps in between.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard::prelude::*;
use switchboard::{Error, LoopGroup};
use tokio::sync::{mpsc, oneshot, watch};

use crate::child;

/// What the callers share with the main thread.
#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    count: AtomicU64,
}

/// Sleeps through the warm-up, then measures `secs`; stops the callers and
/// prints `RESULT` (per CPU-second, per wall-second).
fn window(sh: &Shared, warmup: f64, secs: f64) {
    std::thread::sleep(Duration::from_secs_f64(warmup));
    let (c0, cpu0, t0) = (
        sh.count.load(Ordering::Relaxed),
        child::process_cpu_self(),
        Instant::now(),
    );
    std::thread::sleep(Duration::from_secs_f64(secs));
    let (c1, cpu1, wall) = (
        sh.count.load(Ordering::Relaxed),
        child::process_cpu_self(),
        t0.elapsed(),
    );
    sh.stop.store(true, Ordering::Relaxed);
    assert!(c1 > c0, "no round trip in the measured window");
    child::report((c1 - c0) as f64, wall.as_secs_f64(), cpu1 - cpu0);
}

/// `--run calls PEER INFLIGHT WARMUP SECS PIN`.
pub fn run(args: &[String]) {
    let arg = |i: usize| args.get(i).map_or("", String::as_str);
    let inflight: usize = arg(1).parse().expect("in flight");
    let warmup: f64 = arg(2).parse().expect("warm-up seconds");
    let secs: f64 = arg(3).parse().expect("measured seconds");
    let pinned = arg(4) == "1";
    let sh = Arc::new(Shared::default());
    let worker = {
        let sh = sh.clone();
        match arg(0) {
            "group" => std::thread::spawn(move || group(sh, inflight, pinned)),
            "tokio" => std::thread::spawn(move || tokio_pair(sh, inflight, pinned)),
            other => panic!("unknown calls peer {other}"),
        }
    };
    window(&sh, warmup, secs);
    worker.join().expect("callers");
}

struct Plus1;

impl Actor for Plus1 {
    type Message = (u64, ReplyTo<u64>);
    fn handle(&mut self, (x, r): Self::Message, _: &mut ActorContext<'_, Self::Message>) {
        let _ = r.send(x + 1);
    }
}

fn group(sh: Arc<Shared>, inflight: usize, pinned: bool) {
    let finished = Arc::new(watch::channel(false).0);
    LoopGroup::new()
        .loops(2)
        .pin_cores(pinned)
        .run(move |lp: EventLoop| {
            let (sh, finished) = (sh.clone(), finished.clone());
            async move {
                let g = lp.group().expect("a loop of the group");
                if g.index() == 0 {
                    g.register("plus1", lp.spawn(Plus1)?)?;
                    let _ = finished.subscribe().wait_for(|f| *f).await;
                    return Ok::<_, Error>(());
                }
                let plus1 = g.lookup::<(u64, ReplyTo<u64>)>("plus1").await?;
                let mut tasks = Vec::new();
                for _ in 0..inflight {
                    let (plus1, sh) = (plus1.clone(), sh.clone());
                    tasks.push(lp.create_task(async move {
                        let mut x = 0u64;
                        while !sh.stop.load(Ordering::Relaxed) {
                            let y = plus1.call(|r| (x, r)).await?;
                            assert_eq!(y, x + 1);
                            x = y;
                            sh.count.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok::<_, CallError>(())
                    })?);
                }
                for t in tasks {
                    t.await?;
                }
                finished.send_replace(true);
                Ok(())
            }
        })
        .expect("group");
}

type Ask = (u64, oneshot::Sender<u64>);

/// Pins the calling thread to the `i`-th core this process may run on (as
/// `LoopGroup::pin_cores` pins loop `i`) if `on`.
fn pin(on: bool, i: usize) {
    if !on {
        return;
    }
    let cpus = switchboard_actors::sys::cpu::allowed_cpus();
    if !cpus.is_empty() {
        let _ = switchboard_actors::sys::cpu::pin_current_thread(cpus[i % cpus.len()]);
    }
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn tokio_pair(sh: Arc<Shared>, inflight: usize, pinned: bool) {
    let (tx, mut rx) = mpsc::unbounded_channel::<Ask>();
    let server = std::thread::spawn(move || {
        pin(pinned, 0);
        current_thread().block_on(async move {
            while let Some((x, r)) = rx.recv().await {
                let _ = r.send(x + 1);
            }
        })
    });
    pin(pinned, 1);
    current_thread().block_on(async move {
        let tasks: Vec<_> = (0..inflight)
            .map(|_| {
                let (tx, sh) = (tx.clone(), sh.clone());
                tokio::spawn(async move {
                    let mut x = 0u64;
                    while !sh.stop.load(Ordering::Relaxed) {
                        let (rtx, rrx) = oneshot::channel();
                        tx.send((x, rtx)).expect("server up");
                        let y = rrx.await.expect("answer");
                        assert_eq!(y, x + 1);
                        x = y;
                        sh.count.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        drop(tx);
        for t in tasks {
            t.await.expect("caller");
        }
    });
    server.join().expect("server thread");
}
