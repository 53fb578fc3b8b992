//! Stream (TCP, Unix) protocols: the events a stream protocol receives and the
//! transport it may call.
//!
//! # Grammar
//!
//! For every connection a protocol sees exactly this sequence:
//!
//! ```text
//! ConnectionMade (DataReceived | PauseWriting | ResumeWriting | Message | TimerFired)*
//!     [EofReceived (PauseWriting | ResumeWriting | Message | TimerFired)*] ConnectionLost
//! ```
//!
//! `ConnectionMade` and `ConnectionLost` come exactly once each; nothing comes
//! after `ConnectionLost`; no `DataReceived` comes after `EofReceived`;
//! `PauseWriting` and `ResumeWriting` alternate, starting with `PauseWriting`.
//! No event is ever delivered while the protocol is still handling another one:
//! an event raised inside a handler (say `PauseWriting` raised by `write`) is
//! queued and delivered right after the handler returns.

use std::os::fd::RawFd;
use std::time::Duration;

use bytes::Bytes;

use crate::addr::Addr;
use crate::address::Address;
use crate::error::{LimitsError, ProtocolError, TransportError, WriteError};
use crate::limits::WriteLimits;
use crate::message::NoMessage;
use crate::socket::SocketRef;
use crate::tls::{TlsError, TlsInfo, TlsUpgrade};

/// An event for a stream protocol. Sent by the stream transport (TCP or Unix)
/// that owns the protocol, on the loop thread, in the order of the module's
/// grammar.
#[derive(Debug)]
#[non_exhaustive]
pub enum StreamEvent<M = NoMessage> {
    /// The connection is up; sent once, first.
    /// [asyncio: `connection_made`](https://docs.python.org/3/library/asyncio-protocol.html#asyncio.BaseProtocol.connection_made)
    ConnectionMade,
    /// Bytes from the peer, never empty, in order; chunking is arbitrary.
    /// [asyncio: `data_received`](https://docs.python.org/3/library/asyncio-protocol.html#asyncio.Protocol.data_received)
    DataReceived(Bytes),
    /// The peer shut down its write side; sent at most once. The transport
    /// closes itself after the handler returns unless the handler called
    /// [`StreamTransport::keep_open`] (asyncio: `eof_received` returning true).
    /// With calls the protocol made with `t.call` still unanswered, it closes
    /// only once the last answer was handed over and its handler returned, so
    /// a peer that half-closes after pipelined requests gets every answer.
    /// [asyncio: `eof_received`](https://docs.python.org/3/library/asyncio-protocol.html#asyncio.Protocol.eof_received)
    EofReceived,
    /// The write buffer went strictly above the high-water mark; stop writing.
    /// Sent once per crossing, always before its `ResumeWriting`.
    /// [asyncio: `pause_writing`](https://docs.python.org/3/library/asyncio-protocol.html#asyncio.BaseProtocol.pause_writing)
    PauseWriting,
    /// The write buffer drained to the low-water mark or below after a pause.
    /// [asyncio: `resume_writing`](https://docs.python.org/3/library/asyncio-protocol.html#asyncio.BaseProtocol.resume_writing)
    ResumeWriting,
    /// The connection is gone; sent exactly once, last. `None` is a clean end
    /// (close, abort or EOF), `Some` a failure.
    /// [asyncio: `connection_lost`](https://docs.python.org/3/library/asyncio-protocol.html#asyncio.BaseProtocol.connection_lost)
    ConnectionLost(Option<TransportError>),
    /// An application message sent to this connection's address by another actor
    /// (switchboard's own; asyncio has no counterpart).
    Message(M),
    /// A timer the protocol set with [`StreamTransport::call_later`] fired;
    /// carries the token given there. Never sent after `ConnectionLost`
    /// (switchboard's own; asyncio protocols call `loop.call_later`).
    TimerFired(u32),
}

