//! Other threads flooding the loop (issue 16, item 5): X6, X4 and MB1 while
//! eight threads post `call_soon_threadsafe` callbacks as fast as they can.
//!
//! Mirrors <https://docs.python.org/3/library/asyncio-dev.html#concurrency-and-multithreading>
//! and asyncio's `_run_once`, which runs only the callbacks that were ready
//! when the iteration began. The loop applies that rule to its inbox too, and
//! takes at most a fixed batch from it per iteration, so a flood from other
//! threads cannot keep it from its timers, its I/O and `stop()`.
//!
//! Every flood here is bounded: the senders stop when the test tells them to,
//! and by themselves after [`FLOOD_LIMIT`] in any case, so a loop that
//! starves shows up as a measurement of about that long, not as a hang.
//! Times are read from the loop's own clock (`EventLoop::time`); bounds are
//! generous and only ever say "did not wait for the flood to end". The tests
//! take one lock, so that no two floods share the cores.

mod support;

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use support::{new_loop, run_forever_with_deadline};
use switchboard::prelude::*;
use switchboard::{LoopHandle, SendError};

/// How many threads flood the loop.
const SENDERS: usize = 8;

/// The longest a flood lasts if nobody stops it. A loop that takes from its
/// inbox for as long as there is something in it is stuck for up to about
/// this long, far above every bound below.
const FLOOD_LIMIT: Duration = Duration::from_secs(3);

/// The most callbacks from other threads one iteration may run here. The
/// loop takes at most about a thousand per iteration; one that takes all
/// there is runs tens or hundreds of thousands under these floods.
const PER_ITERATION: u64 = 4096;

/// One flood at a time: they would otherwise share two cores.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// Threads that post `call_soon_threadsafe` callbacks as fast as they can,
/// until told to stop or [`FLOOD_LIMIT`] has passed.
struct Flood {
    stop: Arc<AtomicBool>,
    /// Callbacks posted.
    sent: Arc<AtomicU64>,
    /// Callbacks that ran.
    ran: Arc<AtomicU64>,
    threads: Vec<JoinHandle<()>>,
}

