//! Executors, futures and tasks: BEHAVIOR E1–E3, plus the loop's futures,
//! tasks, task factory, cross-thread wakers and `sleep`.
//!
//! Mirrors <https://docs.python.org/3/library/asyncio-eventloop.html#executing-code-in-thread-or-process-pools>
//! and <https://docs.python.org/3/library/asyncio-eventloop.html#creating-futures-and-tasks>.

mod support;

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

use support::{logs, new_loop, run_forever_with_deadline, run_with_deadline, Dropped, DEADLINE};
use switchboard::{
    Exception, ExecutorError, FutureError, InvalidStateError, LoopError, TaskError, TaskSpec,
    ThreadPool,
};

/// Shared between a [`Handoff`] and whoever completes it: (done, waker).
type Slot = Arc<Mutex<(bool, Option<Waker>)>>;

/// A future that hands its waker to another thread and completes once woken.
struct Handoff {
    slot: Slot,
}

impl Handoff {
    fn new() -> (Handoff, Slot) {
        let slot = Arc::new(Mutex::new((false, None)));
        (Handoff { slot: slot.clone() }, slot)
    }
}

impl Future for Handoff {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut slot = self.slot.lock().unwrap();
        if slot.0 {
            Poll::Ready(())
        } else {
            slot.1 = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

/// Completes a [`Handoff`] from any thread.
fn complete(slot: &Mutex<(bool, Option<Waker>)>) {
    let waker = {
        let mut s = slot.lock().unwrap();
        s.0 = true;
        s.1.take()
    };
    if let Some(w) = waker {
        w.wake();
    }
}

// ---------------------------------------------------------------- E: executor

#[test]
fn e1_run_in_executor_runs_on_a_worker_and_the_result_reaches_the_loop_thread() {
    let (lp, _handler) = new_loop();
    let loop_thread = thread::current().id();
    let l = lp.clone();
    let (worker, resumed_on) = run_with_deadline(&lp, async move {
        let fut = l.run_in_executor(None, || thread::current().id()).unwrap();
        let worker = fut.await.unwrap();
        (worker, thread::current().id())
    });
    assert_ne!(worker, loop_thread);
    assert_eq!(resumed_on, loop_thread);

    // A caller-given pool works the same way.
    let pool = ThreadPool::new(1).unwrap();
    let l = lp.clone();
    let p = pool.clone();
    let out = run_with_deadline(&lp, async move {
        l.run_in_executor(Some(&p), || 6 * 7).unwrap().await
    });
    assert_eq!(out.unwrap(), 42);
    pool.shutdown(true);
    lp.close().unwrap();
}

#[test]
fn e1_a_panic_in_the_job_reaches_the_awaiting_task_as_an_error() {
    let (lp, handler) = new_loop();
    let l = lp.clone();
    let out = run_with_deadline(&lp, async move {
        l.run_in_executor(None, || -> u8 { panic!("job failed") })
            .unwrap()
            .await
    });
    match out {
        Err(ExecutorError::Panicked { message }) => assert_eq!(message, "job failed"),
        other => panic!("expected a panicked job, got {other:?}"),
    }
    // The worker caught it; nothing reached the loop's handler.
    assert!(handler.take().is_empty());
}

#[test]
fn e1_a_worker_wakes_a_loop_blocked_in_poll() {
    let (lp, _handler) = new_loop();
    let timer = lp
        .call_later(5.0, || panic!("the 5 s timer fired"))
        .unwrap();
    let (gate_tx, gate_rx) = mpsc::channel::<()>();
    let l = lp.clone();
    let t0 = Instant::now();
    let out = run_with_deadline(&lp, async move {
        let fut = l
            .run_in_executor(None, move || gate_rx.recv().map(|_| "released"))
            .unwrap();
        // Released from a callback of this loop: by then the task waits, and
        // the loop goes back to poll with only the 5 s timer left.
        l.call_soon(move || gate_tx.send(()).unwrap()).unwrap();
        fut.await
    });
    assert_eq!(out.unwrap(), Ok("released"));
    assert!(
        t0.elapsed() < Duration::from_millis(2500),
        "the worker's wake was lost"
    );
    timer.cancel();
}

#[test]
fn e2_cancelling_the_awaiting_task_does_not_stop_the_worker() {
    let (lp, _handler) = new_loop();
    let (gate_tx, gate_rx) = mpsc::channel::<()>();
    let (done_tx, done_rx) = mpsc::channel::<&str>();
    let fut = lp
        .run_in_executor(None, move || {
            gate_rx.recv().unwrap();
            done_tx.send("finished").unwrap();
        })
        .unwrap();
    let task = lp.create_task(fut).unwrap();
    let waiter = task.cancel();
    assert!(waiter);
    let out = run_with_deadline(&lp, task.join());
    assert!(matches!(out, Err(TaskError::Cancelled { .. })), "{out:?}");

    // The job still runs to its end.
    gate_tx.send(()).unwrap();
    assert_eq!(done_rx.recv_timeout(DEADLINE), Ok("finished"));
    lp.close().unwrap();
}

#[test]
fn e2_a_worker_finishing_after_close_does_not_touch_the_loop() {
    let (lp, _handler) = new_loop();
    let (handoff, slot) = Handoff::new();
    let (drops, keep) = Dropped::new();
    let task = lp
        .create_task(async move {
            let _keep = keep;
            handoff.await;
            panic!("the task ran after close");
        })
        .unwrap();
    // One iteration: the task's first step stores its waker in the slot.
    lp.stop();
    lp.run_forever().unwrap();
    assert!(slot.lock().unwrap().1.is_some());

    let (gate_tx, gate_rx) = mpsc::channel::<()>();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let s = slot.clone();
    let job = lp
        .run_in_executor(None, move || {
            gate_rx.recv().unwrap();
            // Wakes a task of a closed loop: must be a no-op, not a panic.
            complete(&s);
            done_tx.send(()).unwrap();
        })
        .unwrap();
    drop(job);
    lp.close().unwrap();
    assert_eq!(drops.load(Ordering::SeqCst), 1, "close dropped the task");
    assert!(task.done());

    gate_tx.send(()).unwrap();
    assert_eq!(done_rx.recv_timeout(DEADLINE), Ok(()));
    assert!(lp.is_closed());
}

#[test]
fn e3_set_default_executor_is_used_and_replaces_the_previous_one() {
    let (lp, _handler) = new_loop();
    let first = ThreadPool::new(1).unwrap();
    lp.set_default_executor(first.clone());
    let l = lp.clone();
    let (a, b) = run_with_deadline(&lp, async move {
        let a = l
            .run_in_executor(None, || thread::current().id())
            .unwrap()
            .await;
        let b = l
            .run_in_executor(None, || thread::current().id())
            .unwrap()
            .await;
        (a.unwrap(), b.unwrap())
    });
    assert_eq!(a, b, "one worker: the default is the pool we set");

    // Replacing it shuts the old one down without waiting.
    let second = ThreadPool::new(2).unwrap();
    lp.set_default_executor(second.clone());
    assert!(matches!(first.submit(|| ()), Err(ExecutorError::Shutdown)));

    // And `None` now means `second`: once it is shut down, it refuses.
    second.shutdown(false);
    let refused = lp.run_in_executor(None, || ());
    assert!(
        matches!(refused, Err(LoopError::Executor(ExecutorError::Shutdown))),
        "{refused:?}"
    );
    lp.close().unwrap();
}

#[test]
fn e3_shutdown_default_executor_warns_when_workers_do_not_join_in_time() {
    logs::install();
    let (lp, _handler) = new_loop();
    let (gate_tx, gate_rx) = mpsc::channel::<()>();
    let stuck = lp.run_in_executor(None, move || gate_rx.recv()).unwrap();
    let shutdown = lp.shutdown_default_executor(Some(Duration::from_millis(20)));
    run_with_deadline(&lp, shutdown);
    let warnings: Vec<_> = logs::take_mine()
        .into_iter()
        .filter(|r| r.level == log::Level::Warn)
        .map(|r| r.message)
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("did not finish joining"),
        "{warnings:?}"
    );

    // The stuck job still finishes; later calls get a fresh pool.
    gate_tx.send(()).unwrap();
    assert_eq!(run_with_deadline(&lp, stuck).unwrap(), Ok(()));
    let l = lp.clone();
    let out = run_with_deadline(
        &lp,
        async move { l.run_in_executor(None, || 1).unwrap().await },
    );
    assert_eq!(out.unwrap(), 1);

    // With idle workers, shutdown joins them without a warning.
    let shutdown = lp.shutdown_default_executor(Some(DEADLINE));
    run_with_deadline(&lp, shutdown);
    let shutdown = lp.shutdown_default_executor(None);
    run_with_deadline(&lp, shutdown);
    let warnings: Vec<_> = logs::take_mine()
        .into_iter()
        .filter(|r| r.level <= log::Level::Warn)
        .collect();
    assert!(warnings.is_empty(), "{warnings:?}");
}

// ------------------------------------------------------------------- futures

#[test]
fn future_is_set_once_and_then_invalid_state() {
    let (lp, _handler) = new_loop();
    let fut = lp.create_future::<&str>();
    assert!(!fut.done());
    assert_eq!(fut.result(), None);
    fut.set_result("first").unwrap();
    assert_eq!(fut.set_result("second"), Err(InvalidStateError));
    assert!(!fut.cancel(), "a done future cannot be cancelled");
    assert!(fut.done() && !fut.cancelled());
    assert_eq!(fut.result(), Some(Ok("first")));

    let failing = lp.create_fallible_future::<u8, String>();
    failing.set_exception("bad".to_string()).unwrap();
    assert_eq!(failing.set_result(1), Err(InvalidStateError));
    assert_eq!(
        failing.set_exception("again".into()),
        Err(InvalidStateError)
    );

    // Awaiting moves the value out; a second awaiter gets Taken.
    let (a, b) = (fut.clone(), fut.clone());
    let out = run_with_deadline(&lp, async move { (a.await, b.await) });
    assert_eq!(out, (Ok("first"), Err(FutureError::Taken)));
    let out = run_with_deadline(&lp, failing);
    assert_eq!(out, Err(FutureError::Failed("bad".to_string())));
}

#[test]
fn future_cancel_wakes_the_awaiter_with_cancelled() {
    let (lp, _handler) = new_loop();
    let fut = lp.create_future::<u8>();
    let canceller = fut.clone();
    lp.call_soon(move || assert!(canceller.cancel())).unwrap();
    let out = run_with_deadline(&lp, fut.clone());
    assert_eq!(out, Err(FutureError::Cancelled));
    assert!(fut.cancelled() && fut.done());
    assert!(!fut.cancel());
    assert_eq!(fut.set_result(1), Err(InvalidStateError));
}

#[test]
fn future_done_callbacks_run_through_call_soon_in_order() {
    let (lp, _handler) = new_loop();
    let fut = lp.create_future::<u8>();
    let calls = Rc::new(std::cell::RefCell::new(Vec::new()));
    for i in 0..3 {
        let c = calls.clone();
        fut.add_done_callback(move || c.borrow_mut().push(i));
    }
    let (setter, c) = (fut.clone(), calls.clone());
    lp.call_soon(move || {
        setter.set_result(1).unwrap();
        // Not inside set_result: scheduled for the next iteration.
        assert!(c.borrow().is_empty());
        // Added to a done future: scheduled too, after the others.
        let c2 = c.clone();
        setter.add_done_callback(move || c2.borrow_mut().push(3));
        assert!(c.borrow().is_empty());
    })
    .unwrap();
    let l = lp.clone();
    lp.call_later(0.005, move || l.stop()).unwrap();
    run_forever_with_deadline(&lp);
    assert_eq!(*calls.borrow(), [0, 1, 2, 3]);

    // Cancelling runs them as well.
    let cancelled = lp.create_future::<()>();
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    cancelled.add_done_callback(move || r.set(true));
    cancelled.cancel();
    assert!(!ran.get());
    lp.stop();
    lp.run_forever().unwrap();
    assert!(ran.get());
}

// --------------------------------------------------------------------- tasks

#[test]
fn task_names_default_to_task_n_and_can_be_changed() {
    let (lp, _handler) = new_loop();
    let a = lp.create_task(async {}).unwrap();
    let b = lp.create_task(async {}).unwrap();
    let n = |name: String| -> u64 {
        name.strip_prefix("Task-")
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("not a default name: {name}"))
    };
    assert!(n(b.get_name()) > n(a.get_name()));
    b.set_name("worker");
    assert_eq!(b.get_name(), "worker");
    assert!(format!("{b:?}").contains("worker"));
    run_with_deadline(&lp, async move {
        a.await;
        b.await;
    });
}

