//! A minimal HTTP/1.1 "Hello, World!" responder, as a benchmark target.

use bytes::{Buf, Bytes, BytesMut};

use crate::error::ProtocolError;
use crate::stream::{StreamEvent, StreamProtocol, StreamTransport};

/// The answer to every well-formed request.
pub const HELLO_RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, World!";

/// The answer to a malformed or oversized request head, after which the
/// connection closes.
pub const BAD_REQUEST_RESPONSE: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/// What the responder waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reading {
    /// A request head; the first `scanned` buffered bytes hold no `\r\n\r\n`
    /// end (apart from its first three bytes, which may straddle chunks).
    Head { scanned: usize },
    /// `remaining` more bytes of a request body, to skip.
    Body { remaining: usize },
}

/// What a well-formed head asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Head {
    /// `Connection: close`, or HTTP/1.0 without `Connection: keep-alive`.
    close: bool,
    /// `Content-Length`, to skip.
    body_len: usize,
}

/// Answers every HTTP/1.1 request with `200 OK` and `Hello, World!`: a target
/// for `wrk` and similar load generators, not a web server.
///
/// It reads request heads up to `\r\n\r\n` however they are chunked, answers
/// pipelined requests in order with one write per read, skips bodies announced
/// with `Content-Length`, and closes after answering a request with
/// `Connection: close` (or an HTTP/1.0 request without `keep-alive`). A
/// malformed head, a head longer than [`HttpHello::MAX_HEAD_LENGTH`], or
/// `Transfer-Encoding` (unsupported) gets [`BAD_REQUEST_RESPONSE`] and a
/// close. On EOF the transport closes (after flushing the answers).
///
/// ```
/// use switchboard::ready_made::{HttpHello, HELLO_RESPONSE};
/// use switchboard::testing::FakeConnection;
///
/// let mut conn = FakeConnection::new(HttpHello::new());
/// conn.connect()?;
/// conn.receive(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\n")?;
/// assert_eq!(conn.transport().written(), HELLO_RESPONSE); // the second head is partial
/// conn.receive(b"Connection: close\r\n\r\n")?;
/// assert_eq!(conn.transport().written(), [HELLO_RESPONSE, HELLO_RESPONSE].concat());
/// assert!(conn.transport().closed());
/// # Ok::<(), switchboard::ProtocolError>(())
/// ```
#[derive(Debug, Clone)]
pub struct HttpHello {
    buf: BytesMut,
    reading: Reading,
}

impl Default for HttpHello {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpHello {
    /// The longest request head accepted, `\r\n\r\n` included: 8 KiB.
    pub const MAX_HEAD_LENGTH: usize = 8 * 1024;

    /// A responder for one connection.
    pub fn new() -> Self {
        HttpHello {
            buf: BytesMut::new(),
            reading: Reading::Head { scanned: 0 },
        }
    }

    /// Consumes what is buffered; returns how many requests to answer and
    /// how the read ends.
    fn consume(&mut self) -> (usize, Ending) {
        let mut answered = 0;
        loop {
            match self.reading {
                Reading::Body { remaining } => {
                    let n = remaining.min(self.buf.len());
                    self.buf.advance(n);
                    if n < remaining {
                        self.reading = Reading::Body {
                            remaining: remaining - n,
                        };
                        return (answered, Ending::KeepOpen);
                    }
                    self.reading = Reading::Head { scanned: 0 };
                }
                Reading::Head { scanned } => {
                    let from = scanned.saturating_sub(3);
                    let Some(at) = find_head_end(&self.buf[from..]) else {
                        if self.buf.len() >= Self::MAX_HEAD_LENGTH {
                            return (answered, Ending::BadRequest);
                        }
                        self.reading = Reading::Head {
                            scanned: self.buf.len(),
                        };
                        return (answered, Ending::KeepOpen);
                    };
                    let end = from + at + 4;
                    if end > Self::MAX_HEAD_LENGTH {
                        return (answered, Ending::BadRequest);
                    }
                    let Some(head) = parse_head(&self.buf[..end - 4]) else {
                        return (answered, Ending::BadRequest);
                    };
                    self.buf.advance(end);
                    answered += 1;
                    if head.close {
                        return (answered, Ending::Close);
                    }
                    self.reading = Reading::Body {
                        remaining: head.body_len,
                    };
                }
            }
        }
    }
}

/// How a read's processing ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// Wait for more.
    KeepOpen,
    /// Answer, then close.
    Close,
    /// Answer what came before, send a 400, then close.
    BadRequest,
}

