//! Property tests of the ready-made framers and the HTTP responder (behaviour
//! ids FR1 and FR2 in `docs/behavior.md`): however the bytes of a stream are
//! cut into reads — one read, 1-byte reads, empty reads, anything between —
//! the same frames come out in the same order, a frame over the limit fails
//! at the same frame index, and arbitrary bytes never panic.
//!
//! twisted's advice (`interfaces.py`) to feed protocols whole buffers *and*
//! byte by byte, generalised to every way of cutting.
//!
//! Each property runs 10,000 cases; the generators stay small so the file
//! runs in a few seconds in the debug profile.

use bytes::Bytes;
use proptest::prelude::*;
use proptest::test_runner::Config;

use switchboard_protocols::ready_made::{
    encode, Framer, FramingError, HttpHello, LengthPrefixedFramer, LineFramer,
    BAD_REQUEST_RESPONSE, HELLO_RESPONSE,
};
use switchboard_protocols::testing::FakeConnection;

const CASES: u32 = 10_000;

fn config() -> Config {
    Config {
        failure_persistence: None,
        ..Config::with_cases(CASES)
    }
}

// --- Cutting a stream into reads ---------------------------------------------

/// Read sizes, used in turn (and again from the start) until the stream is
/// used up: 0 is an empty read, 1 the byte-wise worst case.
fn read_sizes() -> impl Strategy<Value = Vec<usize>> {
    let size = prop_oneof![
        1 => Just(0usize),
        3 => Just(1usize),
        4 => 2usize..8,
        2 => 8usize..300,
    ];
    prop::collection::vec(size, 1..12)
}

/// `data` cut into reads of `sizes` (cyclically); empty reads included.
fn cut<'a>(data: &'a [u8], sizes: &[usize]) -> Vec<&'a [u8]> {
    let mut reads = Vec::new();
    let (mut at, mut i) = (0, 0);
    // An all-zero `sizes` would never finish: the rest goes as one read.
    let progress = sizes.iter().any(|&n| n > 0);
    while at < data.len() {
        if !progress {
            reads.push(&data[at..at]);
            reads.push(&data[at..]);
            break;
        }
        let n = sizes[i % sizes.len()].min(data.len() - at);
        reads.push(&data[at..at + n]);
        at += n;
        i += 1;
    }
    // A trailing empty read, as a read after the last byte.
    if sizes.contains(&0) {
        reads.push(&data[data.len()..]);
    }
    reads
}

/// What a framer made of a stream: its frames in order, then the error that
/// stopped it (if any), the stream's end included.
#[derive(Debug, PartialEq)]
struct Outcome<I> {
    frames: Vec<I>,
    error: Option<FramingError>,
}

/// Pushes each read and takes every frame it completes, then `finish`es;
/// stops at the first error, as `Framed` does.
fn drive<F: Framer>(mut framer: F, reads: &[&[u8]]) -> Outcome<F::Item> {
    let mut frames = Vec::new();
    for read in reads {
        framer.push(read);
        loop {
            match framer.next_frame() {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(error) => {
                    return Outcome {
                        frames,
                        error: Some(error),
                    }
                }
            }
        }
    }
    match framer.finish() {
        Ok(last) => frames.extend(last),
        Err(error) => {
            return Outcome {
                frames,
                error: Some(error),
            }
        }
    }
    Outcome {
        frames,
        error: None,
    }
}

// --- Lines ------------------------------------------------------------------

/// A line without its `\n`: mostly letters, some `\r`, some high bytes;
/// mostly short, sometimes over a small limit. (Mapped from plain bytes:
/// a per-byte strategy costs more than the framer under test.)
fn line() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..24).prop_map(|bytes| {
        let letter_cr_or_high = |b: u8| match b {
            0..=199 => b'a' + b % 26,
            200..=224 => b'\r',
            high => high,
        };
        bytes.into_iter().map(letter_cr_or_high).collect()
    })
}

