//! The public API's conventions, part one: `run`, one `Error`, `IntoFuture`,
//! tasks that do not stack results, ask and reply, `wait_for`/`gather`/`sleep`
//! and our own `Signal`. Part two (`tests/api_protocols.rs`) covers framing,
//! what a protocol can do inside its handler, builders, `Display`s,
//! diagnostics and the prelude.
//!
//! See <https://docs.python.org/3/library/asyncio-runner.html> for `run`, and
//! <https://docs.python.org/3/library/asyncio-task.html> for `wait_for`,
//! `gather` and `sleep`.

mod support;

use std::cell::RefCell;
use std::error::Error as _;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use switchboard::prelude::*;
use switchboard::ready_made::Echo;
use switchboard::{CallError, LoopError, NetError, SignalError, TaskError};

// ---- run ---------------------------------------------------------------

#[test]
fn run_returns_the_future_output_and_closes_its_loop() {
    let kept = Rc::new(RefCell::new(None));
    let k = kept.clone();
    let out = support::run(|lp| async move {
        let _z4 = support::RecordingHandler::install(&lp);
        *k.borrow_mut() = Some(lp.clone());
        assert!(switchboard::get_running_loop().is_ok());
        Ok::<_, switchboard::Error>(7)
    })
    .expect("run");
    assert_eq!(out, 7);
    let lp = kept.borrow_mut().take().expect("loop seen");
    assert!(lp.is_closed(), "run closes its loop");
    assert!(
        switchboard::get_event_loop().is_err(),
        "no current loop is left behind"
    );
}

#[derive(Debug)]
enum AppError {
    Mine,
    Switchboard(switchboard::Error),
}

impl From<switchboard::Error> for AppError {
    fn from(e: switchboard::Error) -> Self {
        AppError::Switchboard(e)
    }
}

#[test]
fn run_returns_the_future_error_type_and_converts_loop_errors_into_it() {
    let mine: Result<(), AppError> = support::run(|_lp| async { Err(AppError::Mine) });
    assert!(matches!(mine, Err(AppError::Mine)));
    // A failure inside, through `?`, arrives as the same E (one `?` outside).
    let inner: Result<(), AppError> = support::run(|lp| async move {
        let z4 = support::RecordingHandler::install(&lp);
        let t = lp
            .create_task(async { panic!("inner boom") })
            .map_err(switchboard::Error::from)?;
        let joined = t.join().await;
        // The panic was reported, and only that.
        assert!(z4.take_one().message.starts_with("Exception in task"));
        joined.map_err(switchboard::Error::from)?;
        Ok(())
    });
    assert!(matches!(
        inner,
        Err(AppError::Switchboard(switchboard::Error::Task(
            TaskError::Panicked { .. }
        )))
    ));
}

#[test]
fn run_inside_a_running_loop_is_refused() {
    let out = support::run(|_lp| async {
        let nested = support::run(|_lp| async { Ok::<_, switchboard::Error>(()) });
        Ok::<_, switchboard::Error>(nested)
    })
    .expect("outer run");
    assert!(matches!(
        out,
        Err(switchboard::Error::Loop(LoopError::AnotherLoopRunning))
    ));
}

#[test]
fn run_shuts_the_default_executor_down_after_its_jobs() {
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    support::run(|lp| async move {
        let _z4 = support::RecordingHandler::install(&lp);
        // Not awaited: run still waits for the executor's jobs at shutdown.
        let _job = lp.run_in_executor(None, move || {
            std::thread::sleep(Duration::from_millis(50));
            d.store(true, Ordering::SeqCst);
        })?;
        Ok::<(), switchboard::Error>(())
    })
    .expect("run");
    assert!(
        done.load(Ordering::SeqCst),
        "run returned before the job ended"
    );
}

// ---- one Error ----------------------------------------------------------

