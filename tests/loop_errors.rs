//! Error handling and debug mode: BEHAVIOR Z1, Z2, Z4 and D1–D3.
//!
//! Mirrors <https://docs.python.org/3/library/asyncio-eventloop.html#error-handling-api>
//! and <https://docs.python.org/3/library/asyncio-eventloop.html#enabling-debug-mode>
//! (see also <https://docs.python.org/3/library/asyncio-dev.html#debug-mode>).
//! Z3 (transport and server contexts) belongs to the transport tests.

mod support;

use std::cell::RefCell;
use std::process::Command;
use std::rc::Rc;
use std::time::Duration;

use support::{logs, new_loop, run_forever_with_deadline, stop_soon};
use switchboard::{EventLoop, Exception, ExceptionContext, LoopError, TaskError};

type Log<T> = Rc<RefCell<Vec<T>>>;

fn log<T>() -> Log<T> {
    Rc::new(RefCell::new(Vec::new()))
}

/// Runs the callbacks scheduled so far, and the ones they schedule.
fn run_briefly(lp: &EventLoop) {
    let l = lp.clone();
    lp.call_later(0.001, move || l.stop()).unwrap();
    run_forever_with_deadline(lp);
}

fn mine_at(level: log::Level) -> Vec<String> {
    logs::take_mine()
        .into_iter()
        .filter(|r| r.level == level)
        .map(|r| r.message)
        .collect()
}

// ----------------------------------------------------- Z: exception handler

#[test]
fn z1_callback_panic_context_has_message_exception_and_handle() {
    let (lp, handler) = new_loop();
    let (h, line) = (lp.call_soon(|| panic!("boom")).unwrap(), line!());
    let (t, tline) = (lp.call_later(0.0, || panic!("late boom")).unwrap(), line!());
    run_briefly(&lp);
    let calls = handler.take();
    assert_eq!(calls.len(), 2);

    for (ctx, line, message) in [(&calls[0], line, "boom"), (&calls[1], tline, "late boom")] {
        let here = format!("{}:{line}:", file!());
        let handle = ctx.handle.as_deref().expect("the handle key is set");
        assert!(handle.contains(&here), "{handle} was not created at {here}");
        assert_eq!(ctx.message, format!("Exception in callback {handle}"));
        assert!(matches!(&ctx.exception, Some(Exception::Panic(m)) if m == message));
        assert!(ctx.source_traceback.is_none(), "only in debug mode (D3)");
        assert!(ctx.task.is_none() && ctx.transport.is_none() && ctx.context.is_none());
    }
    assert!(!h.cancelled() && !t.cancelled());
}

#[test]
fn z1_set_exception_handler_none_restores_the_default_handler() {
    logs::install();
    let (lp, handler) = new_loop();
    assert!(lp.get_exception_handler().is_some());
    lp.set_exception_handler(None);
    assert!(lp.get_exception_handler().is_none());

    lp.call_soon(|| panic!("to the default handler")).unwrap();
    run_briefly(&lp);
    // The default handler logs at ERROR, with the whole context.
    let errors = mine_at(log::Level::Error);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("Exception in callback <Handle"),
        "{}",
        errors[0]
    );
    assert!(
        errors[0].contains("to the default handler"),
        "{}",
        errors[0]
    );
    assert!(errors[0].contains("handle: <Handle"), "{}", errors[0]);
    assert!(handler.take().is_empty(), "the old handler is gone");
}

#[test]
fn z1_call_exception_handler_reaches_the_custom_handler_or_the_default() {
    logs::install();
    let (lp, handler) = new_loop();
    let mut ctx = ExceptionContext::new("custom report");
    ctx.socket = Some("<socket fd=7>".into());
    lp.call_exception_handler(ctx);
    let got = handler.take_one();
    assert_eq!(got.message, "custom report");
    assert_eq!(got.socket.as_deref(), Some("<socket fd=7>"));

    lp.set_exception_handler(None);
    lp.call_exception_handler(ExceptionContext::new("to the log"));
    let errors = mine_at(log::Level::Error);
    assert_eq!(errors, ["to the log"]);
}

#[test]
fn z2_fault_18_a_panicking_handler_is_logged_and_the_loop_goes_on() {
    logs::install();
    let (lp, _handler) = new_loop();
    let seen: Log<String> = log();
    let s = seen.clone();
    lp.set_exception_handler(Some(Rc::new(move |_lp, ctx| {
        s.borrow_mut().push(ctx.message.clone());
        panic!("the handler itself failed");
    })));
    let ran: Log<&str> = log();
    lp.call_soon(|| panic!("original failure")).unwrap();
    let r = ran.clone();
    lp.call_soon(move || r.borrow_mut().push("next callback"))
        .unwrap();
    run_briefly(&lp);

    assert_eq!(*ran.borrow(), ["next callback"]);
    assert_eq!(seen.borrow().len(), 1);
    let errors = mine_at(log::Level::Error);
    assert_eq!(errors.len(), 1, "{errors:?}");
    let e = &errors[0];
    assert!(e.starts_with("Unhandled error in exception handler"), "{e}");
    assert!(e.contains("the handler itself failed"), "{e}");
    // The default handler got the original context under `context`.
    assert!(e.contains("context: Exception in callback"), "{e}");
    assert!(e.contains("original failure"), "{e}");
}

