//! The public API's conventions: `run`, one `Error`, `IntoFuture`, tasks that
//! do not stack results, ask and reply, `wait_for`/`gather`/`sleep`, our own
//! `Signal`, framing for stateful protocols, what a protocol can do inside its
//! handler (pause state, timers, socket options), builders and `Display`s.
//!
//! See <https://docs.python.org/3/library/asyncio-runner.html> for `run`, and
//! <https://docs.python.org/3/library/asyncio-task.html> for `wait_for`,
//! `gather` and `sleep`.

mod support;

use std::cell::RefCell;
use std::error::Error as _;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use switchboard::prelude::*;
use switchboard::ready_made::{Echo, FrameHandler, Lines};
use switchboard::testing::FakeConnection;
use switchboard::{CallError, LoopError, NetError, SignalError, TaskError};

// ---- run ---------------------------------------------------------------

#[test]
fn run_returns_the_future_output_and_closes_its_loop() {
    let kept = Rc::new(RefCell::new(None));
    let k = kept.clone();
    let out = switchboard::run(|lp| async move {
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
    let mine: Result<(), AppError> = switchboard::run(|_lp| async { Err(AppError::Mine) });
    assert!(matches!(mine, Err(AppError::Mine)));
    // A failure inside, through `?`, arrives as the same E (one `?` outside).
    let inner: Result<(), AppError> = switchboard::run(|lp| async move {
        let t = lp
            .create_task(async { panic!("inner boom") })
            .map_err(switchboard::Error::from)?;
        t.join().await.map_err(switchboard::Error::from)?;
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
    let out = switchboard::run(|_lp| async {
        let nested = switchboard::run(|_lp| async { Ok::<_, switchboard::Error>(()) });
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
    switchboard::run(|lp| async move {
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
fn an_error_keeps_its_os_source_and_its_display_does_not_repeat_it() {
    switchboard::run(|lp| async move {
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
            !shown.contains(&os.to_string()),
            "Display repeats the source: {shown}"
        );
        Ok::<(), switchboard::Error>(())
    })
    .expect("run");
}

// ---- IntoFuture and tasks --------------------------------------------------

#[test]
fn run_until_complete_and_create_task_take_into_future_builders() {
    let lp = switchboard::new_event_loop().expect("loop");
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
    let lp = switchboard::new_event_loop().expect("loop");
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
    let lp = switchboard::new_event_loop().expect("loop");
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
    let lp = switchboard::new_event_loop().expect("loop");
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
    switchboard::run(|lp| async move {
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
    let lp = switchboard::new_event_loop().expect("loop");
    let addr = lp.spawn(Doubler).expect("spawn");
    let stop = lp.handle();
    let asker = std::thread::spawn(move || {
        // A separate loop on this thread awaits the answer.
        let answer = switchboard::run(|_lp| async move {
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
    switchboard::run(|lp| async move {
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
    switchboard::run(|lp| async move {
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
    switchboard::run(|lp| async move {
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
    let lp = switchboard::new_event_loop().expect("loop");
    for sig in [Signal::SIGKILL, Signal::SIGSTOP] {
        assert!(matches!(
            lp.add_signal_handler(sig, || {}),
            Err(SignalError::Uncatchable(s)) if s == sig
        ));
    }
}

// ---- framing for a stateful protocol ------------------------------------------------

/// A line handler with its own state and its own message type.
#[derive(Default)]
struct Tally {
    lines: Vec<String>,
    events: Vec<&'static str>,
}

impl FrameHandler<u8> for Tally {
    fn frame(&mut self, line: Bytes, t: &mut dyn StreamTransport<u8>) -> Result<(), ProtocolError> {
        self.lines.push(String::from_utf8_lossy(&line).into_owned());
        t.write(&line)
            .map_err(ProtocolError::from)
            .and_then(|()| Ok(t.write(b"\n")?))
    }
    fn event(
        &mut self,
        ev: StreamEvent<u8>,
        _t: &mut dyn StreamTransport<u8>,
    ) -> Result<(), ProtocolError> {
        self.events.push(match ev {
            StreamEvent::ConnectionMade => "made",
            StreamEvent::Message(_) => "message",
            StreamEvent::EofReceived => "eof",
            StreamEvent::ConnectionLost(_) => "lost",
            _ => "other",
        });
        Ok(())
    }
}

#[test]
fn framed_lines_serve_a_stateful_protocol_with_its_own_messages_and_strip_crlf() {
    let protocol = Lines::with_handler(64, Tally::default()).strip_cr(true);
    let mut conn = FakeConnection::<u8>::from_protocol(switchboard::AnyStreamProtocol::Stream(
        Box::new(protocol),
    ));
    conn.connect().expect("made");
    conn.receive(b"one\r\ntw").expect("data");
    conn.message(7).expect("message");
    conn.receive(b"o\r\nthree").expect("data");
    conn.receive_eof().expect("eof");
    assert_eq!(conn.transport().written(), b"one\ntwo\nthree\n");
}

// ---- inside a handler: pause state, timers, socket options -----------------------

/// Writes until the transport says writing is paused, records what it saw.
struct Producer {
    seen: Rc<RefCell<Vec<String>>>,
}

impl StreamProtocol for Producer {
    fn handle(
        &mut self,
        ev: StreamEvent,
        t: &mut dyn StreamTransport,
    ) -> Result<(), ProtocolError> {
        match ev {
            StreamEvent::ConnectionMade => {
                let s = t.socket().expect("open socket");
                s.set_nodelay(false)?;
                s.set_keepalive(true)?;
                s.set_linger(Some(Duration::from_secs(1)))?;
                s.set_send_buffer_size(4096)?;
                let opts = format!(
                    "nodelay={} keepalive={} linger={:?} sndbuf_set={}",
                    s.nodelay()?,
                    s.keepalive()?,
                    s.linger()?,
                    s.send_buffer_size()? > 0
                );
                self.seen.borrow_mut().push(opts);
                let mut writes = 0;
                while !t.is_writing_paused() {
                    t.write(&[0; 16 * 1024])?;
                    writes += 1;
                }
                let over = t.get_write_buffer_size() > t.get_write_buffer_limits().high;
                self.seen
                    .borrow_mut()
                    .push(format!("paused after {writes} writes, over high: {over}"));
                t.call_later(Duration::from_millis(20), 7);
            }
            StreamEvent::PauseWriting => self.seen.borrow_mut().push("PauseWriting".into()),
            StreamEvent::TimerFired(token) => {
                self.seen.borrow_mut().push(format!("TimerFired({token})"));
                t.abort();
            }
            _ => {}
        }
        Ok(())
    }
}

#[test]
fn a_protocol_reads_its_pause_state_sets_timers_and_socket_options_inside_its_handler() {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    switchboard::run(|lp| async move {
        // A peer that never reads: the kernel buffers fill, writes queue.
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let addr: SocketAddr = listener.local_addr()?;
        let conn = lp
            .create_connection(move || Producer { seen: s })
            .addr(addr)
            .await?;
        let (_peer, _) = listener.accept()?;
        let lost = conn.transport.clone();
        let until = switchboard::wait_for(
            async move {
                while !lost.is_lost() {
                    switchboard::sleep(0.005).await;
                }
            },
            10.0,
        );
        until.await?;
        Ok::<(), switchboard::Error>(())
    })
    .expect("run");
    let seen = seen.borrow();
    assert_eq!(
        seen[0],
        "nodelay=false keepalive=true linger=Some(1s) sndbuf_set=true"
    );
    assert!(seen[1].ends_with("over high: true"), "{seen:?}");
    assert_eq!(&seen[2..], ["PauseWriting", "TimerFired(7)"]);
}

// ---- builders and Display -----------------------------------------------------------

#[test]
fn host_means_one_host_on_both_builders_and_hosts_takes_a_list() {
    switchboard::run(|lp| async move {
        let one = lp
            .create_server(|| Echo)
            .host("127.0.0.2")
            .host("127.0.0.1")
            .port(0)
            .await?;
        let socks = one.sockets();
        assert_eq!(socks.len(), 1, "host replaces: {socks:?}");
        assert_eq!(socks[0].ip().to_string(), "127.0.0.1");
        let two = lp
            .create_server(|| Echo)
            .hosts(["127.0.0.1", "127.0.0.2"])
            .port(0)
            .await?;
        assert_eq!(two.sockets().len(), 2);
        let conn = lp.create_connection(|| Echo).addr(socks[0]).await?;
        assert_eq!(
            conn.transport.peername(),
            Some(switchboard::Address::Inet(socks[0]))
        );
        assert_eq!(one.to_string(), format!("<Server sockets=[{}]>", socks[0]));
        assert!(format!("{one:?}").starts_with("Server {"));
        conn.transport.close();
        one.close();
        two.close();
        Ok::<(), switchboard::Error>(())
    })
    .expect("run");
}

// ---- diagnostics ------------------------------------------------------------------------

#[test]
fn without_a_logger_debug_warnings_reach_stderr() {
    if std::env::var_os("SWITCHBOARD_API_CHILD").is_some() {
        // The child: debug mode, a server left open at close.
        let lp = switchboard::new_event_loop().expect("loop");
        lp.set_debug(true);
        let server = lp.run_until_complete(lp.create_server(|| Echo).host("127.0.0.1").port(0));
        let _server = server.expect("loop ran").expect("served");
        lp.close().expect("close");
        println!("child done");
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "without_a_logger_debug_warnings_reach_stderr",
            "--exact",
            "--nocapture",
        ])
        .env("SWITCHBOARD_API_CHILD", "1")
        .output()
        .expect("re-exec the test binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("child done"),
        "{stdout}\n{stderr}"
    );
    assert!(
        stderr.contains("switchboard: warn: unclosed resource at loop close"),
        "no warning on stderr:\n{stderr}"
    );
}

// ---- the prelude -----------------------------------------------------------------------

/// Names every item the prelude promises; compiling is the test.
#[allow(dead_code, clippy::too_many_arguments)]
fn prelude_names(
    _: EventLoop,
    _: &dyn StreamTransport,
    _: StreamEvent,
    _: BufferedEvent,
    _: Addr<u8>,
    _: ReplyTo<u8>,
    _: ProtocolError,
    _: Bytes,
    _: Signal,
    _: &ActorContext<'_, u8>,
) {
    fn protocol<P: StreamProtocol>() {}
    fn buffered<P: BufferedProtocol>() {}
    fn actor<A: Actor>() {}
    protocol::<Echo>();
    let _ = (
        buffered::<switchboard::testing::RecordingBufferedProtocol>,
        actor::<Doubler>,
    );
}

#[test]
fn the_first_write_dropped_after_close_warns_on_stderr_without_a_logger() {
    if std::env::var_os("SWITCHBOARD_API_CHILD").is_some() {
        switchboard::run(|lp| async move {
            let server = lp.create_server(|| Echo).host("127.0.0.1").port(0).await?;
            let conn = lp
                .create_connection(|| Echo)
                .addr(server.sockets()[0])
                .await?;
            conn.transport.close();
            conn.transport.write(&b"late"[..]);
            switchboard::sleep(0.01).await;
            server.close();
            Ok::<(), switchboard::Error>(())
        })
        .expect("run");
        println!("child done");
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "the_first_write_dropped_after_close_warns_on_stderr_without_a_logger",
            "--exact",
            "--nocapture",
        ])
        .env("SWITCHBOARD_API_CHILD", "1")
        .output()
        .expect("re-exec the test binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("child done"),
        "{stdout}\n{stderr}"
    );
    assert!(
        stderr.contains("switchboard: warn:") && stderr.contains("4 bytes dropped"),
        "no warning for the first dropped write on stderr:\n{stderr}"
    );
}