/// Every public error goes through `?` into `switchboard::Error`.
fn all_errors(which: u8) -> switchboard::Result<()> {
    match which {
        0 => Err(LoopError::Closed)?,
        1 => Err(NetError::InvalidArgs("x"))?,
        2 => Err(TaskError::Cancelled { name: "t".into() })?,
        3 => Err(SignalError::Uncatchable(Signal::SIGKILL))?,
        4 => Err(switchboard::ExecutorError::Shutdown)?,
        5 => Err(switchboard::SendError::Stopped(5u8))?,
        6 => Err(CallError::NoReply)?,
        7 => Err(switchboard::TimeoutError { seconds: 1.0 })?,
        8 => Err(switchboard::FutureError::<LoopError>::Cancelled)?,
        9 => Err(ProtocolError::failed("p"))?,
        10 => Err(switchboard::WriteError::AfterWriteEof)?,
        11 => Err(std::io::Error::other("io"))?,
        _ => Ok(()),
    }
}

#[test]
fn every_public_error_converts_into_error_with_one_question_mark() {
    let names: Vec<String> = (0..12)
        .map(|i| format!("{:?}", all_errors(i).unwrap_err()))
        .collect();
    for (i, prefix) in [
        "Loop", "Net", "Task", "Signal", "Executor", "Send", "Call", "Timeout", "Future",
        "Protocol", "Write", "Io",
    ]
    .iter()
    .enumerate()
    {
        assert!(names[i].starts_with(prefix), "{i}: {}", names[i]);
    }
}

#[test]
fn an_error_keeps_its_os_source_and_its_display_gives_the_reason_too() {
    support::run(|lp| async move {
        let _z4 = support::RecordingHandler::install(&lp);
        let taken = std::net::TcpListener::bind("127.0.0.1:0")?;
        let addr = taken.local_addr()?;
        let err: switchboard::Error = lp
            .create_server(|| Echo)
            .addr(addr)
            .reuse_address(false)
            .await
            .expect_err("the port is taken")
            .into();
        let source = err.source().expect("the bind error has a source");
        let os = source
            .downcast_ref::<std::io::Error>()
            .expect("the source is the io::Error itself");
        assert_eq!(os.kind(), std::io::ErrorKind::AddrInUse);
        let shown = err.to_string();
        assert!(shown.contains(&addr.to_string()), "{shown}");
        assert!(
            shown.ends_with(&format!(": {os}")),
            "Display leaves out the OS reason: {shown}"
        );
        Ok::<(), switchboard::Error>(())
    })
    .expect("run");
}

// ---- IntoFuture and tasks --------------------------------------------------

#[test]
fn run_until_complete_and_create_task_take_into_future_builders() {
    let (lp, _z4) = support::new_loop();
    let server = lp
        .run_until_complete(lp.create_server(|| Echo).host("127.0.0.1").port(0))
        .expect("loop ran")
        .expect("served");
    let port = server.sockets()[0].port();
    let task = lp
        .create_task(lp.create_connection(|| Echo).host("127.0.0.1").port(port))
        .expect("task");
    let conn = lp
        .run_until_complete(task)
        .expect("loop ran")
        .expect("connected");
    conn.transport.close();
    server.close();
    lp.close().expect("close");
}

#[test]
fn awaiting_a_task_gives_its_output_and_run_until_complete_does_not_wrap_it() {
    let (lp, _z4) = support::new_loop();
    let inner = lp.create_task(async { 20 }).expect("task");
    let outer = lp
        .create_task(async move { inner.await + 1 })
        .expect("task");
    let v: i32 = lp.run_until_complete(outer).expect("one layer");
    assert_eq!(v, 21);
}