impl StreamProtocol for HttpHello {
    fn handle(
        &mut self,
        event: StreamEvent,
        transport: &mut dyn StreamTransport,
    ) -> Result<(), ProtocolError> {
        let StreamEvent::DataReceived(data) = event else {
            return Ok(());
        };
        if transport.is_closing() {
            return Ok(());
        }
        self.buf.extend_from_slice(&data);
        let (answered, ending) = self.consume();
        match (answered, ending) {
            (0, Ending::KeepOpen | Ending::Close) => {}
            // The common case: one request per read, answered without a copy.
            (1, Ending::KeepOpen | Ending::Close) => {
                transport.write_bytes(Bytes::from_static(HELLO_RESPONSE))?;
            }
            _ => {
                let bad = if ending == Ending::BadRequest {
                    BAD_REQUEST_RESPONSE
                } else {
                    &[]
                };
                let mut out = BytesMut::with_capacity(answered * HELLO_RESPONSE.len() + bad.len());
                for _ in 0..answered {
                    out.extend_from_slice(HELLO_RESPONSE);
                }
                out.extend_from_slice(bad);
                transport.write_bytes(out.freeze())?;
            }
        }
        if ending != Ending::KeepOpen {
            self.buf.clear();
            transport.close();
        }
        Ok(())
    }
}

/// The offset of the first `\r\n\r\n` in `buf`.
fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n")
}

/// The lines of a head without its final `\r\n\r\n`, each `None` if it has
/// a stray `\r` or `\n` (lines are CRLF separated).
fn head_lines(head: &[u8]) -> impl Iterator<Item = Option<&[u8]>> {
    let mut pieces = head.split(|&b| b == b'\n').peekable();
    std::iter::from_fn(move || {
        let piece = pieces.next()?;
        let line = match pieces.peek() {
            Some(_) => piece.strip_suffix(b"\r"),
            None => Some(piece),
        };
        Some(line.filter(|line| !line.contains(&b'\r')))
    })
}

/// Parses a request head without its final `\r\n\r\n`; `None` if malformed.
fn parse_head(head: &[u8]) -> Option<Head> {
    let mut lines = head_lines(head);
    let mut parts = lines.next()??.split(|&b| b == b' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || !is_token(method) || target.is_empty() {
        return None;
    }
    let http10 = match version {
        b"HTTP/1.1" => false,
        b"HTTP/1.0" => true,
        _ => return None,
    };
    let mut close = http10;
    let mut body_len = None;
    for line in lines {
        let line = line?;
        let colon = line.iter().position(|&b| b == b':')?;
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if !is_token(name) {
            return None;
        }
        if name.eq_ignore_ascii_case(b"connection") {
            for option in value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                if option.eq_ignore_ascii_case(b"close") {
                    close = true;
                } else if option.eq_ignore_ascii_case(b"keep-alive") && http10 {
                    close = false;
                }
            }
        } else if name.eq_ignore_ascii_case(b"content-length") {
            if body_len.is_some() {
                return None;
            }
            body_len = Some(parse_decimal(value)?);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            return None;
        }
    }
    Some(Head {
        close,
        body_len: body_len.unwrap_or(0),
    })
}

/// RFC 9110 `token`: one or more `tchar`.
fn is_token(s: &[u8]) -> bool {
    !s.is_empty()
        && s.iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A non-empty run of ASCII digits that fits a `usize`.
fn parse_decimal(s: &[u8]) -> Option<usize> {
    if s.is_empty() {
        return None;
    }
    s.iter().try_fold(0usize, |n, &b| {
        let digit = (b as char).to_digit(10)?;
        n.checked_mul(10)?.checked_add(digit as usize)
    })
}

#[cfg(test)]
mod tests;