/// An event for a buffered (zero-copy) stream protocol: the same grammar as
/// [`StreamEvent`], with `BufferUpdated(n)` in place of `DataReceived`.
#[derive(Debug)]
#[non_exhaustive]
pub enum BufferedEvent<M = NoMessage> {
    /// See [`StreamEvent::ConnectionMade`].
    ConnectionMade,
    /// `n` bytes (0 < n ≤ the buffer's length) were written at the start of the
    /// buffer the last [`BufferedProtocol::get_buffer`] call returned.
    /// [asyncio: `buffer_updated`](https://docs.python.org/3/library/asyncio-protocol.html#asyncio.BufferedProtocol.buffer_updated)
    BufferUpdated(usize),
    /// See [`StreamEvent::EofReceived`]; `get_buffer` is never called after it.
    EofReceived,
    /// See [`StreamEvent::PauseWriting`].
    PauseWriting,
    /// See [`StreamEvent::ResumeWriting`].
    ResumeWriting,
    /// See [`StreamEvent::ConnectionLost`].
    ConnectionLost(Option<TransportError>),
    /// See [`StreamEvent::Message`].
    Message(M),
    /// See [`StreamEvent::TimerFired`].
    TimerFired(u32),
}

/// A stream protocol: one entry point that receives every event of its
/// connection, with direct access to its own transport.
///
/// `M` is the type of application messages other actors may send to the
/// connection; it defaults to [`NoMessage`].
///
/// ```
/// use switchboard::{ProtocolError, StreamEvent, StreamProtocol, StreamTransport};
///
/// /// Sends every byte back.
/// pub struct Echo;
///
/// impl StreamProtocol for Echo {
///     fn handle(&mut self, event: StreamEvent, t: &mut dyn StreamTransport) -> Result<(), ProtocolError> {
///         if let StreamEvent::DataReceived(data) = event {
///             t.write(&data)?;
///         }
///         Ok(())
///     }
/// }
/// # let _ = Echo;
/// ```
pub trait StreamProtocol<M: 'static = NoMessage>: 'static {
    /// Handles one event. Returning `Err` (or panicking) is fatal for the
    /// connection: the error goes to the loop's exception handler, the transport
    /// is aborted and `ConnectionLost(Some(..))` follows.
    fn handle(
        &mut self,
        event: StreamEvent<M>,
        transport: &mut dyn StreamTransport<M>,
    ) -> Result<(), ProtocolError>;
}

/// A buffered stream protocol: the transport asks for a buffer before each read
/// and reads straight into it (asyncio's `BufferedProtocol`).
pub trait BufferedProtocol<M: 'static = NoMessage>: 'static {
    /// Returns the buffer the next read goes into. `sizehint` is -1 (any size).
    /// An empty buffer is a fatal error for the connection.
    /// [asyncio: `get_buffer`](https://docs.python.org/3/library/asyncio-protocol.html#asyncio.BufferedProtocol.get_buffer)
    fn get_buffer(&mut self, sizehint: isize) -> &mut [u8];

    /// Handles one event; see [`StreamProtocol::handle`].
    fn handle(
        &mut self,
        event: BufferedEvent<M>,
        transport: &mut dyn StreamTransport<M>,
    ) -> Result<(), ProtocolError>;
}

/// Either kind of stream protocol, as `set_protocol` takes it.
#[allow(missing_debug_implementations)]
pub enum AnyStreamProtocol<M: 'static = NoMessage> {
    /// A [`StreamProtocol`].
    Stream(Box<dyn StreamProtocol<M>>),
    /// A [`BufferedProtocol`].
    Buffered(Box<dyn BufferedProtocol<M>>),
}

impl<M: 'static> std::fmt::Debug for AnyStreamProtocol<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AnyStreamProtocol::Stream(_) => f.write_str("AnyStreamProtocol::Stream"),
            AnyStreamProtocol::Buffered(_) => f.write_str("AnyStreamProtocol::Buffered"),
        }
    }
}

