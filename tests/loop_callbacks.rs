//! Scheduling callbacks and delayed callbacks: T1–T6 (thread safety, X1–X5,
//! is in `loop_threads.rs`).
//!
//! Mirrors <https://docs.python.org/3/library/asyncio-eventloop.html#scheduling-callbacks>
//! and <https://docs.python.org/3/library/asyncio-eventloop.html#scheduling-delayed-callbacks>.
//! Times are read from the loop's own clock (`EventLoop::time`); bounds are
//! generous and only ever say "did not wait for X", never "was fast".

mod support;

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{new_loop, run_forever_with_deadline, run_with_deadline, stop_soon, Dropped};
use switchboard::{EventLoop, LoopError, TimerHandle};

use support::sched::{log, push, run_one_iteration, Log};

// ---------------------------------------------------------------- T: timers

#[test]
fn t1_timer_never_fires_early() {
    let (lp, _handler) = new_loop();
    let fired: Log<(f64, f64, Duration, f64)> = log();
    for i in 1..=8 {
        let delay = 0.01 * f64::from(i);
        let (l, f) = (lp.clone(), fired.clone());
        let start = Instant::now();
        let cell = Rc::new(Cell::new(0.0));
        let when = cell.clone();
        let t = lp
            .call_later(delay, move || {
                f.borrow_mut()
                    .push((l.time(), when.get(), start.elapsed(), delay))
            })
            .unwrap();
        cell.set(t.when());
    }
    // call_at, the same way.
    let at = lp.time() + 0.05;
    let (l, f) = (lp.clone(), fired.clone());
    let start = Instant::now();
    lp.call_at(at, move || {
        f.borrow_mut().push((l.time(), at, start.elapsed(), 0.05))
    })
    .unwrap();
    let l = lp.clone();
    lp.call_later(0.09, move || l.stop()).unwrap();
    run_forever_with_deadline(&lp);

    let fired = fired.borrow();
    assert_eq!(fired.len(), 9);
    for &(now, when, elapsed, delay) in fired.iter() {
        assert!(now >= when, "fired at {now} before its time {when}");
        // The loop clock is monotonic and nanosecond-grained; allow 1 ms of
        // resolution between it and the Instant measured here.
        assert!(
            elapsed.as_secs_f64() >= delay - 0.001,
            "a {delay} s timer fired after {elapsed:?}"
        );
    }
}

#[test]
fn t2_negative_delays_run_in_deadline_order() {
    let (lp, _handler) = new_loop();
    let calls: Log<&str> = log();
    lp.call_later(-1.0, push(&calls, "a")).unwrap();
    lp.call_later(-2.0, push(&calls, "b")).unwrap();
    lp.call_later(f64::NEG_INFINITY, push(&calls, "c")).unwrap();
    run_one_iteration(&lp);
    assert_eq!(*calls.borrow(), ["c", "b", "a"]);
}

#[test]
fn t2_ready_callbacks_run_before_timers_due_in_the_same_iteration() {
    let (lp, _handler) = new_loop();
    let calls: Log<&str> = log();
    lp.call_later(-1.0, push(&calls, "a")).unwrap();
    lp.call_later(-2.0, push(&calls, "b")).unwrap();
    lp.call_later(0.0, push(&calls, "c")).unwrap();
    lp.call_soon(push(&calls, "soon")).unwrap();
    run_one_iteration(&lp);
    assert_eq!(*calls.borrow(), ["soon", "b", "a", "c"]);
}

#[test]
fn t2_equal_deadlines_run_in_scheduling_order() {
    let (lp, _handler) = new_loop();
    let calls = log();
    let when = lp.time() + 0.005;
    for i in 0..20 {
        lp.call_at(when, push(&calls, i)).unwrap();
    }
    // Already due: equal deadlines in the past keep their order too.
    for i in 20..40 {
        lp.call_at(0.0, push(&calls, i)).unwrap();
    }
    let l = lp.clone();
    lp.call_at(when + 0.001, move || l.stop()).unwrap();
    run_forever_with_deadline(&lp);
    let mut expected: Vec<i32> = (20..40).collect();
    expected.extend(0..20);
    assert_eq!(*calls.borrow(), expected);
}

