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
/// ```
/// use switchboard_protocols::ready_made::Echo;
/// use switchboard_protocols::testing::FakeConnection;
///
/// let mut conn = FakeConnection::new(Echo);
/// conn.connect()?;
/// conn.receive(b"hello")?;
/// assert_eq!(conn.transport().written(), b"hello");
/// conn.receive_eof()?;
/// assert!(conn.transport().closed());
/// # Ok::<(), switchboard_protocols::ProtocolError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Echo;

impl StreamProtocol for Echo {
    fn handle(
        &mut self,
        event: StreamEvent,
        transport: &mut dyn StreamTransport,
    ) -> Result<(), ProtocolError> {
        if let StreamEvent::DataReceived(data) = event {
            transport.write_bytes(data)?;
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
