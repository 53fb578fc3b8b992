//! Errors of `sendfile` and `sock_sendfile`.

use std::io;

use crate::error::LoopError;
use crate::net::sock::SockError;

/// Why `loop.sendfile` or `sock_sendfile` failed. The file position is set
/// to `offset` plus the bytes sent before the failure either way.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendfileError {
    /// The loop refused (it is closed).
    #[error(transparent)]
    Loop(#[from] LoopError),
    /// The OS cannot send this file over this socket with `sendfile(2)`, and
    /// `fallback(false)` forbade reading and writing instead (asyncio's
    /// `SendfileNotAvailableError`); nothing was sent.
    #[error("sendfile is not available for this file and socket: {reason}")]
    NotAvailable {
        /// What the OS said.
        reason: String,
    },
    /// The transport is closing or closed (asyncio's
    /// `RuntimeError('Transport is closing')`); nothing was sent.
    #[error("transport is closing")]
    TransportClosing,
    /// `count(0)` (asyncio's `ValueError('count must be a positive integer')`).
    #[error("count must be a positive integer, got 0")]
    InvalidCount,
    /// Sending failed after `sent` bytes (a peer that closed mid-transfer
    /// gives a connection error).
    #[error("sendfile failed after {sent} bytes: {source}")]
    Io {
        /// Bytes of the file sent before the failure.
        sent: u64,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The socket was refused (blocking, or a transport's) or waiting for it
    /// failed.
    #[error(transparent)]
    Sock(#[from] SockError),
}

impl SendfileError {
    /// The OS error kind behind this error, if there is one.
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        match self {
            SendfileError::Io { source, .. } => Some(source.kind()),
            SendfileError::Sock(e) => e.io_kind(),
            _ => None,
        }
    }
}
