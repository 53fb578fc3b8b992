//! Timers cause no busy-spinning (T6): an idle loop whose only timer is far
//! away, or cancelled, sleeps in poll instead of turning.
//! <https://docs.python.org/3/library/asyncio-eventloop.html#scheduling-delayed-callbacks>
//!
//! The loop exposes no iteration count, so the loop thread's own resource
//! usage stands in for it: each iteration that blocks in poll costs one
//! voluntary context switch, and one that does not block costs CPU time. Over
//! 300 ms of idling, a loop that sleeps until it is stopped shows a handful of
//! the first and almost none of the second; a loop that wakes every few
//! milliseconds shows dozens of switches, and one that polls with a zero
//! timeout shows the CPU time of the whole period. The idle period is the
//! scenario, not a wait for something to happen.

mod support;

use std::time::Duration;

use nix::sys::resource::{getrusage, Usage, UsageWho};
use support::{new_loop, run_forever_with_deadline};
use switchboard::EventLoop;

const IDLE: Duration = Duration::from_millis(300);
/// Generous: an idle loop uses well under a millisecond.
const MAX_CPU: Duration = Duration::from_millis(20);
/// One block in poll, the wakeup by `stop`, and slack for the allocator or
/// the logger taking a lock.
const MAX_SWITCHES: i64 = 5;

fn thread_usage() -> Usage {
    getrusage(UsageWho::RUSAGE_THREAD).expect("getrusage")
}

fn cpu(u: &Usage) -> Duration {
    let t = u.user_time() + u.system_time();
    Duration::new(t.tv_sec() as u64, t.tv_usec() as u32 * 1000)
}

/// Runs `lp` for [`IDLE`], stopped from another thread, and returns the loop
/// thread's CPU time and voluntary context switches over the run.
fn idle_cost(lp: &EventLoop) -> (Duration, i64) {
    let remote = lp.handle();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
    lp.call_soon(move || ready_tx.send(()).unwrap()).unwrap();
    let stopper = std::thread::spawn(move || {
        // From the loop's first callback: the loop is running, then idles.
        ready_rx.recv().unwrap();
        std::thread::sleep(IDLE);
        remote.stop();
    });
    let before = thread_usage();
    run_forever_with_deadline(lp);
    let after = thread_usage();
    stopper.join().unwrap();
    (
        cpu(&after).saturating_sub(cpu(&before)),
        after.voluntary_context_switches() - before.voluntary_context_switches(),
    )
}

#[test]
fn t6_an_idle_loop_with_a_timer_an_hour_away_sleeps_in_poll() {
    let (lp, handler) = new_loop();
    let far = lp
        .call_later(3600.0, || panic!("the hour-away timer fired"))
        .unwrap();
    let (cpu, switches) = idle_cost(&lp);
    assert!(cpu < MAX_CPU, "{cpu:?} of CPU over {IDLE:?} idle");
    assert!(
        switches <= MAX_SWITCHES,
        "{switches} wakeups over {IDLE:?} idle"
    );
    assert!(!far.cancelled());
    assert!(handler.take().is_empty());
    lp.close().unwrap();
}

#[test]
fn t6_an_idle_loop_with_only_a_cancelled_timer_sleeps_in_poll() {
    let (lp, handler) = new_loop();
    let near = lp
        .call_later(0.001, || panic!("the cancelled timer fired"))
        .unwrap();
    near.cancel();
    let far = lp
        .call_later(3600.0, || panic!("the cancelled timer fired"))
        .unwrap();
    far.cancel();
    let (cpu, switches) = idle_cost(&lp);
    assert!(cpu < MAX_CPU, "{cpu:?} of CPU over {IDLE:?} idle");
    assert!(
        switches <= MAX_SWITCHES,
        "{switches} wakeups over {IDLE:?} idle"
    );
    assert!(handler.take().is_empty());
    lp.close().unwrap();
}
