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
/// It refuses to start while another loop runs on this thread
/// ([`LoopError::AnotherLoopRunning`], asyncio's "asyncio.run() cannot be
/// called from a running event loop").
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
    let out = lp.run_until_complete(main(lp.clone()));
    let _ = lp.run_until_complete(lp.shutdown_default_executor(None));
    let fatal = lp.core.fatal.borrow_mut().take();
    drop(guard);
    if let Some(e) = fatal {
        return Err(Error::Supervisor(e).into());
    }
    match out {
        Ok(result) => result,
        Err(e) => Err(Error::Loop(e).into()),
    }
}