/// The frames the line framer must give for `data`: each `\n`-ended line
/// (one `\r` before the `\n` dropped with `strip_cr`), then the unterminated
/// rest if any, until the first line over `max` (its `\r` counted).
fn expected_lines(data: &[u8], max: usize, strip_cr: bool) -> Outcome<Bytes> {
    let mut frames = Vec::new();
    let mut lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    let tail = lines.pop().unwrap_or_default();
    for (i, mut line) in lines.into_iter().chain([tail]).enumerate() {
        if line.len() > max {
            return Outcome {
                frames,
                error: Some(FramingError::LineTooLong { max }),
            };
        }
        if strip_cr {
            line = line.strip_suffix(b"\r").unwrap_or(line);
        }
        let is_tail = i + 1 == data.split(|&b| b == b'\n').count();
        if !(is_tail && line.is_empty()) {
            frames.push(Bytes::copy_from_slice(line));
        }
    }
    Outcome {
        frames,
        error: None,
    }
}

proptest! {
    #![proptest_config(config())]

    /// FR1 (Lines): any cutting gives the lines of one read, which are the
    /// lines sent, and the first line over the limit fails at its index.
    #[test]
    fn fr1_lines_are_the_same_however_the_stream_is_cut(
        lines in prop::collection::vec(line(), 0..8),
        tail in line(),
        max in 0usize..30,
        sizes in read_sizes(),
    ) {
        let mut data = Vec::new();
        for line in &lines {
            data.extend_from_slice(line);
            data.push(b'\n');
        }
        data.extend_from_slice(&tail);
        let whole = drive(LineFramer::new(max), &[&data]);
        prop_assert_eq!(&whole, &expected_lines(&data, max, false));
        prop_assert_eq!(drive(LineFramer::new(max), &cut(&data, &sizes)), whole);
    }

    /// FR1 (Lines with `strip_cr`): a `\r` before the `\n` goes, wherever
    /// the cut falls between them.
    #[test]
    fn fr1_lines_strip_cr_does_not_depend_on_the_cut(
        data in prop::collection::vec(0usize..3, 0..40)
            .prop_map(|v| v.into_iter().map(|i| b"\r\nx"[i]).collect::<Vec<u8>>()),
        sizes in read_sizes(),
    ) {
        let framer = || LineFramer::new(16).strip_cr(true);
        let whole = drive(framer(), &[&data]);
        prop_assert_eq!(&whole, &expected_lines(&data, 16, true));
        prop_assert_eq!(drive(framer(), &cut(&data, &sizes)), whole);
    }

    /// FR1 (Lines): arbitrary bytes never panic, and the cut changes nothing.
    #[test]
    fn fr1_lines_take_arbitrary_bytes(
        data in prop::collection::vec(any::<u8>(), 0..120),
        max in 0usize..64,
        sizes in read_sizes(),
    ) {
        let whole = drive(LineFramer::new(max), &[&data]);
        prop_assert_eq!(&whole, &expected_lines(&data, max, false));
        prop_assert_eq!(drive(LineFramer::new(max), &cut(&data, &sizes)), whole);
    }
}

// --- LengthPrefixed ---------------------------------------------------------

/// The frames the length-prefixed framer must give for `payloads` followed by
/// `tail` (the first bytes of one more frame): each payload, until the first
/// over `max`; a tail is a truncation at EOF.
fn expected_frames(payloads: &[Vec<u8>], tail: &[u8], max: usize) -> Outcome<Bytes> {
    let mut frames = Vec::new();
    for payload in payloads {
        if payload.len() > max {
            let len = payload.len();
            return Outcome {
                frames,
                error: Some(FramingError::FrameTooLarge { len, max }),
            };
        }
        frames.push(Bytes::copy_from_slice(payload));
    }
    if tail.is_empty() {
        return Outcome {
            frames,
            error: None,
        };
    }
    // A complete header is taken off (and checked) as soon as it arrives.
    let buffered = if tail.len() >= 4 {
        let len = u32::from_be_bytes(tail[..4].try_into().expect("4 bytes")) as usize;
        if len > max {
            return Outcome {
                frames,
                error: Some(FramingError::FrameTooLarge { len, max }),
            };
        }
        tail.len() - 4
    } else {
        tail.len()
    };
    Outcome {
        frames,
        error: Some(FramingError::Truncated { buffered }),
    }
}

