//! The metrics endpoint: a stream protocol that answers one HTTP/1.1
//! `GET /metrics` per connection with [`encode_metrics`]' text, and the
//! server that runs it.
//!
//! A scraper sends one request and reads one answer, so the protocol does
//! no more: it reads a request head (at most [`HttpLimits::max_head`]
//! bytes, within [`HttpLimits::head_timeout`] of the connection's start),
//! answers it, and closes.
//!
//! | request | answer |
//! | --- | --- |
//! | `GET /metrics` (any query) | `200`, OpenMetrics text |
//! | `HEAD /metrics` | `200`, the same head, no body |
//! | `GET` or `HEAD` of another path | `404` |
//! | another method | `405`, `Allow: GET, HEAD` |
//! | a malformed head, HTTP/1.1 without `Host` | `400` |
//! | a head longer than the limit | `431` |
//! | no whole head within the timeout | `408` |
//!
//! Every answer carries `Connection: close`, and the connection closes
//! after it. The timeout counts from the connection's start on the loop's
//! clock (a transport timer) and is not renewed by data, so a peer that
//! trickles bytes is closed as surely as a silent one; the same timeout
//! bounds how long an answer may take to drain after the close (the
//! server's `close_timeout`), so a peer that never reads cannot hold the
//! connection either.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use switchboard_protocols::{
    NoMessage, ProtocolError, StreamEvent, StreamProtocol, StreamTransport,
};

use super::metrics::encode_metrics;
use super::Snapshot;
use crate::event_loop::EventLoop;
use crate::net::CreateServer;

/// Where a scrape's snapshots come from: one per loop.
pub(crate) type Source = Rc<dyn Fn() -> Vec<Snapshot>>;

/// The content type of OpenMetrics 1.0 text.
pub(crate) const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// What a peer may take of the endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HttpLimits {
    /// How long after the connection is made its request head must be
    /// whole, and how long its answer may take to drain: 10 s by default.
    pub(crate) head_timeout: Duration,
    /// The longest request head read, `\r\n\r\n` included: 8 KiB by default.
    pub(crate) max_head: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            head_timeout: Duration::from_secs(10),
            max_head: 8 * 1024,
        }
    }
}

/// A server on `addr` whose connections each answer one scrape from
/// `source`, within `limits`. Await it for the [`Server`](crate::Server).
pub(crate) fn serve_metrics_with(
    lp: &EventLoop,
    addr: SocketAddr,
    source: Source,
    limits: HttpLimits,
) -> CreateServer<NoMessage> {
    lp.create_server(move || MetricsHttp::new(source.clone(), limits))
        .addr(addr)
        .close_timeout(limits.head_timeout)
}

impl EventLoop {
    /// Serves this loop's figures as Prometheus/OpenMetrics text on
    /// `GET /metrics` at `addr` (see
    /// [`encode_metrics`](crate::introspect::encode_metrics) for the
    /// families). Each scrape takes a fresh
    /// [`introspect`](Self::introspect) snapshot; nothing is kept between
    /// scrapes.
    ///
    /// One request per connection, answered and closed; a request head must
    /// be whole within 10 s and at most 8 KiB, and the answer must drain
    /// within 10 s, so no scraper (or impostor) can hold a connection.
    /// In a [`LoopGroup`](crate::LoopGroup) each loop serves its own
    /// figures (with its `loop` label): give each loop its own port, or
    /// read every loop at once through the control socket.
    ///
    /// ```
    /// use switchboard::prelude::*;
    /// use std::io::{Read, Write};
    ///
    /// switchboard::run(|lp: EventLoop| async move {
    ///     let metrics = lp.serve_metrics("127.0.0.1:0".parse().unwrap()).await?;
    ///     let addr = metrics.sockets()[0];
    ///     let scrape = std::thread::spawn(move || -> std::io::Result<String> {
    ///         let mut s = std::net::TcpStream::connect(addr)?;
    ///         s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")?;
    ///         let mut text = String::new();
    ///         s.read_to_string(&mut text)?;
    ///         Ok(text)
    ///     });
    ///     while !scrape.is_finished() {
    ///         switchboard::sleep(0.01).await;
    ///     }
    ///     let text = scrape.join().unwrap()?;
    ///     assert!(text.starts_with("HTTP/1.1 200"));
    ///     assert!(text.contains("switchboard_loop_iterations_total"));
    ///     metrics.close();
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn serve_metrics(&self, addr: SocketAddr) -> CreateServer<NoMessage> {
        // Weak: the server lives in this loop's table, which must not keep
        // the loop alive through it.
        let core = Rc::downgrade(&self.core);
        let source: Source = Rc::new(move || match core.upgrade() {
            Some(core) => vec![EventLoop { core }.introspect()],
            None => Vec::new(),
        });
        serve_metrics_with(self, addr, source, HttpLimits::default()).name("metrics")
    }
}

