use std::cell::RefCell;
use std::rc::Rc;

use super::*;
use crate::testing::FakeConnection;

fn wire(payloads: &[&[u8]]) -> BytesMut {
    let mut out = BytesMut::new();
    for p in payloads {
        encode_into(&mut out, p);
    }
    out
}

const PAYLOADS: [&[u8]; 4] = [b"one", b"", b"three three", &[0, 1, 2, 255]];

#[test]
fn encode_writes_a_big_endian_header() {
    assert_eq!(&encode(b"")[..], b"\0\0\0\0");
    let big = vec![7u8; 0x0102];
    let framed = encode(&big);
    assert_eq!(&framed[..4], &[0, 0, 1, 2]);
    assert_eq!(&framed[4..], &big[..]);
}

#[test]
fn framer_gives_the_same_frames_for_any_chunking() -> Result<(), FramingError> {
    let data = wire(&PAYLOADS);
    for chunk in [data.len(), 1, 2, 5] {
        let mut framer = LengthPrefixedFramer::default();
        let mut frames = Vec::new();
        for piece in data.chunks(chunk) {
            framer.push(piece);
            while let Some(frame) = framer.next_frame()? {
                frames.push(frame);
            }
        }
        assert_eq!(frames, PAYLOADS, "chunk {chunk}");
        assert!(framer.is_at_boundary());
    }
    Ok(())
}

#[test]
fn framer_accepts_exactly_max_and_refuses_one_more() -> Result<(), FramingError> {
    let mut framer = LengthPrefixedFramer::new(3);
    framer.push(&encode(b"abc"));
    assert_eq!(framer.next_frame()?.as_deref(), Some(&b"abc"[..]));
    framer.push(&[0, 0, 0]);
    assert_eq!(framer.next_frame(), Ok(None));
    framer.push(&[4]);
    let err = Err(FramingError::FrameTooLarge { len: 4, max: 3 });
    assert_eq!(framer.next_frame(), err);
    assert_eq!(framer.next_frame(), err);
    Ok(())
}

#[test]
fn framer_reports_partial_frames() -> Result<(), FramingError> {
    let mut framer = LengthPrefixedFramer::new(10);
    assert!(framer.is_at_boundary());
    framer.push(&encode(b"abcdef")[..6]);
    assert_eq!(framer.next_frame()?, None);
    assert_eq!(framer.buffered(), 2);
    assert!(!framer.is_at_boundary());
    Ok(())
}

type Seen = Rc<RefCell<Vec<Bytes>>>;

fn collecting(max: usize) -> (FakeConnection, Seen) {
    let seen = Seen::default();
    let sink = seen.clone();
    let protocol = LengthPrefixed::new(max, move |frame, _t| {
        sink.borrow_mut().push(frame);
        Ok(())
    });
    (FakeConnection::new(protocol), seen)
}

#[test]
fn protocol_gets_whole_buffers_and_single_bytes_alike() -> Result<(), ProtocolError> {
    let data = wire(&PAYLOADS);
    for chunk in [data.len(), 1, 3] {
        let (mut conn, seen) = collecting(64);
        conn.connect()?;
        conn.receive_in_chunks(&data, chunk)?;
        conn.receive_eof()?;
        assert_eq!(*seen.borrow(), PAYLOADS, "chunk {chunk}");
        assert!(conn.is_lost() && !conn.transport().aborted());
    }
    Ok(())
}

#[test]
fn protocol_fails_on_a_too_large_frame() -> Result<(), ProtocolError> {
    for chunk in [100, 1] {
        let (mut conn, seen) = collecting(3);
        conn.connect()?;
        let err = conn.receive_in_chunks(&wire(&[b"ok", b"too long"]), chunk);
        assert_eq!(
            err.map_err(|e| e.to_string()),
            Err("frame of 8 bytes exceeds the maximum of 3 bytes".to_string())
        );
        assert_eq!(*seen.borrow(), [&b"ok"[..]]);
        assert!(conn.transport().aborted());
    }
    Ok(())
}

#[test]
fn protocol_fails_on_eof_inside_a_frame() -> Result<(), ProtocolError> {
    let (mut conn, _) = collecting(64);
    conn.connect()?;
    conn.receive(&encode(b"abc")[..5])?;
    let err = conn.receive_eof().map_err(|e| e.to_string());
    assert_eq!(
        err,
        Err("stream ended inside a frame (1 bytes buffered)".to_string())
    );
    assert!(conn.transport().aborted() && conn.is_lost());
    Ok(())
}

#[test]
fn protocol_stops_once_closing() -> Result<(), ProtocolError> {
    let count = Rc::new(RefCell::new(0));
    let seen = count.clone();
    let mut conn = FakeConnection::new(LengthPrefixed::new(8, move |_, t| {
        *seen.borrow_mut() += 1;
        t.close();
        Ok(())
    }));
    conn.connect()?;
    conn.receive(&wire(&[b"a", b"b"]))?;
    assert_eq!(*count.borrow(), 1);
    assert!(format!("{conn:?}").contains("Stream"));
    Ok(())
}

#[test]
fn issue_16_framer_does_not_reserve_an_announced_payload() -> Result<(), FramingError> {
    // A 16 MiB header and a few payload bytes: only what arrived is buffered,
    // however much the header announces (500 such peers would otherwise
    // hold 8 GB).
    const LEN: usize = 16 * 1024 * 1024;
    let mut framer = LengthPrefixedFramer::new(2 * LEN);
    framer.push(&u32::try_from(LEN).unwrap().to_be_bytes());
    framer.push(b"abc");
    assert_eq!(framer.next_frame()?, None);
    assert!(framer.buf.capacity() < 4096, "{}", framer.buf.capacity());

    // It grows as the payload arrives, and the frame comes out whole.
    let chunk = vec![7u8; 64 * 1024];
    let mut arrived = 3;
    while arrived + chunk.len() < LEN {
        framer.push(&chunk);
        arrived += chunk.len();
        assert_eq!(framer.next_frame()?, None);
        assert!(framer.buf.capacity() <= 2 * arrived + chunk.len());
    }
    framer.push(&chunk[..LEN - arrived]);
    let frame = framer.next_frame()?.expect("the whole frame arrived");
    assert_eq!(frame.len(), LEN);
    assert_eq!(&frame[..4], b"abc\x07");
    Ok(())
}
