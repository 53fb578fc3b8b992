//! Length-prefixed framing: a `u32` big-endian length, then that many bytes.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::framed::{Framed, Framer};
use super::framing_error::FramingError;
use crate::error::ProtocolError;
use crate::stream::StreamTransport;

/// The size of the length header.
const HEADER_LEN: usize = 4;

/// Encodes one frame: the payload's length as a `u32` big-endian, then the
/// payload.
///
/// # Panics
///
/// If `payload` is longer than `u32::MAX` bytes (no header can say so).
///
/// ```
/// use switchboard::ready_made::encode;
/// assert_eq!(&encode(b"hi")[..], b"\0\0\0\x02hi");
/// ```
pub fn encode(payload: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(HEADER_LEN + payload.len());
    encode_into(&mut out, payload);
    out.freeze()
}

/// Appends one encoded frame to `out`, to batch several frames in one write.
///
/// # Panics
///
/// If `payload` is longer than `u32::MAX` bytes.
pub fn encode_into(out: &mut BytesMut, payload: &[u8]) {
    let len = u32::try_from(payload.len()).expect("frame payload longer than u32::MAX bytes");
    out.reserve(HEADER_LEN + payload.len());
    out.put_u32(len);
    out.extend_from_slice(payload);
}

/// What the decoder waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Awaiting {
    /// The next 4-byte header.
    Header,
    /// The payload of a frame whose header said `len`.
    Payload { len: usize },
}

/// Splits a byte stream into length-prefixed frames, however it is chunked.
///
/// A header announcing more than `max_frame_length` bytes is a
/// [`FramingError::FrameTooLarge`] as soon as the header is complete, before
/// any of the payload is buffered. A header within the limit reserves
/// nothing: the buffer grows only as the payload arrives. After an error the
/// framer keeps failing.
/// Frames share the framer's buffer (`Bytes` slices), so popping one does not
/// allocate.
///
/// ```
/// use switchboard::ready_made::{encode, FramingError, LengthPrefixedFramer};
///
/// let mut framer = LengthPrefixedFramer::new(1024);
/// let wire = encode(b"hello");
/// framer.push(&wire[..3]);
/// assert_eq!(framer.next_frame()?, None);
/// framer.push(&wire[3..]);
/// assert_eq!(framer.next_frame()?.as_deref(), Some(&b"hello"[..]));
///
/// framer.push(&2000u32.to_be_bytes());
/// assert_eq!(framer.next_frame(), Err(FramingError::FrameTooLarge { len: 2000, max: 1024 }));
/// # Ok::<(), FramingError>(())
/// ```
#[derive(Debug, Clone)]
pub struct LengthPrefixedFramer {
    buf: BytesMut,
    awaiting: Awaiting,
    max_frame_length: usize,
}

impl Default for LengthPrefixedFramer {
    fn default() -> Self {
        Self::new(Self::DEFAULT_MAX_FRAME_LENGTH)
    }
}

impl LengthPrefixedFramer {
    /// The default largest frame payload: 16 MiB.
    pub const DEFAULT_MAX_FRAME_LENGTH: usize = 16 * 1024 * 1024;

    /// A framer that accepts payloads of at most `max_frame_length` bytes.
    pub fn new(max_frame_length: usize) -> Self {
        LengthPrefixedFramer {
            buf: BytesMut::new(),
            awaiting: Awaiting::Header,
            max_frame_length,
        }
    }

    /// Appends received bytes.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Pops the next complete frame's payload; `Ok(None)` when none is
    /// complete yet.
    pub fn next_frame(&mut self) -> Result<Option<Bytes>, FramingError> {
        if self.awaiting == Awaiting::Header {
            let Some(header) = self.buf.get(..HEADER_LEN) else {
                return Ok(None);
            };
            let mut header = header;
            // A u32 always fits a usize on the 32- and 64-bit targets we build for.
            let len = header.get_u32() as usize;
            if len > self.max_frame_length {
                return Err(FramingError::FrameTooLarge {
                    len,
                    max: self.max_frame_length,
                });
            }
            // No reserve for the announced length: the buffer grows only as
            // the payload arrives, so a header alone cannot make the framer
            // hold `max_frame_length` bytes of memory.
            self.buf.advance(HEADER_LEN);
            self.awaiting = Awaiting::Payload { len };
        }
        match self.awaiting {
            Awaiting::Payload { len } if self.buf.len() >= len => {
                self.awaiting = Awaiting::Header;
                Ok(Some(self.buf.split_to(len).freeze()))
            }
            _ => Ok(None),
        }
    }

    /// Bytes buffered that are not yet a complete frame (a consumed header
    /// not counted).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// True when the stream may end here: no partial header or payload.
    pub fn is_at_boundary(&self) -> bool {
        self.awaiting == Awaiting::Header && self.buf.is_empty()
    }
}

/// A length-prefixed protocol: calls `handler(payload, transport)` once per
/// frame. Reply with [`encode`] or [`encode_into`].
///
/// A too-large frame, a handler error, or an EOF in the middle of a frame
/// ([`FramingError::Truncated`]) fails the connection. Once the transport is
/// closing no further frame is handed over, even from the same read. At a
/// clean EOF the transport closes as usual.
///
/// ```
/// use switchboard::ready_made::{encode, LengthPrefixed};
/// use switchboard::testing::FakeConnection;
///
/// // Replies to each frame with the same payload, upper-cased.
/// let protocol = LengthPrefixed::new(1024, |frame, t| {
///     t.write_bytes(encode(&frame.to_ascii_uppercase()))?;
///     Ok(())
/// });
/// let mut conn = FakeConnection::new(protocol);
/// conn.connect()?;
/// conn.receive_bytewise(&encode(b"ping"))?;
/// assert_eq!(conn.transport().written(), &encode(b"PING")[..]);
/// # Ok::<(), switchboard::ProtocolError>(())
/// ```
pub type LengthPrefixed<H> = Framed<LengthPrefixedFramer, H>;

impl<H> Framed<LengthPrefixedFramer, H>
where
    H: FnMut(Bytes, &mut dyn StreamTransport) -> Result<(), ProtocolError> + 'static,
{
    /// A protocol that hands payloads of at most `max_frame_length` bytes to
    /// `handler`.
    pub fn new(max_frame_length: usize, handler: H) -> Self {
        Framed::with_framer(LengthPrefixedFramer::new(max_frame_length), handler)
    }
}

impl<H> Framed<LengthPrefixedFramer, H> {
    /// A protocol that hands payloads of at most `max_frame_length` bytes to
    /// a stateful [`FrameHandler`](super::FrameHandler), which also sees every
    /// other event and may take its own message type.
    pub fn with_handler(max_frame_length: usize, handler: H) -> Self {
        Framed::with_framer(LengthPrefixedFramer::new(max_frame_length), handler)
    }
}

impl Framer for LengthPrefixedFramer {
    type Item = Bytes;
    fn push(&mut self, data: &[u8]) {
        LengthPrefixedFramer::push(self, data);
    }
    fn next_frame(&mut self) -> Result<Option<Bytes>, FramingError> {
        LengthPrefixedFramer::next_frame(self)
    }
    /// A clean end is only at a frame boundary; otherwise [`FramingError::Truncated`].
    fn finish(&mut self) -> Result<Option<Bytes>, FramingError> {
        if self.is_at_boundary() {
            Ok(None)
        } else {
            Err(FramingError::Truncated {
                buffered: self.buffered(),
            })
        }
    }
}
#[cfg(test)]
mod tests;
