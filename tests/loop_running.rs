//! Running and stopping the loop: BEHAVIOR L1–L8.
//!
//! Mirrors <https://docs.python.org/3/library/asyncio-eventloop.html#running-and-stopping-the-loop>
//! (and `call_soon` from "Scheduling callbacks", whose FIFO rule L1 states).

mod support;

use std::cell::RefCell;
use std::panic::{catch_unwind, panic_any, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use support::{
    new_loop, run_forever_with_deadline, run_with_deadline, stop_soon, Dropped, DEADLINE,
};
use switchboard::{get_running_loop, Interrupt, LoopError, Signal, SignalError, TaskError};

type Log<T> = Rc<RefCell<Vec<T>>>;

fn log<T>() -> Log<T> {
    Rc::new(RefCell::new(Vec::new()))
}

fn push<T: Clone + 'static>(log: &Log<T>, v: T) -> impl FnOnce() + 'static {
    let log = log.clone();
    move || log.borrow_mut().push(v)
}

#[test]
fn l1_call_soon_is_fifo_and_cancelled_handle_never_runs() {
    let (lp, _handler) = new_loop();
    let calls = log();
    lp.call_soon(push(&calls, 10)).unwrap();
    let h = lp.call_soon(push(&calls, 100)).unwrap();
    lp.call_soon(push(&calls, 1)).unwrap();
    h.cancel();
    assert!(h.cancelled());
    stop_soon(&lp).unwrap();
    run_forever_with_deadline(&lp);
    assert_eq!(*calls.borrow(), [10, 1]);

    // Exactly once: a second run does not replay anything.
    stop_soon(&lp).unwrap();
    run_forever_with_deadline(&lp);
    assert_eq!(*calls.borrow(), [10, 1]);
    lp.close().unwrap();
}

#[test]
fn l1_many_callbacks_keep_scheduling_order() {
    let (lp, _handler) = new_loop();
    let calls = log();
    for i in 0..1000 {
        lp.call_soon(push(&calls, i)).unwrap();
    }
    stop_soon(&lp).unwrap();
    run_forever_with_deadline(&lp);
    assert_eq!(*calls.borrow(), (0..1000).collect::<Vec<_>>());
}

#[test]
fn l2_stop_inside_batch_runs_rest_and_defers_new() {
    let (lp, _handler) = new_loop();
    let calls: Log<&str> = log();
    lp.call_soon(push(&calls, "1")).unwrap();
    let two = lp.call_soon(push(&calls, "2")).unwrap();
    lp.call_soon(push(&calls, "3")).unwrap();
    {
        let (l, calls2) = (lp.clone(), calls.clone());
        lp.call_soon(move || {
            calls2.borrow_mut().push("stopper");
            l.call_soon(push(&calls2, "late")).unwrap();
            l.stop();
        })
        .unwrap();
    }
    lp.call_soon(push(&calls, "4")).unwrap();
    two.cancel();

    run_forever_with_deadline(&lp);
    assert_eq!(*calls.borrow(), ["1", "3", "stopper", "4"]);

    // The callback scheduled during the stopped batch runs on the next run.
    stop_soon(&lp).unwrap();
    run_forever_with_deadline(&lp);
    assert_eq!(*calls.borrow(), ["1", "3", "stopper", "4", "late"]);
}

#[test]
fn l3_pre_stopped_run_forever_runs_ready_and_returns_with_timer_pending() {
    let (lp, _handler) = new_loop();
    let calls: Log<&str> = log();
    let timer = lp.call_later(5.0, push(&calls, "timer")).unwrap();
    lp.call_soon(push(&calls, "ready")).unwrap();
    lp.stop();

    let t0 = Instant::now();
    lp.run_forever().unwrap();
    // It did not wait for the 5 s timer (any bound well under 5 s shows that).
    assert!(
        t0.elapsed() < Duration::from_millis(2500),
        "waited for the timer"
    );
    assert_eq!(*calls.borrow(), ["ready"]);
    assert!(
        !timer.cancelled(),
        "the timer is still pending, not dropped"
    );
    assert!(!lp.is_running());

    // The stop was used up: the next run waits for a stop again.
    let l = lp.clone();
    lp.call_later(0.01, move || l.stop()).unwrap();
    lp.call_soon(push(&calls, "second run")).unwrap();
    run_forever_with_deadline(&lp);
    assert_eq!(*calls.borrow(), ["ready", "second run"]);
    timer.cancel();
}

#[test]
fn l5_run_until_complete_returns_the_output() {
    let (lp, _handler) = new_loop();
    assert_eq!(run_with_deadline(&lp, async { 40 + 2 }), 42);

    let l = lp.clone();
    let out = run_with_deadline(&lp, async move {
        l.sleep(0.005).await;
        "slept"
    });
    assert_eq!(out, "slept");

    // A future made by the loop, completed by a timer.
    let fut = lp.create_future::<u8>();
    let setter = fut.clone();
    lp.call_later(0.005, move || setter.set_result(7).unwrap())
        .unwrap();
    assert_eq!(run_with_deadline(&lp, fut), Ok(7));
    lp.close().unwrap();
}

#[test]
fn l5_run_until_complete_panic_is_a_task_error() {
    let (lp, handler) = new_loop();
    let out = lp.run_until_complete(async {
        if true {
            panic!("kaboom");
        }
    });
    match out {
        Err(LoopError::Task(TaskError::Panicked { message, .. })) => {
            assert_eq!(message, "kaboom")
        }
        other => panic!("expected a panicked task, got {other:?}"),
    }
    // The panic was also reported, like every panicking task.
    let ctx = handler.take_one();
    assert!(
        ctx.message.starts_with("Exception in task"),
        "{}",
        ctx.message
    );
    assert!(!lp.is_running() && !lp.is_closed());
}

#[test]
fn l5_run_until_complete_stopped_first_is_an_error_and_leaves_no_stale_stop() {
    let (lp, _handler) = new_loop();
    let fut = lp.create_future::<u8>();
    let l = lp.clone();
    lp.call_soon(move || l.stop()).unwrap();
    let out = lp.run_until_complete(fut.clone());
    assert!(
        matches!(out, Err(LoopError::StoppedBeforeComplete)),
        "{out:?}"
    );
    assert!(!fut.done());

    // The orphaned run_until_complete must not stop a later run when its
    // future completes (asyncio removes its done callback in `finally`).
    let calls: Log<&str> = log();
    let setter = fut.clone();
    lp.call_soon(move || setter.set_result(1).unwrap()).unwrap();
    let l = lp.clone();
    let c = calls.clone();
    lp.call_later(0.05, move || {
        c.borrow_mut().push("stop timer");
        l.stop();
    })
    .unwrap();
    run_forever_with_deadline(&lp);
    assert_eq!(
        *calls.borrow(),
        ["stop timer"],
        "an old done callback stopped the loop"
    );
    assert!(fut.done());
}

#[test]
fn l5_future_of_another_loop_is_refused_not_awaited_forever() {
    let (a, _ha) = new_loop();
    let (b, _hb) = new_loop();
    let task_b = b.create_task(async { 1 }).unwrap();
    let out = run_with_deadline(&a, task_b.join());
    assert!(matches!(out, Err(TaskError::WrongLoop { .. })), "{out:?}");

    // Awaited directly, the refusal ends the awaiting run with it.
    let task_b = b.create_task(async { 2 }).unwrap();
    let l = a.clone();
    let guard = a.call_later(DEADLINE, move || l.stop()).unwrap();
    let out = a.run_until_complete(task_b);
    guard.cancel();
    assert!(
        matches!(out, Err(LoopError::Task(TaskError::WrongLoop { .. }))),
        "{out:?}"
    );

    let fut_b = b.create_future::<u8>();
    let out = run_with_deadline(&a, fut_b);
    assert!(
        matches!(out, Err(switchboard::FutureError::WrongLoop)),
        "{out:?}"
    );
    b.close().unwrap();
}

#[test]
fn l6_run_forever_inside_a_callback_is_refused() {
    let (lp, _handler) = new_loop();
    let results = log();
    let (l, r) = (lp.clone(), results.clone());
    lp.call_soon(move || {
        r.borrow_mut().push(l.run_forever());
        r.borrow_mut()
            .push(l.run_until_complete(async {}).map(|_| ()));
        l.stop();
    })
    .unwrap();
    run_forever_with_deadline(&lp);
    let results = results.borrow();
    assert!(matches!(results[0], Err(LoopError::AlreadyRunning)));
    assert!(matches!(results[1], Err(LoopError::AlreadyRunning)));
}

#[test]
fn l6_run_until_complete_inside_a_task_is_refused() {
    let (lp, _handler) = new_loop();
    let l = lp.clone();
    let out = run_with_deadline(&lp, async move {
        let nested = l.run_until_complete(async { 1 });
        matches!(nested, Err(LoopError::AlreadyRunning))
    });
    assert!(out);
}

#[test]
fn l6_another_loop_on_the_same_thread_is_refused() {
    let (a, _ha) = new_loop();
    let (b, _hb) = new_loop();
    let results = log();
    let (bb, r) = (b.clone(), results.clone());
    let a2 = a.clone();
    a.call_soon(move || {
        r.borrow_mut().push(bb.run_forever());
        r.borrow_mut()
            .push(bb.run_until_complete(async {}).map(|_| ()));
        // The running loop is still `a`.
        r.borrow_mut()
            .push(get_running_loop().map(|l| l.is_running()).map(|_| ()));
        a2.stop();
    })
    .unwrap();
    run_forever_with_deadline(&a);
    let res = results.borrow();
    assert!(
        matches!(res[0], Err(LoopError::AnotherLoopRunning)),
        "{:?}",
        res[0]
    );
    assert!(
        matches!(res[1], Err(LoopError::AnotherLoopRunning)),
        "{:?}",
        res[1]
    );
    assert!(res[2].is_ok());
    assert!(!b.is_running());

    // Once `a` is done, `b` runs normally on the same thread.
    assert_eq!(run_with_deadline(&b, async { 5 }), 5);
}

#[test]
fn l7_close_is_idempotent_and_refused_while_running() {
    let (lp, _handler) = new_loop();
    let result = log();
    let (l, r) = (lp.clone(), result.clone());
    lp.call_soon(move || {
        r.borrow_mut().push(l.close());
        l.stop();
    })
    .unwrap();
    run_forever_with_deadline(&lp);
    assert!(matches!(result.borrow()[0], Err(LoopError::CloseRunning)));
    assert!(!lp.is_closed());

    lp.close().unwrap();
    lp.close().unwrap();
    assert!(lp.is_closed());
    assert!(lp.handle().is_closed());
}

#[test]
fn l7_after_close_every_refused_method_returns_closed() {
    let (lp, _handler) = new_loop();
    lp.close().unwrap();

    fn closed<T: std::fmt::Debug>(what: &str, r: Result<T, LoopError>) {
        assert!(matches!(r, Err(LoopError::Closed)), "{what}: {r:?}");
    }
    closed("run_forever", lp.run_forever());
    closed("run_until_complete", lp.run_until_complete(async {}));
    closed("call_soon", lp.call_soon(|| {}));
    closed("call_soon_threadsafe", lp.call_soon_threadsafe(|| {}));
    closed(
        "handle().call_soon_threadsafe",
        lp.handle().call_soon_threadsafe(|| {}),
    );
    closed("call_later", lp.call_later(0.0, || {}));
    closed("call_at", lp.call_at(0.0, || {}));
    closed("create_task", lp.create_task(async {}));
    closed("run_in_executor", lp.run_in_executor(None, || 1));
    // Signal handlers have their own error type, with the same meaning.
    let added = lp.add_signal_handler(Signal::SIGTERM, || {});
    assert!(matches!(added, Err(SignalError::Closed)), "{added:?}");
    assert!(matches!(
        lp.remove_signal_handler(Signal::SIGTERM),
        Ok(false)
    ));
    // Stopping a closed loop is harmless.
    lp.stop();
    lp.handle().stop();
}

#[test]
fn l7_close_drops_pending_callbacks_without_running_them() {
    let (lp, _handler) = new_loop();
    let (drops, d1) = Dropped::new();
    let d2 = Dropped(drops.clone());
    let d3 = Dropped(drops.clone());
    let d4 = Dropped(drops.clone());
    lp.call_soon(move || panic!("ran after close {d1:?}"))
        .unwrap();
    lp.call_later(0.0, move || panic!("ran after close {d2:?}"))
        .unwrap();
    lp.call_soon_threadsafe(move || panic!("ran after close {d3:?}"))
        .unwrap();
    let task = lp
        .create_task(async move {
            let _keep = d4;
            panic!("task ran after close")
        })
        .unwrap();
    lp.close().unwrap();
    assert_eq!(drops.load(Ordering::SeqCst), 4);
    assert!(task.done());
    let out = poll_done(task.join());
    assert!(matches!(out, Err(TaskError::LoopClosed { .. })), "{out:?}");
}

/// Polls a future that is already done, once.
fn poll_done<F: std::future::Future + Unpin>(mut f: F) -> F::Output {
    struct Noop;
    impl std::task::Wake for Noop {
        fn wake(self: std::sync::Arc<Self>) {}
    }
    let waker = std::task::Waker::from(std::sync::Arc::new(Noop));
    let mut cx = std::task::Context::from_waker(&waker);
    match std::pin::Pin::new(&mut f).poll(&mut cx) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => panic!("the future is not done"),
    }
}

