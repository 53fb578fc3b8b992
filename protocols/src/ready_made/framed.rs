//! `Framed`: a stream protocol that cuts the byte stream into frames with a
//! [`Framer`] and hands each frame to a handler. [`Lines`](super::Lines) and
//! [`LengthPrefixed`](super::LengthPrefixed) are two framings of it.

use std::fmt;

use bytes::Bytes;

use crate::error::ProtocolError;
use crate::ready_made::FramingError;
use crate::stream::{StreamEvent, StreamProtocol, StreamTransport};

/// A pure framing: bytes in, whole frames out.
pub trait Framer {
    /// Appends received bytes.
    fn push(&mut self, data: &[u8]);
    /// Pops the next complete frame; `Ok(None)` when none is complete yet.
    fn next_frame(&mut self) -> Result<Option<Bytes>, FramingError>;
    /// At end of stream, after `next_frame` returned `None`: a last frame the
    /// framing allows without a terminator (an unterminated line), `None`, or
    /// an error for a partial frame.
    fn finish(&mut self) -> Result<Option<Bytes>, FramingError>;
}

/// A framed protocol: calls `handler(frame, transport)` once per frame.
///
/// `DataReceived` feeds the framer; each complete frame goes to the handler.
/// At `EofReceived` the framer's [`finish`](Framer::finish) may hand over a
/// last frame (or fail the connection), then the transport closes as usual
/// (the handler may call `keep_open()` in that call). Once the transport is
/// closing no further frame is handed over, even from the same read. A framing
/// error or a handler error fails the connection (see
/// [`StreamProtocol::handle`](crate::StreamProtocol::handle)).
pub struct Framed<F, H> {
    framer: F,
    handler: H,
}

impl<F, H> Framed<F, H>
where
    F: Framer + 'static,
    H: FnMut(Bytes, &mut dyn StreamTransport) -> Result<(), ProtocolError> + 'static,
{
    /// A protocol over any framing of your own.
    pub fn with_framer(framer: F, handler: H) -> Self {
        Framed { framer, handler }
    }
}

impl<F: fmt::Debug, H> fmt::Debug for Framed<F, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Framed")
            .field("framer", &self.framer)
            .finish_non_exhaustive()
    }
}

impl<F, H> StreamProtocol for Framed<F, H>
where
    F: Framer + 'static,
    H: FnMut(Bytes, &mut dyn StreamTransport) -> Result<(), ProtocolError> + 'static,
{
    fn handle(
        &mut self,
        event: StreamEvent,
        transport: &mut dyn StreamTransport,
    ) -> Result<(), ProtocolError> {
        match event {
            StreamEvent::DataReceived(data) => {
                self.framer.push(&data);
                while !transport.is_closing() {
                    match self.framer.next_frame()? {
                        Some(frame) => (self.handler)(frame, transport)?,
                        None => break,
                    }
                }
            }
            StreamEvent::EofReceived if !transport.is_closing() => {
                if let Some(frame) = self.framer.finish()? {
                    (self.handler)(frame, transport)?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}
