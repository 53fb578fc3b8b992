//! Commands for a stream transport from outside its protocol (a handle held by
//! `main` or another actor). Inside its handler a protocol calls its transport
//! directly instead.

use bytes::Bytes;

/// A command to a stream transport, applied on the loop thread in the order
/// sent. Each maps to the `asyncio.Transport` method of the same name.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum StreamCommand {
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
    /// `transport.set_write_buffer_limits(high, low)`; invalid limits are
    /// reported to the exception handler.
    SetWriteBufferLimits {
        /// The high-water mark.
        high: Option<usize>,
        /// The low-water mark.
        low: Option<usize>,
    },
}
