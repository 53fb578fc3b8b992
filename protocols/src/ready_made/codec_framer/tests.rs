use std::cell::RefCell;
use std::io;
use std::rc::Rc;

use bytes::{Buf, Bytes};
use tokio_util::codec::{LengthDelimitedCodec, LinesCodec};

use super::*;
use crate::error::ProtocolError;
use crate::message::NoMessage;
use crate::ready_made::{encode, FrameHandler};
use crate::stream::StreamTransport;
use crate::testing::FakeConnection;

type Seen<T> = Rc<RefCell<Vec<T>>>;

/// Collects frames; answers a framing error with `-ERR <error>` if `answer`.
struct Collect<T> {
    seen: Seen<T>,
    answer: bool,
}

impl<T: 'static> FrameHandler<NoMessage, T> for Collect<T> {
    fn frame(&mut self, frame: T, _t: &mut dyn StreamTransport) -> Result<(), ProtocolError> {
        self.seen.borrow_mut().push(frame);
        Ok(())
    }
    fn framing_error(
        &mut self,
        error: FramingError,
        t: &mut dyn StreamTransport,
    ) -> Result<(), ProtocolError> {
        if !self.answer {
            return Err(error.into());
        }
        t.write(format!("-ERR {error}\r\n").as_bytes())?;
        Ok(())
    }
}

fn collect<D>(decoder: D, answer: bool) -> (FakeConnection, Seen<D::Item>)
where
    D: Decoder + 'static,
    D::Item: 'static,
    D::Error: fmt::Display,
{
    let seen = Seen::default();
    let handler = Collect {
        seen: seen.clone(),
        answer,
    };
    (
        FakeConnection::new(Framed::with_decoder(decoder, handler)),
        seen,
    )
}

#[test]
fn lines_codec_frames_whole_or_bytewise_and_hands_over_the_last_line_at_eof(
) -> Result<(), ProtocolError> {
    for chunk in [100, 1, 4] {
        let (mut conn, seen) = collect(LinesCodec::new(), false);
        conn.connect()?;
        conn.receive_in_chunks(b"one\r\ntwo\n\nthree", chunk)?;
        conn.receive_eof()?;
        assert_eq!(*seen.borrow(), ["one", "two", "", "three"], "chunk {chunk}");
        assert!(conn.is_lost() && !conn.transport().aborted());
    }
    Ok(())
}

#[test]
fn a_decoder_error_keeps_its_text_and_fails_the_connection_by_default() {
    let (mut conn, seen) = collect(LinesCodec::new_with_max_length(3), false);
    conn.connect().expect("connect");
    let err = conn.receive(b"abc\nabcd\nxy\n");
    assert_eq!(
        err.map_err(|e| e.to_string()),
        Err("max line length exceeded".to_string())
    );
    assert_eq!(*seen.borrow(), ["abc"]);
    assert!(conn.transport().aborted());
}

#[test]
fn length_delimited_codec_reads_length_prefixed_frames() -> Result<(), ProtocolError> {
    let wire = [encode(b"first"), encode(b""), encode(&[0, 255])].concat();
    for chunk in [wire.len(), 1, 3] {
        let (mut conn, seen) = collect(LengthDelimitedCodec::new(), false);
        conn.connect()?;
        conn.receive_in_chunks(&wire, chunk)?;
        conn.receive_eof()?;
        assert_eq!(*seen.borrow(), [&b"first"[..], b"", &[0, 255]]);
    }
    Ok(())
}

#[test]
fn a_partial_frame_at_eof_is_decode_eofs_error_and_can_be_answered() -> Result<(), ProtocolError> {
    let (mut conn, seen) = collect(LengthDelimitedCodec::new(), true);
    conn.connect()?;
    conn.receive(&[&encode(b"ok")[..], &encode(b"cut")[..6]].concat())?;
    conn.receive_eof()?;
    assert_eq!(*seen.borrow(), [&b"ok"[..]]);
    assert_eq!(
        conn.transport().written(),
        b"-ERR bytes remaining on stream\r\n"
    );
    assert!(conn.is_lost() && !conn.transport().aborted());
    Ok(())
}

/// A third-party decoder with its own error type: RESP simple strings
/// (`+OK\r\n`), anything else refused.
#[derive(Debug)]
struct SimpleStrings;

#[derive(Debug)]
enum RespError {
    Io(io::Error),
    Unexpected(u8),
}

impl From<io::Error> for RespError {
    fn from(e: io::Error) -> Self {
        RespError::Io(e)
    }
}

impl fmt::Display for RespError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RespError::Io(e) => write!(f, "{e}"),
            RespError::Unexpected(b) => {
                write!(f, "Protocol error: expected '+', got '{}'", *b as char)
            }
        }
    }
}

impl Decoder for SimpleStrings {
    type Item = String;
    type Error = RespError;
    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<String>, RespError> {
        match src.first() {
            None => return Ok(None),
            Some(b'+') => {}
            Some(&other) => return Err(RespError::Unexpected(other)),
        }
        let Some(end) = src.windows(2).position(|w| w == b"\r\n") else {
            return Ok(None);
        };
        let line = src.split_to(end + 2);
        Ok(Some(String::from_utf8_lossy(&line[1..end]).into_owned()))
    }
}

#[test]
fn a_third_party_decoder_plugs_in_and_its_errors_are_answered() -> Result<(), ProtocolError> {
    for chunk in [100, 1] {
        let (mut conn, seen) = collect(SimpleStrings, true);
        conn.connect()?;
        conn.receive_in_chunks(b"+OK\r\n+PONG\r\n*1\r\n+LATE\r\n", chunk)?;
        assert_eq!(*seen.borrow(), ["OK", "PONG"], "chunk {chunk}");
        assert_eq!(
            conn.transport().written(),
            b"-ERR Protocol error: expected '+', got '*'\r\n"
        );
        assert!(conn.is_lost() && !conn.transport().aborted());
    }
    Ok(())
}

#[test]
fn the_framer_buffers_what_the_decoder_left() -> Result<(), FramingError> {
    let mut framer = CodecFramer::new(LengthDelimitedCodec::new());
    let wire = [encode(b"abc"), encode(b"de")].concat();
    framer.push(&wire[..9]);
    assert_eq!(framer.next_frame()?.as_deref(), Some(&b"abc"[..]));
    assert_eq!(framer.buffered(), 2);
    framer.push(&wire[9..]);
    let mut rest = framer.next_frame()?.expect("second frame");
    assert_eq!(rest.copy_to_bytes(2), Bytes::from_static(b"de"));
    assert_eq!(framer.finish()?, None);
    assert!(format!("{framer:?}").starts_with("CodecFramer"));
    framer.decoder_mut().set_max_frame_length(1);
    assert_eq!(framer.decoder().max_frame_length(), 1);
    Ok(())
}
