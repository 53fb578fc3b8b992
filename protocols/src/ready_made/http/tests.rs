use super::*;
use crate::testing::FakeConnection;

const GET: &[u8] = b"GET /plaintext HTTP/1.1\r\nHost: localhost:8080\r\nAccept: */*\r\n\r\n";

/// Feeds `data` in reads of `chunk` bytes; returns what was written and
/// whether the connection closed.
fn run(data: &[u8], chunk: usize) -> (Vec<u8>, bool) {
    let mut conn = FakeConnection::new(HttpHello::new());
    conn.connect().expect("connect");
    conn.receive_in_chunks(data, chunk)
        .expect("HttpHello never fails");
    (
        conn.transport().written().to_vec(),
        conn.transport().closed(),
    )
}

fn hellos(n: usize) -> Vec<u8> {
    HELLO_RESPONSE.repeat(n)
}

fn bad_after(n: usize) -> Vec<u8> {
    [hellos(n), BAD_REQUEST_RESPONSE.to_vec()].concat()
}

#[test]
fn answers_one_request_whole_or_bytewise() {
    for chunk in [GET.len(), 1, 5] {
        assert_eq!(run(GET, chunk), (hellos(1), false), "chunk {chunk}");
    }
}

#[test]
fn answers_pipelined_requests_in_order() {
    let data = GET.repeat(16);
    for chunk in [data.len(), 1, 7, GET.len() + 3] {
        assert_eq!(run(&data, chunk), (hellos(16), false), "chunk {chunk}");
    }
}

#[test]
fn connection_close_answers_then_closes() {
    let data = [
        GET,
        b"GET / HTTP/1.1\r\nConnection: Keep-Alive, CLOSE\r\n\r\n",
        GET,
    ]
    .concat();
    for chunk in [data.len(), 1] {
        assert_eq!(run(&data, chunk), (hellos(2), true), "chunk {chunk}");
    }
}

#[test]
fn http10_closes_unless_keep_alive() {
    assert_eq!(run(b"GET / HTTP/1.0\r\n\r\n", 100), (hellos(1), true));
    let keep = b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    assert_eq!(run(keep, 100), (hellos(1), false));
}

#[test]
fn skips_bodies_announced_with_content_length() {
    let post = b"POST / HTTP/1.1\r\nContent-Length: 8\r\n\r\n\r\n\r\nbody";
    let data = [&post[..], GET].concat();
    for chunk in [data.len(), 1, 3] {
        assert_eq!(run(&data, chunk), (hellos(2), false), "chunk {chunk}");
    }
}

#[test]
fn malformed_heads_get_400_and_close() {
    let cases: [&[u8]; 10] = [
        b"GARBAGE\r\n\r\n",
        b"\r\n\r\n",
        b"GET /\r\n\r\n",
        b"GET / HTTP/2.0\r\n\r\n",
        b"GET  / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nNoColon\r\n\r\n",
        b"GET / HTTP/1.1\r\nBare: lf\nX: y\r\n\r\n",
        b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
        b"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
    ];
    for case in cases {
        for chunk in [case.len(), 1] {
            let name = String::from_utf8_lossy(case);
            assert_eq!(
                run(case, chunk),
                (bad_after(0), true),
                "{name:?} chunk {chunk}"
            );
        }
    }
}

#[test]
fn good_requests_before_a_bad_one_are_answered_first() {
    let data = [GET, GET, b"BAD\r\n\r\n", GET].concat();
    for chunk in [data.len(), 1] {
        assert_eq!(run(&data, chunk), (bad_after(2), true), "chunk {chunk}");
    }
}

/// A GET whose head, `\r\n\r\n` included, is exactly `len` bytes.
fn head_of(len: usize) -> Vec<u8> {
    let fixed = b"GET / HTTP/1.1\r\nX: \r\n\r\n".len();
    let mut head = b"GET / HTTP/1.1\r\nX: ".to_vec();
    head.resize(len - 4, b'a');
    head.extend_from_slice(b"\r\n\r\n");
    assert!(len >= fixed && head.len() == len);
    head
}

#[test]
fn heads_up_to_8_kib_pass_and_longer_get_400() {
    let max = HttpHello::MAX_HEAD_LENGTH;
    for chunk in [max * 2, 1, 1000] {
        assert_eq!(
            run(&head_of(max), chunk),
            (hellos(1), false),
            "chunk {chunk}"
        );
        assert_eq!(
            run(&head_of(max + 1), chunk),
            (bad_after(0), true),
            "chunk {chunk}"
        );
    }
}

