//! Subprocess protocols and transports: what `subprocess_exec` and
//! `subprocess_shell` give a protocol.
//!
//! # Grammar
//!
//! For every child a protocol sees:
//!
//! ```text
//! ConnectionMade
//!     (PipeDataReceived | PipeConnectionLost | PauseWriting | ResumeWriting)*
//!     ProcessExited
//!     (PipeDataReceived | PipeConnectionLost)*
//!     ConnectionLost
//! ```
//!
//! - `ConnectionMade` comes once, first; `ConnectionLost` once, last, and
//!   only after `ProcessExited` and the `PipeConnectionLost` of every pipe
//!   (Q1).
//! - Per fd: `PipeDataReceived*` then exactly one `PipeConnectionLost` (Q2).
//! - **`ProcessExited` against the pipes** (where asyncio leaves the order
//!   undefined, Q2): when the child's exit is seen, every pipe the loop is
//!   reading (stdout, stderr; not paused) is read dry first. So every byte the
//!   child wrote before it exited is delivered *before* `ProcessExited`, and a
//!   pipe that nothing else holds open is reported lost before it too. Only
//!   pipes that outlive the child come after `ProcessExited`: one a
//!   grandchild still holds open (its data and its `PipeConnectionLost` come
//!   when the grandchild writes or closes it), one whose reading the protocol
//!   paused, and stdin, whose end is seen closed by a separate readiness
//!   event. (Another thread of this process that is starting a child at the
//!   same moment holds copies of every descriptor until that child execs;
//!   that can delay an EOF, and so a `PipeConnectionLost`, past
//!   `ProcessExited`, never the data.) `ProcessExited` itself never waits
//!   for a pipe (Q6).

use std::os::fd::RawFd;

use bytes::Bytes;

use crate::error::{ProtocolError, TransportError};
use crate::pipe::{ReadPipeTransport, WritePipeTransport};
use crate::signal::Signal;

/// An event for a subprocess protocol, sent by the subprocess transport on
/// the loop thread in the order of the module's grammar.
#[derive(Debug)]
#[non_exhaustive]
pub enum SubprocessEvent {
    /// The child runs and its pipes are registered; sent once, first.
    /// [asyncio: `connection_made`](https://docs.python.org/3/library/asyncio-protocol.html#asyncio.BaseProtocol.connection_made)
    ConnectionMade,
    /// Bytes the child wrote to its stdout (`fd` 1) or stderr (`fd` 2);
    /// never empty, in order per fd.
    /// [asyncio: `pipe_data_received`](https://docs.python.org/3/library/asyncio-protocol.html#asyncio.SubprocessProtocol.pipe_data_received)
    PipeDataReceived {
        /// The child's descriptor the bytes came from: 1 or 2.
        fd: RawFd,
        /// The bytes.
        data: Bytes,
    },
    /// One of the child's pipes closed: stdin (`fd` 0) when the child's end
    /// closed or the protocol closed it, stdout or stderr at EOF. Once per
    /// pipe, after that pipe's data. `None` for a clean close,
    /// `Some(BrokenPipe)` when stdin still held bytes.
    /// [asyncio: `pipe_connection_lost`](https://docs.python.org/3/library/asyncio-protocol.html#asyncio.SubprocessProtocol.pipe_connection_lost)
    PipeConnectionLost {
        /// The child's descriptor: 0, 1 or 2.
        fd: RawFd,
        /// Why, if it was not a clean close.
        error: Option<TransportError>,
    },
    /// The stdin buffer went strictly above its high-water mark.
    /// [asyncio: `pause_writing`](https://docs.python.org/3/library/asyncio-protocol.html#asyncio.BaseProtocol.pause_writing)
    PauseWriting,
    /// The stdin buffer drained to its low-water mark after a pause.
    /// [asyncio: `resume_writing`](https://docs.python.org/3/library/asyncio-protocol.html#asyncio.BaseProtocol.resume_writing)
    ResumeWriting,
    /// The child exited and was reaped; sent once. `returncode` is the exit
    /// status, or `-N` when signal `N` killed it (Q3).
    /// [asyncio: `process_exited`](https://docs.python.org/3/library/asyncio-protocol.html#asyncio.SubprocessProtocol.process_exited)
    ProcessExited {
        /// As [`SubprocessTransport::get_returncode`] gives it.
        returncode: i32,
    },
    /// The child has exited and every pipe is closed; sent exactly once,
    /// last.
    /// [asyncio: `connection_lost`](https://docs.python.org/3/library/asyncio-protocol.html#asyncio.BaseProtocol.connection_lost)
    ConnectionLost(Option<TransportError>),
}