/// Internal, for the integration tests: [`serve_metrics_with`] over a
/// fixed source and a short head timeout. Not part of the API.
#[doc(hidden)]
pub fn serve_metrics_from(
    lp: &EventLoop,
    addr: SocketAddr,
    source: impl Fn() -> Vec<Snapshot> + 'static,
    head_timeout: Duration,
) -> CreateServer<NoMessage> {
    let limits = HttpLimits {
        head_timeout,
        ..HttpLimits::default()
    };
    serve_metrics_with(lp, addr, Rc::new(source), limits)
}

/// The token of the head timer.
const HEAD_TIMER: u32 = 0;

/// Where a connection is.
#[derive(Debug)]
enum Exchange {
    /// Waiting for the request head: the bytes so far, none of them (apart
    /// from the last three) the end of a head.
    Reading { head: BytesMut },
    /// The answer is written and the transport closing; anything more from
    /// the peer is ignored.
    Answered,
}

/// The protocol of one metrics connection: one request, one answer, close.
pub(crate) struct MetricsHttp {
    source: Source,
    limits: HttpLimits,
    exchange: Exchange,
}

impl std::fmt::Debug for MetricsHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsHttp")
            .field("limits", &self.limits)
            .field("exchange", &self.exchange)
            .finish_non_exhaustive()
    }
}

impl MetricsHttp {
    pub(crate) fn new(source: Source, limits: HttpLimits) -> MetricsHttp {
        MetricsHttp {
            source,
            limits,
            exchange: Exchange::Reading {
                head: BytesMut::new(),
            },
        }
    }

    /// Takes `data` into the head; answers once the head is whole, or too
    /// long to be.
    fn received(&mut self, data: &[u8], t: &mut dyn StreamTransport) -> Result<(), ProtocolError> {
        let Exchange::Reading { head } = &mut self.exchange else {
            return Ok(());
        };
        // Only the bytes just taken (and the 3 before them) can hold the
        // end, so a head sent a byte at a time costs linear time.
        let from = head.len().saturating_sub(3);
        let room = self.limits.max_head - head.len();
        head.extend_from_slice(&data[..data.len().min(room)]);
        let answer = match memchr::memmem::find(&head[from..], b"\r\n\r\n") {
            Some(at) => answer_to(&self.source, &head[..from + at]),
            None if head.len() >= self.limits.max_head => {
                Answer::Error("431 Request Header Fields Too Large")
            }
            None => return Ok(()),
        };
        self.send(answer, t)
    }

    /// Writes `answer` and closes.
    fn send(&mut self, answer: Answer, t: &mut dyn StreamTransport) -> Result<(), ProtocolError> {
        self.exchange = Exchange::Answered;
        let (status, content_type, body, head_only, allow) = match answer {
            Answer::Metrics { body, head_only } => ("200 OK", CONTENT_TYPE, body, head_only, ""),
            Answer::MethodNotAllowed => {
                let body = Bytes::from_static(b"405 Method Not Allowed\n");
                let allow = "Allow: GET, HEAD\r\n";
                ("405 Method Not Allowed", TEXT, body, false, allow)
            }
            Answer::Error(status) => (status, TEXT, Bytes::from(format!("{status}\n")), false, ""),
        };
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
             {allow}Connection: close\r\n\r\n",
            body.len()
        );
        t.write_bytes(Bytes::from(head))?;
        if !head_only {
            t.write_bytes(body)?;
        }
        t.close();
        Ok(())
    }
}