proptest! {
    #![proptest_config(config())]

    /// FR1 (LengthPrefixed): any cutting gives the frames of one read, which
    /// are the payloads sent; the first one over the limit fails at its
    /// index, and a stream ending inside a frame is a truncation.
    #[test]
    fn fr1_length_prefixed_frames_are_the_same_however_the_stream_is_cut(
        payloads in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..8),
        tail_frame in prop::collection::vec(any::<u8>(), 0..12),
        tail_len in 0usize..16,
        max in 0usize..48,
        sizes in read_sizes(),
    ) {
        let mut data = Vec::new();
        for payload in &payloads {
            data.extend_from_slice(&encode(payload));
        }
        let tail = encode(&tail_frame);
        let tail = &tail[..tail_len.min(tail.len() - 1)];
        data.extend_from_slice(tail);
        let whole = drive(LengthPrefixedFramer::new(max), &[&data]);
        prop_assert_eq!(&whole, &expected_frames(&payloads, tail, max));
        prop_assert_eq!(drive(LengthPrefixedFramer::new(max), &cut(&data, &sizes)), whole);
    }

    /// FR1 (LengthPrefixed): arbitrary bytes (wild lengths included) never
    /// panic nor reserve, and the cut changes nothing.
    #[test]
    fn fr1_length_prefixed_takes_arbitrary_bytes(
        data in prop::collection::vec(any::<u8>(), 0..120),
        max in 0usize..=usize::MAX,
        sizes in read_sizes(),
    ) {
        let whole = drive(LengthPrefixedFramer::new(max), &[&data]);
        prop_assert_eq!(drive(LengthPrefixedFramer::new(max), &cut(&data, &sizes)), whole);
    }
}

// --- HTTP -------------------------------------------------------------------

/// One generated request and whether it closes the connection.
#[derive(Debug, Clone)]
struct Request {
    bytes: Vec<u8>,
    closes: bool,
}

/// A well-formed request: a method, a path, HTTP/1.1 or 1.0, a few headers
/// (`Connection` options in any case, a `Content-Length` body of arbitrary
/// bytes), sometimes one long header that takes the head near 8 KiB.
fn request() -> impl Strategy<Value = Request> {
    // Plain indexes and bytes mapped to text: proptest's regex strategies
    // cost more than the parser under test in the debug profile.
    const METHODS: [&str; 8] = [
        "GET",
        "POST",
        "HEAD",
        "PUT",
        "DELETE",
        "M-SEARCH",
        "x!#$%&'*+.^_`|~",
        "Q",
    ];
    const NAMES: [&str; 6] = [
        "Host",
        "Accept",
        "X-Trace-Id",
        "user-agent",
        "If-None-Match",
        "A",
    ];
    const OPTIONS: [&str; 4] = ["close", "Keep-Alive", "keep-alive, CLOSE", "upgrade"];
    let text = |len| {
        prop::collection::vec(0x20u8..0x7f, 0..len)
            .prop_map(|v| String::from_utf8(v).expect("printable ASCII"))
    };
    let path = prop::collection::vec(any::<u8>(), 0..16).prop_map(|v| {
        let chars = b"abcxyz019/._?=&-";
        let tail = v.iter().map(|&b| chars[b as usize % chars.len()] as char);
        std::iter::once('/').chain(tail).collect::<String>()
    });
    let header = (0..NAMES.len(), text(20)).prop_map(|(i, value)| (NAMES[i], value));
    let connection = prop::option::of((0..OPTIONS.len()).prop_map(|i| OPTIONS[i]));
    let long = prop_oneof![39 => Just(0usize), 1 => 8000usize..8200];
    (
        (0..METHODS.len()).prop_map(|i| METHODS[i]),
        path,
        any::<bool>(),
        prop::collection::vec(header, 0..4),
        connection,
        prop::option::of(prop::collection::vec(any::<u8>(), 0..24)),
        long,
    )
        .prop_map(|(method, path, http10, headers, connection, body, long)| {
            let version = if http10 { "HTTP/1.0" } else { "HTTP/1.1" };
            let mut head = format!("{method} {path} {version}\r\n");
            for (name, value) in &headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            if let Some(options) = connection {
                head.push_str(&format!("Connection: {options}\r\n"));
            }
            if let Some(body) = &body {
                head.push_str(&format!("content-length: {}\r\n", body.len()));
            }
            if long > 0 {
                head.push_str(&format!("X-Long: {}\r\n", "v".repeat(long)));
            }
            head.push_str("\r\n");
            let oversized = head.len() > HttpHello::MAX_HEAD_LENGTH;
            let lower = connection.unwrap_or("").to_ascii_lowercase();
            let closes =
                oversized || lower.contains("close") || (http10 && !lower.contains("keep-alive"));
            let mut bytes = head.into_bytes();
            bytes.extend(body.unwrap_or_default());
            // An oversized head is refused, so it "closes" too; its answer
            // is the 400 (see `expected_answers`).
            Request { bytes, closes }
        })
}