/// What a stream protocol may do to its own transport (asyncio's `Transport`:
/// `BaseTransport` + `ReadTransport` + `WriteTransport`).
///
/// Every method acts at once on the transport's own state; any event it raises
/// for the protocol (`PauseWriting`, `ConnectionLost`) is queued and delivered
/// after the current handler returns.
pub trait StreamTransport<M: 'static = NoMessage> {
    /// Sends `data`. Tries the socket at once and copies only what the kernel did
    /// not take into the write buffer. Empty data does nothing. After `close`,
    /// `abort` or loss the data is dropped silently; after `write_eof` it is
    /// [`WriteError::AfterWriteEof`].
    fn write(&mut self, data: &[u8]) -> Result<(), WriteError>;

    /// Like [`write`](Self::write), but takes ownership, so a remainder is queued
    /// without a copy.
    fn write_bytes(&mut self, data: Bytes) -> Result<(), WriteError>;

    /// Writes every buffer of `list`, in order, in as few syscalls as possible.
    fn writelines(&mut self, list: &[&[u8]]) -> Result<(), WriteError>;

    /// Flushes the buffer, then shuts down the write side once. A second call,
    /// or a call after close, does nothing.
    fn write_eof(&mut self) -> Result<(), WriteError>;

    /// True when [`write_eof`](Self::write_eof) is supported (TCP and Unix;
    /// false over TLS, whose `write_eof` is [`WriteError::EofNotSupported`]).
    fn can_write_eof(&self) -> bool;

    /// Calls made with `t.call(..)` whose answer has not been
    /// handed to the protocol yet.
    fn calls_in_flight(&self) -> usize {
        0
    }

    /// The most calls this connection may have in flight before it stops
    /// reading (64 unless its builder said otherwise; `usize::MAX` for a
    /// transport without calls).
    fn max_calls_in_flight(&self) -> usize {
        usize::MAX
    }

    /// Makes the entry for one more call and the ticket its answer comes
    /// back with (what [`call`](Self::call) is made of); `None` where the
    /// transport cannot take answers.
    #[doc(hidden)]
    fn call_ticket(
        &mut self,
        convert: crate::internal::Convert<M>,
    ) -> Option<crate::internal::Ticket> {
        drop(convert);
        None
    }

    /// Answers call `seq` with `error` (its question could not be
    /// delivered); the answer is handed over after the running handler.
    #[doc(hidden)]
    fn call_refused(&mut self, seq: u64, error: crate::CallError) {
        let _ = (seq, error);
    }

    /// Stops reading, flushes the buffer, then closes; `ConnectionLost(None)`
    /// follows on a later loop iteration, exactly once.
    fn close(&mut self);

    /// Closes at once, dropping the buffer; `ConnectionLost(None)` follows.
    fn abort(&mut self);

    /// True once `close`, `abort` or loss began.
    fn is_closing(&self) -> bool;

    /// Stops delivering data until [`resume_reading`](Self::resume_reading).
    /// Idempotent; safe after close.
    fn pause_reading(&mut self);

    /// Resumes delivering data. Idempotent; safe after close.
    fn resume_reading(&mut self);

    /// True unless reading was paused, or is over (EOF, close, abort or
    /// loss): what the protocol asked for, as asyncio's `is_reading()`. A
    /// transport may also hold reading on its own while its write buffer is
    /// above the high-water mark (read-side backpressure, on by default);
    /// that hold does not show here.
    fn is_reading(&self) -> bool;

    /// Bytes waiting in user space to be sent.
    fn get_write_buffer_size(&self) -> usize;

    /// True while the write buffer is strictly above its high-water mark: the
    /// state `PauseWriting` announces, readable at any moment. asyncio's
    /// producer loop (`while not paused: write(chunk)`) needs it inside a
    /// handler, since `PauseWriting` raised by a `write` arrives only after
    /// the handler returns.
    ///
    /// ```
    /// use switchboard::{ProtocolError, StreamEvent, StreamProtocol, StreamTransport};
    ///
    /// /// Sends `left` bytes of zeros, as fast as the peer takes them.
    /// struct Producer { left: usize }
    ///
    /// impl Producer {
    ///     fn produce(&mut self, t: &mut dyn StreamTransport) -> Result<(), ProtocolError> {
    ///         while self.left > 0 && !t.is_writing_paused() {
    ///             let n = self.left.min(64 * 1024);
    ///             t.write(&vec![0; n])?;
    ///             self.left -= n;
    ///         }
    ///         Ok(())
    ///     }
    /// }
    ///
    /// impl StreamProtocol for Producer {
    ///     fn handle(&mut self, ev: StreamEvent, t: &mut dyn StreamTransport) -> Result<(), ProtocolError> {
    ///         match ev {
    ///             StreamEvent::ConnectionMade | StreamEvent::ResumeWriting => self.produce(t),
    ///             _ => Ok(()),
    ///         }
    ///     }
    /// }
    /// # let _ = Producer { left: 0 };
    /// ```
    fn is_writing_paused(&self) -> bool {
        self.get_write_buffer_size() > self.get_write_buffer_limits().high
    }

    /// The current watermarks.
    fn get_write_buffer_limits(&self) -> WriteLimits;

    /// Sets the watermarks (see [`WriteLimits::new`]) and re-evaluates them at
    /// once, which may queue a `PauseWriting`.
    fn set_write_buffer_limits(
        &mut self,
        high: Option<usize>,
        low: Option<usize>,
    ) -> Result<(), LimitsError>;

    /// The answer to `EofReceived`: keep the write side open (asyncio's
    /// `eof_received` returning true). Has no effect outside that handler.
    fn keep_open(&mut self);

    /// Replaces the protocol; every later event goes to the new one, which may be
    /// of the other kind. Takes effect when the current handler returns.
    fn set_protocol(&mut self, protocol: AnyStreamProtocol<M>);

    /// `get_extra_info('peername')`.
    fn peername(&self) -> Option<Address>;

    /// `get_extra_info('sockname')`.
    fn sockname(&self) -> Option<Address>;

    /// `get_extra_info('socket')`: the raw descriptor while the socket is open.
    fn fileno(&self) -> Option<RawFd>;

    /// The socket, borrowed for typed option access (`set_nodelay`,
    /// keepalive, `SO_LINGER`, buffer sizes); `None` once it is closed.
    fn socket(&self) -> Option<SocketRef<'_>>;

    /// Sets a timer on this connection: `TimerFired(token)` is delivered to
    /// the protocol after `delay`, unless the connection is lost first. The
    /// protocol needs neither an [`Addr`] nor a `Send` message type for it.
    /// Timers cannot be cancelled; give each a token and ignore stale ones.
    fn call_later(&mut self, delay: Duration, token: u32);

    /// The address other actors can use to send this connection's protocol
    /// `StreamEvent::Message`s (`None` for transports outside a loop).
    fn addr(&self) -> Option<Addr<M>>
    where
        M: Send,
    {
        None
    }

    /// The TLS session's facts (asyncio's SSL keys of `get_extra_info`):
    /// `Some` on a TLS transport once its handshake is complete, `None` on a
    /// plain one.
    fn tls(&self) -> Option<&TlsInfo> {
        None
    }

    /// Upgrades this connection to TLS at this point of the byte stream
    /// (asyncio's `loop.start_tls`, asked for from inside the protocol).
    /// Takes effect when the current handler returns: bytes written before
    /// the call leave in plaintext, in order, ahead of the handshake; every
    /// later event and write goes through TLS, and this protocol keeps
    /// receiving the decrypted stream (no second `ConnectionMade`). Bytes
    /// already received past the upgrade point go in
    /// [`TlsUpgrade::leftover`]. A failed or timed-out handshake ends in
    /// `ConnectionLost(Some(TransportError::Tls(..)))`.
    ///
    /// Refused with [`TlsError::AlreadyTls`], [`TlsError::Closing`], or
    /// [`TlsError::Unsupported`] (the default, for transports outside a
    /// loop).
    fn start_tls(&mut self, upgrade: TlsUpgrade) -> Result<(), TlsError> {
        let _ = upgrade;
        Err(TlsError::Unsupported)
    }

    /// Internal, for the loop's high-level streams: this transport's actor
    /// id and the facts it shares with handles held outside it (made now if
    /// there were none), type-erased because they live in the actors crate.
    /// `None` (the default) for transports outside a loop.
    #[doc(hidden)]
    fn share_facts(&mut self) -> Option<(crate::ActorId, std::rc::Rc<dyn std::any::Any>)> {
        None
    }
}
