//! `CodecFramer`: any tokio-util [`Decoder`] as a [`Framer`] (the `codec`
//! feature).

use std::fmt;

use bytes::BytesMut;
use tokio_util::codec::Decoder;

use super::framed::{Framed, Framer};
use super::framing_error::FramingError;

/// A [`Framer`] that cuts frames with a tokio-util
/// [`Decoder`](tokio_util::codec::Decoder), so `LinesCodec`,
/// `LengthDelimitedCodec`, `AnyDelimiterCodec` and third-party codecs plug
/// into [`Framed`] unchanged. Needs the `codec` feature.
///
/// It keeps the received bytes in a `BytesMut` and hands it to
/// [`decode`](Decoder::decode) for each frame, then to
/// [`decode_eof`](Decoder::decode_eof) at end of stream until it returns
/// `None`, as tokio-util's `FramedRead` does. The frame is the decoder's
/// `Item`. A decoder error becomes [`FramingError::Invalid`] with the error's
/// `Display` text as its message (the error itself is not kept, so
/// `FramingError` stays `Clone` and `Eq`); [`Framed`] then hands it to the
/// handler's [`framing_error`](super::FrameHandler::framing_error) and uses
/// the decoder no more, as `FramedRead` does after an error.
///
/// The framer itself grows its buffer only as bytes arrive, but a decoder may
/// reserve ahead: `LengthDelimitedCodec` reserves a frame's announced length
/// (up to its `max_frame_length`, 8 MiB unless set), so set its limit to what
/// a connection may cost, or use
/// [`LengthPrefixedFramer`](super::LengthPrefixedFramer) for the same wire
/// format without the reserve.
///
/// ```
/// use switchboard::ready_made::{CodecFramer, Framer};
/// use tokio_util::codec::LinesCodec;
///
/// // LinesCodec yields `String`s, without the `\n` (or `\r\n`).
/// let mut framer = CodecFramer::new(LinesCodec::new_with_max_length(16));
/// framer.push(b"hello\r\nwor");
/// assert_eq!(framer.next_frame()?, Some("hello".to_string()));
/// assert_eq!(framer.next_frame()?, None);
/// framer.push(b"ld");
/// // At EOF LinesCodec hands over the unterminated last line.
/// assert_eq!(framer.finish()?, Some("world".to_string()));
/// assert_eq!(framer.finish()?, None);
///
/// // A decoder error keeps its text.
/// let mut framer = CodecFramer::new(LinesCodec::new_with_max_length(4));
/// framer.push(b"too long\n");
/// assert_eq!(framer.next_frame().unwrap_err().to_string(), "max line length exceeded");
/// # Ok::<(), switchboard::ready_made::FramingError>(())
/// ```
pub struct CodecFramer<D> {
    decoder: D,
    buf: BytesMut,
}

impl<D> CodecFramer<D> {
    /// A framer that cuts frames with `decoder`.
    pub fn new(decoder: D) -> Self {
        CodecFramer {
            decoder,
            buf: BytesMut::new(),
        }
    }

    /// The decoder, to read its state.
    pub fn decoder(&self) -> &D {
        &self.decoder
    }

    /// The decoder, to change its settings.
    pub fn decoder_mut(&mut self) -> &mut D {
        &mut self.decoder
    }

    /// Bytes received that the decoder has not consumed yet.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

impl<D: fmt::Debug> fmt::Debug for CodecFramer<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CodecFramer")
            .field("decoder", &self.decoder)
            .field("buffered", &self.buf.len())
            .finish()
    }
}

impl<D> Framer for CodecFramer<D>
where
    D: Decoder,
    D::Error: fmt::Display,
{
    type Item = D::Item;

    fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    fn next_frame(&mut self) -> Result<Option<D::Item>, FramingError> {
        self.decoder.decode(&mut self.buf).map_err(invalid)
    }

    /// [`Decoder::decode_eof`]: by default a partial frame left over is an
    /// error (`bytes remaining on stream`).
    fn finish(&mut self) -> Result<Option<D::Item>, FramingError> {
        self.decoder.decode_eof(&mut self.buf).map_err(invalid)
    }
}

/// A decoder's error as a [`FramingError::Invalid`] with its text.
fn invalid(error: impl fmt::Display) -> FramingError {
    FramingError::invalid(error.to_string())
}

impl<D, H> Framed<CodecFramer<D>, H>
where
    D: Decoder + 'static,
    D::Error: fmt::Display,
{
    /// A protocol that cuts frames with a tokio-util `decoder` and hands each
    /// (the decoder's `Item`) to `handler`: a
    /// [`FrameHandler`](super::FrameHandler) of that item type, or a closure
    /// `FnMut(D::Item, &mut dyn StreamTransport) -> Result<(), ProtocolError>`
    /// (name its argument types). Needs the `codec` feature.
    ///
    /// ```
    /// use switchboard::ready_made::{encode, Framed};
    /// use switchboard::testing::FakeConnection;
    /// use switchboard::{ProtocolError, StreamTransport};
    /// use tokio_util::codec::LengthDelimitedCodec;
    ///
    /// // LengthDelimitedCodec's default wire format is LengthPrefixed's: a
    /// // u32 big-endian length, then the payload (a `BytesMut` here).
    /// let protocol = Framed::with_decoder(
    ///     LengthDelimitedCodec::builder().max_frame_length(1024).new_codec(),
    ///     |frame: bytes::BytesMut, t: &mut dyn StreamTransport| -> Result<(), ProtocolError> {
    ///         t.write_bytes(encode(&frame.to_ascii_uppercase()))?;
    ///         Ok(())
    ///     },
    /// );
    /// let mut conn = FakeConnection::new(protocol);
    /// conn.connect()?;
    /// conn.receive_bytewise(&[encode(b"ping"), encode(b"pong")].concat())?;
    /// assert_eq!(conn.transport().written(), [encode(b"PING"), encode(b"PONG")].concat());
    /// # Ok::<(), ProtocolError>(())
    /// ```
    pub fn with_decoder(decoder: D, handler: H) -> Self {
        Framed::with_framer(CodecFramer::new(decoder), handler)
    }
}

#[cfg(test)]
mod tests;