#[test]
fn t3_cancelled_timer_never_runs_and_cancel_is_idempotent() {
    let (lp, _handler) = new_loop();
    let calls: Log<&str> = log();
    let t = lp.call_later(0.0, push(&calls, "cancelled")).unwrap();
    let when = t.when();
    assert!(!t.cancelled());
    t.cancel();
    assert!(t.cancelled());
    t.cancel();
    assert!(t.cancelled());
    assert_eq!(t.when(), when, "when() survives cancel");

    let h = lp.call_soon(push(&calls, "cancelled soon")).unwrap();
    h.cancel();
    h.cancel();
    assert!(h.cancelled());

    let l = lp.clone();
    lp.call_later(0.005, move || l.stop()).unwrap();
    run_forever_with_deadline(&lp);
    assert!(calls.borrow().is_empty());
    assert!(t.cancelled() && h.cancelled());
}

#[test]
fn t3_handle_that_ran_is_not_cancelled_and_when_survives_firing() {
    let (lp, _handler) = new_loop();
    let calls: Log<&str> = log();
    let t = lp.call_later(0.001, push(&calls, "timer")).unwrap();
    let h = lp.call_soon(push(&calls, "soon")).unwrap();
    let when = t.when();
    let l = lp.clone();
    lp.call_later(0.005, move || l.stop()).unwrap();
    run_forever_with_deadline(&lp);
    assert_eq!(*calls.borrow(), ["soon", "timer"]);
    assert!(!t.cancelled() && !h.cancelled());
    // Cancelling after the fact does nothing.
    t.cancel();
    h.cancel();
    assert!(!t.cancelled() && !h.cancelled());
    assert_eq!(t.when(), when, "when() after firing");
    assert!(format!("{t:?}").contains("done"), "{t:?}");
}

#[test]
fn t4_time_moves_while_a_callback_blocks() {
    let (lp, _handler) = new_loop();
    let delta = Rc::new(Cell::new(0.0));
    let (l, d) = (lp.clone(), delta.clone());
    lp.call_soon(move || {
        let t0 = l.time();
        std::thread::sleep(Duration::from_millis(50));
        d.set(l.time() - t0);
        l.stop();
    })
    .unwrap();
    run_forever_with_deadline(&lp);
    let delta = delta.get();
    assert!(delta > 0.049 && delta < 0.6, "delta {delta}");

    // Monotonic.
    let mut last = lp.time();
    for _ in 0..1000 {
        let now = lp.time();
        assert!(now >= last);
        last = now;
    }
}

#[test]
fn t4_timer_after_a_blocking_callback_is_measured_from_fresh_time() {
    let (lp, _handler) = new_loop();
    let seen = Rc::new(Cell::new((0.0, 0.0, 0.0)));
    let (l, s) = (lp.clone(), seen.clone());
    lp.call_soon(move || {
        std::thread::sleep(Duration::from_millis(50));
        let after_block = l.time();
        let (l2, s2) = (l.clone(), s.clone());
        let t = l
            .call_later(0.02, move || {
                let mut v = s2.get();
                v.2 = l2.time();
                s2.set(v);
                l2.stop();
            })
            .unwrap();
        s.set((after_block, t.when(), 0.0));
    })
    .unwrap();
    run_forever_with_deadline(&lp);
    let (after_block, when, fired) = seen.get();
    assert!(when >= after_block + 0.02, "when {when} from a stale clock");
    assert!(fired >= after_block + 0.02);
}

#[test]
fn t5_huge_delays_are_accepted_without_overflow_and_cancellable() {
    let (lp, _handler) = new_loop();
    let huge = [
        f64::INFINITY,
        i64::MAX as f64,
        2f64.powi(55),
        2f64.powi(54),
        1e300,
        Duration::MAX.as_secs_f64(),
    ];
    let mut handles: Vec<TimerHandle> = Vec::new();
    for d in huge {
        handles.push(lp.call_later(d, || panic!("a huge timer fired")).unwrap());
        handles.push(lp.call_at(d, || panic!("a huge timer fired")).unwrap());
    }
    handles.push(lp.call_later(Duration::MAX, || panic!("fired")).unwrap());
    for t in &handles {
        assert!(t.when() > lp.time() + 1e6, "{t:?}");
    }
    // One stays pending while the loop runs: the poll timeout must not
    // overflow into "now" or into a panic.
    let keep = handles.pop().unwrap();
    for t in &handles {
        t.cancel();
        assert!(t.cancelled());
    }
    let calls: Log<&str> = log();
    let l = lp.clone();
    let c = calls.clone();
    lp.call_later(0.01, move || {
        c.borrow_mut().push("stop timer");
        l.stop();
    })
    .unwrap();
    run_forever_with_deadline(&lp);
    assert_eq!(*calls.borrow(), ["stop timer"]);
    keep.cancel();

    // A delay that is not a number is refused (asyncio: TypeError for None).
    assert!(matches!(
        lp.call_later(f64::NAN, || {}),
        Err(LoopError::InvalidDelay { .. })
    ));
    assert!(matches!(
        lp.call_at(f64::NAN, || {}),
        Err(LoopError::InvalidDelay { .. })
    ));
    // sleep, like asyncio.sleep, takes such a delay (and a negative one) as
    // zero: it completes on a next iteration, without waiting.
    let l = lp.clone();
    let waited = run_with_deadline(&lp, async move {
        let t0 = l.time();
        l.sleep(f64::NAN).await;
        l.sleep(-1.0).await;
        switchboard::sleep(f64::NAN).await;
        l.time() - t0
    });
    assert!(waited < 0.5, "a NaN/negative sleep waited {waited}s");
}