/// What the responder writes for `requests` and whether it closes: a hello
/// for each request up to the first that closes; a 400 for an oversized head.
fn expected_answers(requests: &[Request]) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    for r in requests {
        let head_len = r
            .bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a head")
            + 4;
        if head_len > HttpHello::MAX_HEAD_LENGTH {
            out.extend_from_slice(BAD_REQUEST_RESPONSE);
            return (out, true);
        }
        out.extend_from_slice(HELLO_RESPONSE);
        if r.closes {
            return (out, true);
        }
    }
    (out, false)
}

/// Feeds `reads` to a fresh responder; what it wrote and whether it closed.
fn respond(reads: &[&[u8]]) -> (Vec<u8>, bool) {
    let mut conn = FakeConnection::new(HttpHello::new());
    conn.connect().expect("connect");
    for read in reads {
        conn.receive(read).expect("HttpHello never fails");
    }
    (
        conn.transport().written().to_vec(),
        conn.transport().closed(),
    )
}

/// The answers are hellos, then at most one 400.
fn well_shaped(written: &[u8]) -> bool {
    let rest = written
        .strip_suffix(BAD_REQUEST_RESPONSE)
        .unwrap_or(written);
    rest.len() % HELLO_RESPONSE.len() == 0
        && rest
            .chunks(HELLO_RESPONSE.len())
            .all(|c| c == HELLO_RESPONSE)
}

proptest! {
    #![proptest_config(config())]

    /// FR2: pipelined well-formed requests, cut anyhow, get one hello each
    /// (up to the first that closes), as in one read.
    #[test]
    fn fr2_http_answers_pipelined_requests_however_they_are_cut(
        requests in prop::collection::vec(request(), 1..5),
        sizes in read_sizes(),
    ) {
        let data = requests.iter().flat_map(|r| r.bytes.clone()).collect::<Vec<u8>>();
        let whole = respond(&[&data]);
        prop_assert_eq!(&whole, &expected_answers(&requests));
        prop_assert_eq!(respond(&cut(&data, &sizes)), whole);
    }

    /// FR2: garbage (a head starting with a byte no method may start with,
    /// after some good requests) gets the hellos owed, then a 400 and a
    /// close, however it is cut.
    #[test]
    fn fr2_http_refuses_a_garbage_head_however_it_is_cut(
        good in prop::collection::vec(request(), 0..3),
        garbage in prop::collection::vec(any::<u8>(), 0..60),
        sizes in read_sizes(),
    ) {
        let mut data = good.iter().flat_map(|r| r.bytes.clone()).collect::<Vec<u8>>();
        data.push(b'@');
        data.extend_from_slice(&garbage);
        data.extend_from_slice(b"\r\n\r\n");
        let (mut want, closed) = expected_answers(&good);
        if !closed {
            want.extend_from_slice(BAD_REQUEST_RESPONSE);
        }
        let whole = respond(&[&data]);
        prop_assert_eq!(&whole, &(want, true));
        prop_assert_eq!(respond(&cut(&data, &sizes)), whole);
    }

    /// FR2: arbitrary bytes never
    /// panic or hang, give hellos then at most one 400, and the cut changes
    /// nothing.
    #[test]
    fn fr2_http_takes_arbitrary_bytes(
        pieces in prop::collection::vec(any::<(u8, u8)>(), 0..40),
        sizes in read_sizes(),
    ) {
        // Mostly arbitrary bytes, spiced with the bytes HTTP cares about.
        const SPICE: [&[u8]; 5] =
            [b"\r\n", b"\r\n\r\n", b"GET / HTTP/1.1", b"Content-Length: 3", b" "];
        let data: Vec<u8> = pieces
            .iter()
            .flat_map(|&(k, b)| SPICE.get(k as usize % 8).copied().unwrap_or(&[b]).to_vec())
            .collect();
        let whole = respond(&[&data]);
        prop_assert!(well_shaped(&whole.0), "{:?}", whole);
        prop_assert_eq!(respond(&cut(&data, &sizes)), whole);
    }
}