/// A subprocess protocol: one entry point for every event of its child.
///
/// ```
/// use switchboard_protocols::{ProtocolError, SubprocessEvent, SubprocessProtocol, SubprocessTransport};
///
/// /// Collects what the child prints.
/// struct Collect(Vec<u8>);
///
/// impl SubprocessProtocol for Collect {
///     fn handle(&mut self, ev: SubprocessEvent, _t: &mut dyn SubprocessTransport) -> Result<(), ProtocolError> {
///         if let SubprocessEvent::PipeDataReceived { fd: 1, data } = ev {
///             self.0.extend_from_slice(&data);
///         }
///         Ok(())
///     }
/// }
/// # let _ = Collect(Vec::new());
/// ```
pub trait SubprocessProtocol: 'static {
    /// Handles one event. An `Err` or a panic goes to the loop's exception
    /// handler; the child and its pipes are left alone (a failing handler
    /// does not kill a process), and the next event is delivered as usual.
    fn handle(
        &mut self,
        event: SubprocessEvent,
        transport: &mut dyn SubprocessTransport,
    ) -> Result<(), ProtocolError>;
}

/// A pipe of a child, as [`SubprocessTransport::get_pipe_transport`] lends
/// it: stdin is a write pipe, stdout and stderr are read pipes.
#[allow(missing_debug_implementations)]
pub enum PipeTransportMut<'a> {
    /// Stdin.
    Write(&'a mut dyn WritePipeTransport),
    /// Stdout or stderr.
    Read(&'a mut dyn ReadPipeTransport),
}

impl<'a> PipeTransportMut<'a> {
    /// The write pipe (stdin), if this is one.
    pub fn writer(self) -> Option<&'a mut dyn WritePipeTransport> {
        match self {
            PipeTransportMut::Write(w) => Some(w),
            PipeTransportMut::Read(_) => None,
        }
    }

    /// The read pipe (stdout or stderr), if this is one.
    pub fn reader(self) -> Option<&'a mut dyn ReadPipeTransport> {
        match self {
            PipeTransportMut::Read(r) => Some(r),
            PipeTransportMut::Write(_) => None,
        }
    }
}

/// Why a signal could not be sent to a child.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProcessError {
    /// The child has exited and was reaped: nothing was sent, so a pid the
    /// kernel may have recycled is never signalled (Q4; asyncio's
    /// `ProcessLookupError`).
    #[error("process {pid} has already exited with return code {returncode}")]
    Exited {
        /// The child's pid.
        pid: u32,
        /// Its return code.
        returncode: i32,
    },
    /// `kill(2)` failed.
    #[error("cannot send {sig} to process {pid}: {source}")]
    Os {
        /// The child's pid.
        pid: u32,
        /// The signal.
        sig: Signal,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
}

/// What a protocol may do to its subprocess transport (asyncio's
/// `SubprocessTransport`).
pub trait SubprocessTransport {
    /// The child's process id.
    fn get_pid(&self) -> u32;
    /// `None` while the child runs; its exit status once reaped, or `-N`
    /// when signal `N` killed it.
    fn get_returncode(&self) -> Option<i32>;
    /// The pipe for the child's `fd` (0, 1 or 2), if it was made with
    /// `Stdio::Pipe` and is not closed yet. `None` for any other stream,
    /// and for fd 2 when stderr went to stdout (Q7).
    fn get_pipe_transport(&mut self, fd: RawFd) -> Option<PipeTransportMut<'_>>;
    /// Sends `sig` to the child; [`ProcessError::Exited`] once it was
    /// reaped (nothing is sent then).
    fn send_signal(&mut self, sig: Signal) -> Result<(), ProcessError>;
    /// `send_signal(SIGTERM)`.
    fn terminate(&mut self) -> Result<(), ProcessError> {
        self.send_signal(Signal::SIGTERM)
    }
    /// `send_signal(SIGKILL)`.
    fn kill(&mut self) -> Result<(), ProcessError> {
        self.send_signal(Signal::SIGKILL)
    }
    /// Closes every pipe and kills the child with SIGKILL if it still runs
    /// (a child that has exited, reaped or not, is never signalled, Q5).
    /// `ProcessExited` and `ConnectionLost` follow.
    fn close(&mut self);
    /// True once `close()` was called.
    fn is_closing(&self) -> bool;
}
