//! A buffered protocol that logs every event it gets.

use std::fmt::{self, Debug};

use super::event_log::{EventLog, Recorded};
use crate::error::ProtocolError;
use crate::stream::{BufferedEvent, BufferedProtocol, StreamTransport};

/// A [`BufferedProtocol`] with a fixed-size buffer that logs every event; a
/// `BufferUpdated(n)` is logged with the `n` bytes it got, so
/// [`EventLog::data`] holds everything received.
///
/// A small buffer (7 bytes, 50 bytes) makes the transport split reads, as
/// uvloop's `test_create_server_buffered_1` does (B4).
///
/// ```
/// use switchboard::testing::{FakeConnection, Recorded, RecordingBufferedProtocol};
///
/// let protocol = RecordingBufferedProtocol::new(7);
/// let log = protocol.log();
/// let mut conn = FakeConnection::buffered(protocol);
/// conn.connect()?;
/// conn.receive(b"0123456789abcdef")?;
/// conn.receive_eof()?;
/// assert_eq!(
///     log.snapshot(),
///     [
///         Recorded::ConnectionMade,
///         Recorded::BufferUpdated(7),
///         Recorded::BufferUpdated(7),
///         Recorded::BufferUpdated(2),
///         Recorded::Eof,
///         Recorded::Lost(None),
///     ]
/// );
/// assert_eq!(&log.data()[..], b"0123456789abcdef");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct RecordingBufferedProtocol {
    log: EventLog,
    buffer: Box<[u8]>,
    keep_open_on_eof: bool,
}

impl Debug for RecordingBufferedProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordingBufferedProtocol")
            .field("log", &self.log)
            .field("buffer_len", &self.buffer.len())
            .field("keep_open_on_eof", &self.keep_open_on_eof)
            .finish()
    }
}

impl RecordingBufferedProtocol {
    /// A protocol whose `get_buffer` always lends `buffer_len` bytes; 0 makes
    /// it return an empty buffer, which is a fatal error (B3).
    pub fn new(buffer_len: usize) -> Self {
        Self::with_log(buffer_len, EventLog::new())
    }

    /// Like [`new`](Self::new), recording into `log`.
    pub fn with_log(buffer_len: usize, log: EventLog) -> Self {
        RecordingBufferedProtocol {
            log,
            buffer: vec![0; buffer_len].into_boxed_slice(),
            keep_open_on_eof: false,
        }
    }

    /// A handle on the log (clones share it).
    pub fn log(&self) -> EventLog {
        self.log.clone()
    }

    /// On `EofReceived`, call `keep_open()`.
    pub fn keep_open_on_eof(mut self, yes: bool) -> Self {
        self.keep_open_on_eof = yes;
        self
    }
}

impl<M: Debug + 'static> BufferedProtocol<M> for RecordingBufferedProtocol {
    fn get_buffer(&mut self, _sizehint: isize) -> &mut [u8] {
        &mut self.buffer
    }

    fn handle(
        &mut self,
        event: BufferedEvent<M>,
        transport: &mut dyn StreamTransport<M>,
    ) -> Result<(), ProtocolError> {
        match event {
            BufferedEvent::ConnectionMade => self.log.push(Recorded::ConnectionMade),
            BufferedEvent::BufferUpdated(n) => {
                let got = self.buffer.get(..n).ok_or_else(|| {
                    ProtocolError::failed(format!(
                        "buffer_updated({n}) exceeds the {}-byte buffer",
                        self.buffer.len()
                    ))
                })?;
                self.log.push_buffer_updated(got);
            }
            BufferedEvent::EofReceived => {
                self.log.push(Recorded::Eof);
                if self.keep_open_on_eof {
                    transport.keep_open();
                }
            }
            BufferedEvent::PauseWriting => self.log.push(Recorded::PauseWriting),
            BufferedEvent::ResumeWriting => self.log.push(Recorded::ResumeWriting),
            BufferedEvent::ConnectionLost(reason) => {
                self.log.push(Recorded::Lost(reason.map(|e| e.to_string())));
            }
            BufferedEvent::Message(m) => self.log.push(Recorded::Message(format!("{m:?}"))),
            BufferedEvent::TimerFired(token) => self.log.push(Recorded::TimerFired(token)),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::FakeTransport;

    #[test]
    fn double_logs_the_bytes_written_into_the_buffer() {
        let mut p = RecordingBufferedProtocol::new(50);
        let mut t = FakeTransport::new();
        let buf = BufferedProtocol::<crate::NoMessage>::get_buffer(&mut p, -1);
        assert_eq!(buf.len(), 50);
        buf[..3].copy_from_slice(b"abc");
        BufferedProtocol::handle(&mut p, BufferedEvent::BufferUpdated(3), &mut t)
            .expect("3 bytes fit");
        assert_eq!(p.log().snapshot(), vec![Recorded::BufferUpdated(3)]);
        assert_eq!(&p.log().data()[..], b"abc");
    }

    #[test]
    fn double_oversized_update_is_an_error() {
        let mut p = RecordingBufferedProtocol::new(2);
        let mut t = FakeTransport::new();
        let err = BufferedProtocol::handle(&mut p, BufferedEvent::BufferUpdated(3), &mut t);
        assert!(err.is_err());
    }

    #[test]
    fn double_keep_open_on_eof() {
        let mut p = RecordingBufferedProtocol::new(1).keep_open_on_eof(true);
        let mut t = FakeTransport::new();
        BufferedProtocol::handle(&mut p, BufferedEvent::EofReceived, &mut t).expect("eof");
        assert!(t.kept_open());
        assert_eq!(p.log().snapshot(), vec![Recorded::Eof]);
    }
}