#[test]
fn task_output_is_awaited_once_and_a_second_awaiter_gets_taken() {
    let (lp, _handler) = new_loop();
    let t = lp.create_task(async { 7 }).unwrap();
    let done = Rc::new(Cell::new(false));
    let d = done.clone();
    t.add_done_callback(move || d.set(true));
    let out = run_with_deadline(&lp, t);
    assert_eq!(out, 7);
    assert!(done.get());

    let t = lp.create_task(async { 8 }).unwrap();
    let out = run_with_deadline(&lp, async move {
        let mut t = t;
        let first = (&mut t).await;
        let second = t.join().await;
        (first, second)
    });
    assert_eq!(out.0, 8);
    assert!(matches!(out.1, Err(TaskError::Taken { .. })), "{:?}", out.1);
}

#[test]
fn task_cancel_drops_the_future_and_ends_cancelled() {
    let (lp, _handler) = new_loop();
    let never = lp.create_future::<()>();
    let (drops, keep) = Dropped::new();
    let steps = Rc::new(Cell::new(0));
    let s = steps.clone();
    let t = lp
        .create_task(async move {
            let _keep = keep;
            s.set(s.get() + 1);
            let _ = never.await;
            s.set(s.get() + 1);
        })
        .unwrap();
    lp.stop();
    lp.run_forever().unwrap();
    assert_eq!(steps.get(), 1, "the task waits on its future");
    assert!(t.cancel());
    assert!(!t.done(), "cancel takes effect at the next step");
    lp.stop();
    lp.run_forever().unwrap();
    assert_eq!(drops.load(Ordering::SeqCst), 1, "the future was dropped");
    assert_eq!(steps.get(), 1);
    assert!(t.done() && t.cancelled());
    assert!(!t.cancel(), "already done");
    let out = run_with_deadline(&lp, t.join());
    assert!(matches!(out, Err(TaskError::Cancelled { .. })), "{out:?}");

    // Cancelled before its first step: never polled. Awaiting it takes its
    // outcome and cancels the awaiter, as asyncio's `await` does.
    let polled = Rc::new(Cell::new(false));
    let p = polled.clone();
    let t = lp.create_task(async move { p.set(true) }).unwrap();
    t.cancel();
    let t = Rc::new(std::cell::RefCell::new(t));
    let inner = t.clone();
    let went_on = Rc::new(Cell::new(false));
    let w = went_on.clone();
    let awaiter = lp
        .create_task(async move {
            std::future::poll_fn(|cx| Pin::new(&mut *inner.borrow_mut()).poll(cx)).await;
            w.set(true);
        })
        .unwrap();
    let out = run_with_deadline(&lp, awaiter.join());
    assert!(matches!(out, Err(TaskError::Cancelled { .. })), "{out:?}");
    assert!(!went_on.get(), "the awaiter went on past a cancelled task");
    assert!(!polled.get());
    let t = Rc::try_unwrap(t).expect("the awaiter is gone").into_inner();
    assert!(
        t.cancelled(),
        "cancelled() stays true after the outcome is taken"
    );
    let again = run_with_deadline(&lp, t.join());
    assert!(matches!(again, Err(TaskError::Taken { .. })), "{again:?}");
}

