//! The echo protocol of asyncio's "TCP Echo Server" example.

use crate::error::ProtocolError;
use crate::stream::{StreamEvent, StreamProtocol, StreamTransport};

/// Writes back every byte it receives, like asyncio's `EchoServerProtocol`.
///
/// On `EofReceived` it does nothing, so the transport closes itself once the
/// handler returns (asyncio's default: `eof_received` returning `None`); the
/// bytes already echoed are flushed first. Application messages are ignored.
/// The echo hands the received `Bytes` to `write_bytes`, so whatever the
/// kernel does not take is queued without a copy.
///
/// **Read-side backpressure (beyond asyncio).** asyncio's echo example ignores
/// flow control, so a peer that sends without reading grows the server's
/// write buffer without bound. `Echo` bounds it by default: on `PauseWriting`
/// (the buffer went past the high-water mark) it pauses reading, and on
/// `ResumeWriting` (drained to the low-water mark) it resumes, so a slow
/// consumer is pushed back through TCP's own window instead of through the
/// server's memory. Nothing is lost or reordered.
///
/// ```
/// use switchboard::ready_made::Echo;
/// use switchboard::testing::FakeConnection;
///
/// let mut conn = FakeConnection::new(Echo);
/// conn.connect()?;
/// conn.receive(b"hello")?;
/// assert_eq!(conn.transport().written(), b"hello");
/// conn.receive_eof()?;
/// assert!(conn.transport().closed());
/// # Ok::<(), switchboard::ProtocolError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Echo;

impl StreamProtocol for Echo {
    fn handle(
        &mut self,
        event: StreamEvent,
        transport: &mut dyn StreamTransport,
    ) -> Result<(), ProtocolError> {
        match event {
            StreamEvent::DataReceived(data) => transport.write_bytes(data)?,
            // Read-side backpressure: stop taking input while the output waits.
            StreamEvent::PauseWriting => transport.pause_reading(),
            StreamEvent::ResumeWriting => transport.resume_reading(),
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::FakeConnection;

    const TEXT: &[u8] = b"The quick brown fox\njumps over\r\nthe lazy dog";

    #[test]
    fn s3_echoes_whole_buffers_and_single_bytes_in_order() -> Result<(), ProtocolError> {
        for chunk in [TEXT.len(), 1, 3] {
            let mut conn = FakeConnection::new(Echo);
            conn.connect()?;
            conn.receive_in_chunks(TEXT, chunk)?;
            assert_eq!(conn.transport().written(), TEXT, "chunk {chunk}");
        }
        Ok(())
    }

    #[test]
    fn pause_writing_pauses_reading_and_resume_writing_resumes_it() -> Result<(), ProtocolError> {
        let mut conn = FakeConnection::new(Echo);
        conn.connect()?;
        assert!(conn.transport().is_reading());
        conn.receive(b"ab")?;
        conn.pause_writing()?;
        assert!(!conn.transport().is_reading(), "read-side backpressure");
        conn.resume_writing()?;
        assert!(conn.transport().is_reading());
        conn.receive(b"cd")?;
        assert_eq!(conn.transport().written(), b"abcd");
        // A second cycle works the same way.
        conn.pause_writing()?;
        assert!(!conn.transport().is_reading());
        conn.resume_writing()?;
        assert!(conn.transport().is_reading());
        Ok(())
    }

    #[test]
    fn h3_closes_on_eof() -> Result<(), ProtocolError> {
        let mut conn = FakeConnection::new(Echo);
        conn.connect()?;
        conn.receive(b"x")?;
        conn.receive_eof()?;
        assert!(conn.is_lost());
        assert!(!conn.transport().kept_open() && !conn.transport().aborted());
        assert_eq!(conn.transport().written(), b"x");
        Ok(())
    }
}
