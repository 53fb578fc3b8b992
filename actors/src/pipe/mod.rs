//! Pipe transports: the read and write halves a subprocess also uses
//! ([`PipeReader`], [`PipeWriter`]), the actors `connect_read_pipe` and
//! `connect_write_pipe` make of them ([`UnixReadPipe`], [`UnixWritePipe`]),
//! and the facts handles read ([`PipeInfo`]).

mod info;
mod read_pipe;
mod reader;
mod write_pipe;
mod writer;

pub use info::PipeInfo;
pub use read_pipe::UnixReadPipe;
pub use reader::{PipeReader, ReadStep};
pub use write_pipe::UnixWritePipe;
pub use writer::PipeWriter;

use std::io;
use std::os::fd::{AsFd, OwnedFd, RawFd};

use switchboard_protocols::PipeCommand;

use crate::sys::unix::pipe::{self as sys, FdKind};

/// Hooks the owner of a pipe transport sets.
#[allow(missing_debug_implementations)]
#[derive(Default)]
pub struct PipeHooks {
    /// Runs once `ConnectionMade` was delivered.
    pub on_made: Option<Box<dyn FnOnce()>>,
}

/// A command for one pipe of a subprocess transport, by the child's fd.
#[derive(Debug)]
pub struct ChildPipeCommand {
    /// The child's descriptor: 0, 1 or 2.
    pub fd: RawFd,
    /// What to do.
    pub cmd: PipeCommand,
}

/// Sent by the loop to start a pipe transport: it delivers `ConnectionMade`.
#[derive(Debug)]
pub struct Start;

/// Internal: deliver `ConnectionLost` (on a later turn than its cause).
#[derive(Debug)]
pub(crate) struct Finish;

/// Internal: read again (after the budget, or `resume_reading`).
#[derive(Debug)]
pub(crate) struct ReadMore;

/// Where a pipe transport actor is in its life (read and write pipes alike);
/// it only moves forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum ActorPhase {
    /// `ConnectionMade` not yet delivered.
    Pending,
    Open,
    /// `ConnectionLost` is queued for a later turn.
    Ending,
    Gone,
}

/// The word introspection shows for a pipe transport's phase.
pub(crate) fn phase_word(phase: &ActorPhase) -> &'static str {
    match phase {
        ActorPhase::Pending => "starting",
        ActorPhase::Open => "open",
        ActorPhase::Ending | ActorPhase::Gone => "lost",
    }
}

/// Checks that `fd` is pipe-like (a pipe, a FIFO, a socket or a character
/// device: asyncio refuses the rest with "Pipe transport is for
/// pipes/sockets only."), puts it in non-blocking mode, and tells whether it
/// is a socket.
pub fn adopt(fd: &OwnedFd) -> io::Result<bool> {
    let kind = sys::kind(fd.as_fd())?;
    if kind == FdKind::Other {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "pipe transport is for pipes, sockets and character devices only",
        ));
    }
    sys::set_nonblocking(fd.as_fd())?;
    Ok(kind == FdKind::Socket)
}

/// Makes sure a broken pipe is an `EPIPE`, not a fatal SIGPIPE (fault 2).
pub fn guard_sigpipe() {
    if let Err(e) = crate::sys::unix::signal::ignore_sigpipe_if_default() {
        crate::diag::warning!("cannot ignore SIGPIPE: {e}");
    }
}

/// Makes a new pipe whose ends are close-on-exec: (read end, write end).
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    sys::pipe()
}

/// Puts `fd` in non-blocking mode.
pub fn set_nonblocking(fd: &OwnedFd) -> io::Result<()> {
    sys::set_nonblocking(fd.as_fd())
}
