//! Errors shared by the loop, the transports and user protocols.

use std::io;
use std::sync::Arc;

use crate::addr::{CallError, SendError};

/// Why a connection was lost: the payload of `ConnectionLost(Some(..))`.
///
/// `ConnectionLost(None)` means a clean end (a close, an abort or a peer EOF);
/// `Some(TransportError)` means the connection was lost to a failure. This is
/// twisted's "done versus lost" split, and asyncio's `connection_lost(exc)`.
/// The enum is `Clone` so the same reason can go both to the protocol and to the
/// loop's exception handler.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The peer reset the connection (`ECONNRESET`): asyncio's `ConnectionResetError`.
    #[error("connection reset by peer")]
    ConnectionReset,
    /// Writing to a peer that has gone (`EPIPE`): asyncio's `BrokenPipeError`.
    #[error("broken pipe")]
    BrokenPipe,
    /// Another operating-system error during `op` (for example `"read"`, `"write"`).
    #[error("{op} failed: {source}")]
    Io {
        /// The operation that failed.
        op: &'static str,
        /// The OS error, kept intact.
        #[source]
        source: Arc<io::Error>,
    },
    /// The protocol handler failed (returned an error or panicked) and the transport
    /// was aborted, as asyncio does when `data_received()` raises.
    #[error("protocol failed: {message}")]
    ProtocolFailed {
        /// The protocol's own error, rendered.
        message: String,
    },
    /// A buffered protocol's `get_buffer` returned an empty buffer.
    #[error("get_buffer() returned an empty buffer")]
    EmptyBuffer,
    /// The write buffer grew past the transport's hard cap (a limit that
    /// asyncio does not have) and the transport was aborted.
    #[error("write buffer exceeded its hard cap of {cap} bytes")]
    BufferOverflow {
        /// The cap that was exceeded.
        cap: usize,
    },
    /// `close()` could not flush within the transport's close timeout, so the
    /// transport was aborted with `pending` bytes unsent.
    #[error("close timed out with {pending} bytes unsent")]
    CloseTimedOut {
        /// Bytes dropped.
        pending: usize,
    },
    /// The TLS layer failed: a handshake refused or timed out, a corrupted
    /// record, a stream truncated without close_notify, a shutdown that
    /// timed out.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
}

impl TransportError {
    /// Classifies an I/O error from `op`: resets and broken pipes get their own
    /// variants, everything else keeps the OS error.
    pub fn from_io(op: &'static str, err: io::Error) -> Self {
        match err.kind() {
            io::ErrorKind::ConnectionReset => TransportError::ConnectionReset,
            io::ErrorKind::BrokenPipe => TransportError::BrokenPipe,
            _ => TransportError::Io {
                op,
                source: Arc::new(err),
            },
        }
    }

    /// True for the connection errors asyncio does not log outside debug mode
    /// (reset, broken pipe, aborted).
    pub fn is_connection_error(&self) -> bool {
        match self {
            TransportError::ConnectionReset | TransportError::BrokenPipe => true,
            TransportError::Io { source, .. } => matches!(
                source.kind(),
                io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionRefused
            ),
            _ => false,
        }
    }
}

/// A write that the transport refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// `write()` after `write_eof()`: asyncio's
    /// `RuntimeError('Cannot call write() after write_eof()')`. A write after
    /// `close()`/`abort()`/loss is *not* an error: it is dropped silently.
    #[error("cannot call write() after write_eof()")]
    AfterWriteEof,
    /// `write()` while `loop.sendfile` sends a file over the transport's
    /// socket: asyncio's `RuntimeError('unable to write; sendfile is in
    /// progress')`.
    #[error("unable to write: sendfile is in progress")]
    SendfileInProgress,
    /// `write_eof()` on a TLS transport: TLS cannot half-close (asyncio
    /// raises `NotImplementedError`). Close the connection instead; the peer
    /// then gets a close_notify, which it sees as its `EofReceived`.
    #[error("write_eof() is not supported on a tls transport: tls cannot half-close")]
    EofNotSupported,
    /// `sendto` with an address on a connected datagram endpoint, or without one
    /// on an unconnected endpoint.
    #[error("invalid address for this datagram endpoint: {reason}")]
    InvalidAddress {
        /// What was wrong.
        reason: &'static str,
    },
}

/// An invalid `set_write_buffer_limits` call (asyncio raises `ValueError`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("high ({high}) must be >= low ({low}) must be >= 0")]
pub struct LimitsError {
    /// The high-water mark asked for.
    pub high: usize,
    /// The low-water mark asked for.
    pub low: usize,
}

/// The error a protocol handler returns. Returning `Err` is the Rust twin of
/// raising inside `data_received()`: the loop reports it to the exception handler
/// with `"Fatal error: protocol.<callback>() call failed."`, aborts the transport
/// and delivers `ConnectionLost(Some(TransportError::ProtocolFailed { .. }))`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A refused write, propagated with `?`.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// An I/O error the protocol ran into.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// A message to another actor could not be delivered (it has stopped or
    /// its loop is closed), propagated with `?` from `Addr::send`.
    #[error("cannot deliver a message: the actor has stopped or its loop is closed")]
    Send,
    /// A message to another actor was refused: its bounded mailbox is full
    /// (use `Addr::forward` from a protocol to pause reading instead).
    #[error("cannot deliver a message: the actor's mailbox is full")]
    MailboxFull,
    /// A question to another actor got no answer, propagated with `?` from
    /// `Addr::call`.
    #[error(transparent)]
    Call(#[from] CallError),
    /// A framer refused the input (a line too long, a frame too large, a
    /// frame the protocol's framer calls invalid), propagated with `?` or by
    /// the default `FrameHandler::framing_error`.
    #[error(transparent)]
    Framing(#[from] crate::ready_made::FramingError),
    /// A refused TLS upgrade, propagated with `?` from
    /// [`StreamTransport::start_tls`](crate::StreamTransport::start_tls).
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// Any other failure, described.
    #[error("{0}")]
    Failed(String),
}

impl<M> From<SendError<M>> for ProtocolError {
    fn from(e: SendError<M>) -> Self {
        if e.is_full() {
            ProtocolError::MailboxFull
        } else {
            ProtocolError::Send
        }
    }
}

impl ProtocolError {
    /// A failure with a message.
    pub fn failed(message: impl Into<String>) -> Self {
        ProtocolError::Failed(message.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// S7's non-reset branch: a loopback peer cannot make a socket read fail
    /// with anything but a reset, so the classification the read path
    /// applies is checked here on the errors it would meet (EIO, ETIMEDOUT,
    /// EHOSTUNREACH): each keeps its OS error under `Io { op: "read" }` and
    /// is not a connection error, so it is reported as fatal, unlike a reset.
    #[test]
    fn s7_a_non_reset_read_error_keeps_its_os_error_and_is_fatal() {
        for errno in [5, 110, 113] {
            let err = TransportError::from_io("read", io::Error::from_raw_os_error(errno));
            match &err {
                TransportError::Io { op, source } => {
                    assert_eq!(*op, "read");
                    assert_eq!(source.raw_os_error(), Some(errno));
                }
                other => panic!("{errno}: {other:?}"),
            }
            assert!(!err.is_connection_error(), "{errno}");
        }
        let reset = TransportError::from_io("read", io::Error::from_raw_os_error(104));
        assert!(matches!(reset, TransportError::ConnectionReset));
        assert!(reset.is_connection_error());
    }
}