/// The answer to a whole head, `\r\n\r\n` excluded.
fn answer_to(source: &Source, head: &[u8]) -> Answer {
    match parse(head) {
        Request::Bad => Answer::Error("400 Bad Request"),
        Request::Other => Answer::MethodNotAllowed,
        Request::Read { path, head_only } if path == b"/metrics" => {
            let body = encode_metrics(&source());
            Answer::Metrics {
                body: Bytes::from(body),
                head_only,
            }
        }
        Request::Read { .. } => Answer::Error("404 Not Found"),
    }
}

/// The content type of the error answers.
const TEXT: &str = "text/plain; charset=utf-8";

/// What to answer.
#[derive(Debug)]
enum Answer {
    /// `200` with the scrape (without it for `HEAD`).
    Metrics { body: Bytes, head_only: bool },
    /// `405` with `Allow`.
    MethodNotAllowed,
    /// An error with no more to it than its status line.
    Error(&'static str),
}

impl StreamProtocol for MetricsHttp {
    fn handle(
        &mut self,
        event: StreamEvent,
        t: &mut dyn StreamTransport,
    ) -> Result<(), ProtocolError> {
        match event {
            StreamEvent::ConnectionMade => t.call_later(self.limits.head_timeout, HEAD_TIMER),
            StreamEvent::DataReceived(data) => self.received(&data, t)?,
            StreamEvent::TimerFired(HEAD_TIMER)
                if matches!(self.exchange, Exchange::Reading { .. }) =>
            {
                self.send(Answer::Error("408 Request Timeout"), t)?;
            }
            // EOF before a whole head: the transport closes itself after
            // this handler; after the answer, it is closing already.
            _ => {}
        }
        Ok(())
    }
}

/// What a well-formed head asks for.
#[derive(Debug, PartialEq, Eq)]
enum Request<'a> {
    /// `GET` (or, with `head_only`, `HEAD`) of `path` (the target before
    /// any `?`).
    Read { path: &'a [u8], head_only: bool },
    /// Any other method.
    Other,
    /// A malformed head.
    Bad,
}

/// Parses a request head without its final `\r\n\r\n` (RFC 9112): a
/// request line `METHOD SP TARGET SP HTTP/1.x`, then `name: value` lines,
/// all separated by `\r\n` (a stray `\r` or `\n` is malformed);
/// HTTP/1.1 needs a `Host`.
fn parse(head: &[u8]) -> Request<'_> {
    let mut lines = crlf_lines(head);
    let Some(request_line) = lines.next() else {
        return Request::Bad;
    };
    let mut parts = request_line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Request::Bad;
    };
    let needs_host = match version {
        b"HTTP/1.1" => true,
        b"HTTP/1.0" => false,
        _ => return Request::Bad,
    };
    if !is_token(method) || !target.starts_with(b"/") || has_stray_break(target) {
        return Request::Bad;
    }
    let mut host = false;
    for line in lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return Request::Bad;
        };
        let name = &line[..colon];
        if !is_token(name) || has_stray_break(line) {
            return Request::Bad;
        }
        host |= name.eq_ignore_ascii_case(b"host");
    }
    if needs_host && !host {
        return Request::Bad;
    }
    let path = target.split(|&b| b == b'?').next().unwrap_or(target);
    match method {
        b"GET" => Request::Read {
            path,
            head_only: false,
        },
        b"HEAD" => Request::Read {
            path,
            head_only: true,
        },
        _ => Request::Other,
    }
}

/// `head` split at each `\r\n`.
fn crlf_lines(head: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(head);
    std::iter::from_fn(move || {
        let buf = rest?;
        match memchr::memmem::find(buf, b"\r\n") {
            Some(i) => {
                rest = Some(&buf[i + 2..]);
                Some(&buf[..i])
            }
            None => {
                rest = None;
                Some(buf)
            }
        }
    })
}

/// A `\r` or `\n` inside a line (not part of a `\r\n` between lines).
fn has_stray_break(line: &[u8]) -> bool {
    memchr::memchr2(b'\r', b'\n', line).is_some()
}

/// RFC 9110 `token`: one or more letters, digits or ``!#$%&'*+-.^_`|~``.
fn is_token(s: &[u8]) -> bool {
    !s.is_empty()
        && s.iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests;