#[test]
fn task_panic_is_task_error_panicked_and_the_handler_is_called() {
    let (lp, handler) = new_loop();
    let t = lp
        .create_task(async {
            if true {
                panic!("boom");
            }
            5
        })
        .unwrap();
    t.set_name("exploder");
    let out = run_with_deadline(&lp, t.join());
    assert_eq!(
        out,
        Err(TaskError::Panicked {
            name: "exploder".into(),
            message: "boom".into()
        })
    );
    let ctx = handler.take_one();
    assert!(
        ctx.message.starts_with("Exception in task"),
        "{}",
        ctx.message
    );
    assert!(ctx.message.contains("exploder"), "{}", ctx.message);
    assert!(ctx.task.as_deref().unwrap_or("").contains("exploder"));
    assert!(matches!(&ctx.exception, Some(Exception::Panic(m)) if m == "boom"));
    // The loop goes on.
    assert_eq!(run_with_deadline(&lp, async { 1 }), 1);
}

#[test]
fn task_factory_sees_every_task_and_round_trips() {
    let (lp, _handler) = new_loop();
    assert!(lp.get_task_factory().is_none());
    let polls = Rc::new(Cell::new(0usize));
    let p = polls.clone();
    lp.set_task_factory(Some(Rc::new(move |_lp, mut spec: TaskSpec| {
        let p = p.clone();
        let mut inner = std::mem::replace(&mut spec.future, Box::pin(async {}));
        spec.name = format!("traced-{}", spec.name);
        spec.future = Box::pin(std::future::poll_fn(move |cx| {
            p.set(p.get() + 1);
            inner.as_mut().poll(cx)
        }));
        spec
    })));
    assert!(lp.get_task_factory().is_some());
    let l = lp.clone();
    let t = lp
        .create_task(async move {
            l.sleep(0.001).await;
            "wrapped"
        })
        .unwrap();
    assert!(t.get_name().starts_with("traced-Task-"), "{}", t.get_name());
    assert_eq!(run_with_deadline(&lp, t), "wrapped");
    assert!(polls.get() >= 2, "the wrapper polled the task's future");

    lp.set_task_factory(None);
    assert!(lp.get_task_factory().is_none());
    let t = lp.create_task(async {}).unwrap();
    assert!(t.get_name().starts_with("Task-"));
    run_with_deadline(&lp, t);
}