#[test]
fn z2_a_broken_default_handler_is_logged_and_the_loop_goes_on() {
    logs::install();
    let (lp, _handler) = new_loop();
    lp.set_exception_handler(None);
    // The logger panics on this message, so the default handler fails.
    let marker = logs::PANIC_MARKER;
    lp.call_soon(move || panic!("{marker}")).unwrap();
    let ran: Log<&str> = log();
    let r = ran.clone();
    lp.call_soon(move || r.borrow_mut().push("next callback"))
        .unwrap();
    run_briefly(&lp);
    assert_eq!(*ran.borrow(), ["next callback"]);
    let errors = mine_at(log::Level::Error);
    assert_eq!(errors, ["Exception in default exception handler"]);
}

#[test]
#[should_panic(expected = "unexpected calls to the loop's exception handler")]
fn z4_an_unexpected_handler_call_fails_the_test() {
    let (lp, _handler) = new_loop();
    lp.call_soon(|| panic!("nobody expects this")).unwrap();
    stop_soon(&lp).unwrap();
    lp.run_forever().unwrap();
    // `_handler` is dropped here with a call nobody took.
}

#[test]
fn z4_a_task_panic_is_one_handler_call_with_the_task_key() {
    let (lp, handler) = new_loop();
    let t = lp
        .create_task(async {
            panic!("task boom");
        })
        .unwrap();
    t.set_name("failing");
    let out = lp.run_until_complete(t);
    assert!(
        matches!(
            &out,
            Err(LoopError::Task(TaskError::Panicked { name, message }))
                if name == "failing" && message == "task boom"
        ),
        "{out:?}"
    );
    let ctx = handler.take_one();
    assert_eq!(ctx.task.as_deref(), Some("<Task name=\"failing\">"));
    assert!(matches!(&ctx.exception, Some(Exception::Panic(m)) if m == "task boom"));
}

// ------------------------------------------------------------ D: debug mode

#[test]
fn d1_set_debug_round_trips() {
    let (lp, _handler) = new_loop();
    assert!(!lp.get_debug());
    lp.set_debug(true);
    assert!(lp.get_debug());
    assert!(format!("{lp:?}").contains("debug=true"));
    lp.set_debug(false);
    assert!(!lp.get_debug());
    assert_eq!(lp.slow_callback_duration(), Duration::from_millis(100));
    lp.set_slow_callback_duration(Duration::from_millis(5));
    assert_eq!(lp.slow_callback_duration(), Duration::from_millis(5));
}

/// Set in the child process: what `get_debug()` must say there.
const CHILD_EXPECTS: &str = "SWITCHBOARD_TEST_CHILD_EXPECTS_DEBUG";

#[test]
fn d1_env_var_turns_debug_on_in_a_child_process() {
    if let Ok(expected) = std::env::var(CHILD_EXPECTS) {
        // The child: a new loop reads SWITCHBOARD_DEBUG.
        let lp = switchboard::new_event_loop().unwrap();
        assert_eq!(
            lp.get_debug(),
            expected == "on",
            "SWITCHBOARD_DEBUG={:?}",
            std::env::var("SWITCHBOARD_DEBUG")
        );
        return;
    }
    let name = "d1_env_var_turns_debug_on_in_a_child_process";
    for (value, expected) in [
        (Some("1"), "on"),
        (Some("yes"), "on"),
        (Some("0"), "off"),
        (Some(""), "off"),
        (None, "off"),
    ] {
        let mut child = Command::new(std::env::current_exe().unwrap());
        child
            .args([name, "--exact", "--test-threads=1"])
            .env(CHILD_EXPECTS, expected);
        match value {
            Some(v) => child.env("SWITCHBOARD_DEBUG", v),
            None => child.env_remove("SWITCHBOARD_DEBUG"),
        };
        let out = child.output().expect("re-run the test binary");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "SWITCHBOARD_DEBUG={value:?}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn d2_slow_callbacks_timers_and_task_steps_are_logged_in_debug_mode() {
    logs::install();
    let (lp, _handler) = new_loop();
    lp.set_debug(true);
    lp.set_slow_callback_duration(Duration::from_millis(20));
    let block = || std::thread::sleep(Duration::from_millis(30));
    lp.call_soon(block).unwrap();
    lp.call_later(0.0, block).unwrap();
    let t = lp.create_task(async move { block() }).unwrap();
    t.set_name("slow-task");
    // Fast ones are not reported.
    lp.call_soon(|| {}).unwrap();
    run_briefly(&lp);

    let warnings = mine_at(log::Level::Warn);
    assert_eq!(warnings.len(), 3, "{warnings:?}");
    let here = format!("{}:", file!());
    let handles = warnings
        .iter()
        .filter(|w| w.starts_with("Executing <Handle created at ") && w.contains(&here))
        .count();
    assert_eq!(handles, 2, "{warnings:?}");
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("Executing <Task") && w.contains("slow-task")),
        "{warnings:?}"
    );
    for w in &warnings {
        let secs: f64 = w
            .rsplit_once(" took ")
            .and_then(|(_, rest)| rest.strip_suffix(" seconds"))
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no duration in {w}"));
        assert!(secs >= 0.029, "{w}");
    }
}

