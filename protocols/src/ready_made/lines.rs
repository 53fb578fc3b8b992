//! Newline-delimited framing: [`LineFramer`] and the [`Lines`] protocol.

use bytes::{Bytes, BytesMut};

use super::framed::{Framed, Framer};
use super::framing_error::FramingError;
use crate::error::ProtocolError;
use crate::stream::StreamTransport;

/// Splits a byte stream into lines ending in `\n`, however it is chunked.
///
/// Lines come out without their `\n`; a `\r` before it is kept unless
/// [`strip_cr`](Self::strip_cr) is on (for CRLF protocols). A line is the bytes before its `\n`, and one longer than
/// `max_line_length` is a [`FramingError::LineTooLong`], reported as soon as
/// the buffered part exceeds the limit, so a peer cannot make the framer
/// buffer without bound. After an error the framer keeps failing: end the
/// connection.
///
/// Lines share the framer's buffer (`Bytes` slices), so popping a line does
/// not allocate, and each byte is scanned for `\n` once.
///
/// ```
/// use switchboard::ready_made::{FramingError, LineFramer};
///
/// let mut framer = LineFramer::new(16);
/// framer.push(b"one\ntw");
/// assert_eq!(framer.next_line()?.as_deref(), Some(&b"one"[..]));
/// assert_eq!(framer.next_line()?, None); // "tw" waits for its '\n'
/// framer.push(b"o\r\n");
/// assert_eq!(framer.next_line()?.as_deref(), Some(&b"two\r"[..]));
///
/// framer.push(&[b'x'; 17]);
/// assert_eq!(framer.next_line(), Err(FramingError::LineTooLong { max: 16 }));
/// # Ok::<(), FramingError>(())
/// ```
#[derive(Debug, Clone)]
pub struct LineFramer {
    buf: BytesMut,
    /// How many bytes at the front of `buf` are known to hold no `\n`.
    scanned: usize,
    max_line_length: usize,
    strip_cr: bool,
}

impl Default for LineFramer {
    fn default() -> Self {
        Self::new(Self::DEFAULT_MAX_LINE_LENGTH)
    }
}

impl LineFramer {
    /// The default longest line: 64 KiB, asyncio `StreamReader`'s limit.
    pub const DEFAULT_MAX_LINE_LENGTH: usize = 64 * 1024;

    /// A framer that accepts lines of at most `max_line_length` bytes
    /// (not counting the `\n`).
    pub fn new(max_line_length: usize) -> Self {
        LineFramer {
            buf: BytesMut::new(),
            scanned: 0,
            max_line_length,
            strip_cr: false,
        }
    }

    /// With `true`, lines come out without a trailing `\r` too, so a CRLF
    /// protocol sees `GET k` for `GET k\r\n` (the limit still counts the
    /// `\r`).
    ///
    /// ```
    /// use switchboard::ready_made::LineFramer;
    /// let mut framer = LineFramer::new(16).strip_cr(true);
    /// framer.push(b"two\r\nthree\n");
    /// assert_eq!(framer.next_line()?.as_deref(), Some(&b"two"[..]));
    /// assert_eq!(framer.next_line()?.as_deref(), Some(&b"three"[..]));
    /// # Ok::<(), switchboard::ready_made::FramingError>(())
    /// ```
    pub fn strip_cr(mut self, on: bool) -> Self {
        self.strip_cr = on;
        self
    }

    /// Appends received bytes.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Pops the next complete line, without its `\n`; `Ok(None)` when no
    /// complete line is buffered.
    pub fn next_line(&mut self) -> Result<Option<Bytes>, FramingError> {
        let max = self.max_line_length;
        match self.buf[self.scanned..].iter().position(|&b| b == b'\n') {
            Some(i) => {
                let end = self.scanned + i;
                if end > max {
                    return Err(FramingError::LineTooLong { max });
                }
                let mut line = self.buf.split_to(end + 1).freeze();
                line.truncate(end);
                if self.strip_cr && line.last() == Some(&b'\r') {
                    line.truncate(end - 1);
                }
                self.scanned = 0;
                Ok(Some(line))
            }
            None => {
                self.scanned = self.buf.len();
                if self.buf.len() > max {
                    return Err(FramingError::LineTooLong { max });
                }
                Ok(None)
            }
        }
    }

