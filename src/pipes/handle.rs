//! A handle on a pipe transport, held outside its protocol.

use std::fmt;
use std::os::fd::RawFd;
use std::rc::Rc;

use bytes::Bytes;
use switchboard_actors::pipe::{ChildPipeCommand, PipeInfo};
use switchboard_protocols::{ActorId, PipeCommand, WriteError};

use crate::event_loop::EventLoop;

/// Where a pipe handle's commands go: a pipe transport of its own, or one
/// pipe of a subprocess (by the child's fd).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Route {
    Own,
    Child(RawFd),
}

/// A handle on a pipe transport the loop owns (what `connect_read_pipe`,
/// `connect_write_pipe` and a subprocess's `get_pipe_transport` give):
/// asyncio's `ReadTransport`/`WriteTransport` seen from outside the
/// protocol. Each method is a command the loop applies on its thread, in
/// order, after the current callback returns; a command that does not fit
/// the pipe's direction (`write` on a read pipe) is ignored.
#[derive(Clone)]
pub struct PipeHandle {
    pub(crate) lp: EventLoop,
    pub(crate) id: ActorId,
    /// The incarnation of the pipe's (or its subprocess's) actor in row
    /// `id`: once it ended, commands are dropped, never given to a later
    /// tenant of the row.
    pub(crate) gen: u64,
    pub(crate) route: Route,
    pub(crate) info: Rc<PipeInfo>,
}

impl PipeHandle {
    fn command(&self, cmd: PipeCommand) {
        if self.lp.is_closed() || self.info.is_lost() {
            return;
        }
        let msg: Box<dyn std::any::Any> = match self.route {
            Route::Own => Box::new(cmd),
            Route::Child(fd) => Box::new(ChildPipeCommand { fd, cmd }),
        };
        crate::routing::deliver(&self.lp.core, self.id, self.gen, msg);
    }

    /// `transport.write(data)` (write pipes), as
    /// [`WritePipeTransport::write`](crate::WritePipeTransport::write): the
    /// same argument, the same `Result`. Empty data does nothing; after close
    /// or loss the data is dropped and this is still `Ok`. The bytes are
    /// copied once; [`write_bytes`](Self::write_bytes) takes owned bytes.
    pub fn write(&self, data: &[u8]) -> Result<(), WriteError> {
        if data.is_empty() {
            return Ok(());
        }
        self.write_bytes(Bytes::copy_from_slice(data))
    }

    /// `write` with owned bytes (no copy).
    pub fn write_bytes(&self, data: Bytes) -> Result<(), WriteError> {
        if !data.is_empty() && !self.info.is_lost() {
            self.info.add_pending(data.len());
            self.command(PipeCommand::Write(data));
        }
        Ok(())
    }

    /// `transport.write_eof()`: for a pipe, the same as [`close`](Self::close).
    pub fn write_eof(&self) -> Result<(), WriteError> {
        self.close();
        Ok(())
    }

    /// `transport.close()`: a write pipe flushes first; `ConnectionLost(None)`
    /// (or `PipeConnectionLost`) follows.
    pub fn close(&self) {
        self.info.mark_closing();
        self.command(PipeCommand::Close);
    }

    /// `transport.abort()` (write pipes): close now, dropping the buffer.
    pub fn abort(&self) {
        self.info.mark_closing();
        self.command(PipeCommand::Abort);
    }

    /// `transport.pause_reading()` (read pipes).
    pub fn pause_reading(&self) {
        self.info.mark_reading(false);
        self.command(PipeCommand::PauseReading);
    }

    /// `transport.resume_reading()` (read pipes).
    pub fn resume_reading(&self) {
        self.info.mark_reading(true);
        self.command(PipeCommand::ResumeReading);
    }

    /// `transport.set_write_buffer_limits(high, low)` (write pipes).
    pub fn set_write_buffer_limits(&self, high: Option<usize>, low: Option<usize>) {
        self.command(PipeCommand::SetWriteBufferLimits { high, low });
    }

    /// `transport.is_closing()`.
    pub fn is_closing(&self) -> bool {
        self.info.is_closing()
    }

    /// `transport.is_reading()` (read pipes).
    pub fn is_reading(&self) -> bool {
        self.info.is_reading()
    }

    /// True once the pipe's loss was delivered to the protocol.
    pub fn is_lost(&self) -> bool {
        self.info.is_lost()
    }

    /// `transport.get_write_buffer_size()` (write pipes), including what was
    /// written through a handle and not yet taken by the transport.
    pub fn get_write_buffer_size(&self) -> usize {
        self.info.write_buffer_size()
    }

    /// `get_extra_info('pipe')`: the descriptor while the pipe is open.
    pub fn fileno(&self) -> Option<RawFd> {
        self.info.fileno()
    }

    /// The pipe transport's actor id (for a child's pipe, its subprocess
    /// transport's).
    pub fn id(&self) -> ActorId {
        self.id
    }
}

impl fmt::Debug for PipeHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PipeHandle")
            .field("id", &self.id)
            .field("route", &self.route)
            .field("fd", &self.info.fd)
            .field("closing", &self.info.is_closing())
            .finish()
    }
}
