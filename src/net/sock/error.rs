//! Errors of the `sock_*` methods.

use std::io;
use std::os::fd::RawFd;

use crate::error::LoopError;
use crate::net::error::NetError;

/// Why a `sock_*` method failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SockError {
    /// The loop refused (it is closed).
    #[error(transparent)]
    Loop(#[from] LoopError),
    /// The socket is in blocking mode; asyncio refuses it too
    /// (`ValueError('the socket must be non-blocking')`).
    #[error("socket {fd} must be non-blocking")]
    Blocking {
        /// The descriptor.
        fd: RawFd,
    },
    /// A transport of this loop owns the socket.
    #[error("file descriptor {fd} is used by a transport")]
    OwnedByTransport {
        /// The descriptor.
        fd: RawFd,
    },
    /// The operation failed.
    #[error("{op} on socket {fd} failed: {source}")]
    Io {
        /// The operation (`"recv"`, `"connect"`…).
        op: &'static str,
        /// The descriptor.
        fd: RawFd,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Resolving the host of `sock_connect_host` failed.
    #[error(transparent)]
    Resolve(#[from] NetError),
}

impl SockError {
    /// The OS error kind behind this error, if there is one.
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        match self {
            SockError::Io { source, .. } => Some(source.kind()),
            SockError::Resolve(e) => e.io_kind(),
            _ => None,
        }
    }
}
