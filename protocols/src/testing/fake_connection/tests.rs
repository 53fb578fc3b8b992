// These check the test doubles themselves, not the runtime, so their names
// carry no behaviour id: no test here is evidence for docs/behavior.md.

use bytes::Bytes;

use super::*;
use crate::stream::StreamTransport;
use crate::testing::{Recorded, RecordingBufferedProtocol, RecordingProtocol};

/// Runs `f` on each `DataReceived`.
struct OnData<F>(F);

/// Builds an [`OnData`], giving the closure its higher-ranked signature.
fn on_data<F>(f: F) -> OnData<F>
where
    F: FnMut(Bytes, &mut dyn StreamTransport) -> Result<(), ProtocolError> + 'static,
{
    OnData(f)
}

impl<F> StreamProtocol for OnData<F>
where
    F: FnMut(Bytes, &mut dyn StreamTransport) -> Result<(), ProtocolError> + 'static,
{
    fn handle(
        &mut self,
        event: StreamEvent,
        t: &mut dyn StreamTransport,
    ) -> Result<(), ProtocolError> {
        match event {
            StreamEvent::DataReceived(data) => (self.0)(data, t),
            _ => Ok(()),
        }
    }
}

#[test]
fn double_echo_session_keeps_the_grammar() -> Result<(), Box<dyn std::error::Error>> {
    let p = RecordingProtocol::new().echo(true);
    let log = p.log();
    let mut conn = FakeConnection::new(p);
    conn.connect()?;
    conn.receive(b"abc")?;
    conn.receive_bytewise(b"de")?;
    conn.pause_writing()?;
    conn.resume_writing()?;
    conn.receive_eof()?;
    assert!(conn.is_lost());
    assert_eq!(conn.transport().written(), b"abcde");
    assert_eq!(log.len(), 8);
    assert_eq!(log.lost_count(), 1);
    log.check_grammar()?;
    Ok(())
}

#[test]
fn double_calls_that_would_break_the_grammar_do_nothing() -> Result<(), ProtocolError> {
    let p = RecordingProtocol::new().keep_open_on_eof(true);
    let log = p.log();
    let mut conn = FakeConnection::new(p);
    conn.receive(b"early")?;
    conn.receive_eof()?;
    conn.lose(None)?;
    conn.connect()?;
    conn.connect()?;
    conn.resume_writing()?;
    conn.pause_writing()?;
    conn.pause_writing()?;
    conn.receive(b"")?;
    conn.receive_eof()?;
    conn.receive_eof()?;
    conn.receive(b"late")?;
    conn.lose(None)?;
    conn.lose(None)?;
    conn.resume_writing()?;
    conn.receive(b"after")?;
    use Recorded::*;
    assert_eq!(
        log.snapshot(),
        vec![ConnectionMade, PauseWriting, Eof, Lost(None)]
    );
    Ok(())
}

#[test]
fn double_eof_closes_unless_kept_open() -> Result<(), ProtocolError> {
    let mut closing = FakeConnection::new(RecordingProtocol::new());
    closing.connect()?;
    closing.receive_eof()?;
    assert!(closing.transport().closed() && closing.is_lost());

    let p = RecordingProtocol::new().keep_open_on_eof(true);
    let log = p.log();
    let mut open = FakeConnection::new(p);
    open.connect()?;
    open.receive_eof()?;
    assert!(!open.transport().closed() && !open.is_lost());
    open.transport_mut().write(b"reply-after-eof")?;
    open.close()?;
    assert!(open.is_lost());
    assert_eq!(log.lost_count(), 1);
    Ok(())
}

#[test]
fn double_close_inside_a_handler_gives_one_lost_and_stops_data() -> Result<(), ProtocolError> {
    let p = RecordingProtocol::new().close_on_data(true);
    let log = p.log();
    let mut conn = FakeConnection::new(p);
    conn.connect()?;
    conn.receive(b"x")?;
    conn.receive(b"y")?;
    conn.close()?;
    conn.abort()?;
    use Recorded::*;
    assert_eq!(
        log.snapshot(),
        vec![ConnectionMade, Data(Bytes::from_static(b"x")), Lost(None)]
    );
    Ok(())
}

#[test]
fn double_handler_error_aborts_and_loses_with_the_error() {
    let mut conn = FakeConnection::new(on_data(|_, _| Err(ProtocolError::failed("boom"))));
    conn.connect().expect("connect");
    let err = conn.receive(b"x").expect_err("handler fails");
    assert_eq!(err.to_string(), "boom");
    assert!(conn.transport().aborted() && conn.is_lost());
}

