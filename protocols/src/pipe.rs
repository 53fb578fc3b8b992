//! Pipe protocols and transports: what `connect_read_pipe` and
//! `connect_write_pipe` give a protocol (asyncio's `ReadTransport` and
//! `WriteTransport` over a pipe, a FIFO, a character device or a socket).
//!
//! # Grammar
//!
//! A read pipe's protocol sees:
//!
//! ```text
//! ConnectionMade DataReceived* [EofReceived] ConnectionLost
//! ```
//!
//! and a write pipe's protocol sees:
//!
//! ```text
//! ConnectionMade (PauseWriting ResumeWriting?)* ConnectionLost
//! ```
//!
//! `ConnectionMade` and `ConnectionLost` come exactly once each, nothing
//! comes after `ConnectionLost`, and `PauseWriting`/`ResumeWriting`
//! alternate, starting with `PauseWriting`. As for streams, an event raised
//! inside a handler is delivered after the handler returns, never
//! re-entrantly.

use std::os::fd::RawFd;

use bytes::Bytes;

use crate::error::{LimitsError, ProtocolError, TransportError, WriteError};
use crate::limits::WriteLimits;

/// An event for a read pipe's protocol, sent by the read-pipe transport on
/// the loop thread in the order of the module's grammar.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReadPipeEvent {
    /// The pipe is registered; sent once, first.
    /// [asyncio: `connection_made`](https://docs.python.org/3/library/asyncio-protocol.html#asyncio.BaseProtocol.connection_made)
    ConnectionMade,
    /// Bytes from the pipe, never empty, in order; chunking is arbitrary.
    /// [asyncio: `data_received`](https://docs.python.org/3/library/asyncio-protocol.html#asyncio.Protocol.data_received)
    DataReceived(Bytes),
    /// Every writer closed its end (or a PTY master reported `EIO`); sent at
    /// most once, and the transport closes itself after it (P1).
    /// [asyncio: `eof_received`](https://docs.python.org/3/library/asyncio-protocol.html#asyncio.Protocol.eof_received)
    EofReceived,
    /// The pipe is closed; sent exactly once, last. `None` after EOF or
    /// `close()`, `Some` after a read error.
    /// [asyncio: `connection_lost`](https://docs.python.org/3/library/asyncio-protocol.html#asyncio.BaseProtocol.connection_lost)
    ConnectionLost(Option<TransportError>),
}

/// An event for a write pipe's protocol, sent by the write-pipe transport on
/// the loop thread in the order of the module's grammar.
#[derive(Debug)]
#[non_exhaustive]
pub enum WritePipeEvent {
    /// The pipe is registered; sent once, first.
    /// [asyncio: `connection_made`](https://docs.python.org/3/library/asyncio-protocol.html#asyncio.BaseProtocol.connection_made)
    ConnectionMade,
    /// The write buffer went strictly above the high-water mark.
    /// [asyncio: `pause_writing`](https://docs.python.org/3/library/asyncio-protocol.html#asyncio.BaseProtocol.pause_writing)
    PauseWriting,
    /// The write buffer drained to the low-water mark or below after a pause.
    /// Never sent once the reader has gone (P3).
    /// [asyncio: `resume_writing`](https://docs.python.org/3/library/asyncio-protocol.html#asyncio.BaseProtocol.resume_writing)
    ResumeWriting,
    /// The pipe is closed; sent exactly once, last. `None` after a flushed
    /// `close()`, an `abort()`, or the reader going away with nothing
    /// buffered; `Some(TransportError::BrokenPipe)` when the reader went away
    /// with bytes still buffered (P3, fault 2).
    /// [asyncio: `connection_lost`](https://docs.python.org/3/library/asyncio-protocol.html#asyncio.BaseProtocol.connection_lost)
    ConnectionLost(Option<TransportError>),
}

/// A read pipe's protocol: one entry point for every event of its pipe.
///
/// ```
/// use switchboard_protocols::{ProtocolError, ReadPipeEvent, ReadPipeProtocol, ReadPipeTransport};
///
/// /// Counts the bytes that come through.
/// struct Count(usize);
///
/// impl ReadPipeProtocol for Count {
///     fn handle(&mut self, ev: ReadPipeEvent, _t: &mut dyn ReadPipeTransport) -> Result<(), ProtocolError> {
///         if let ReadPipeEvent::DataReceived(data) = ev {
///             self.0 += data.len();
///         }
///         Ok(())
///     }
/// }
/// # let _ = Count(0);
/// ```
pub trait ReadPipeProtocol: 'static {
    /// Handles one event. Returning `Err` (or panicking) is fatal for the
    /// pipe: the error goes to the loop's exception handler, the pipe is
    /// closed and `ConnectionLost(Some(..))` follows.
    fn handle(
        &mut self,
        event: ReadPipeEvent,
        transport: &mut dyn ReadPipeTransport,
    ) -> Result<(), ProtocolError>;
}

