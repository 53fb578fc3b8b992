//! Shared helpers for the loop's integration tests.
//!
//! * [`RecordingHandler`]: the exception handler every test installs (Z4,
//!   after uvloop's `_testbase`). It records every call, and a test that
//!   ends with calls it did not [`take`](RecordingHandler::take) fails.
//! * [`run_with_deadline`] / [`run_forever_with_deadline`]: run the loop, but
//!   fail the test instead of hanging when the loop does not finish in time.
//! * [`logs`]: a `log::Log` that captures records per thread, for tests of
//!   what the loop logs (default handler, slow callbacks, executor shutdown).
//! * [`Dropped`]: a value that counts its drops, to see when the loop frees
//!   a callback and everything it captured.
//! * [`net`]: loopback servers and clients for the networking tests.
//! * [`script`]: a recording protocol that runs a closure on each event.
//! * [`subprocess`]: a recording subprocess protocol and grammar checks.
//! * [`ctl`]: a fake control socket, the built `switchboard-ctl` and tmux.
//! * [`metrics`]: Python's OpenMetrics parser, for the metrics tests.
#![allow(dead_code)]

pub mod child;
pub mod ctl;
pub mod datagram;
pub mod examples;
pub mod group;
pub mod hostile;
pub mod metrics;
pub mod net;
pub mod sched;
pub mod script;
pub mod scripted;
pub mod stream_echo;
pub mod streams;
pub mod subprocess;
pub mod tls;
pub mod tools;

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use switchboard::{EventLoop, ExceptionContext, LoopError};

/// The longest any test here waits for the loop before it fails. Generous:
/// it only turns a hang into a failure, it never measures speed.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// A fresh loop, with debug mode off whatever `SWITCHBOARD_DEBUG` says (the
/// suite may be run with it set, as uvloop's CI runs once in debug mode), and
/// a [`RecordingHandler`] installed.
pub fn new_loop() -> (EventLoop, RecordingHandler) {
    let lp = EventLoop::new().expect("the OS gives us a poller");
    lp.set_debug(false);
    let handler = RecordingHandler::install(&lp);
    (lp, handler)
}

/// `switchboard::run`, with Z4: a [`RecordingHandler`] on the loop it
/// makes, so a handler call the test did not take fails it once the
/// program's future ends (unless the test installed a handler of its own).
pub fn run<F, Fut, T, E>(main: F) -> Result<T, E>
where
    F: FnOnce(EventLoop) -> Fut,
    Fut: std::future::IntoFuture<Output = Result<T, E>> + 'static,
    Fut::IntoFuture: 'static,
    T: 'static,
    E: From<switchboard::Error> + 'static,
{
    switchboard::run(|lp: EventLoop| {
        let handler = RecordingHandler::install(&lp);
        let fut = main(lp).into_future();
        async move {
            let out = fut.await;
            drop(handler);
            out
        }
    })
}

/// An exception handler that records every call. Dropping it with calls the
/// test did not take fails the test: every handler call must be expected (Z4).
#[derive(Debug)]
pub struct RecordingHandler {
    seen: Rc<RefCell<Vec<ExceptionContext>>>,
}

impl RecordingHandler {
    /// Installs a recording handler on `lp`.
    pub fn install(lp: &EventLoop) -> RecordingHandler {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let log = seen.clone();
        lp.set_exception_handler(Some(Rc::new(
            move |_lp: &EventLoop, ctx: &ExceptionContext| {
                log.borrow_mut().push(ctx.clone());
            },
        )));
        RecordingHandler { seen }
    }

    /// The calls so far, which are now expected; the record starts empty again.
    pub fn take(&self) -> Vec<ExceptionContext> {
        std::mem::take(&mut *self.seen.borrow_mut())
    }

    /// The record itself, to wait on from inside the loop (a report may
    /// come a turn after what caused it); take the calls with
    /// [`take`](Self::take) or [`take_one`](Self::take_one) afterwards.
    pub fn watch(&self) -> Rc<RefCell<Vec<ExceptionContext>>> {
        self.seen.clone()
    }

    /// Asserts there was exactly one call so far and returns it.
    pub fn take_one(&self) -> ExceptionContext {
        let mut calls = self.take();
        let messages: Vec<_> = calls.iter().map(|c| c.message.clone()).collect();
        assert_eq!(
            calls.len(),
            1,
            "expected one handler call, got {messages:?}"
        );
        calls.remove(0)
    }
}

impl Drop for RecordingHandler {
    fn drop(&mut self) {
        let seen = self.seen.borrow();
        if !seen.is_empty() && !std::thread::panicking() {
            let messages: Vec<_> = seen.iter().map(|c| c.message.clone()).collect();
            panic!("unexpected calls to the loop's exception handler: {messages:?}");
        }
    }
}

