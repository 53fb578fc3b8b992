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
///
/// A frame is whatever the framing makes of its bytes, its [`Item`](Self::Item):
/// [`LineFramer`](super::LineFramer) and
/// [`LengthPrefixedFramer`](super::LengthPrefixedFramer) yield the raw
/// `Bytes`, a binary protocol's framer can yield its parsed frame, so the
/// protocol does not parse twice, and say what is wrong with a bad one through
/// [`FramingError::invalid`].
///
/// ```
/// use bytes::Bytes;
/// use switchboard::ready_made::{FrameHandler, Framed, Framer, FramingError, LineFramer};
/// use switchboard::{ProtocolError, StreamTransport};
///
/// /// RESP integers, `:42\r\n`: a line framer underneath, parsed here.
/// #[derive(Debug, Default)]
/// struct Integers(LineFramer);
///
/// impl Integers {
///     fn parse(line: Option<Bytes>) -> Result<Option<i64>, FramingError> {
///         let Some(line) = line else { return Ok(None) };
///         let digits = line.strip_prefix(b":").ok_or_else(|| FramingError::invalid("expected ':'"))?;
///         let text = std::str::from_utf8(digits).map_err(|e| FramingError::invalid(e.to_string()))?;
///         text.parse().map(Some).map_err(|e| FramingError::invalid(format!("bad integer: {e}")))
///     }
/// }
///
/// impl Framer for Integers {
///     type Item = i64;
///     fn push(&mut self, data: &[u8]) {
///         self.0.push(data);
///     }
///     fn next_frame(&mut self) -> Result<Option<i64>, FramingError> {
///         Self::parse(self.0.next_line()?)
///     }
///     fn finish(&mut self) -> Result<Option<i64>, FramingError> {
///         Self::parse(self.0.finish()?)
///     }
/// }
///
/// // The framer on its own: bytes in, integers out.
/// let mut framer = Integers(LineFramer::new(32).strip_cr(true));
/// framer.push(b":41\r\n:-1\r\n:x");
/// assert_eq!(framer.next_frame()?, Some(41));
/// assert_eq!(framer.next_frame()?, Some(-1));
/// assert_eq!(framer.next_frame()?, None);
/// framer.push(b"\r\n");
/// assert_eq!(framer.next_frame().unwrap_err().to_string(), "bad integer: invalid digit found in string");
///
/// // In a protocol: a handler that takes `i64` frames and answers their sum.
/// #[derive(Default)]
/// struct Sum(i64);
/// impl FrameHandler<switchboard::NoMessage, i64> for Sum {
///     fn frame(&mut self, n: i64, t: &mut dyn StreamTransport) -> Result<(), ProtocolError> {
///         self.0 += n;
///         t.write(format!(":{}\r\n", self.0).as_bytes())?;
///         Ok(())
///     }
/// }
/// let protocol = Framed::with_framer(Integers(LineFramer::new(32).strip_cr(true)), Sum::default());
/// let mut conn = switchboard::testing::FakeConnection::new(protocol);
/// conn.connect()?;
/// conn.receive_bytewise(b":2\r\n:3\r\n")?;
/// assert_eq!(conn.transport().written(), b":2\r\n:5\r\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Framer {
    /// One frame: `Bytes` for the ready-made framers, a parsed frame for a
    /// framer that understands its protocol.
    type Item;

    /// Appends received bytes. Buffer only what arrived: a header announcing
    /// a long frame is no reason to reserve room for it before its bytes come.
    fn push(&mut self, data: &[u8]);

    /// Pops the next complete frame; `Ok(None)` when none is complete yet.
    /// After an error the framer may keep failing; [`Framed`] stops using it.
    fn next_frame(&mut self) -> Result<Option<Self::Item>, FramingError>;

    /// At end of stream, after `next_frame` returned `None`: a last frame the
    /// framing allows without a terminator (an unterminated line), `None`, or
    /// an error for a partial frame.
    ///
    /// [`Framed`] calls it again after each frame it returns, until it returns
    /// `None` or an error (as tokio-util's `FramedRead` calls
    /// `Decoder::decode_eof`), so it must eventually return `None`.
    fn finish(&mut self) -> Result<Option<Self::Item>, FramingError>;
}

