//! Errors of watching file descriptors.

use std::io;
use std::os::fd::RawFd;

use crate::error::LoopError;

/// Why `add_reader` or `add_writer` failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FdWatchError {
    /// The loop refused (it is closed).
    #[error(transparent)]
    Loop(#[from] LoopError),
    /// A transport of this loop owns the descriptor; asyncio refuses it too
    /// (`RuntimeError('File descriptor … is used by transport …')`).
    #[error("file descriptor {fd} is used by a transport")]
    OwnedByTransport {
        /// The descriptor.
        fd: RawFd,
    },
    /// The poller refused the descriptor (closed, or a regular file, which
    /// epoll cannot watch).
    #[error("cannot watch file descriptor {fd}: {source}")]
    Register {
        /// The descriptor.
        fd: RawFd,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}
