use std::cell::RefCell;
use std::rc::Rc;

use super::*;
use crate::testing::FakeConnection;

const TEXT: &[u8] = b"alpha\n\nbeta\r\ngamma delta\nlast";

fn frame_all(framer: &mut LineFramer, data: &[u8], chunk: usize) -> Vec<Bytes> {
    let mut lines = Vec::new();
    for piece in data.chunks(chunk) {
        framer.push(piece);
        while let Some(line) = framer.next_line().expect("short lines") {
            lines.push(line);
        }
    }
    lines
}

#[test]
fn framer_gives_the_same_lines_for_any_chunking() {
    for chunk in [TEXT.len(), 1, 2, 7] {
        let mut framer = LineFramer::default();
        let lines = frame_all(&mut framer, TEXT, chunk);
        assert_eq!(
            lines,
            [&b"alpha"[..], b"", b"beta\r", b"gamma delta"],
            "chunk {chunk}"
        );
        assert_eq!(framer.buffered(), 4);
        assert_eq!(framer.finish(), Ok(Some(Bytes::from_static(b"last"))));
        assert_eq!(framer.finish(), Ok(None));
    }
}

#[test]
fn framer_accepts_exactly_max_and_refuses_one_more() {
    for chunk in [100, 1] {
        let mut ok = LineFramer::new(4);
        assert_eq!(frame_all(&mut ok, b"abcd\n", chunk), [&b"abcd"[..]]);

        let mut long = LineFramer::new(4);
        let mut err = None;
        for piece in b"abcde\n".chunks(chunk) {
            long.push(piece);
            if let Err(e) = long.next_line() {
                err = Some(e);
                break;
            }
        }
        assert_eq!(
            err,
            Some(FramingError::LineTooLong { max: 4 }),
            "chunk {chunk}"
        );
        assert_eq!(long.next_line(), Err(FramingError::LineTooLong { max: 4 }));
    }
}

#[test]
fn framer_finish_checks_the_limit() {
    let mut framer = LineFramer::new(2);
    framer.push(b"abc");
    assert_eq!(framer.finish(), Err(FramingError::LineTooLong { max: 2 }));
}

#[test]
fn framer_max_zero_accepts_only_empty_lines() {
    let mut framer = LineFramer::new(0);
    framer.push(b"\n\n");
    assert_eq!(framer.next_line(), Ok(Some(Bytes::new())));
    assert_eq!(framer.next_line(), Ok(Some(Bytes::new())));
    assert_eq!(framer.next_line(), Ok(None));
    framer.push(b"x");
    assert!(framer.next_line().is_err());
}

type Seen = Rc<RefCell<Vec<Bytes>>>;

fn collecting(max: usize) -> (FakeConnection, Seen) {
    let seen = Seen::default();
    let sink = seen.clone();
    let protocol = Lines::new(max, move |line, _t| {
        sink.borrow_mut().push(line);
        Ok(())
    });
    (FakeConnection::new(protocol), seen)
}

#[test]
fn lines_gets_whole_buffers_and_single_bytes_alike() -> Result<(), ProtocolError> {
    for chunk in [TEXT.len(), 1, 3] {
        let (mut conn, seen) = collecting(64);
        conn.connect()?;
        conn.receive_in_chunks(TEXT, chunk)?;
        assert_eq!(seen.borrow().len(), 4, "chunk {chunk}");
        conn.receive_eof()?;
        assert_eq!(
            *seen.borrow(),
            [&b"alpha"[..], b"", b"beta\r", b"gamma delta", b"last"],
            "chunk {chunk}"
        );
        assert!(conn.is_lost() && !conn.transport().aborted());
    }
    Ok(())
}

#[test]
fn lines_too_long_fails_the_connection() -> Result<(), ProtocolError> {
    for chunk in [100, 1] {
        let (mut conn, seen) = collecting(3);
        conn.connect()?;
        let err = conn.receive_in_chunks(b"ok\ntoo long\n", chunk);
        assert_eq!(
            err.map_err(|e| e.to_string()),
            Err("line longer than 3 bytes".to_string())
        );
        assert_eq!(*seen.borrow(), [&b"ok"[..]]);
        assert!(conn.transport().aborted() && conn.is_lost());
    }
    Ok(())
}

#[test]
fn lines_handler_error_fails_the_connection() {
    let mut conn = FakeConnection::new(Lines::new(8, |_, _| Err(ProtocolError::failed("bad"))));
    conn.connect().expect("connect");
    assert!(conn.receive(b"x").is_ok());
    assert!(conn.receive(b"\n").is_err());
    assert!(conn.transport().aborted());
}

#[test]
fn lines_stop_once_closing_even_within_one_read() -> Result<(), ProtocolError> {
    let count = Rc::new(RefCell::new(0));
    let seen = count.clone();
    let mut conn = FakeConnection::new(Lines::new(8, move |_, t| {
        *seen.borrow_mut() += 1;
        t.close();
        Ok(())
    }));
    conn.connect()?;
    conn.receive(b"a\nb\nc\n")?;
    assert_eq!(*count.borrow(), 1);
    Ok(())
}

#[test]
fn lines_debug_shows_the_framer() {
    let lines = Lines::new(8, |_, _| Ok(()));
    assert!(format!("{lines:?}").starts_with("Framed { framer: LineFramer"));
}

#[test]
fn issue_16_framer_buffers_only_what_arrived() -> Result<(), FramingError> {
    // A long unterminated line grows the buffer with its bytes, never ahead.
    let mut framer = LineFramer::new(LineFramer::DEFAULT_MAX_LINE_LENGTH);
    let chunk = [b'x'; 1000];
    let mut arrived = 0;
    while arrived + chunk.len() <= LineFramer::DEFAULT_MAX_LINE_LENGTH {
        framer.push(&chunk);
        arrived += chunk.len();
        assert_eq!(framer.next_line()?, None);
        assert!(framer.buf.capacity() <= 2 * arrived + chunk.len());
    }
    Ok(())
}
