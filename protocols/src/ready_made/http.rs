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
}

/// Consumes the requests at the start of `buf` (the unconsumed bytes, in
/// `reading` state); returns how many to answer, how the read ends, and how
/// many bytes of `buf` were used up.
fn consume(reading: &mut Reading, buf: &[u8]) -> (usize, Ending, usize) {
    let mut answered = 0;
    let mut at = 0;
    loop {
        let rest = &buf[at..];
        match *reading {
            Reading::Body { remaining } => {
                let n = remaining.min(rest.len());
                at += n;
                if n < remaining {
                    *reading = Reading::Body {
                        remaining: remaining - n,
                    };
                    return (answered, Ending::KeepOpen, at);
                }
                *reading = Reading::Head { scanned: 0 };
            }
            Reading::Head { scanned } => {
                let from = scanned.saturating_sub(3);
                let Some(found) = find_head_end(&rest[from..]) else {
                    if rest.len() >= HttpHello::MAX_HEAD_LENGTH {
                        return (answered, Ending::BadRequest, at);
                    }
                    *reading = Reading::Head {
                        scanned: rest.len(),
                    };
                    return (answered, Ending::KeepOpen, at);
                };
                let end = from + found + 4;
                if end > HttpHello::MAX_HEAD_LENGTH {
                    return (answered, Ending::BadRequest, at);
                }
                let Some(head) = parse_head(&rest[..end - 4]) else {
                    return (answered, Ending::BadRequest, at);
                };
                at += end;
                answered += 1;
                if head.close {
                    *reading = Reading::Head { scanned: 0 };
                    return (answered, Ending::Close, at);
                }
                *reading = Reading::Body {
                    remaining: head.body_len,
                };
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
        // Parse the read where it lies; only an unfinished request is
        // copied, to wait for the rest.
        let (answered, ending) = if self.buf.is_empty() {
            let (answered, ending, used) = consume(&mut self.reading, &data);
            if ending == Ending::KeepOpen {
                self.buf.extend_from_slice(&data[used..]);
            }
            (answered, ending)
        } else {
            self.buf.extend_from_slice(&data);
            let (answered, ending, used) = consume(&mut self.reading, &self.buf);
            self.buf.advance(used);
            (answered, ending)
        };
        match (answered, ending) {
            (0, Ending::KeepOpen | Ending::Close) => {}
            // The common case: answered from a static run of responses,
            // without a copy or an allocation.
            (1..=HELLO_RUN, Ending::KeepOpen | Ending::Close) => {
                let run = &HELLOS[..answered * HELLO_RESPONSE.len()];
                transport.write_bytes(Bytes::from_static(run))?;
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

/// Up to this many answers of one read go out from [`HELLOS`].
const HELLO_RUN: usize = 32;

/// [`HELLO_RESPONSE`] [`HELLO_RUN`] times over.
static HELLOS: [u8; HELLO_RUN * HELLO_RESPONSE.len()] = {
    let mut out = [0u8; HELLO_RUN * HELLO_RESPONSE.len()];
    let mut i = 0;
    while i < out.len() {
        out[i] = HELLO_RESPONSE[i % HELLO_RESPONSE.len()];
        i += 1;
    }
    out
};

/// The offset of the first `\r\n\r\n` in `buf`.
///
/// Looks at the byte where a match would end and skips as far as that byte
/// allows (Horspool): a byte that is neither `\r` nor `\n` cannot be in the
/// four, so the next possible end is four bytes on.
fn find_head_end(buf: &[u8]) -> Option<usize> {
    let mut end = 3;
    while let Some(&b) = buf.get(end) {
        end += match b {
            b'\n' if buf[end - 3..end] == *b"\r\n\r" => return Some(end - 3),
            // The second byte of a match that would end two bytes on.
            b'\n' => 2,
            // The first or third byte of one: the third is the nearer end.
            b'\r' => 1,
            _ => 4,
        };
    }
    None
}

/// The lines of a head without its final `\r\n\r\n`, each `None` if it has
/// a stray `\r` or `\n` (lines are CRLF separated); nothing follows a `None`.
///
/// One pass: the first `\r` or `\n` ends a line, and must be a `\r\n`.
fn head_lines(head: &[u8]) -> impl Iterator<Item = Option<&[u8]>> {
    let mut rest = Some(head);
    std::iter::from_fn(move || {
        let buf = rest?;
        match buf.iter().position(|&b| b == b'\r' || b == b'\n') {
            None => {
                rest = None;
                Some(Some(buf))
            }
            Some(i) if buf[i] == b'\r' && buf.get(i + 1) == Some(&b'\n') => {
                rest = Some(&buf[i + 2..]);
                Some(Some(&buf[..i]))
            }
            Some(_) => {
                rest = None;
                Some(None)
            }
        }
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
    !s.is_empty() && s.iter().all(|&b| TCHAR[b as usize])
}

/// `TCHAR[b]`: `b` is an RFC 9110 `tchar` (a letter, a digit, or one of
/// ``!#$%&'*+-.^_`|~``).
static TCHAR: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric();
        b += 1;
    }
    let extra = b"!#$%&'*+-.^_`|~";
    let mut i = 0;
    while i < extra.len() {
        t[extra[i] as usize] = true;
        i += 1;
    }
    t
};

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
