//! Errors of connecting pipes.

use std::io;
use std::os::fd::RawFd;

use crate::error::LoopError;

/// Why `connect_read_pipe` or `connect_write_pipe` failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipeError {
    /// The loop refused (closed).
    #[error(transparent)]
    Loop(#[from] LoopError),
    /// The descriptor is not pipe-like: a regular file, a directory, a
    /// block device (asyncio's `ValueError('Pipe transport is for
    /// pipes/sockets only.')`, P1).
    #[error("fd {fd} is not a pipe, a socket or a character device")]
    NotAPipe {
        /// The descriptor.
        fd: RawFd,
    },
    /// Preparing or registering the descriptor failed.
    #[error("cannot {op} fd {fd}: {source}")]
    Os {
        /// What was tried.
        op: &'static str,
        /// The descriptor.
        fd: RawFd,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
}
