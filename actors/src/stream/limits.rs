//! The limits of a stream transport beyond asyncio's watermarks: what keeps
//! its memory bounded.

use std::time::Duration;

/// The default hard cap on a stream transport's write buffer: 64 MiB.
///
/// Generous: far above the high-water mark (64 KiB), so a protocol that
/// honours `PauseWriting`, or whose writes answer what it reads (read-side
/// backpressure holds those), never comes near it. It bounds what writes
/// that do not come from reading (a broadcast from other actors to a peer
/// that does not read) can pile up.
pub const DEFAULT_MAX_WRITE_BUFFER: usize = 64 * 1024 * 1024;

/// The limits of a stream transport beyond asyncio (fault scenarios 4 and 5:
/// a slow consumer, a close that cannot drain).
///
/// By default memory stays bounded under a peer that does not read:
/// read-side backpressure is on and the write buffer has a hard cap of
/// [`DEFAULT_MAX_WRITE_BUFFER`]; there is no close timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamLimits {
    /// A hard cap on the write buffer: a write that takes the buffered size
    /// past it aborts the transport with
    /// `ConnectionLost(Some(TransportError::BufferOverflow { cap }))`. The
    /// write itself still returns `Ok`. Default
    /// `Some(`[`DEFAULT_MAX_WRITE_BUFFER`]`)`; `None` disables it (asyncio has
    /// no cap). Meant to sit well above the high-water mark.
    pub max_write_buffer: Option<usize>,
    /// How long `close()` may wait for the buffer to drain: past it the
    /// transport aborts with
    /// `ConnectionLost(Some(TransportError::CloseTimedOut { pending }))`, so
    /// dropped bytes are never reported as a clean `None`. Kept in whole
    /// milliseconds (rounded up, at least 1). Default `None`: a close waits
    /// for the peer as long as it takes, as in asyncio.
    pub close_timeout: Option<Duration>,
    /// Read-side backpressure: while the write buffer is above its
    /// high-water mark (from the write that took it strictly above `high`
    /// until it drains to `low` or below, the span of a `PauseWriting`), the
    /// transport reads nothing from its socket, so a protocol that answers
    /// what it reads and ignores `PauseWriting` cannot grow its buffer
    /// without end under a peer that sends and never reads. Default `true`.
    /// `is_reading()` does not show this hold: it reports what the protocol
    /// asked for. With `false`, reading goes on as in asyncio.
    pub read_backpressure: bool,
    /// The most calls a protocol may have in flight (`t.call`, made and
    /// not yet handed over) before its transport stops reading; reading
    /// resumes as answers are handed over. Default
    /// [`DEFAULT_MAX_CALLS_IN_FLIGHT`](crate::stream::DEFAULT_MAX_CALLS_IN_FLIGHT)
    /// (64); at least 1, at most 65,535 (a larger bound counts as 65,535).
    pub max_calls_in_flight: usize,
}

impl Default for StreamLimits {
    /// Bounded by default: backpressure on, the default cap, no close
    /// timeout.
    fn default() -> Self {
        StreamLimits {
            max_write_buffer: Some(DEFAULT_MAX_WRITE_BUFFER),
            close_timeout: None,
            read_backpressure: true,
            max_calls_in_flight: crate::stream::DEFAULT_MAX_CALLS_IN_FLIGHT,
        }
    }
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
    /// Sets [`read_backpressure`](Self::read_backpressure).
    pub fn read_backpressure(mut self, on: bool) -> Self {
        self.read_backpressure = on;
        self
    }
    /// Sets [`max_calls_in_flight`](Self::max_calls_in_flight) (0 counts
    /// as 1).
    pub fn max_calls_in_flight(mut self, n: usize) -> Self {
        self.max_calls_in_flight = n.max(1);
        self
    }
}
