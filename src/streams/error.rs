//! What a stream read or drain can fail with.

use bytes::Bytes;
use switchboard_protocols::{TransportError, WriteError};

/// Why a [`StreamReader`](crate::StreamReader) or
/// [`StreamWriter`](crate::StreamWriter) call failed. Converts into
/// [`switchboard::Error`](crate::Error) with `?`.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// The stream ended before the read was complete (asyncio's
    /// `IncompleteReadError`): `partial` holds what was read, and is no
    /// longer in the reader's buffer.
    #[error("{} bytes read on a total of {} expected bytes", partial.len(), match expected { Some(n) => n.to_string(), None => "undefined".to_string() })]
    IncompleteRead {
        /// The bytes read before the end.
        partial: Bytes,
        /// How many bytes the read wanted (`None` for `readuntil`).
        expected: Option<usize>,
    },
    /// No separator within the reader's limit (asyncio's
    /// `LimitOverrunError`). For `readuntil` the data stays in the buffer,
    /// `consumed` bytes of it scanned; `readline` drops it as asyncio does
    /// (up to and including the separator if one was found beyond the
    /// limit, otherwise the whole buffer).
    #[error("separator is not found within the limit of {limit} bytes ({consumed} bytes scanned)")]
    LimitOverrun {
        /// How many bytes were scanned.
        consumed: usize,
        /// The reader's limit.
        limit: usize,
    },
    /// The connection (or pipe) was lost with an error.
    #[error("connection lost: {0}")]
    ConnectionLost(#[source] TransportError),
    /// `drain` on a connection that was lost without an error (asyncio's
    /// `ConnectionResetError('Connection lost')`).
    #[error("connection lost")]
    Closed,
    /// A write was refused (after `write_eof`, during `sendfile`); reported
    /// by the next `drain`, as [`StreamWriter::write`](crate::StreamWriter::write)
    /// returns nothing.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// An empty separator given to `readuntil`.
    #[error("separator should be at least one byte")]
    EmptySeparator,
}

impl From<StreamError> for std::io::Error {
    fn from(e: StreamError) -> Self {
        use std::io::ErrorKind;
        let kind = match &e {
            StreamError::IncompleteRead { .. } => ErrorKind::UnexpectedEof,
            StreamError::LimitOverrun { .. } | StreamError::EmptySeparator => {
                ErrorKind::InvalidData
            }
            StreamError::ConnectionLost(TransportError::ConnectionReset) => {
                ErrorKind::ConnectionReset
            }
            StreamError::ConnectionLost(TransportError::BrokenPipe) => ErrorKind::BrokenPipe,
            StreamError::Closed => ErrorKind::NotConnected,
            StreamError::ConnectionLost(_) | StreamError::Write(_) => ErrorKind::Other,
        };
        std::io::Error::new(kind, e)
    }
}