impl Flood {
    /// Starts `n` flooding threads and returns once every one is running.
    fn start(remote: &LoopHandle, n: usize) -> Flood {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let ran = Arc::new(AtomicU64::new(0));
        let barrier = Arc::new(Barrier::new(n + 1));
        let threads = (0..n)
            .map(|_| {
                let (remote, stop, barrier) = (remote.clone(), stop.clone(), barrier.clone());
                let (sent, ran) = (sent.clone(), ran.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    let until = Instant::now() + FLOOD_LIMIT;
                    while !stop.load(Ordering::Relaxed) && Instant::now() < until {
                        let ran = ran.clone();
                        let posted = remote.call_soon_threadsafe(move || {
                            ran.fetch_add(1, Ordering::Relaxed);
                        });
                        if posted.is_err() {
                            break;
                        }
                        sent.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        barrier.wait();
        Flood {
            stop,
            sent,
            ran,
            threads,
        }
    }

    /// Tells the senders to stop and waits for them.
    fn end(self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads {
            t.join().expect("a sender panicked");
        }
    }
}

/// A callback that runs once per iteration (each run schedules the next
/// with `call_soon`, so it runs first in the next iteration), and what it
/// saw of the flood and of a `stop()` from another thread.
struct Ticker {
    lp: EventLoop,
    /// The flood's count of callbacks that ran.
    ran: Arc<AtomicU64>,
    /// That count at the previous tick.
    ran_then: Cell<u64>,
    /// The most flood callbacks that ran between two ticks: in one iteration.
    most_per_iteration: Cell<u64>,
    /// Set by the thread that calls `stop()`, once it has.
    stop_called: Arc<AtomicBool>,
    /// Loop time of the last tick before `stop()` was called.
    last_before_stop: Cell<f64>,
    /// Ticks, so iterations, after `stop()` was called.
    after_stop: Cell<usize>,
}

impl Ticker {
    /// Starts ticking on `lp`, counting the callbacks of `flood`.
    fn start(lp: &EventLoop, flood: &Flood) -> Rc<Ticker> {
        let t = Rc::new(Ticker {
            lp: lp.clone(),
            ran: flood.ran.clone(),
            ran_then: Cell::new(flood.ran.load(Ordering::Relaxed)),
            most_per_iteration: Cell::new(0),
            stop_called: Arc::new(AtomicBool::new(false)),
            last_before_stop: Cell::new(lp.time()),
            after_stop: Cell::new(0),
        });
        let first = t.clone();
        lp.call_soon(move || first.tick()).expect("loop is open");
        t
    }

    fn tick(self: Rc<Self>) {
        let ran = self.ran.load(Ordering::Relaxed);
        let in_one = ran - self.ran_then.replace(ran);
        self.most_per_iteration
            .set(self.most_per_iteration.get().max(in_one));
        if self.stop_called.load(Ordering::SeqCst) {
            self.after_stop.set(self.after_stop.get() + 1);
        } else {
            self.last_before_stop.set(self.lp.time());
        }
        let next = self.clone();
        let _ = self.lp.call_soon(move || next.tick());
    }
}

/// X6: a 50 ms timer fires on time while eight threads flood the loop.
#[test]
fn issue_16_5_x6_a_timer_fires_on_time_under_a_flood_from_8_threads() {
    let _serial = serial();
    let (lp, _handler) = new_loop();
    let flood = Flood::start(&lp.handle(), SENDERS);
    let fired = Rc::new(Cell::new(None));
    let (l, f, ran) = (lp.clone(), fired.clone(), flood.ran.clone());
    let timer = lp
        .call_later(0.05, move || {
            f.set(Some((l.time(), ran.load(Ordering::Relaxed))));
            l.stop();
        })
        .expect("loop is open");
    run_forever_with_deadline(&lp);
    let sent = flood.sent.load(Ordering::Relaxed);
    flood.end();
    let (at, ran_before) = fired.get().expect("the timer fired");
    let late = at - timer.when();
    eprintln!("x6: {late:.3} s late; {ran_before} flood callbacks ran before it, {sent} sent");
    // The flood was being served while the timer waited.
    assert!(ran_before > 0, "no flood callback ran before the timer");
    assert!(
        late < 0.1,
        "the 50 ms timer fired {late:.3} s late under the flood"
    );
}

/// X4: `stop()` from another thread in the middle of a flood from eight
/// threads ends `run_forever` within one iteration: at most one iteration
/// (the one under way) runs after the call, with at most one iteration's
/// batch of the flood's callbacks, and the loop returns soon after its last
/// iteration before the call.
#[test]
fn issue_16_5_x4_stop_from_another_thread_takes_effect_within_one_iteration_under_a_flood() {
    let _serial = serial();
    let (lp, _handler) = new_loop();
    let flood = Flood::start(&lp.handle(), SENDERS);
    let ticker = Ticker::start(&lp, &flood);
    // The stopper waits until the flood is well under way (counted by the
    // senders, so a loop that does not run their callbacks cannot hold it
    // up), stops the loop, says so, and notes how many flood callbacks had
    // run by then (read after the call, so any counted later surely ran
    // after it).
    let stopper = {
        let (remote, called) = (lp.handle(), ticker.stop_called.clone());
        let (sent, ran) = (flood.sent.clone(), flood.ran.clone());
        std::thread::spawn(move || {
            while sent.load(Ordering::Relaxed) < 50_000 {
                std::thread::yield_now();
            }
            remote.stop();
            called.store(true, Ordering::SeqCst);
            ran.load(Ordering::SeqCst)
        })
    };
    run_forever_with_deadline(&lp);
    let end = lp.time();
    let ran_at_end = flood.ran.load(Ordering::SeqCst);
    let ran_at_stop = stopper.join().expect("the stopper panicked");
    flood.end();
    // The next tick, still queued, holds the loop: closing drops it.
    lp.close().expect("close");
    let after = ticker.after_stop.get();
    let ran_after = ran_at_end - ran_at_stop;
    let quiet = end - ticker.last_before_stop.get();
    eprintln!("x4: {after} iterations and {ran_after} flood callbacks after stop(), returned {quiet:.3} s after the last iteration before it");
    assert!(after <= 1, "{after} iterations ran after stop() was called");
    assert!(
        ran_after <= PER_ITERATION,
        "{ran_after} flood callbacks ran after stop() was called"
    );
    assert!(
        quiet < 0.5,
        "run_forever returned {quiet:.3} s after its last iteration before stop()"
    );
}

/// The bound of [`Counter`]'s mailbox.
const BOUND: usize = 16;

/// A bounded actor that counts what it handles and notes the deepest its
/// mailbox was.
struct Counter {
    handled: Rc<Cell<usize>>,
    deepest: Rc<Cell<usize>>,
}

impl Actor for Counter {
    type Message = u64;
    fn handle(&mut self, _n: u64, ctx: &mut ActorContext<'_, u64>) {
        let depth = ctx.addr().mailbox_depth();
        self.deepest.set(self.deepest.get().max(depth));
        self.handled.set(self.handled.get() + 1);
    }
}

/// MB1 under a flood: while eight threads post `call_soon_threadsafe`
/// callbacks, two more feed a bounded actor, one with `send` (retrying on
/// `Full`), one with `send_wait` on a loop of its own. What grows is bounded
/// where the sender is: the actor's queued count never exceeds its bound,
/// `send` fails with `Full` and `send_wait` waits until there is room, which
/// comes while the flood goes on. And the loop itself holds at most one
/// iteration's batch of the unbounded callbacks in its ready queue at a
/// time; the rest waits in the inbox, where only its senders' pace bounds it
/// (asyncio's `call_soon_threadsafe` is unbounded too).
#[test]
fn issue_16_5_mb1_a_bounded_mailbox_stays_within_its_bound_under_a_flood() {
    let _serial = serial();
    let (lp, _handler) = new_loop();
    let (handled, deepest) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
    let counter = Counter {
        handled: handled.clone(),
        deepest: deepest.clone(),
    };
    let addr = lp.spawn_bounded(counter, BOUND).expect("spawn");
    let flood = Flood::start(&lp.handle(), SENDERS);
    let ticker = Ticker::start(&lp, &flood);
    // The loop runs for 0.3 s of flood, then until the actor has handled two
    // mailboxes' worth: room came back while the flood went on.
    let (l, h) = (lp.clone(), handled.clone());
    lp.call_later(0.3, move || {
        let l2 = l.clone();
        let _ = l.create_task(async move {
            support::net::until(&l2, || h.get() >= 2 * BOUND).await;
            l2.stop();
        });
    })
    .expect("loop is open");
    // The deepest the senders found the mailbox right after a send, how often
    // `send` found it full, and how many `send_wait`s completed.
    let seen = Arc::new(AtomicUsize::new(0));
    let full = Arc::new(AtomicUsize::new(0));
    let waited = Arc::new(AtomicUsize::new(0));
    let going = {
        let stop = flood.stop.clone();
        let until = Instant::now() + FLOOD_LIMIT;
        move || !stop.load(Ordering::Relaxed) && Instant::now() < until
    };
    let sending = {
        let (addr, seen, full, going) = (addr.clone(), seen.clone(), full.clone(), going.clone());
        std::thread::spawn(move || {
            while going() {
                match addr.send(0) {
                    Ok(()) => {
                        seen.fetch_max(addr.mailbox_depth(), Ordering::Relaxed);
                    }
                    Err(SendError::Full(_)) => {
                        full.fetch_add(1, Ordering::Relaxed);
                        std::thread::yield_now();
                    }
                    Err(_) => break,
                }
            }
        })
    };
    let waiting = {
        let (addr, seen, waited) = (addr.clone(), seen.clone(), waited.clone());
        std::thread::spawn(move || {
            let (own, _handler) = new_loop();
            let _ = own.run_until_complete(async move {
                while going() {
                    if addr.send_wait(1).await.is_err() {
                        break;
                    }
                    waited.fetch_add(1, Ordering::Relaxed);
                    seen.fetch_max(addr.mailbox_depth(), Ordering::Relaxed);
                }
            });
        })
    };
    run_forever_with_deadline(&lp);
    flood.end();
    // Closing the loop stops the actor, so a `send_wait` still waiting for
    // room ends with `Stopped`.
    lp.close().expect("close");
    sending.join().expect("the sending thread panicked");
    waiting.join().expect("the waiting thread panicked");
    let (deepest, seen) = (deepest.get(), seen.load(Ordering::Relaxed));
    let (full, waited) = (full.load(Ordering::Relaxed), waited.load(Ordering::Relaxed));
    let most = ticker.most_per_iteration.get();
    let handled = handled.get();
    eprintln!("mb1: {handled} handled, deepest {deepest} (senders saw {seen}), {full} Full, {waited} send_wait, at most {most} flood callbacks per iteration");
    assert!(deepest <= BOUND, "the actor found {deepest} queued");
    assert!(seen <= BOUND, "a sender found {seen} queued");
    assert!(full > 0, "no send found the mailbox full");
    assert!(waited > 0, "no send_wait completed");
    assert!(
        most <= PER_ITERATION,
        "one iteration ran {most} callbacks from other threads"
    );
}