/// A write pipe's protocol: one entry point for every event of its pipe.
pub trait WritePipeProtocol: 'static {
    /// Handles one event; an `Err` or a panic aborts the pipe, as for
    /// [`ReadPipeProtocol::handle`].
    fn handle(
        &mut self,
        event: WritePipeEvent,
        transport: &mut dyn WritePipeTransport,
    ) -> Result<(), ProtocolError>;
}

/// What a protocol may do to its read pipe (asyncio's `ReadTransport`).
pub trait ReadPipeTransport {
    /// Stops reading and closes the pipe; `ConnectionLost(None)` follows.
    /// Idempotent.
    fn close(&mut self);
    /// True once `close()` was called or the pipe was lost.
    fn is_closing(&self) -> bool;
    /// Stops delivering data until [`resume_reading`](Self::resume_reading).
    /// Idempotent; safe after close (P4).
    fn pause_reading(&mut self);
    /// Resumes delivering data. Idempotent; safe after close (P4).
    fn resume_reading(&mut self);
    /// True while the pipe delivers data.
    fn is_reading(&self) -> bool;
    /// `get_extra_info('pipe')`: the descriptor while it is open.
    fn fileno(&self) -> Option<RawFd>;
}

/// What a protocol may do to its write pipe (asyncio's `WriteTransport`).
///
/// Writes go to the pipe at once when nothing is queued; the rest is queued
/// and flushed as the reader takes it, with the same watermarks as sockets
/// (P4). A write after `close()`, `abort()` or loss is dropped silently
/// (warned about from the 5th on, as asyncio does).
pub trait WritePipeTransport {
    /// Writes `data`; empty data does nothing.
    fn write(&mut self, data: &[u8]) -> Result<(), WriteError>;
    /// Like [`write`](Self::write), taking ownership (no copy of a remainder).
    fn write_bytes(&mut self, data: Bytes) -> Result<(), WriteError>;
    /// Writes every buffer of `list`, in order.
    fn writelines(&mut self, list: &[&[u8]]) -> Result<(), WriteError> {
        for part in list {
            self.write(part)?;
        }
        Ok(())
    }
    /// For a pipe this is [`close`](Self::close): flush, then close (P2).
    fn write_eof(&mut self) -> Result<(), WriteError>;
    /// Always true for pipes.
    fn can_write_eof(&self) -> bool {
        true
    }
    /// Flushes the buffer, then closes; `ConnectionLost(None)` follows (P2).
    fn close(&mut self);
    /// Closes at once, dropping the buffer; `ConnectionLost(None)` follows.
    fn abort(&mut self);
    /// True once `close()`, `abort()` or loss began.
    fn is_closing(&self) -> bool;
    /// Bytes waiting in user space.
    fn get_write_buffer_size(&self) -> usize;
    /// The current watermarks.
    fn get_write_buffer_limits(&self) -> WriteLimits;
    /// Sets the watermarks and re-evaluates them at once, which may queue a
    /// `PauseWriting`.
    fn set_write_buffer_limits(
        &mut self,
        high: Option<usize>,
        low: Option<usize>,
    ) -> Result<(), LimitsError>;
    /// True while the buffer is strictly above its high-water mark.
    fn is_writing_paused(&self) -> bool {
        self.get_write_buffer_size() > self.get_write_buffer_limits().high
    }
    /// `get_extra_info('pipe')`: the descriptor while it is open.
    fn fileno(&self) -> Option<RawFd>;
}

/// A command to a pipe transport from a handle held outside its protocol,
/// applied on the loop thread in the order sent. Each is the transport method
/// of the same name; a command that does not fit the pipe's direction (a
/// write to a read pipe) is ignored.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum PipeCommand {
    /// `transport.write(data)`.
    Write(Bytes),
    /// `transport.write_eof()`.
    WriteEof,
    /// `transport.close()`.
    Close,
    /// `transport.abort()`.
    Abort,
    /// `transport.pause_reading()`.
    PauseReading,
    /// `transport.resume_reading()`.
    ResumeReading,
    /// `transport.set_write_buffer_limits(high, low)`.
    SetWriteBufferLimits {
        /// The high-water mark.
        high: Option<usize>,
        /// The low-water mark.
        low: Option<usize>,
    },
}
