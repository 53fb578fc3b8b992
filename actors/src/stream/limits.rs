//! Opt-in limits of a stream transport.

use std::time::Duration;

/// Opt-in limits of a stream transport, beyond asyncio (BEHAVIOR.md fault
/// scenarios 4 and 5). Both are off by default, as in asyncio.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamLimits {
    /// A hard cap on the write buffer: a write that takes the buffered size
    /// past it aborts the transport with
    /// `ConnectionLost(Some(TransportError::BufferOverflow { cap }))`. The
    /// write itself still returns `Ok`. Meant to sit well above the high-water
    /// mark, so a protocol that honours `PauseWriting` never reaches it.
    pub max_write_buffer: Option<usize>,
    /// How long `close()` may wait for the buffer to drain: past it the
    /// transport aborts with
    /// `ConnectionLost(Some(TransportError::CloseTimedOut { pending }))`, so
    /// dropped bytes are never reported as a clean `None`. Kept in whole
    /// milliseconds (rounded up, at least 1).
    pub close_timeout: Option<Duration>,
}

impl StreamLimits {
    /// Sets [`max_write_buffer`](Self::max_write_buffer).
    pub fn max_write_buffer(mut self, cap: Option<usize>) -> Self {
        self.max_write_buffer = cap;
        self
    }
    /// Sets [`close_timeout`](Self::close_timeout).
    pub fn close_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.close_timeout = timeout;
        self
    }
}