#[test]
fn an_unterminated_head_is_refused_at_the_limit() {
    let max = HttpHello::MAX_HEAD_LENGTH;
    assert_eq!(run(&vec![b'a'; max - 1], max), (vec![], false));
    assert_eq!(run(&vec![b'a'; max], max), (bad_after(0), true));
}

#[test]
fn eof_closes_and_later_data_is_ignored() -> Result<(), ProtocolError> {
    let mut conn = FakeConnection::new(HttpHello::default());
    conn.connect()?;
    conn.receive(&GET[..10])?;
    conn.receive_eof()?;
    assert!(conn.transport().closed() && conn.is_lost());
    assert!(conn.transport().written().is_empty());
    Ok(())
}

#[test]
fn data_while_closing_is_ignored() -> Result<(), ProtocolError> {
    let mut hello = HttpHello::new();
    let mut t = crate::testing::FakeTransport::new();
    t.close();
    let event = StreamEvent::DataReceived(Bytes::from_static(GET));
    StreamProtocol::handle(&mut hello, event, &mut t)?;
    assert!(t.written().is_empty());
    Ok(())
}

#[test]
fn parse_decimal_refuses_overflow_and_non_digits() {
    assert_eq!(parse_decimal(b"0"), Some(0));
    assert_eq!(parse_decimal(b"123"), Some(123));
    assert_eq!(parse_decimal(b""), None);
    assert_eq!(parse_decimal(b"1a"), None);
    assert_eq!(parse_decimal(b"99999999999999999999999"), None);
}

#[test]
fn find_head_end_agrees_with_a_plain_search() {
    let naive = |b: &[u8]| b.windows(4).position(|w| w == b"\r\n\r\n");
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for len in 0..200 {
        for _ in 0..20 {
            let buf: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    b"\r\n\r\nab"[(seed % 6) as usize]
                })
                .collect();
            assert_eq!(find_head_end(&buf), naive(&buf), "{buf:?}");
        }
    }
}

#[test]
fn answers_more_pipelined_requests_than_the_static_run() {
    let data = GET.repeat(HELLO_RUN + 5);
    assert_eq!(run(&data, data.len()), (hellos(HELLO_RUN + 5), false));
    let mut tokens = (0u8..=255).filter(|&b| is_token(&[b])).collect::<Vec<_>>();
    tokens.retain(|b| !b.is_ascii_alphanumeric());
    assert_eq!(tokens, b"!#$%&'*+-.^_`|~");
}

#[test]
fn head_lines_agrees_with_splitting_on_lf() {
    // The reference: split on `\n`, every line but the last ends in `\r`,
    // no line holds another `\r`.
    fn reference(head: &[u8]) -> Vec<Option<&[u8]>> {
        let mut out = Vec::new();
        let mut pieces = head.split(|&b| b == b'\n').peekable();
        while let Some(piece) = pieces.next() {
            let line = match pieces.peek() {
                Some(_) => piece.strip_suffix(b"\r"),
                None => Some(piece),
            };
            let line = line.filter(|line| !line.contains(&b'\r'));
            out.push(line);
            if line.is_none() {
                break;
            }
        }
        out
    }
    let mut seed = 0x0123_4567_89ab_cdefu64;
    for len in 0..40 {
        for _ in 0..50 {
            let head: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    b"\r\n\r\nab: "[(seed % 8) as usize]
                })
                .collect();
            let ours: Vec<_> = head_lines(&head).collect();
            assert_eq!(ours, reference(&head), "{head:?}");
        }
    }
}

#[test]
fn issue_16_an_announced_body_is_not_buffered() -> Result<(), ProtocolError> {
    // Content-Length: 16 MiB, then part of the body: the body is skipped as
    // it arrives, so nothing grows with the announced length.
    let mut hello = HttpHello::new();
    let mut t = crate::testing::FakeTransport::new();
    let head = b"POST / HTTP/1.1\r\nContent-Length: 16777216\r\n\r\n";
    let mut read = |data: &[u8], hello: &mut HttpHello| {
        let data = Bytes::copy_from_slice(data);
        hello.handle(StreamEvent::DataReceived(data), &mut t)
    };
    read(&head[..10], &mut hello)?;
    read(&[&head[10..], &[0u8; 100][..]].concat(), &mut hello)?;
    for _ in 0..16 {
        read(&[0u8; 64 * 1024], &mut hello)?;
    }
    assert!(
        hello.buf.capacity() <= 2 * head.len(),
        "{}",
        hello.buf.capacity()
    );
    assert_eq!(
        hello.reading,
        Reading::Body {
            remaining: 16 * 1024 * 1024 - 100 - 16 * 64 * 1024
        }
    );
    Ok(())
}