#[test]
// The awaiting task is the point: the failure must cross an `.await`.
#[allow(clippy::redundant_async_block)]
fn a_panicked_task_fails_its_awaiter_the_same_way_and_join_shows_it() {
    let (lp, _z4) = support::new_loop();
    let handler = support::RecordingHandler::install(&lp);
    let failing = lp.create_task(async { panic!("kaboom") }).expect("task");
    let awaiter = lp.create_task(async move { failing.await }).expect("task");
    match lp.run_until_complete(awaiter) {
        Err(LoopError::Task(TaskError::Panicked { message, .. })) => {
            assert!(message.contains("kaboom"), "{message}")
        }
        other => panic!("expected the panic to propagate, got {other:?}"),
    }
    let failing = lp.create_task(async { panic!("kaboom") }).expect("task");
    let outcome = lp.run_until_complete(failing.join()).expect("loop ran");
    assert!(matches!(outcome, Err(TaskError::Panicked { .. })));
    // Each panic is reported once, where it happened, not again by awaiters.
    assert_eq!(handler.take().len(), 2);
}

#[test]
// The awaiting task is the point: the failure must cross an `.await`.
#[allow(clippy::redundant_async_block)]
fn a_cancelled_task_cancels_its_awaiter() {
    let (lp, _z4) = support::new_loop();
    let sleeper = lp.create_task(lp.sleep(10.0)).expect("task");
    sleeper.set_name("sleeper");
    sleeper.cancel();
    let awaiter = lp.create_task(async move { sleeper.await }).expect("task");
    match lp.run_until_complete(awaiter.join()) {
        Ok(Err(TaskError::Cancelled { name })) => assert_eq!(name, "sleeper"),
        other => panic!("expected the awaiter cancelled, got {other:?}"),
    }
    let sleeper = lp.create_task(lp.sleep(10.0)).expect("task");
    sleeper.cancel();
    match lp.run_until_complete(sleeper) {
        Err(LoopError::Task(TaskError::Cancelled { .. })) => {}
        other => panic!("expected LoopError::Task(Cancelled), got {other:?}"),
    }
}

// ---- ask and reply -----------------------------------------------------------

enum Q {
    Double(u32, ReplyTo<u32>),
    Ignore(ReplyTo<u32>),
    Stop,
    Note(u32),
}

struct Doubler;

impl Actor for Doubler {
    type Message = Q;
    fn handle(&mut self, msg: Q, ctx: &mut ActorContext<'_, Q>) {
        match msg {
            Q::Double(n, reply) => {
                let _ = reply.send(n * 2);
            }
            Q::Ignore(reply) => drop(reply),
            Q::Stop => ctx.stop(),
            Q::Note(_) => {}
        }
    }
}

#[test]
fn call_answers_and_a_dropped_reply_or_stopped_actor_ends_it_with_an_error() {
    support::run(|lp| async move {
        let _z4 = support::RecordingHandler::install(&lp);
        let addr = lp.spawn(Doubler)?;
        assert_eq!(addr.call(|r| Q::Double(21, r)).await?, 42);
        assert_eq!(addr.call(Q::Ignore).await, Err(CallError::NoReply));
        // A question queued behind the stop: the actor stops with it unread.
        addr.send(Q::Stop)?;
        let late = addr.call(|r| Q::Double(1, r));
        assert_eq!(late.await, Err(CallError::NoReply));
        // Once stopped, nothing is delivered at all.
        assert_eq!(
            addr.call(|r| Q::Double(1, r)).await,
            Err(CallError::Stopped)
        );
        assert!(!addr.is_alive());
        let refused = addr.send(Q::Note(9)).expect_err("stopped");
        assert!(
            matches!(refused, switchboard::SendError::Stopped(Q::Note(9))),
            "the message comes back"
        );
        let as_error: switchboard::Error = refused.into();
        assert!(matches!(as_error, switchboard::Error::Send));
        let as_protocol: ProtocolError = addr.send(Q::Note(1)).unwrap_err().into();
        assert!(matches!(as_protocol, ProtocolError::Send));
        Ok::<(), switchboard::Error>(())
    })
    .expect("run");
}

