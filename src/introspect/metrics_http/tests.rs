//! The metrics protocol over a fake transport: every answer, whole and
//! byte-at-a-time requests, the head limit and the head timer.

use std::time::Duration;

use switchboard_protocols::testing::{FakeConnection, FakeTransport};

use super::*;

/// A protocol whose scrape is one default snapshot.
fn protocol() -> MetricsHttp {
    MetricsHttp::new(Rc::new(|| vec![Snapshot::default()]), HttpLimits::default())
}

/// What the protocol writes for `request`, fed in reads of `chunk` bytes,
/// and whether it closed.
fn exchange(request: &[u8], chunk: usize) -> (String, bool) {
    let mut conn = FakeConnection::new(protocol());
    conn.connect().unwrap();
    conn.receive_in_chunks(request, chunk).unwrap();
    let written = String::from_utf8(conn.transport().written().to_vec()).unwrap();
    (written, conn.transport().closed())
}

/// The status line of what the protocol answers `request` (whole).
fn status(request: &[u8]) -> String {
    let (written, closed) = exchange(request, usize::MAX);
    assert!(closed, "closes after answering {request:?}");
    written.lines().next().unwrap_or_default().to_string()
}

#[test]
fn get_metrics_answers_openmetrics_text_and_closes() {
    let request = b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n";
    let (written, closed) = exchange(request, usize::MAX);
    let (head, body) = written.split_once("\r\n\r\n").unwrap();
    assert_eq!(body, encode_metrics(&[Snapshot::default()]));
    assert_eq!(
        head,
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: {CONTENT_TYPE}\r\nContent-Length: {}\r\n\
             Connection: close",
            body.len()
        )
    );
    assert!(closed);
    // One byte per read makes the same answer.
    assert_eq!(exchange(request, 1), (written, true));
}

#[test]
fn each_request_gets_its_status() {
    let cases: [(&[u8], &str); 12] = [
        (
            b"GET /metrics?x=1 HTTP/1.1\r\nHost: x\r\n\r\n",
            "HTTP/1.1 200 OK",
        ),
        (b"GET /metrics HTTP/1.0\r\n\r\n", "HTTP/1.1 200 OK"),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
            "HTTP/1.1 404 Not Found",
        ),
        (
            b"GET /metricsx HTTP/1.1\r\nHost: x\r\n\r\n",
            "HTTP/1.1 404 Not Found",
        ),
        (
            b"POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
            "HTTP/1.1 405 Method Not Allowed",
        ),
        (b"GET /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 400 Bad Request"),
        (
            b"GET /metrics HTTP/2.0\r\nHost: x\r\n\r\n",
            "HTTP/1.1 400 Bad Request",
        ),
        (
            b"GET  /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
            "HTTP/1.1 400 Bad Request",
        ),
        (
            b"GET /metrics HTTP/1.1\r\nHost x\r\n\r\n",
            "HTTP/1.1 400 Bad Request",
        ),
        (
            b"GET /metrics HTTP/1.1\nHost: x\r\n\r\n",
            "HTTP/1.1 400 Bad Request",
        ),
        (
            b"G(T /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
            "HTTP/1.1 400 Bad Request",
        ),
        (
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
            "HTTP/1.1 400 Bad Request",
        ),
    ];
    for (request, expected) in cases {
        assert_eq!(
            status(request),
            expected,
            "{:?}",
            String::from_utf8_lossy(request)
        );
    }
    let (written, _) = exchange(b"PUT /metrics HTTP/1.1\r\nHost: x\r\n\r\n", usize::MAX);
    assert!(written.contains("\r\nAllow: GET, HEAD\r\n"), "{written}");
}

#[test]
fn head_gets_the_head_without_the_body() {
    let (written, closed) = exchange(b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 7);
    let (head, body) = written.split_once("\r\n\r\n").unwrap();
    let length = encode_metrics(&[Snapshot::default()]).len();
    assert!(
        head.contains(&format!("\r\nContent-Length: {length}\r\n")),
        "{head}"
    );
    assert_eq!(body, "");
    assert!(closed);
}

#[test]
fn a_head_up_to_the_limit_is_read_and_one_byte_more_is_431() {
    let max = HttpLimits::default().max_head;
    let start = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: ";
    let pad = |n: usize| format!("{start}{}\r\n\r\n", "a".repeat(n - start.len() - 4));
    assert_eq!(pad(max).len(), max);
    assert_eq!(status(pad(max).as_bytes()), "HTTP/1.1 200 OK");
    assert_eq!(
        status(pad(max + 1).as_bytes()),
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
    // No end at all: answered as soon as the limit is reached.
    let (written, closed) = exchange(&vec![b'a'; max], 1000);
    assert!(written.starts_with("HTTP/1.1 431 "), "{written}");
    assert!(closed);
}

#[test]
fn the_head_timer_is_set_at_connection_made_and_answers_408() {
    let mut p = protocol();
    let mut t = FakeTransport::new();
    p.handle(StreamEvent::ConnectionMade, &mut t).unwrap();
    assert_eq!(t.timers(), [(Duration::from_secs(10), HEAD_TIMER)]);
    let partial = Bytes::from_static(b"GET /metrics HTTP/1.1\r\nHo");
    p.handle(StreamEvent::DataReceived(partial), &mut t)
        .unwrap();
    assert!(t.written().is_empty());
    p.handle(StreamEvent::TimerFired(HEAD_TIMER), &mut t)
        .unwrap();
    assert!(t.written().starts_with(b"HTTP/1.1 408 Request Timeout\r\n"));
    assert!(t.closed());
}

#[test]
fn the_head_timer_after_an_answer_does_nothing() {
    let mut p = protocol();
    let mut t = FakeTransport::new();
    p.handle(StreamEvent::ConnectionMade, &mut t).unwrap();
    let request = Bytes::from_static(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    p.handle(StreamEvent::DataReceived(request), &mut t)
        .unwrap();
    let answered = t.written().len();
    p.handle(StreamEvent::TimerFired(HEAD_TIMER), &mut t)
        .unwrap();
    assert_eq!(t.written().len(), answered);
}
