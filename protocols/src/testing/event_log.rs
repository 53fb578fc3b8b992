//! The event log a recording protocol writes and a test reads.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::{Bytes, BytesMut};

/// One event as a recording protocol saw it, in a form a test can compare.
///
/// Payloads that are not comparable (errors, application messages) are kept
/// rendered as strings.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Recorded {
    /// `ConnectionMade`.
    ConnectionMade,
    /// `DataReceived(bytes)`.
    Data(Bytes),
    /// `EofReceived`.
    Eof,
    /// `PauseWriting`.
    PauseWriting,
    /// `ResumeWriting`.
    ResumeWriting,
    /// `ConnectionLost(reason)`, with the reason rendered by `Display`.
    Lost(Option<String>),
    /// `BufferUpdated(n)` of a buffered protocol.
    BufferUpdated(usize),
    /// `Message(m)`, with the message rendered by `Debug`.
    Message(String),
    /// `TimerFired(token)`.
    TimerFired(u32),
}

impl Recorded {
    /// The event's name, as the grammar speaks of it (`"DataReceived"`, …).
    ///
    /// ```
    /// use switchboard::testing::Recorded;
    /// assert_eq!(Recorded::Eof.name(), "EofReceived");
    /// ```
    pub fn name(&self) -> &'static str {
        match self {
            Recorded::ConnectionMade => "ConnectionMade",
            Recorded::Data(_) => "DataReceived",
            Recorded::Eof => "EofReceived",
            Recorded::PauseWriting => "PauseWriting",
            Recorded::ResumeWriting => "ResumeWriting",
            Recorded::Lost(_) => "ConnectionLost",
            Recorded::BufferUpdated(_) => "BufferUpdated",
            Recorded::Message(_) => "Message",
            Recorded::TimerFired(_) => "TimerFired",
        }
    }
}

impl fmt::Display for Recorded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Default)]
struct Inner {
    events: Vec<Recorded>,
    /// Every byte received, through `Data` or `BufferUpdated`, in order.
    bytes: BytesMut,
}

/// A shared, append-only log of [`Recorded`] events.
///
/// Clones share one log, so a test keeps a clone while the protocol that
/// writes to it moves into a transport (or to the loop thread).
///
/// ```
/// use bytes::Bytes;
/// use switchboard::testing::{EventLog, Recorded};
///
/// let log = EventLog::new();
/// let writer = log.clone();
/// writer.push(Recorded::ConnectionMade);
/// writer.push(Recorded::Data(Bytes::from_static(b"hi")));
/// assert_eq!(log.len(), 2);
/// assert_eq!(&log.data()[..], b"hi");
/// ```
#[derive(Debug, Clone, Default)]
pub struct EventLog(Arc<Mutex<Inner>>);

impl EventLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    // A test that panicked while holding the lock already failed; the log is
    // still readable, so poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends an event. A `Data` payload also joins [`data`](Self::data).
    pub fn push(&self, event: Recorded) {
        let mut inner = self.lock();
        if let Recorded::Data(bytes) = &event {
            inner.bytes.extend_from_slice(bytes);
        }
        inner.events.push(event);
    }

    /// Appends `BufferUpdated(bytes.len())` and adds `bytes` to
    /// [`data`](Self::data): what a buffered protocol got.
    pub fn push_buffer_updated(&self, bytes: &[u8]) {
        let mut inner = self.lock();
        inner.bytes.extend_from_slice(bytes);
        inner.events.push(Recorded::BufferUpdated(bytes.len()));
    }

    /// A copy of the events so far.
    pub fn snapshot(&self) -> Vec<Recorded> {
        self.lock().events.clone()
    }

    /// How many events were logged.
    pub fn len(&self) -> usize {
        self.lock().events.len()
    }

    /// True when nothing was logged.
    pub fn is_empty(&self) -> bool {
        self.lock().events.is_empty()
    }

    /// Every byte received so far (all `Data` payloads and buffered-protocol
    /// reads), concatenated.
    pub fn data(&self) -> Bytes {
        Bytes::copy_from_slice(&self.lock().bytes)
    }

    /// How many `Lost` events were logged (1 for a finished connection).
    pub fn lost_count(&self) -> usize {
        let inner = self.lock();
        inner
            .events
            .iter()
            .filter(|e| matches!(e, Recorded::Lost(_)))
            .count()
    }

    /// Checks the finished log against the stream grammar; see
    /// [`check_stream_grammar`](super::check_stream_grammar).
    pub fn check_grammar(&self) -> Result<(), super::GrammarError> {
        super::check_stream_grammar(&self.lock().events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_one_log() {
        let log = EventLog::new();
        let other = log.clone();
        other.push(Recorded::ConnectionMade);
        assert_eq!(log.snapshot(), vec![Recorded::ConnectionMade]);
        assert!(!log.is_empty());
    }

    #[test]
    fn data_joins_data_and_buffer_updates_in_order() {
        let log = EventLog::new();
        log.push(Recorded::Data(Bytes::from_static(b"ab")));
        log.push_buffer_updated(b"cd");
        log.push(Recorded::Eof);
        assert_eq!(&log.data()[..], b"abcd");
        assert_eq!(log.len(), 3);
        assert_eq!(log.snapshot()[1], Recorded::BufferUpdated(2));
    }

    #[test]
    fn lost_count_counts_every_lost() {
        let log = EventLog::new();
        assert_eq!(log.lost_count(), 0);
        log.push(Recorded::Lost(None));
        log.push(Recorded::Lost(Some("boom".into())));
        assert_eq!(log.lost_count(), 2);
    }

    #[test]
    fn names_follow_the_grammar() {
        assert_eq!(Recorded::Data(Bytes::new()).to_string(), "DataReceived");
        assert_eq!(Recorded::Lost(None).name(), "ConnectionLost");
    }
}
