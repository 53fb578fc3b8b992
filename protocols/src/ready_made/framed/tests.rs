use std::cell::RefCell;
use std::rc::Rc;

use super::*;
use crate::ready_made::{encode, LengthPrefixed, LineFramer};
use crate::testing::FakeConnection;

/// Decimal numbers, one per line: a framer that parses its frames and says
/// what is wrong with a bad one.
#[derive(Debug, Default)]
struct Numbers {
    lines: LineFramer,
    /// Extra frames `finish` hands over at EOF, one per call.
    at_eof: Vec<u32>,
}

impl Numbers {
    fn parse(line: Option<Bytes>) -> Result<Option<u32>, FramingError> {
        let Some(line) = line else { return Ok(None) };
        let text = std::str::from_utf8(&line).map_err(|e| FramingError::invalid(e.to_string()))?;
        text.parse()
            .map(Some)
            .map_err(|_| FramingError::invalid(format!("not a number: {text:?}")))
    }
}

impl Framer for Numbers {
    type Item = u32;
    fn push(&mut self, data: &[u8]) {
        self.lines.push(data);
    }
    fn next_frame(&mut self) -> Result<Option<u32>, FramingError> {
        Self::parse(self.lines.next_line()?)
    }
    fn finish(&mut self) -> Result<Option<u32>, FramingError> {
        match Self::parse(self.lines.finish()?)? {
            Some(n) => Ok(Some(n)),
            None => Ok(self.at_eof.pop()),
        }
    }
}

type Log = Rc<RefCell<Vec<String>>>;

/// Logs what it is handed; answers framing errors with `ERR ..` if `answer`.
struct Recorder {
    log: Log,
    answer: bool,
}

impl<I: fmt::Debug> FrameHandler<NoMessage, I> for Recorder {
    fn frame(&mut self, frame: I, t: &mut dyn StreamTransport) -> Result<(), ProtocolError> {
        self.log.borrow_mut().push(format!("frame {frame:?}"));
        t.write(b"ok\n")?;
        Ok(())
    }
    fn event(
        &mut self,
        event: StreamEvent,
        _t: &mut dyn StreamTransport,
    ) -> Result<(), ProtocolError> {
        let debug = format!("{event:?}");
        let name = debug.split(['(', ' ']).next().unwrap_or_default();
        self.log.borrow_mut().push(format!("event {name}"));
        Ok(())
    }
    fn framing_error(
        &mut self,
        error: FramingError,
        t: &mut dyn StreamTransport,
    ) -> Result<(), ProtocolError> {
        self.log.borrow_mut().push(format!("framing_error {error}"));
        if !self.answer {
            return Err(error.into());
        }
        t.write(format!("ERR {error}\n").as_bytes())?;
        Ok(())
    }
}

fn numbers(answer: bool) -> (FakeConnection, Log) {
    let log = Log::default();
    let handler = Recorder {
        log: log.clone(),
        answer,
    };
    (
        FakeConnection::new(Framed::with_framer(Numbers::default(), handler)),
        log,
    )
}

#[test]
fn a_handler_gets_the_framers_items() -> Result<(), ProtocolError> {
    for chunk in [100, 1, 3] {
        let (mut conn, log) = numbers(false);
        conn.connect()?;
        conn.receive_in_chunks(b"1\n22\n333", chunk)?;
        conn.receive_eof()?;
        assert_eq!(
            *log.borrow(),
            [
                "event ConnectionMade",
                "frame 1",
                "frame 22",
                "frame 333",
                "event EofReceived",
                "event ConnectionLost"
            ],
            "chunk {chunk}"
        );
    }
    Ok(())
}

