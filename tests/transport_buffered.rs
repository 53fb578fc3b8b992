//! Buffered protocols over loopback TCP: `get_buffer`/`BufferUpdated`, the
//! buffer's size, an empty buffer, and switching to a buffered protocol.
//! <https://docs.python.org/3/library/asyncio-protocol.html#buffered-streaming-protocols>.
//!
//! Ids refer to docs/behavior.md (B1–B4, H4, S8, fault 24).

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::thread::JoinHandle;

use switchboard::testing::{
    check_stream_grammar, EventLog, Recorded, RecordingBufferedProtocol, RecordingProtocol,
};
use switchboard::{NoMessage, ProtocolError, StreamEvent, StreamProtocol, StreamTransport};

use support::net::{connect, serve, serve_buffered, until};
use support::{new_loop, run_with_deadline};

/// A std client that sends `data` and closes at once; returns what it read back.
fn blast(port: u16, data: Vec<u8>) -> JoinHandle<std::io::Result<Vec<u8>>> {
    std::thread::spawn(move || {
        let mut s = TcpStream::connect(("127.0.0.1", port))?;
        s.write_all(&data)?;
        s.shutdown(Shutdown::Write)?;
        let mut back = Vec::new();
        s.read_to_end(&mut back)?;
        Ok(back)
    })
}

fn buffered_case(buffer: usize, data: Vec<u8>) -> EventLog {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let log = EventLog::new();
    let lg = log.clone();
    let log2 = log.clone();
    let peer = run_with_deadline(&lp, async move {
        let (server, port) = serve_buffered::<_, NoMessage>(&l, move || {
            RecordingBufferedProtocol::with_log(buffer, lg.clone())
        })
        .await;
        let peer = blast(port, data);
        until(&l, || log.lost_count() == 1).await;
        server.close();
        peer
    });
    // The std client saw the server close after the EOF.
    assert!(peer_ok(peer));
    log2
}

fn peer_ok(peer: JoinHandle<std::io::Result<Vec<u8>>>) -> bool {
    peer.join().expect("peer thread").is_ok()
}

#[test]
fn b1_b2_b4_seven_byte_buffer() {
    let data = b"0123456789abcdef".to_vec();
    let log = buffered_case(7, data.clone());
    assert_eq!(&log.data()[..], &data[..]);
    let events = log.snapshot();
    for e in &events {
        if let Recorded::BufferUpdated(n) = e {
            assert!(*n > 0 && *n <= 7, "{n}");
        }
    }
    let n = events.len();
    assert_eq!(&events[n - 2..], &[Recorded::Eof, Recorded::Lost(None)]);
    check_stream_grammar(&events).expect("grammar");
}

#[test]
fn b4_h4_fifty_byte_buffer_gets_everything_before_eof() {
    // H4: 51 bytes then an immediate hangup.
    let log = buffered_case(50, vec![b'z'; 51]);
    assert_eq!(log.data().len(), 51);
    let events = log.snapshot();
    assert_eq!(
        &events[events.len() - 2..],
        &[Recorded::Eof, Recorded::Lost(None)]
    );
    // B4: 123 123 bytes through 50 bytes at a time.
    let data: Vec<u8> = (0..123_123u32).map(|i| (i % 253) as u8).collect();
    let log = buffered_case(50, data.clone());
    assert_eq!(&log.data()[..], &data[..]);
    check_stream_grammar(&log.snapshot()).expect("grammar");
}

#[test]
fn b3_fault_24_empty_buffer_is_fatal() {
    let (lp, h) = new_loop();
    let l = lp.clone();
    let log = EventLog::new();
    let lg = log.clone();
    let back = run_with_deadline(&lp, async move {
        let (server, port) = serve_buffered::<_, NoMessage>(&l, move || {
            RecordingBufferedProtocol::with_log(0, lg.clone())
        })
        .await;
        let peer = blast(port, b"data".to_vec());
        until(&l, || log.lost_count() == 1).await;
        server.close();
        (peer, log)
    });
    let (peer, log) = back;
    assert_eq!(
        log.snapshot(),
        vec![
            Recorded::ConnectionMade,
            Recorded::Lost(Some("get_buffer() returned an empty buffer".into()))
        ]
    );
    // The peer sees the connection closed or reset.
    match peer.join().expect("peer thread") {
        Ok(back) => assert!(back.is_empty()),
        Err(e) => assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::NotConnected
                    | std::io::ErrorKind::BrokenPipe
            ),
            "{e}"
        ),
    }
    assert_eq!(
        h.take_one().message,
        "Fatal error: protocol.get_buffer() call failed."
    );
}

/// Switches to a buffered protocol on the first data.
struct Switcher(EventLog);

impl StreamProtocol for Switcher {
    fn handle(
        &mut self,
        ev: StreamEvent,
        t: &mut dyn StreamTransport,
    ) -> Result<(), ProtocolError> {
        match ev {
            StreamEvent::ConnectionMade => self.0.push(Recorded::ConnectionMade),
            StreamEvent::DataReceived(d) => {
                self.0.push(Recorded::Data(d));
                t.set_protocol(switchboard::AnyStreamProtocol::Buffered(Box::new(
                    RecordingBufferedProtocol::with_log(10, self.0.clone()),
                )));
            }
            other => panic!("the old protocol got {other:?} after the switch"),
        }
        Ok(())
    }
}

#[test]
fn s8_set_protocol_switches_to_a_buffered_protocol() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let log = EventLog::new();
    let lg = log.clone();
    let log2 = log.clone();
    run_with_deadline(&lp, async move {
        let log = log2;
        let (server, port) = serve(&l, move || Switcher(lg.clone())).await;
        let p = RecordingProtocol::new();
        let clog = p.log();
        let conn = connect::<_, NoMessage>(&l, port, move || p).await;
        conn.transport.write(b"first").unwrap();
        until(&l, || log.data().len() == 5).await;
        conn.transport.write(b"then 25 bytes, 10 at most").unwrap();
        conn.transport.write_eof().unwrap();
        until(&l, || log.lost_count() == 1 && clog.lost_count() == 1).await;
        server.close();
    });
    assert_eq!(&log.data()[..], b"firstthen 25 bytes, 10 at most");
    let events = log.snapshot();
    assert!(events
        .iter()
        .any(|e| matches!(e, Recorded::BufferUpdated(n) if *n <= 10)));
    assert_eq!(
        &events[events.len() - 2..],
        &[Recorded::Eof, Recorded::Lost(None)]
    );
}