#[test]
fn l8_interrupt_in_a_callback_leaves_the_loop_reusable_without_stale_stop() {
    let (lp, handler) = new_loop();
    let calls: Log<&str> = log();
    let l = lp.clone();
    lp.call_soon(move || {
        // A stop requested in the same callback must not outlive the run.
        l.stop();
        panic_any(Interrupt)
    })
    .unwrap();
    lp.call_soon(push(&calls, "rest of batch")).unwrap();

    let out = catch_unwind(AssertUnwindSafe(|| lp.run_forever()));
    let payload = out.expect_err("the interrupt leaves through run_forever");
    assert!(payload.is::<Interrupt>());
    assert!(!lp.is_running());
    assert!(!lp.is_closed());
    assert!(
        get_running_loop().is_err(),
        "no loop is left marked running"
    );
    assert!(handler.take().is_empty(), "an interrupt is not reported");

    // Runs again; the rest of the batch runs now, and the loop keeps running
    // until the new stop (no stale stop request).
    let (l, c) = (lp.clone(), calls.clone());
    lp.call_later(0.02, move || {
        c.borrow_mut().push("timer");
        l.stop();
    })
    .unwrap();
    run_forever_with_deadline(&lp);
    assert_eq!(*calls.borrow(), ["rest of batch", "timer"]);
    lp.close().unwrap();
}