#[test]
fn an_invalid_frame_fails_the_connection_by_default() -> Result<(), ProtocolError> {
    for chunk in [100, 1] {
        let (mut conn, log) = numbers(false);
        conn.connect()?;
        let err = conn.receive_in_chunks(b"7\nseven\n8\n", chunk);
        assert!(
            matches!(&err, Err(ProtocolError::Framing(FramingError::Invalid { message }))
                if message == "not a number: \"seven\""),
            "{err:?}"
        );
        assert_eq!(conn.transport().written(), b"ok\n");
        assert!(conn.transport().aborted() && conn.is_lost());
        assert_eq!(
            log.borrow()[1..3],
            ["frame 7", "framing_error not a number: \"seven\""]
        );
    }
    Ok(())
}

#[test]
fn framing_error_can_answer_then_the_transport_closes_cleanly() -> Result<(), ProtocolError> {
    for chunk in [100, 1] {
        let (mut conn, log) = numbers(true);
        conn.connect()?;
        // The handler does not call close(): Framed closes after it answers,
        // and nothing after the bad frame is handed over, even in the same read.
        conn.receive_in_chunks(b"7\nseven\n8\neight\n", chunk)?;
        assert_eq!(
            conn.transport().written(),
            b"ok\nERR not a number: \"seven\"\n"
        );
        assert!(conn.transport().closed() && !conn.transport().aborted());
        assert!(conn.is_lost());
        assert_eq!(
            *log.borrow(),
            [
                "event ConnectionMade",
                "frame 7",
                "framing_error not a number: \"seven\"",
                "event ConnectionLost"
            ],
            "chunk {chunk}"
        );
    }
    Ok(())
}

#[test]
fn framing_error_at_eof_is_answered_before_eof_received() -> Result<(), ProtocolError> {
    let log = Log::default();
    let handler = Recorder {
        log: log.clone(),
        answer: true,
    };
    let mut conn = FakeConnection::new(LengthPrefixed::with_handler(64, handler));
    conn.connect()?;
    conn.receive(&[&encode(b"a")[..], &encode(b"abc")[..5]].concat())?;
    conn.receive_eof()?;
    assert_eq!(
        conn.transport().written(),
        b"ok\nERR stream ended inside a frame (1 bytes buffered)\n"
    );
    assert!(!conn.transport().aborted() && conn.is_lost());
    assert_eq!(
        log.borrow()[2..],
        [
            "framing_error stream ended inside a frame (1 bytes buffered)",
            "event EofReceived",
            "event ConnectionLost"
        ]
    );
    Ok(())
}

#[test]
fn a_closure_handler_fails_the_connection_on_a_framing_error() -> Result<(), ProtocolError> {
    let mut conn = FakeConnection::new(Framed::with_framer(
        LineFramer::new(2),
        |_: Bytes, _: &mut dyn StreamTransport| Ok(()),
    ));
    conn.connect()?;
    let err = conn.receive(b"long\n").map_err(|e| e.to_string());
    assert_eq!(err, Err("line longer than 2 bytes".to_string()));
    assert!(conn.transport().aborted());
    Ok(())
}

#[test]
fn finish_is_called_until_it_returns_none() -> Result<(), ProtocolError> {
    let log = Log::default();
    let handler = Recorder {
        log: log.clone(),
        answer: false,
    };
    let framer = Numbers {
        at_eof: vec![5, 4],
        ..Numbers::default()
    };
    let mut conn = FakeConnection::new(Framed::with_framer(framer, handler));
    conn.connect()?;
    conn.receive(b"1\n2")?;
    conn.receive_eof()?;
    assert_eq!(
        log.borrow()[1..5],
        ["frame 1", "frame 2", "frame 4", "frame 5"]
    );
    Ok(())
}

#[test]
fn a_closure_takes_any_item_type() -> Result<(), ProtocolError> {
    let mut conn = FakeConnection::new(Framed::with_framer(
        Numbers::default(),
        |n: u32, t: &mut dyn StreamTransport| {
            t.write(format!("{}\n", n * 2).as_bytes())?;
            Ok(())
        },
    ));
    conn.connect()?;
    conn.receive(b"4\n21\n")?;
    assert_eq!(conn.transport().written(), b"8\n42\n");
    Ok(())
}