#[test]
fn task_woken_from_another_thread_runs_again_at_once() {
    let (lp, _handler) = new_loop();
    let timer = lp
        .call_later(5.0, || panic!("the 5 s timer fired"))
        .unwrap();
    let (handoff, slot) = Handoff::new();
    let (polled_tx, polled_rx) = mpsc::channel::<()>();
    let thread = thread::spawn(move || {
        polled_rx.recv().unwrap();
        // Wait (without sleeping) until the task stored its waker.
        while slot.lock().unwrap().1.is_none() {
            thread::yield_now();
        }
        complete(&slot);
    });
    let t0 = Instant::now();
    run_with_deadline(&lp, async move {
        polled_tx.send(()).unwrap();
        handoff.await;
    });
    assert!(
        t0.elapsed() < Duration::from_millis(2500),
        "the wake was lost"
    );
    thread.join().unwrap();
    timer.cancel();
}

// --------------------------------------------------------------------- sleep

#[test]
fn sleep_completes_no_earlier_than_its_delay_on_the_loop_clock() {
    let (lp, _handler) = new_loop();
    let l = lp.clone();
    let (before, after) = run_with_deadline(&lp, async move {
        let before = l.time();
        switchboard::sleep(0.02).await;
        l.sleep(Duration::from_millis(5)).await;
        l.sleep(-1.0).await;
        (before, l.time())
    });
    assert!(after - before >= 0.025, "slept {}", after - before);
}

#[test]
fn sleep_made_outside_a_running_loop_counts_from_its_first_poll() {
    let (lp, _handler) = new_loop();
    let s = switchboard::sleep(0.05);
    // Time passes before the loop first polls it: not counted.
    thread::sleep(Duration::from_millis(100));
    let l = lp.clone();
    let (before, after) = run_with_deadline(&lp, async move {
        let before = l.time();
        s.await;
        (before, l.time())
    });
    assert!(after - before >= 0.05, "slept {}", after - before);
}

#[test]
fn sleep_polled_outside_any_loop_completes_at_once() {
    let mut s = std::pin::pin!(switchboard::sleep(10.0));
    let mut cx = Context::from_waker(Waker::noop());
    assert!(s.as_mut().poll(&mut cx).is_ready());
}
