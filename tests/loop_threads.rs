//! Thread safety: X1–X5. `call_soon_threadsafe` wakes a loop blocked in
//! poll, stays FIFO with `call_soon`, and never runs after close; `stop` from
//! another thread acts at once; the loop itself never leaves its thread.
//!
//! Mirrors <https://docs.python.org/3/library/asyncio-dev.html#concurrency-and-multithreading>.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use support::sched::run_one_iteration;
use support::{new_loop, run_forever_with_deadline};
use switchboard::{EventLoop, Handle, LoopError, LoopHandle, TimerHandle};

// --------------------------------------------------------- X: thread safety

#[test]
fn x1_call_soon_threadsafe_wakes_a_loop_blocked_in_poll() {
    let (lp, _handler) = new_loop();
    let remote = lp.handle();
    let (started_tx, started_rx) = mpsc::channel::<()>();
    lp.call_soon(move || started_tx.send(()).unwrap()).unwrap();
    // Nothing else to do but a 5 s timer: the loop blocks in poll.
    let timer = lp
        .call_later(5.0, || panic!("the 5 s timer fired"))
        .unwrap();
    let ran = Arc::new(AtomicBool::new(false));
    let flag = ran.clone();
    let thread = std::thread::spawn(move || {
        started_rx.recv().unwrap();
        let stopper = remote.clone();
        remote
            .call_soon_threadsafe(move || {
                flag.store(true, Ordering::SeqCst);
                stopper.stop();
            })
            .unwrap();
    });
    let t0 = Instant::now();
    run_forever_with_deadline(&lp);
    assert!(
        t0.elapsed() < Duration::from_millis(2500),
        "waited for the timer"
    );
    assert!(ran.load(Ordering::SeqCst));
    thread.join().unwrap();
    timer.cancel();
}

#[test]
fn x1_call_soon_threadsafe_on_the_loop_thread_is_fifo_with_call_soon() {
    let (lp, _handler) = new_loop();
    let calls = Arc::new(std::sync::Mutex::new(Vec::new()));
    let add = |v: &'static str| {
        let c = calls.clone();
        move || c.lock().unwrap().push(v)
    };
    lp.call_soon(add("hello")).unwrap();
    lp.call_soon_threadsafe(add("world")).unwrap();
    lp.call_soon_threadsafe(add("threadsafe first")).unwrap();
    lp.call_soon(add("then call_soon")).unwrap();
    lp.handle().call_soon_threadsafe(add("via handle")).unwrap();
    lp.call_soon(add("last")).unwrap();
    // Scheduled from inside a callback, too.
    let (l, inner1, inner2) = (lp.clone(), add("inner threadsafe"), add("inner soon"));
    lp.call_soon(move || {
        l.handle().call_soon_threadsafe(inner1).unwrap();
        l.call_soon(inner2).unwrap();
    })
    .unwrap();
    let l = lp.clone();
    lp.call_later(0.005, move || l.stop()).unwrap();
    run_forever_with_deadline(&lp);
    assert_eq!(
        *calls.lock().unwrap(),
        [
            "hello",
            "world",
            "threadsafe first",
            "then call_soon",
            "via handle",
            "last",
            "inner threadsafe",
            "inner soon"
        ]
    );
}

#[test]
fn x2_4096_threadsafe_calls_scheduling_and_cancelling_timers_run_exactly_once() {
    const N: usize = 4096;
    let (lp, handler) = new_loop();
    let seen: Arc<Vec<AtomicUsize>> = Arc::new((0..N).map(|_| AtomicUsize::new(0)).collect());
    let timer_runs = Arc::new(AtomicUsize::new(0));
    let remote = lp.handle();
    let thread = {
        let (seen, timer_runs) = (seen.clone(), timer_runs.clone());
        std::thread::spawn(move || {
            for i in 0..N {
                let (seen, timer_runs) = (seen.clone(), timer_runs.clone());
                // Runs on the loop thread: schedule a timer that is cancelled
                // at once, and one that counts.
                let call = move || {
                    seen[i].fetch_add(1, Ordering::SeqCst);
                    let lp = switchboard::get_running_loop().unwrap();
                    let cancelled = lp.call_later(0.0001, || panic!("a cancelled timer ran"));
                    cancelled.unwrap().cancel();
                    let stopper = lp.clone();
                    lp.call_later(0.0, move || {
                        if timer_runs.fetch_add(1, Ordering::SeqCst) + 1 == N {
                            stopper.stop();
                        }
                    })
                    .unwrap();
                };
                remote.call_soon_threadsafe(call).unwrap();
                if i % 64 == 0 {
                    std::thread::yield_now();
                }
            }
        })
    };
    run_forever_with_deadline(&lp);
    thread.join().unwrap();
    assert_eq!(timer_runs.load(Ordering::SeqCst), N);
    for (i, n) in seen.iter().enumerate() {
        assert_eq!(n.load(Ordering::SeqCst), 1, "call {i} ran {n:?} times");
    }
    assert!(handler.take().is_empty());
}

