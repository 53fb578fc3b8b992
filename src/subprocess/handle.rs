//! A handle on a subprocess transport, held outside its protocol.

use std::fmt;
use std::os::fd::RawFd;
use std::rc::Rc;

use switchboard_actors::subprocess::{self, ProcessInfo, SubprocessCommand};
use switchboard_protocols::{ActorId, ProcessError, Signal};

use crate::event_loop::EventLoop;
use crate::future::LoopFuture;
use crate::pipes::handle::Route;
use crate::pipes::PipeHandle;

/// A handle on a running child and its transport (asyncio's
/// `SubprocessTransport` seen from outside its protocol): what
/// `subprocess_exec` and `subprocess_shell` give.
///
/// Queries and signals act at once; `close` and the pipe handles' commands
/// are applied by the loop on its thread, in order. Dropping the handle
/// leaves the child running; it is reaped when it exits, or killed and
/// reaped when the loop closes.
#[derive(Clone)]
pub struct SubprocessHandle {
    pub(crate) lp: EventLoop,
    pub(crate) id: ActorId,
    /// The transport's incarnation in row `id`: once it ended, `close` and
    /// the pipes' commands are dropped, never given to a later child whose
    /// transport got the same row.
    pub(crate) gen: u64,
    pub(crate) info: Rc<ProcessInfo>,
}

impl SubprocessHandle {
    /// `transport.get_pid()`.
    pub fn get_pid(&self) -> u32 {
        self.info.pid
    }

    /// `transport.get_returncode()`: `None` while the child runs, its exit
    /// status once it was reaped, `-N` when signal `N` killed it (Q3).
    pub fn get_returncode(&self) -> Option<i32> {
        self.info.returncode()
    }

    /// `transport.get_pipe_transport(fd)`: a handle on the child's stdin
    /// (0), stdout (1) or stderr (2) pipe, or `None` if that stream is not a
    /// pipe (Q7).
    pub fn get_pipe_transport(&self, fd: RawFd) -> Option<PipeHandle> {
        let info = usize::try_from(fd)
            .ok()
            .and_then(|i| self.info.pipes.get(i))?
            .clone()?;
        Some(PipeHandle {
            lp: self.lp.clone(),
            id: self.id,
            gen: self.gen,
            route: Route::Child(fd),
            info,
        })
    }

    /// `transport.send_signal(sig)`. Once the child was reaped this is
    /// [`ProcessError::Exited`] and nothing is sent, so a recycled pid is
    /// never signalled (Q4).
    pub fn send_signal(&self, sig: Signal) -> Result<(), ProcessError> {
        subprocess::send_signal(&self.info, sig)
    }

    /// `transport.terminate()`: SIGTERM.
    pub fn terminate(&self) -> Result<(), ProcessError> {
        self.send_signal(Signal::SIGTERM)
    }

    /// `transport.kill()`: SIGKILL.
    pub fn kill(&self) -> Result<(), ProcessError> {
        self.send_signal(Signal::SIGKILL)
    }

    /// `transport.close()`: closes the pipes and kills the child with
    /// SIGKILL if it still runs; a child that has exited is never signalled
    /// (Q5). `ProcessExited` and `ConnectionLost` follow.
    ///
    /// On a handle whose transport has ended (the child exited and its pipes
    /// closed) this does nothing: the command names this child's transport,
    /// never a later child's that got the same [`ActorId`].
    pub fn close(&self) {
        if self.info.is_lost() {
            return;
        }
        self.info.mark_closing();
        if !self.lp.is_closed() {
            let close = Box::new(SubprocessCommand::Close);
            crate::routing::deliver(&self.lp.core, self.id, self.gen, close);
        }
    }

    /// `transport.is_closing()`.
    pub fn is_closing(&self) -> bool {
        self.info.is_closing()
    }

    /// True once the protocol got `ConnectionLost`.
    pub fn is_lost(&self) -> bool {
        self.info.is_lost()
    }

    /// Resolves to the return code when the child exits, whatever its pipes
    /// do: a grandchild that holds a pipe open delays `ConnectionLost`, not
    /// this (Q6, fault 11; asyncio's `Process.wait()` after gh-119710).
    ///
    /// ```no_run
    /// # struct P;
    /// # impl switchboard::SubprocessProtocol for P {
    /// #     fn handle(&mut self, _: switchboard::SubprocessEvent, _: &mut dyn switchboard::SubprocessTransport) -> Result<(), switchboard::ProtocolError> { Ok(()) }
    /// # }
    /// switchboard::run(|lp| async move {
    ///     let child = lp.subprocess_shell(|| P, "exit 7").await?;
    ///     assert_eq!(child.wait().await?, 7);
    ///     Ok::<(), switchboard::Error>(())
    /// })?;
    /// # Ok::<(), switchboard::Error>(())
    /// ```
    pub fn wait(&self) -> LoopFuture<i32> {
        let fut = self.lp.create_future::<i32>();
        let set = fut.clone();
        self.info.on_exit(Box::new(move |code| {
            let _ = set.set_result(code);
        }));
        fut
    }

    /// The transport actor's id.
    pub fn id(&self) -> ActorId {
        self.id
    }
}

impl fmt::Debug for SubprocessHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubprocessHandle")
            .field("pid", &self.info.pid)
            .field("returncode", &self.info.returncode())
            .field("closing", &self.info.is_closing())
            .finish()
    }
}
