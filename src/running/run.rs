//! `switchboard::run`: asyncio's `asyncio.run`.

use std::future::IntoFuture;

use crate::error::{Error, LoopError};
use crate::event_loop::EventLoop;

/// Closes the loop and clears the current loop however `run` ends, also when
/// an [`Interrupt`](crate::Interrupt) unwinds through it.
struct CloseOnExit(EventLoop);

impl Drop for CloseOnExit {
    fn drop(&mut self) {
        crate::current::set_event_loop(None);
        let _ = self.0.close();
    }
}

/// Runs `main` on a new event loop and returns its result (asyncio's
/// `asyncio.run`).
///
/// `run` makes a loop from the current policy and sets it as this thread's
/// current loop, calls `main` with it, runs the future `main` returns until it
/// completes, shuts the default executor down (waiting for its jobs), closes
/// the loop (dropping tasks that are still pending) and returns the future's
/// output. The future returns `Result<T, E>` for any `E` that an [`Error`]
/// converts into (`switchboard::Error` itself, `Box<dyn std::error::Error>`,
/// an error type of your own with `From<switchboard::Error>`), and so does
/// `run`: a failure of the loop itself comes back as that `E`, so one `?`
/// handles both.
///
/// # Ctrl+C
///
/// On the main thread, a SIGINT that no handler wants ends `run` with
/// [`LoopError::Interrupted`] (as `Error::Loop`), instead of killing the
/// process: the loop stops where it is and is closed as below, without
/// waiting for executor jobs (asyncio's `asyncio.run` raises
/// `KeyboardInterrupt`). An [`Interrupt`](crate::Interrupt) the program
/// raises itself ends `run` the same way. A SIGINT handler of your own
/// ([`EventLoop::add_signal_handler`], [`EventLoop::shutdown_on_signals`],
/// `subscribe_signal`) takes precedence, whenever it is added; SIGINT's
/// disposition from before is restored when `run` returns. Loops running on
/// other threads never take SIGINT this way: Ctrl+C stays the main thread's.
///
/// It refuses to start while another loop runs on this thread
/// ([`LoopError::AnotherLoopRunning`], asyncio's "asyncio.run() cannot be
/// called from a running event loop").
///
/// # What happens to what `main` left open
///
/// Nothing is drained for you. When the future completes, `run` shuts the
/// default executor down (the loop keeps turning until its jobs are done,
/// so other tasks and connections may still see events meanwhile), then
/// closes the loop, which ends everything still open at once:
///
/// - **Servers** stop listening: their sockets are closed (a Unix server's
///   socket file is removed), so new connects are refused.
/// - **Connections** (TCP, Unix, TLS, UDP, pipes) have their sockets closed
///   at once: data still in a write buffer is discarded, not flushed; a TLS
///   session sends no close_notify. Their protocols get **no**
///   `ConnectionLost`; they are dropped. The peer reads what the kernel had
///   already taken, then EOF (or a reset, if it had sent data that was not
///   read yet).
/// - **Child processes** still running are killed (SIGKILL) and reaped;
///   their handles then report return code `-9`.
/// - **Tasks** still pending, callbacks and timers are dropped without
///   running again (with what they captured).
///
/// To end gracefully instead, make the last line of `main` wait for a
/// signal and then drain, with [`EventLoop::shutdown_on_signals`]:
///
/// ```text
/// lp.shutdown_on_signals(&[Signal::SIGINT, Signal::SIGTERM], Duration::from_secs(10))?.await?;
/// ```
///
/// It resolves after the first SIGINT or SIGTERM once every server is
/// drained ([`EventLoop::shutdown`]: listeners closed, connections given
/// the deadline to end, then closed, then aborted), so `main` returns with
/// nothing left for the close above; a second signal aborts at once.
///
/// # Examples
///
/// ```
/// use switchboard::prelude::*;
///
/// fn main() -> switchboard::Result<()> {
///     let n = switchboard::run(|lp: EventLoop| async move {
///         let server = lp.create_server(|| switchboard::ready_made::Echo)
///             .host("127.0.0.1")
///             .port(0)
///             .await?;
///         let port = server.sockets()[0].port();
///         server.close();
///         switchboard::sleep(0.001).await;
///         Ok::<_, switchboard::Error>(port)
///     })?;
///     assert!(n > 0);
///     Ok(())
/// }
/// ```
///
/// A server that runs until SIGINT or SIGTERM, then drains for up to 10 s
/// (the example sends itself the SIGTERM a user's `kill` would):
///
/// ```
/// use std::time::Duration;
/// use switchboard::prelude::*;
///
/// fn main() -> switchboard::Result<()> {
///     switchboard::run(|lp: EventLoop| async move {
///         let server = lp.create_server(|| switchboard::ready_made::Echo)
///             .host("127.0.0.1")
///             .port(0)
///             .await?;
///         println!("serving on {}", server.sockets()[0]);
/// #       lp.call_soon(|| {
/// #           nix::sys::signal::raise(nix::sys::signal::Signal::SIGTERM).expect("raise");
/// #       })?;
///         lp.shutdown_on_signals(&[Signal::SIGINT, Signal::SIGTERM], Duration::from_secs(10))?.await?;
///         Ok(())
///     })
/// }
/// ```
pub fn run<F, Fut, T, E>(main: F) -> Result<T, E>
where
    F: FnOnce(EventLoop) -> Fut,
    Fut: IntoFuture<Output = Result<T, E>> + 'static,
    Fut::IntoFuture: 'static,
    T: 'static,
    E: From<Error> + 'static,
{
    if crate::current::running_loop_exists() {
        return Err(Error::Loop(LoopError::AnotherLoopRunning).into());
    }
    let lp = crate::new_event_loop().map_err(Error::Loop)?;
    crate::current::set_event_loop(Some(lp.clone()));
    let guard = CloseOnExit(lp.clone());
    let main = main(lp.clone()).into_future();
    // `SWITCHBOARD_CONTROL=path`: the control socket first (after `main`
    // was called, so a loop group's loop knows its index by then).
    let control = crate::introspect::control_from_env(&lp);
    let lp2 = lp.clone();
    let main = async move {
        if let Some(path) = control {
            if let Err(e) = lp2.serve_control(&path).await {
                return Err(E::from(e));
            }
        }
        main.await
    };
    let Some(out) = unless_interrupted(|| lp.run_until_complete(main)) else {
        drop(guard);
        return Err(Error::Loop(LoopError::Interrupted).into());
    };
    let drained = unless_interrupted(|| lp.run_until_complete(lp.shutdown_default_executor(None)));
    let fatal = lp.core.fatal.borrow_mut().take();
    drop(guard);
    if drained.is_none() {
        return Err(Error::Loop(LoopError::Interrupted).into());
    }
    if let Some(e) = fatal {
        return Err(Error::Supervisor(e).into());
    }
    match out {
        Ok(result) => result,
        Err(e) => Err(Error::Loop(e).into()),
    }
}

/// Runs `f`; `None` if an [`Interrupt`](crate::Interrupt) left it (any other
/// panic goes on unwinding).
fn unless_interrupted<T>(f: impl FnOnce() -> T) -> Option<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(out) => Some(out),
        Err(payload) if crate::interrupt::is_interrupt(&*payload) => None,
        Err(payload) => std::panic::resume_unwind(payload),
    }
}