    /// At end of stream: pops the last line if it had no `\n` (empty input
    /// gives `None`). Call after [`next_line`](Self::next_line) returned
    /// `None`.
    pub fn finish(&mut self) -> Result<Option<Bytes>, FramingError> {
        if self.buf.len() > self.max_line_length {
            return Err(FramingError::LineTooLong {
                max: self.max_line_length,
            });
        }
        self.scanned = 0;
        let mut line = self.buf.split().freeze();
        if self.strip_cr && line.last() == Some(&b'\r') {
            line.truncate(line.len() - 1);
        }
        Ok(Some(line).filter(|line| !line.is_empty()))
    }

    /// Bytes buffered that are not yet a complete line.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

/// A line protocol: hands each line to a [`FrameHandler`](super::FrameHandler)
/// (a closure `handler(line, transport)`, or a stateful protocol of your own
/// with [`with_handler`](Framed::with_handler)).
///
/// `DataReceived` feeds a [`LineFramer`]; each complete line (without `\n`)
/// goes to the handler. At `EofReceived` an unterminated last line is handed
/// over too, then the transport closes as usual (the handler may call
/// `keep_open()` in that call). Once the transport is closing no further line
/// is handed over, even from the same read. A too-long line or a handler
/// error fails the connection (see [`StreamProtocol::handle`](crate::StreamProtocol::handle)).
///
/// ```
/// use switchboard::ready_made::Lines;
/// use switchboard::testing::FakeConnection;
///
/// // Answers each line with its length; "quit" closes.
/// let protocol = Lines::new(1024, |line, t| {
///     if &line[..] == b"quit" {
///         t.close();
///     } else {
///         t.write(format!("{}\n", line.len()).as_bytes())?;
///     }
///     Ok(())
/// });
/// let mut conn = FakeConnection::new(protocol);
/// conn.connect()?;
/// conn.receive(b"hello\nab")?;
/// conn.receive(b"c\nquit\nignored\n")?;
/// assert_eq!(conn.transport().written(), b"5\n3\n");
/// assert!(conn.is_lost());
/// # Ok::<(), switchboard::ProtocolError>(())
/// ```
pub type Lines<H> = Framed<LineFramer, H>;

impl<H> Framed<LineFramer, H>
where
    H: FnMut(Bytes, &mut dyn StreamTransport) -> Result<(), ProtocolError> + 'static,
{
    /// A protocol that hands lines of at most `max_line_length` bytes to the
    /// closure `handler`.
    pub fn new(max_line_length: usize, handler: H) -> Self {
        Framed::with_framer(LineFramer::new(max_line_length), handler)
    }
}

impl<H> Framed<LineFramer, H> {
    /// A protocol that hands lines of at most `max_line_length` bytes to a
    /// stateful [`FrameHandler`](super::FrameHandler), which also sees every
    /// other event and may take its own message type.
    pub fn with_handler(max_line_length: usize, handler: H) -> Self {
        Framed::with_framer(LineFramer::new(max_line_length), handler)
    }

    /// Lines without a trailing `\r` (see [`LineFramer::strip_cr`]).
    pub fn strip_cr(mut self, on: bool) -> Self {
        let framer = std::mem::take(self.framer_mut());
        *self.framer_mut() = framer.strip_cr(on);
        self
    }
}

impl Framer for LineFramer {
    type Item = Bytes;
    fn push(&mut self, data: &[u8]) {
        LineFramer::push(self, data);
    }
    fn next_frame(&mut self) -> Result<Option<Bytes>, FramingError> {
        self.next_line()
    }
    fn finish(&mut self) -> Result<Option<Bytes>, FramingError> {
        LineFramer::finish(self)
    }
}
#[cfg(test)]
mod tests;