/// Runs `fut` to completion, failing the test if the loop has not finished
/// after [`DEADLINE`].
pub fn run_with_deadline<F>(lp: &EventLoop, fut: F) -> F::Output
where
    F: Future + 'static,
    F::Output: 'static,
{
    let fired = Rc::new(RefCell::new(false));
    let flag = fired.clone();
    let stopper = lp.clone();
    let guard = lp
        .call_later(DEADLINE, move || {
            *flag.borrow_mut() = true;
            stopper.stop();
        })
        .expect("loop is open");
    let out = lp.run_until_complete(fut);
    guard.cancel();
    assert!(
        !*fired.borrow(),
        "the loop did not finish within {DEADLINE:?}"
    );
    out.expect("run_until_complete failed")
}

/// Runs the loop until something stops it, failing the test if that has not
/// happened after [`DEADLINE`].
pub fn run_forever_with_deadline(lp: &EventLoop) {
    let fired = Rc::new(RefCell::new(false));
    let flag = fired.clone();
    let stopper = lp.clone();
    let guard = lp
        .call_later(DEADLINE, move || {
            *flag.borrow_mut() = true;
            stopper.stop();
        })
        .expect("loop is open");
    lp.run_forever().expect("run_forever failed");
    guard.cancel();
    assert!(
        !*fired.borrow(),
        "the loop did not stop within {DEADLINE:?}"
    );
}

/// Schedules `lp.stop()` with `call_soon`.
pub fn stop_soon(lp: &EventLoop) -> Result<(), LoopError> {
    let l = lp.clone();
    lp.call_soon(move || l.stop()).map(|_| ())
}

/// A value that counts how many times it was dropped.
#[derive(Debug)]
pub struct Dropped(pub Arc<AtomicUsize>);

impl Dropped {
    /// A new counter and a first value counting into it.
    pub fn new() -> (Arc<AtomicUsize>, Dropped) {
        let counter = Arc::new(AtomicUsize::new(0));
        (counter.clone(), Dropped(counter))
    }
}

impl Drop for Dropped {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A capturing logger. Records carry the name of the thread that logged them,
/// so parallel tests (each runs its loop on its own test thread) only see
/// their own records.
pub mod logs {
    use std::sync::{Mutex, Once};

    /// One captured record.
    #[derive(Debug, Clone)]
    pub struct Record {
        /// The name of the thread that logged it.
        pub thread: Option<String>,
        /// The level.
        pub level: log::Level,
        /// The formatted message.
        pub message: String,
    }

    static RECORDS: Mutex<Vec<Record>> = Mutex::new(Vec::new());
    static INSTALL: Once = Once::new();

    /// If a message contains this, the logger panics instead of recording it
    /// (to test a broken default handler, Z2).
    pub const PANIC_MARKER: &str = "<<make the logger panic>>";

    struct Capture;
    static CAPTURE: Capture = Capture;

    impl log::Log for Capture {
        fn enabled(&self, _: &log::Metadata<'_>) -> bool {
            true
        }

        fn log(&self, record: &log::Record<'_>) {
            let message = record.args().to_string();
            if message.contains(PANIC_MARKER) {
                panic!("the logger was asked to panic");
            }
            let rec = Record {
                thread: std::thread::current().name().map(String::from),
                level: record.level(),
                message,
            };
            RECORDS.lock().unwrap_or_else(|p| p.into_inner()).push(rec);
        }

        fn flush(&self) {}
    }

    /// Installs the capturing logger (once per test binary).
    pub fn install() {
        INSTALL.call_once(|| {
            log::set_logger(&CAPTURE).expect("no other logger in tests");
            log::set_max_level(log::LevelFilter::Trace);
        });
    }

    /// Takes the records the current thread logged so far.
    pub fn take_mine() -> Vec<Record> {
        let me = std::thread::current().name().map(String::from);
        let mut all = RECORDS.lock().unwrap_or_else(|p| p.into_inner());
        let (mine, others): (Vec<_>, Vec<_>) = all.drain(..).partition(|r| r.thread == me);
        *all = others;
        mine
    }
}

/// Lets the loop run `n` more iterations: each step wakes its own task and
/// yields, so the task runs again on the next turn. For negative checks ("no
/// further event comes") about events the loop raises itself: anything already
/// due shows up within a turn or two, with no wall-clock wait.
pub async fn turns(n: usize) {
    struct YieldNow(bool);
    impl Future for YieldNow {
        type Output = ();
        fn poll(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<()> {
            if self.0 {
                std::task::Poll::Ready(())
            } else {
                self.0 = true;
                cx.waker().wake_by_ref();
                std::task::Poll::Pending
            }
        }
    }
    for _ in 0..n {
        YieldNow(false).await;
    }
}

/// The soft and hard RLIMIT_NOFILE of this process.
#[allow(dead_code)]
pub fn nofile_limit() -> std::io::Result<(u64, u64)> {
    nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .map_err(std::io::Error::from)
}

/// Sets the soft RLIMIT_NOFILE (the hard limit stays).
#[allow(dead_code)]
pub fn set_nofile_soft(soft: u64) -> std::io::Result<()> {
    let (_, hard) = nofile_limit()?;
    nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, soft, hard)
        .map_err(std::io::Error::from)
}