#[test]
fn d2_slow_callbacks_are_not_logged_outside_debug_mode() {
    logs::install();
    let (lp, _handler) = new_loop();
    lp.set_slow_callback_duration(Duration::from_millis(5));
    lp.call_soon(|| std::thread::sleep(Duration::from_millis(10)))
        .unwrap();
    run_briefly(&lp);
    assert!(mine_at(log::Level::Warn).is_empty());
}

#[test]
fn d3_source_traceback_is_recorded_only_in_debug_mode() {
    let (lp, handler) = new_loop();
    lp.set_debug(true);
    let line = line!() + 1;
    lp.call_soon(|| panic!("debug boom")).unwrap();
    run_briefly(&lp);
    let ctx = handler.take_one();
    let at = ctx.source_traceback.expect("debug mode records where");
    assert_eq!((at.file(), at.line()), (file!(), line));
    assert!(ctx
        .to_string()
        .contains(&format!("created at {}:{line}", file!())));

    // The repr of a handle shows where it was created.
    let h = lp.call_later(10.0, || {}).unwrap();
    assert!(
        format!("{h:?}").contains(&format!("created at {}:", file!())),
        "{h:?}"
    );
    h.cancel();

    lp.set_debug(false);
    lp.call_soon(|| panic!("quiet boom")).unwrap();
    run_briefly(&lp);
    assert!(handler.take_one().source_traceback.is_none());
}

#[test]
fn d3_fault_28_closing_a_debug_loop_with_a_live_server_warns_of_the_unclosed_resource() {
    logs::install();
    let _ = logs::take_mine();
    let (lp, _h) = new_loop();
    lp.set_debug(true);
    let l = lp.clone();
    let server = support::run_with_deadline(&lp, async move {
        l.create_server(|| switchboard::ready_made::Echo)
            .host("127.0.0.1")
            .port(0)
            .await
            .expect("server")
    });
    lp.close().expect("close");
    let warnings = mine_at(log::Level::Warn);
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("unclosed resource") && w.contains("TcpListener")),
        "{warnings:?}"
    );
    assert!(
        server.sockets().is_empty(),
        "the listener was closed with the loop"
    );
}

#[test]
fn d3_dropping_a_debug_loop_unclosed_warns() {
    logs::install();
    let _ = logs::take_mine();
    let lp = EventLoop::new().expect("loop");
    lp.set_debug(true);
    drop(lp);
    let warnings = mine_at(log::Level::Warn);
    assert!(
        warnings.iter().any(|w| w.contains("unclosed event loop")),
        "{warnings:?}"
    );
}

/// A read-pipe protocol that ignores everything.
struct QuietPipe;

impl switchboard::ReadPipeProtocol for QuietPipe {
    fn handle(
        &mut self,
        _: switchboard::ReadPipeEvent,
        _: &mut dyn switchboard::ReadPipeTransport,
    ) -> Result<(), switchboard::ProtocolError> {
        Ok(())
    }
}

/// Fault 28 / D3: a debug loop closed with a live TCP transport and a live
/// pipe transport warns of each (asyncio's ResourceWarning), and the pipe's
/// handle still prints and answers after its loop closed, as closed.
#[test]
fn d3_fault_28_live_transports_at_close_warn_and_a_pipe_handle_prints_after() {
    logs::install();
    let _ = logs::take_mine();
    let (lp, _h) = new_loop();
    lp.set_debug(true);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
    let port = listener.local_addr().expect("addr").port();
    let (r, w) = nix::unistd::pipe().expect("pipe");
    let l = lp.clone();
    let (pipe, conn) = support::run_with_deadline(&lp, async move {
        let pipe = l.connect_read_pipe(|| QuietPipe, r).await.expect("pipe");
        let conn = l
            .create_connection(|| switchboard::ready_made::Echo)
            .host("127.0.0.1")
            .port(port)
            .await
            .expect("connect");
        (pipe, conn)
    });
    let fd = pipe.fileno().expect("open before close");
    lp.close().expect("close");
    let warnings = mine_at(log::Level::Warn);
    let warned = |what: &str| {
        warnings
            .iter()
            .any(|w| w.contains("unclosed resource") && w.contains(what))
    };
    assert!(warned(&format!("UnixReadPipe fd={fd}")), "{warnings:?}");
    assert!(warned("TcpTransport"), "{warnings:?}");

    // The pipe handle after its loop closed: it prints, and says closed.
    let repr = format!("{pipe:?}");
    assert!(repr.contains(&format!("fd: {fd}")), "{repr}");
    assert!(repr.contains("closing: true"), "{repr}");
    assert_eq!(pipe.fileno(), None);
    assert!(pipe.is_closing() && pipe.is_lost());
    pipe.pause_reading();
    pipe.close();
    drop((conn, w, listener));
}