#[test]
fn call_works_from_another_thread_with_a_send_reply() {
    let (lp, _z4) = support::new_loop();
    let addr = lp.spawn(Doubler).expect("spawn");
    let stop = lp.handle();
    let asker = std::thread::spawn(move || {
        // A separate loop on this thread awaits the answer.
        let answer = support::run(|_lp| async move {
            Ok::<_, switchboard::Error>(addr.call(|r| Q::Double(5, r)).await?)
        });
        stop.stop();
        answer
    });
    support::run_forever_with_deadline(&lp);
    assert_eq!(asker.join().expect("thread").expect("answer"), 10);
}

// ---- wait_for, gather, sleep ---------------------------------------------------

struct SetOnDrop(Rc<RefCell<bool>>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        *self.0.borrow_mut() = true;
    }
}

#[test]
fn wait_for_times_out_on_the_loop_clock_and_drops_the_inner_future() {
    let dropped = Rc::new(RefCell::new(false));
    let d = dropped.clone();
    support::run(|lp| async move {
        let _z4 = support::RecordingHandler::install(&lp);
        let t0 = lp.time();
        let guard = SetOnDrop(d.clone());
        let slow = async move {
            let _guard = guard;
            switchboard::sleep(30.0).await;
            1
        };
        let out = switchboard::wait_for(slow, 0.05).await;
        assert_eq!(out, Err(switchboard::TimeoutError { seconds: 0.05 }));
        assert!(lp.time() - t0 >= 0.05, "timed out early");
        assert!(*d.borrow(), "the inner future was not dropped");
        let quick = switchboard::wait_for(async { 3 }, Duration::from_secs(5)).await?;
        assert_eq!(quick, 3);
        Ok::<(), switchboard::Error>(())
    })
    .expect("run");
    assert!(*dropped.borrow());
}

#[test]
fn gather_resolves_to_outputs_in_the_order_given() {
    support::run(|lp| async move {
        let _z4 = support::RecordingHandler::install(&lp);
        let t0 = lp.time();
        let tasks = [0.03, 0.01, 0.02].map(|d| {
            lp.create_task(async move {
                switchboard::sleep(d).await;
                d
            })
        });
        let tasks: Vec<_> = tasks.into_iter().collect::<Result<_, _>>()?;
        let outs = switchboard::gather(tasks).await;
        assert_eq!(outs, vec![0.03, 0.01, 0.02]);
        let took = lp.time() - t0;
        assert!(
            (0.03..0.06).contains(&took),
            "ran one after another? {took}"
        );
        let empty: Vec<u8> = switchboard::gather(Vec::<std::future::Ready<u8>>::new()).await;
        assert!(empty.is_empty());
        Ok::<(), switchboard::Error>(())
    })
    .expect("run");
}

#[test]
fn sleep_resolves_to_unit_after_its_delay() {
    support::run(|lp| async move {
        let _z4 = support::RecordingHandler::install(&lp);
        let t0 = lp.time();
        let () = switchboard::sleep(Duration::from_millis(20)).await;
        assert!(lp.time() - t0 >= 0.02);
        let () = switchboard::sleep(f64::NAN).await;
        Ok::<(), switchboard::Error>(())
    })
    .expect("run");
}

// ---- Signal ------------------------------------------------------------------------

#[test]
fn signals_are_our_own_type_and_uncatchable_ones_are_refused() {
    assert_eq!(Signal::try_from(2).ok(), Some(Signal::SIGINT));
    assert!(matches!(
        Signal::try_from(999),
        Err(SignalError::InvalidSignal(999))
    ));
    assert_eq!(i32::from(Signal::SIGTERM), Signal::SIGTERM as i32);
    let (lp, _z4) = support::new_loop();
    for sig in [Signal::SIGKILL, Signal::SIGSTOP] {
        assert!(matches!(
            lp.add_signal_handler(sig, || {}),
            Err(SignalError::Uncatchable(s)) if s == sig
        ));
    }
}