#[test]
fn t6_cancelled_timers_are_purged_once_they_are_over_half() {
    let (lp, _handler) = new_loop();
    let drops = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for _ in 0..200 {
        let d = Dropped(drops.clone());
        handles.push(lp.call_later(10.0, move || drop(d)).unwrap());
    }
    // Half cancelled (the later half, so none is at the head): kept.
    for t in &handles[100..] {
        t.cancel();
    }
    run_one_iteration(&lp);
    assert_eq!(drops.load(Ordering::SeqCst), 0, "purged at exactly half");

    // One more: now more than half are cancelled, and they are all dropped.
    handles[99].cancel();
    run_one_iteration(&lp);
    assert_eq!(drops.load(Ordering::SeqCst), 101);
    for t in &handles {
        t.cancel();
    }
    lp.close().unwrap();
    assert_eq!(drops.load(Ordering::SeqCst), 200);
}

#[test]
fn t6_callback_captures_are_freed_after_it_runs() {
    let (lp, _handler) = new_loop();
    let (drops, d1) = Dropped::new();
    let d2 = Dropped(drops.clone());
    let d3 = Dropped(drops.clone());
    lp.call_soon(move || {
        let _keep = &d1;
    })
    .unwrap();
    lp.call_later(0.0, move || {
        let _keep = &d2;
    })
    .unwrap();
    lp.call_soon(move || {
        let _keep = &d3;
    })
    .unwrap()
    .cancel();
    run_one_iteration(&lp);
    // Freed now, while the loop is still open.
    assert_eq!(drops.load(Ordering::SeqCst), 3);
    assert!(!lp.is_closed());
}

#[test]
fn t6_cancelled_timer_captures_may_use_the_loop_when_dropped() {
    /// Schedules a callback from its `Drop`: the loop must not be borrowed
    /// when it drops a cancelled timer's callback.
    struct ScheduleOnDrop(EventLoop, Log<&'static str>, &'static str);
    impl Drop for ScheduleOnDrop {
        fn drop(&mut self) {
            let (log, what) = (self.1.clone(), self.2);
            self.0
                .call_soon(move || log.borrow_mut().push(what))
                .unwrap();
            self.0.call_later(-1.0, || {}).unwrap();
        }
    }
    let (lp, _handler) = new_loop();
    let calls: Log<&str> = log();

    // Due and cancelled: dropped when the loop takes it off the heap.
    let g = ScheduleOnDrop(lp.clone(), calls.clone(), "due");
    lp.call_later(-1.0, move || drop(g)).unwrap().cancel();
    // Cancelled head, not due: dropped while the poll timeout is computed.
    let g = ScheduleOnDrop(lp.clone(), calls.clone(), "head");
    lp.call_later(0.002, move || drop(g)).unwrap().cancel();
    // Purged: more than half of >= 100 timers cancelled.
    for _ in 0..120 {
        let g = ScheduleOnDrop(lp.clone(), calls.clone(), "purged");
        lp.call_later(30.0, move || drop(g)).unwrap().cancel();
    }
    let l = lp.clone();
    lp.call_later(0.01, move || l.stop()).unwrap();
    run_forever_with_deadline(&lp);
    stop_soon(&lp).unwrap();
    run_forever_with_deadline(&lp);
    let calls = calls.borrow();
    assert!(
        calls.contains(&"due") && calls.contains(&"head"),
        "{calls:?}"
    );
    assert_eq!(calls.iter().filter(|c| **c == "purged").count(), 120);
}

#[test]
fn t6_tiny_sleeps_complete_and_never_early() {
    let (lp, _handler) = new_loop();
    let l = lp.clone();
    let ok = run_with_deadline(&lp, async move {
        for d in [1e-2, 1e-4, 1e-6, 1e-8, 1e-10] {
            let before = l.time();
            l.sleep(d).await;
            assert!(l.time() >= before + d, "sleep({d}) returned early");
        }
        true
    });
    assert!(ok);
}