/// What a [`Framed`] protocol hands its frames to: a protocol of your own,
/// with its own state and its own message type `M`, that sees whole frames
/// (of the framer's [`Item`](Framer::Item) type `I`, `Bytes` by default)
/// instead of `DataReceived`.
///
/// Every other event passes through to [`event`](Self::event) in the
/// connection's order: `ConnectionMade`, `PauseWriting`/`ResumeWriting`,
/// `Message(M)`, `TimerFired`, `EofReceived` (after the last frame, so
/// `keep_open()` may be called there) and `ConnectionLost`. A framing error
/// goes to [`framing_error`](Self::framing_error), at most once. A closure
/// `FnMut(I, &mut dyn StreamTransport) -> Result<(), ProtocolError>` (such as
/// `FnMut(Bytes, ..)`) is a handler that ignores the other events.
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
pub trait FrameHandler<M: 'static = NoMessage, I = Bytes>: 'static {
    /// One whole frame.
    fn frame(
        &mut self,
        frame: I,
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

    /// The framer refused the input: the connection ends, and this decides
    /// how. Called at most once, after the frames that came before the bad
    /// one; no frame follows it.
    ///
    /// The default returns `Err(error.into())`: the connection fails, as a
    /// handler error does (the transport aborts, dropping unsent writes, and
    /// the loop reports the error). Override it to answer first, as a RESP
    /// server answers garbage with `-ERR ..` or a line server a long line
    /// with `ERR line too long`: write the answer and return `Ok(())`; the
    /// transport then closes, which sends what was written first (call
    /// `t.close()` yourself or not, the result is the same). Returning an
    /// error from here fails the connection after all.
    ///
    /// While calls made with `t.call` for earlier frames are in flight, it
    /// is called once their answers have all been handed over (no frame is
    /// taken meanwhile), so its answer to the bad frame comes after theirs.
    ///
    /// Why a hook and not a frame of errors: a framer cannot in general find
    /// the next frame boundary after garbage (a length-prefixed stream has
    /// none to find), so the connection cannot go on, and only the
    /// last words are the protocol's to choose.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use switchboard::ready_made::{FrameHandler, FramingError, Lines};
    /// use switchboard::{ProtocolError, StreamTransport};
    ///
    /// /// Echoes lines; answers a too-long line, then closes cleanly.
    /// struct Polite;
    ///
    /// impl FrameHandler for Polite {
    ///     fn frame(&mut self, line: Bytes, t: &mut dyn StreamTransport) -> Result<(), ProtocolError> {
    ///         t.write_bytes(line)?;
    ///         t.write(b"\n")?;
    ///         Ok(())
    ///     }
    ///     fn framing_error(&mut self, err: FramingError, t: &mut dyn StreamTransport) -> Result<(), ProtocolError> {
    ///         t.write(format!("ERR {err}\n").as_bytes())?;
    ///         t.close();
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let mut conn = switchboard::testing::FakeConnection::new(Lines::with_handler(8, Polite));
    /// conn.connect()?;
    /// conn.receive(b"short\nmuch too long\n")?; // no error: the handler answered it
    /// assert_eq!(conn.transport().written(), b"short\nERR line longer than 8 bytes\n");
    /// assert!(conn.transport().closed() && !conn.transport().aborted());
    /// # Ok::<(), ProtocolError>(())
    /// ```
    fn framing_error(
        &mut self,
        error: FramingError,
        transport: &mut dyn StreamTransport<M>,
    ) -> Result<(), ProtocolError> {
        let _ = transport;
        Err(error.into())
    }
}

impl<H, I> FrameHandler<NoMessage, I> for H
where
    H: FnMut(I, &mut dyn StreamTransport) -> Result<(), ProtocolError> + 'static,
{
    fn frame(&mut self, frame: I, t: &mut dyn StreamTransport) -> Result<(), ProtocolError> {
        self(frame, t)
    }
}

/// A framed protocol: calls the handler's [`frame`](FrameHandler::frame) once
/// per frame.
///
/// `DataReceived` feeds the framer; each complete frame goes to the handler.
/// At `EofReceived` the framer's [`finish`](Framer::finish) may hand over
/// last frames; then `EofReceived` itself goes to the handler, and the
/// transport closes as usual unless the handler called `keep_open()`. Once
/// the transport is closing no further frame is handed over, even from the
/// same read. A handler error fails the connection (see
/// [`StreamProtocol::handle`]); a framing error goes to the handler's
/// [`framing_error`](FrameHandler::framing_error), which fails the connection
/// unless it answers and closes instead.
///
/// With calls to actors in flight (`t.call`), it takes no frame while the
/// connection is at its
/// [`max_calls_in_flight`](crate::StreamTransport::max_calls_in_flight):
/// the rest waits in the framer until an answer is handed over, and the
/// peer's EOF reaches the handler after those frames.
pub struct Framed<F, H> {
    framer: F,
    handler: H,
    /// Where the peer's EOF stands: frames may still wait behind the calls'
    /// bound, and `EofReceived` goes to the handler after them.
    eof: Eof,
    /// A framing error met while calls were in flight: given to the
    /// handler once their answers are handed over, so its answer to the bad
    /// frame comes after theirs. No frame is taken meanwhile.
    error_pending: Option<FramingError>,
}

impl<F, H> Framed<F, H>
where
    F: Framer + 'static,
{
    /// A protocol over any framing of your own.
    pub fn with_framer(framer: F, handler: H) -> Self {
        Framed {
            framer,
            handler,
            eof: Eof::No,
            error_pending: None,
        }
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
    H: FrameHandler<M, F::Item>,
    M: 'static,
{
    fn handle(
        &mut self,
        event: StreamEvent<M>,
        transport: &mut dyn StreamTransport<M>,
    ) -> Result<(), ProtocolError> {
        match event {
            StreamEvent::DataReceived(data) => {
                if transport.is_closing() || self.error_pending.is_some() {
                    return Ok(());
                }
                self.framer.push(&data);
                self.hand_over(transport, F::next_frame).map(drop)
            }
            StreamEvent::EofReceived if self.error_pending.is_some() => Ok(()),
            StreamEvent::EofReceived => {
                self.eof = Eof::Frames;
                self.resume(transport)
            }
            StreamEvent::Message(m) => {
                self.handler.event(StreamEvent::Message(m), transport)?;
                if self.error_pending.is_some() {
                    if transport.calls_in_flight() == 0 {
                        let error = self.error_pending.take();
                        if let Some(error) = error {
                            self.refuse(error, transport)?;
                        }
                    }
                    return Ok(());
                }
                // An answer was handed over: frames held back by the
                // calls' bound may go on now.
                self.resume(transport)
            }
            other => self.handler.event(other, transport),
        }
    }
}

impl<F: Framer, H> Framed<F, H> {
    /// A framing error goes to the handler's `framing_error`, then the
    /// transport closes (if the handler did not fail the connection, close
    /// or abort it itself).
    fn refuse<M: 'static>(
        &mut self,
        error: FramingError,
        transport: &mut dyn StreamTransport<M>,
    ) -> Result<(), ProtocolError>
    where
        H: FrameHandler<M, F::Item>,
    {
        self.handler.framing_error(error, transport)?;
        if !transport.is_closing() {
            transport.close();
        }
        Ok(())
    }

    /// Hands over the frames that can go now: before the peer's EOF, what
    /// the framer holds; after it, those, then what `finish` gives, then
    /// `EofReceived`, each step as far as the calls' bound lets it go.
    fn resume<M: 'static>(
        &mut self,
        transport: &mut dyn StreamTransport<M>,
    ) -> Result<(), ProtocolError>
    where
        H: FrameHandler<M, F::Item>,
    {
        if self.eof == Eof::No || self.eof == Eof::Done {
            return self.hand_over(transport, F::next_frame).map(drop);
        }
        if self.eof == Eof::Frames {
            if !self.hand_over(transport, F::next_frame)? {
                return Ok(());
            }
            self.eof = Eof::Finishing;
        }
        if !self.hand_over(transport, F::finish)? {
            return Ok(());
        }
        self.eof = Eof::Done;
        self.handler.event(StreamEvent::EofReceived, transport)
    }

    /// Hands the handler each frame `pop` yields until it yields `None` or
    /// the transport is closing; a framing error goes to the handler's
    /// `framing_error`, then the transport closes (if the handler did not
    /// fail the connection instead). While the connection's calls in flight
    /// (`t.call`) are at their bound it takes no frame: the rest stays in
    /// the framer until an answer is handed over. True unless it stopped
    /// at that bound, or behind a framing error that waits for answers.
    fn hand_over<M: 'static>(
        &mut self,
        transport: &mut dyn StreamTransport<M>,
        pop: fn(&mut F) -> Result<Option<F::Item>, FramingError>,
    ) -> Result<bool, ProtocolError>
    where
        H: FrameHandler<M, F::Item>,
    {
        while !transport.is_closing() {
            if self.error_pending.is_some()
                || transport.calls_in_flight() >= transport.max_calls_in_flight()
            {
                return Ok(false);
            }
            match pop(&mut self.framer) {
                Ok(Some(frame)) => self.handler.frame(frame, transport)?,
                Ok(None) => break,
                Err(error) if transport.calls_in_flight() > 0 => {
                    // Earlier frames' answers go out first.
                    self.error_pending = Some(error);
                    return Ok(false);
                }
                Err(error) => self.refuse(error, transport)?,
            }
        }
        Ok(true)
    }
}

/// Where the peer's EOF stands in a [`Framed`] protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Eof {
    /// Not come.
    No,
    /// Come; frames the framer holds still go first.
    Frames,
    /// Come; what `finish` gives goes next.
    Finishing,
    /// Handed to the handler.
    Done,
}

#[cfg(test)]
mod tests;
