//! `Framed`: a stream protocol that cuts the byte stream into frames with a
//! [`Framer`] and hands each frame to a [`FrameHandler`]. [`Lines`](super::Lines)
//! and [`LengthPrefixed`](super::LengthPrefixed) are two framings of it.

use std::fmt;

use bytes::Bytes;

use crate::error::ProtocolError;
use crate::message::NoMessage;
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

/// What a [`Framed`] protocol hands its frames to: a protocol of your own,
/// with its own state and its own message type `M`, that sees whole frames
/// instead of `DataReceived`.
///
/// Every other event passes through to [`event`](Self::event) in the
/// connection's order: `ConnectionMade`, `PauseWriting`/`ResumeWriting`,
/// `Message(M)`, `TimerFired`, `EofReceived` (after the last frame, so
/// `keep_open()` may be called there) and `ConnectionLost`. A closure
/// `FnMut(Bytes, &mut dyn StreamTransport) -> Result<(), ProtocolError>` is a
/// handler that ignores the other events.
///
/// ```
/// use bytes::Bytes;
/// use switchboard::ready_made::{FrameHandler, Lines};
/// use switchboard::{ProtocolError, StreamEvent, StreamTransport};
///
/// /// Counts lines and answers `count` with the total so far.
/// #[derive(Default)]
/// struct Counter { seen: usize }
///
/// impl FrameHandler for Counter {
///     fn frame(&mut self, line: Bytes, t: &mut dyn StreamTransport) -> Result<(), ProtocolError> {
///         self.seen += 1;
///         if &line[..] == b"count" {
///             t.write(format!("{}\r\n", self.seen).as_bytes())?;
///         }
///         Ok(())
///     }
///     fn event(&mut self, ev: StreamEvent, t: &mut dyn StreamTransport) -> Result<(), ProtocolError> {
///         if let StreamEvent::ConnectionMade = ev {
///             t.write(b"hello\r\n")?;
///         }
///         Ok(())
///     }
/// }
///
/// let protocol = Lines::with_handler(1024, Counter::default()).strip_cr(true);
/// let mut conn = switchboard::testing::FakeConnection::new(protocol);
/// conn.connect()?;
/// conn.receive(b"a\r\nb\r\ncount\r\n")?;
/// assert_eq!(conn.transport().written(), b"hello\r\n3\r\n");
/// # Ok::<(), ProtocolError>(())
/// ```
pub trait FrameHandler<M: 'static = NoMessage>: 'static {
    /// One whole frame.
    fn frame(
        &mut self,
        frame: Bytes,
        transport: &mut dyn StreamTransport<M>,
    ) -> Result<(), ProtocolError>;

    /// Any event other than `DataReceived`; ignored unless overridden.
    fn event(
        &mut self,
        event: StreamEvent<M>,
        transport: &mut dyn StreamTransport<M>,
    ) -> Result<(), ProtocolError> {
        let _ = (event, transport);
        Ok(())
    }
}

impl<H> FrameHandler for H
where
    H: FnMut(Bytes, &mut dyn StreamTransport) -> Result<(), ProtocolError> + 'static,
{
    fn frame(&mut self, frame: Bytes, t: &mut dyn StreamTransport) -> Result<(), ProtocolError> {
        self(frame, t)
    }
}

/// A framed protocol: calls the handler's [`frame`](FrameHandler::frame) once
/// per frame.
///
/// `DataReceived` feeds the framer; each complete frame goes to the handler.
/// At `EofReceived` the framer's [`finish`](Framer::finish) may hand over a
/// last frame (or fail the connection); then `EofReceived` itself goes to the
/// handler, and the transport closes as usual unless the handler called
/// `keep_open()`. Once the transport is closing no further frame is handed
/// over, even from the same read. A framing error or a handler error fails the
/// connection (see [`StreamProtocol::handle`]).
pub struct Framed<F, H> {
    framer: F,
    handler: H,
}

impl<F, H> Framed<F, H>
where
    F: Framer + 'static,
{
    /// A protocol over any framing of your own.
    pub fn with_framer(framer: F, handler: H) -> Self {
        Framed { framer, handler }
    }

    /// The handler, to read its state.
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// The framer (to change its settings).
    pub fn framer_mut(&mut self) -> &mut F {
        &mut self.framer
    }
}

impl<F: fmt::Debug, H> fmt::Debug for Framed<F, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Framed")
            .field("framer", &self.framer)
            .finish_non_exhaustive()
    }
}

impl<F, H, M> StreamProtocol<M> for Framed<F, H>
where
    F: Framer + 'static,
    H: FrameHandler<M>,
    M: 'static,
{
    fn handle(
        &mut self,
        event: StreamEvent<M>,
        transport: &mut dyn StreamTransport<M>,
    ) -> Result<(), ProtocolError> {
        match event {
            StreamEvent::DataReceived(data) => {
                self.framer.push(&data);
                while !transport.is_closing() {
                    match self.framer.next_frame()? {
                        Some(frame) => self.handler.frame(frame, transport)?,
                        None => break,
                    }
                }
                Ok(())
            }
            StreamEvent::EofReceived => {
                if !transport.is_closing() {
                    if let Some(frame) = self.framer.finish()? {
                        self.handler.frame(frame, transport)?;
                    }
                }
                self.handler.event(StreamEvent::EofReceived, transport)
            }
            other => self.handler.event(other, transport),
        }
    }
}