#[test]
fn l8_interrupt_in_run_until_complete_then_run_again_and_close() {
    let (lp, _handler) = new_loop();
    let out = catch_unwind(AssertUnwindSafe(|| {
        lp.run_until_complete(async { panic_any(Interrupt) })
    }));
    assert!(out.expect_err("interrupt escapes").is::<Interrupt>());
    assert!(!lp.is_running() && !lp.is_closed());

    // A task left pending by an interrupted run_until_complete (asyncio's
    // "orphan future") does not stop a later run when it completes.
    let fut = lp.create_future::<()>();
    let waiting = fut.clone();
    lp.call_soon(|| panic_any(Interrupt)).unwrap();
    let out = catch_unwind(AssertUnwindSafe(|| lp.run_until_complete(waiting)));
    assert!(out.is_err());
    let setter = fut.clone();
    lp.call_soon(move || setter.set_result(()).unwrap())
        .unwrap();
    let l = lp.clone();
    let out = run_with_deadline(&lp, async move {
        l.sleep(0.02).await;
        "second run finished"
    });
    assert_eq!(out, "second run finished");
    lp.close().unwrap();
}

#[test]
fn l8_ordinary_panic_goes_to_the_handler_and_the_loop_goes_on() {
    let (lp, handler) = new_loop();
    let calls: Log<&str> = log();
    lp.call_soon(|| panic!("ordinary")).unwrap();
    lp.call_soon(push(&calls, "next")).unwrap();
    stop_soon(&lp).unwrap();
    run_forever_with_deadline(&lp);
    assert_eq!(*calls.borrow(), ["next"]);
    let ctx = handler.take_one();
    assert!(
        ctx.message.starts_with("Exception in callback"),
        "{}",
        ctx.message
    );
}

#[test]
fn l8_interrupt_leaves_loop_that_can_be_closed() {
    let (lp, _handler) = new_loop();
    let task = lp
        .create_task(async {
            std::future::pending::<()>().await;
        })
        .unwrap();
    lp.call_soon(|| panic_any(Interrupt)).unwrap();
    assert!(catch_unwind(AssertUnwindSafe(|| lp.run_forever())).is_err());
    lp.close().unwrap();
    assert!(matches!(
        poll_done(task.join()),
        Err(TaskError::LoopClosed { .. })
    ));
}
