//! The HTTP/1.1 hello responder of the tokio and mio baselines: the steps of
//! switchboard's `HttpHello` (find the head's end, check the request line,
//! scan the header lines for `Connection` and `Content-Length`, skip a body)
//! with less validation (no RFC 9110 token check), so never more work; the
//! same answer, written like `HttpHello` writes it: up to 32 answers of one
//! read as a slice of a static run of responses.

pub use switchboard::ready_made::HELLO_RESPONSE;

/// The request the load generator pipelines.
pub const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

/// The longest head accepted (as `HttpHello::MAX_HEAD_LENGTH`).
const MAX_HEAD: usize = 8 * 1024;

/// What parsing a buffer came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed {
    /// `consumed` bytes were whole requests, answered; keep the rest.
    More { consumed: usize },
    /// Answered what was there; close the connection after writing.
    Close,
}

/// Counts the whole requests at the start of `buf` (the answers to write).
pub fn answer(buf: &[u8], answers: &mut usize) -> Parsed {
    let mut at = 0;
    loop {
        let rest = &buf[at..];
        let Some(end) = rest.windows(4).position(|w| w == b"\r\n\r\n") else {
            if rest.len() >= MAX_HEAD {
                return Parsed::Close;
            }
            return Parsed::More { consumed: at };
        };
        let Some((close, body)) = parse_head(&rest[..end]) else {
            return Parsed::Close;
        };
        if rest.len() < end + 4 + body {
            return Parsed::More { consumed: at };
        }
        *answers += 1;
        at += end + 4 + body;
        if close {
            return Parsed::Close;
        }
    }
}

/// Up to this many answers go out from a static run (as `HttpHello` does).
const RUN: usize = 32;

static HELLOS: [u8; RUN * HELLO_RESPONSE.len()] = {
    let mut out = [0u8; RUN * HELLO_RESPONSE.len()];
    let mut i = 0;
    while i < out.len() {
        out[i] = HELLO_RESPONSE[i % HELLO_RESPONSE.len()];
        i += 1;
    }
    out
};

/// The bytes of `n` answers: a slice of a static run, or built in `out`.
pub fn responses(n: usize, out: &mut Vec<u8>) -> &[u8] {
    if n <= RUN {
        return &HELLOS[..n * HELLO_RESPONSE.len()];
    }
    out.clear();
    for _ in 0..n {
        out.extend_from_slice(HELLO_RESPONSE);
    }
    out
}

/// `(close, body length)` of a head without its `\r\n\r\n`; `None` if malformed.
fn parse_head(head: &[u8]) -> Option<(bool, usize)> {
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let mut parts = lines.next()?.split(|&b| b == b' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || method.is_empty() || target.is_empty() {
        return None;
    }
    let mut close = match version {
        b"HTTP/1.1" => false,
        b"HTTP/1.0" => true,
        _ => return None,
    };
    let mut body = 0;
    for line in lines {
        let colon = line.iter().position(|&b| b == b':')?;
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if name.eq_ignore_ascii_case(b"connection") {
            close = value.eq_ignore_ascii_case(b"close");
        } else if name.eq_ignore_ascii_case(b"content-length") {
            body = std::str::from_utf8(value).ok()?.parse().ok()?;
        }
    }
    Some((close, body))
}