/// X3 is kept at compile time (asyncio refuses at run time, in debug mode
/// only): `EventLoop`, whose `call_soon`/`call_later`/`call_at` are not
/// thread-safe, is neither `Send` nor `Sync`, so no other thread can call
/// them. If it were either, a `check` below would be ambiguous and this file
/// would not compile. (A `compile_fail` doctest on `EventLoop` makes the
/// same point from the outside.)
trait AmbiguousIfSend<A> {
    fn check() {}
}
impl<T: ?Sized> AmbiguousIfSend<()> for T {}
impl<T: ?Sized + Send> AmbiguousIfSend<u8> for T {}
trait AmbiguousIfSync<A> {
    fn check() {}
}
impl<T: ?Sized> AmbiguousIfSync<()> for T {}
impl<T: ?Sized + Sync> AmbiguousIfSync<u8> for T {}
const _: fn() = || {
    <EventLoop as AmbiguousIfSend<_>>::check();
    <EventLoop as AmbiguousIfSync<_>>::check();
};

#[test]
fn x3_other_threads_only_schedule_through_the_loop_in_and_out_of_debug() {
    // What other threads get instead: a `LoopHandle`, and handles to cancel.
    fn send_sync_clone<T: Send + Sync + Clone + 'static>() {}
    send_sync_clone::<LoopHandle>();
    send_sync_clone::<Handle>();
    send_sync_clone::<TimerHandle>();

    for debug in [false, true] {
        let (lp, handler) = new_loop();
        lp.set_debug(debug);
        let loop_thread = std::thread::current().id();
        let remote = lp.handle();
        let ran_on = Arc::new(std::sync::Mutex::new(Vec::new()));
        let h = lp
            .call_soon(|| panic!("cancelled from another thread"))
            .unwrap();
        let r = ran_on.clone();
        let caller = std::thread::spawn(move || {
            h.cancel();
            // Accepted in either mode, and never run here on the caller.
            let r2 = r.clone();
            remote
                .call_soon_threadsafe(move || r2.lock().unwrap().push(std::thread::current().id()))
                .expect("call_soon_threadsafe from another thread");
            let stopper = remote.clone();
            remote
                .call_soon_threadsafe(move || stopper.stop())
                .expect("call_soon_threadsafe from another thread");
            assert!(r.lock().unwrap().is_empty(), "ran on the calling thread");
            std::thread::current().id()
        });
        let caller_thread = caller.join().unwrap();
        assert!(ran_on.lock().unwrap().is_empty(), "ran before the loop did");
        run_forever_with_deadline(&lp);
        assert_eq!(*ran_on.lock().unwrap(), vec![loop_thread], "debug={debug}");
        assert_ne!(loop_thread, caller_thread);
        assert!(handler.take().is_empty(), "debug={debug}");
        lp.close().unwrap();
    }
}

#[test]
fn x4_fault_20_stop_from_another_thread_wakes_the_loop_at_once() {
    let (lp, _handler) = new_loop();
    let remote = lp.handle();
    let (started_tx, started_rx) = mpsc::channel::<()>();
    lp.call_soon(move || started_tx.send(()).unwrap()).unwrap();
    let timer = lp
        .call_later(5.0, || panic!("the 5 s timer fired"))
        .unwrap();
    let thread = std::thread::spawn(move || {
        started_rx.recv().unwrap();
        remote.stop();
    });
    let t0 = Instant::now();
    run_forever_with_deadline(&lp);
    assert!(
        t0.elapsed() < Duration::from_millis(2500),
        "stop did not wake the loop"
    );
    thread.join().unwrap();
    assert!(!timer.cancelled(), "the timer is still pending");

    // Repeatedly, to catch a lost wakeup between "decide to block" and "block".
    for _ in 0..50 {
        let remote = lp.handle();
        let (tx, rx) = mpsc::channel::<()>();
        lp.call_soon(move || tx.send(()).unwrap()).unwrap();
        let thread = std::thread::spawn(move || {
            rx.recv().unwrap();
            remote.stop();
        });
        run_forever_with_deadline(&lp);
        thread.join().unwrap();
    }
    timer.cancel();
}

#[test]
fn x5_fault_21_cancel_and_threadsafe_calls_racing_close_never_run_after_close() {
    let (lp, handler) = new_loop();
    let closed = Arc::new(AtomicBool::new(false));
    let mut handles = Vec::new();
    for i in 0..2000 {
        let c = closed.clone();
        let f = move || assert!(!c.load(Ordering::SeqCst), "ran after close");
        if i % 2 == 0 {
            handles.push(lp.call_soon(f).unwrap());
        } else {
            handles.push((*lp.call_later(0.0, f).unwrap()).clone());
        }
    }
    let remote = lp.handle();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let thread = {
        let closed = closed.clone();
        std::thread::spawn(move || {
            go_rx.recv().unwrap();
            let mut refused = 0;
            for (i, h) in handles.iter().enumerate() {
                h.cancel();
                let c = closed.clone();
                match remote.call_soon_threadsafe(move || {
                    assert!(
                        !c.load(Ordering::SeqCst),
                        "threadsafe call {i} ran after close"
                    )
                }) {
                    Ok(_) => {}
                    Err(LoopError::Closed) => refused += 1,
                    Err(e) => panic!("unexpected {e:?}"),
                }
            }
            refused
        })
    };
    go_tx.send(()).unwrap();
    // Run a few iterations while the other thread cancels, then close.
    for _ in 0..3 {
        run_one_iteration(&lp);
    }
    lp.close().unwrap();
    closed.store(true, Ordering::SeqCst);
    let _refused = thread.join().unwrap();
    assert!(matches!(lp.run_forever(), Err(LoopError::Closed)));
    assert!(handler.take().is_empty());
}