#[test]
fn double_error_reason_reaches_the_new_protocol() -> Result<(), ProtocolError> {
    let p = RecordingProtocol::new();
    let log = p.log();
    let mut conn = FakeConnection::new(on_data(move |_, t| {
        t.set_protocol(AnyStreamProtocol::Stream(Box::new(p.clone())));
        Err(ProtocolError::failed("boom"))
    }));
    conn.connect()?;
    assert!(conn.receive(b"x").is_err());
    assert_eq!(
        log.snapshot(),
        vec![Recorded::Lost(Some("protocol failed: boom".into()))]
    );
    Ok(())
}

#[test]
fn double_set_protocol_switches_to_buffered() -> Result<(), ProtocolError> {
    let p2 = RecordingBufferedProtocol::new(50);
    let log = p2.log();
    let mut conn = FakeConnection::new(on_data(move |_, t| {
        t.set_protocol(AnyStreamProtocol::Buffered(Box::new(p2.clone())));
        Ok(())
    }));
    conn.connect()?;
    conn.receive(b"first")?;
    conn.receive(b"0123456789")?;
    conn.receive_eof()?;
    use Recorded::*;
    assert_eq!(log.snapshot(), vec![BufferUpdated(10), Eof, Lost(None)]);
    Ok(())
}

#[test]
fn double_abort_in_connection_made_loses_at_once() -> Result<(), ProtocolError> {
    struct AbortOnMade;
    impl StreamProtocol for AbortOnMade {
        fn handle(
            &mut self,
            _: StreamEvent,
            t: &mut dyn StreamTransport,
        ) -> Result<(), ProtocolError> {
            t.abort();
            Ok(())
        }
    }
    let mut conn = FakeConnection::new(AbortOnMade);
    conn.connect()?;
    assert!(conn.is_lost() && conn.transport().aborted());
    Ok(())
}

#[test]
fn double_empty_buffer_is_fatal() {
    let p = RecordingBufferedProtocol::new(0);
    let log = p.log();
    let mut conn = FakeConnection::buffered(p);
    conn.connect().expect("connect");
    let err = conn.receive(b"x").expect_err("empty buffer");
    assert_eq!(err.to_string(), "get_buffer() returned an empty buffer");
    assert!(conn.transport().aborted());
    assert_eq!(
        log.snapshot(),
        vec![
            Recorded::ConnectionMade,
            Recorded::Lost(Some("get_buffer() returned an empty buffer".into()))
        ]
    );
}

#[test]
fn double_small_buffers_lose_nothing() -> Result<(), Box<dyn std::error::Error>> {
    let data: Vec<u8> = (0..123_123u32).map(|i| (i % 251) as u8).collect();
    let p = RecordingBufferedProtocol::new(50);
    let log = p.log();
    let mut conn = FakeConnection::buffered(p);
    conn.connect()?;
    conn.receive_in_chunks(&data, 4096)?;
    conn.receive_eof()?;
    assert_eq!(&log.data()[..], &data[..]);
    assert!(log
        .snapshot()
        .iter()
        .all(|e| !matches!(e, Recorded::BufferUpdated(n) if *n == 0 || *n > 50)));
    log.check_grammar()?;
    Ok(())
}

#[test]
fn messages_reach_either_kind() -> Result<(), ProtocolError> {
    let p = RecordingProtocol::new();
    let log = p.log();
    let mut conn =
        FakeConnection::<&'static str>::from_protocol(AnyStreamProtocol::Stream(Box::new(p)));
    conn.connect()?;
    conn.message("hi")?;
    let b = RecordingBufferedProtocol::new(4);
    let blog = b.log();
    let mut bconn = FakeConnection::<u8>::from_protocol(AnyStreamProtocol::Buffered(Box::new(b)));
    bconn.connect()?;
    bconn.message(3)?;
    bconn.lose(Some(TransportError::BrokenPipe))?;
    assert_eq!(log.snapshot()[1], Recorded::Message("\"hi\"".into()));
    assert_eq!(
        blog.snapshot(),
        vec![
            Recorded::ConnectionMade,
            Recorded::Message("3".into()),
            Recorded::Lost(Some("broken pipe".into()))
        ]
    );
    Ok(())
}
