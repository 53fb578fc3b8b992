//! Stream connections over loopback TCP: `create_connection`,
//! `connect_accepted_socket` and the stream protocol state machine.
//! <https://docs.python.org/3/library/asyncio-eventloop.html#opening-network-connections>
//! and <https://docs.python.org/3/library/asyncio-protocol.html#streaming-protocols>.
//!
//! Ids: S1–S9, fault scenario 23 (opening connections, V7 and fault 22:
//! `net_connect.rs`).

mod support;

use std::rc::Rc;
use std::time::Duration;

use switchboard::testing::{check_stream_grammar, EventLog, Recorded, RecordingProtocol};
use switchboard::Address;
use switchboard::Bytes;
use switchboard::{NoMessage, ProtocolError, StreamEvent, StreamProtocol, StreamTransport};

use support::net::{connect, echo_server, serve, until};
use support::{new_loop, run_with_deadline};

#[test]
fn s1_grammar_on_both_sides() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let slog = EventLog::new();
        let (server, port) = echo_server(&l, &slog).await;
        let client = RecordingProtocol::new();
        let clog = client.log();
        let conn = connect::<_, NoMessage>(&l, port, move || client).await;
        conn.transport.write(b"hello").unwrap();
        until(&l, || &clog.data()[..] == b"hello").await;
        conn.transport.close();
        until(&l, || clog.lost_count() == 1 && slog.lost_count() == 1).await;
        check_stream_grammar(&clog.snapshot()).expect("client grammar");
        check_stream_grammar(&slog.snapshot()).expect("server grammar");
        assert_eq!(&slog.data()[..], b"hello");
        assert_eq!(slog.snapshot().last(), Some(&Recorded::Lost(None)));
        server.close();
    });
}

/// A transport's peer and socket names, as its protocol reads them.
type NamePair = (Option<Address>, Option<Address>);

/// Records the names its transport gives when made and when lost.
struct Names(Rc<std::cell::RefCell<Vec<NamePair>>>);

impl StreamProtocol for Names {
    fn handle(
        &mut self,
        ev: StreamEvent,
        t: &mut dyn StreamTransport,
    ) -> Result<(), ProtocolError> {
        if matches!(
            ev,
            StreamEvent::ConnectionMade | StreamEvent::ConnectionLost(_)
        ) {
            self.0.borrow_mut().push((t.peername(), t.sockname()));
        }
        Ok(())
    }
}

/// S2 on the server side: a server's connection shares no facts with any
/// handle, and its protocol still reads both names in `ConnectionLost`,
/// after the socket is closed, as they were when the transport was made.
#[test]
fn s2_a_server_connection_keeps_its_names_after_its_socket_is_closed() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let seen = Rc::new(std::cell::RefCell::new(Vec::new()));
        let s2 = seen.clone();
        let (server, port) = serve(&l, move || Names(s2.clone())).await;
        let peer = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let mine = peer.local_addr().expect("local");
        until(&l, || seen.borrow().len() == 1).await;
        drop(peer);
        until(&l, || seen.borrow().len() == 2).await;
        let seen = seen.borrow();
        let at = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let want = (Some(Address::Inet(mine)), Some(Address::Inet(at)));
        assert_eq!(seen[0], want, "when made");
        assert_eq!(seen[1], want, "when lost");
        server.close();
    });
}

#[test]
fn s2_create_connection_resolves_after_connection_made_and_names_outlive_close() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let (server, port) = echo_server(&l, &EventLog::new()).await;
        let client = RecordingProtocol::new();
        let clog = client.log();
        let conn = connect::<_, NoMessage>(&l, port, move || client).await;
        assert_eq!(clog.snapshot(), vec![Recorded::ConnectionMade]);
        let peer = conn
            .transport
            .peername()
            .and_then(|a| a.as_inet())
            .expect("peername");
        let me = conn
            .transport
            .sockname()
            .and_then(|a| a.as_inet())
            .expect("sockname");
        assert_eq!(peer.port(), port);
        assert_ne!(me.port(), 0);
        assert!(!conn.transport.is_closing());
        conn.transport.close();
        until(&l, || clog.lost_count() == 1).await;
        assert!(conn.transport.is_closing() && conn.transport.is_lost());
        assert_eq!(
            conn.transport.peername().and_then(|a| a.as_inet()),
            Some(peer)
        );
        assert_eq!(
            conn.transport.sockname().and_then(|a| a.as_inet()),
            Some(me)
        );
        server.close();
    });
}

#[test]
fn s3_hundred_concurrent_clients_exchange() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let (server, port) = echo_server(&l, &EventLog::new()).await;
        let mut tasks = Vec::new();
        for i in 0..100 {
            let l2 = l.clone();
            tasks.push(
                l.create_task(async move {
                    let client = RecordingProtocol::new();
                    let log = client.log();
                    let conn = connect::<_, NoMessage>(&l2, port, move || client).await;
                    let first = format!("ping {i};");
                    conn.transport.write(first.as_bytes()).unwrap();
                    until(&l2, || log.data().len() == first.len()).await;
                    let second = format!("pong {i}!");
                    conn.transport.write(second.as_bytes()).unwrap();
                    let want = format!("{first}{second}");
                    until(&l2, || log.data().len() == want.len()).await;
                    assert_eq!(&log.data()[..], want.as_bytes());
                    conn.transport.close();
                    until(&l2, || log.lost_count() == 1).await;
                    log.check_grammar().expect("grammar");
                })
                .expect("task"),
            );
        }
        for t in tasks {
            t.await;
        }
        server.close();
    });
}

/// Writes from a local buffer on ConnectionMade, then scribbles on it.
struct WriteThenScribble;

impl StreamProtocol for WriteThenScribble {
    fn handle(
        &mut self,
        ev: StreamEvent,
        t: &mut dyn StreamTransport,
    ) -> Result<(), ProtocolError> {
        if let StreamEvent::ConnectionMade = ev {
            let before = t.get_write_buffer_size();
            t.write(b"")?;
            t.writelines(&[])?;
            assert_eq!(t.get_write_buffer_size(), before);
            let mut buf = b"original".to_vec();
            t.write(&buf)?;
            buf.copy_from_slice(b"SCRIBBLE");
            t.close();
        }
        Ok(())
    }
}

#[test]
fn s4_empty_write_is_a_noop_and_bytes_are_copied() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let slog = EventLog::new();
        let (server, port) = echo_server(&l, &slog).await;
        let client = RecordingProtocol::new();
        let clog = client.log();
        let conn = connect::<_, NoMessage>(&l, port, move || client).await;
        conn.transport.write(&[]).unwrap();
        conn.transport.write_bytes(Bytes::new()).unwrap();
        assert_eq!(conn.transport.get_write_buffer_size(), 0);
        conn.transport.close();
        until(&l, || clog.lost_count() == 1 && slog.lost_count() == 1).await;
        assert!(slog.data().is_empty(), "empty writes sent nothing");

        let conn = connect(&l, port, || WriteThenScribble).await;
        let _ = conn;
        until(&l, || slog.lost_count() == 2).await;
        assert_eq!(&slog.data()[..], b"original");
        server.close();
    });
}

/// Pauses reading (twice) inside ConnectionMade, and records.
struct PausesAtOnce(EventLog);

impl StreamProtocol for PausesAtOnce {
    fn handle(
        &mut self,
        ev: StreamEvent,
        t: &mut dyn StreamTransport,
    ) -> Result<(), ProtocolError> {
        match ev {
            StreamEvent::ConnectionMade => {
                t.pause_reading();
                t.pause_reading();
                assert!(!t.is_reading());
                self.0.push(Recorded::ConnectionMade);
            }
            StreamEvent::DataReceived(d) => self.0.push(Recorded::Data(d)),
            StreamEvent::EofReceived => self.0.push(Recorded::Eof),
            StreamEvent::ConnectionLost(r) => self.0.push(Recorded::Lost(r.map(|e| e.to_string()))),
            _ => {}
        }
        Ok(())
    }
}

/// Writes `abc` as soon as it is connected.
struct Greeter;

impl StreamProtocol for Greeter {
    fn handle(
        &mut self,
        ev: StreamEvent,
        t: &mut dyn StreamTransport,
    ) -> Result<(), ProtocolError> {
        if let StreamEvent::ConnectionMade = ev {
            t.write(b"abc")?;
        }
        Ok(())
    }
}

#[test]
fn s5_pause_and_resume_reading_are_idempotent_and_hold_data() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let (server, port) = serve(&l, || Greeter).await;
        let log = EventLog::new();
        let l2 = log.clone();
        let conn = connect(&l, port, move || PausesAtOnce(l2)).await;
        assert!(!conn.transport.is_reading());
        // Wait until the greeting is in our socket's receive queue, unread.
        let fd = conn.transport.fileno().expect("open socket");
        until(&l, || queued_bytes(fd) >= 3).await;
        support::turns(10).await;
        assert_eq!(
            log.snapshot(),
            vec![Recorded::ConnectionMade],
            "nothing while paused"
        );
        conn.transport.resume_reading();
        conn.transport.resume_reading();
        until(&l, || log.data().len() == 3).await;
        assert!(conn.transport.is_reading());
        assert_eq!(&log.data()[..], b"abc");
        conn.transport.close();
        until(&l, || log.lost_count() == 1).await;
        // Harmless after close.
        conn.transport.pause_reading();
        conn.transport.resume_reading();
        support::turns(10).await;
        check_stream_grammar(&log.snapshot()).expect("grammar");
        server.close();
    });
}

/// Fails on data, by `Err` or by panicking.
struct FailsOnData {
    panic: bool,
    log: EventLog,
}

impl StreamProtocol for FailsOnData {
    fn handle(
        &mut self,
        ev: StreamEvent,
        _t: &mut dyn StreamTransport,
    ) -> Result<(), ProtocolError> {
        match ev {
            StreamEvent::ConnectionMade => self.log.push(Recorded::ConnectionMade),
            StreamEvent::DataReceived(d) => {
                self.log.push(Recorded::Data(d));
                if self.panic {
                    panic!("boom in data_received");
                }
                return Err(ProtocolError::failed("boom in data_received"));
            }
            StreamEvent::EofReceived => self.log.push(Recorded::Eof),
            StreamEvent::ConnectionLost(r) => {
                self.log.push(Recorded::Lost(r.map(|e| e.to_string())))
            }
            _ => {}
        }
        Ok(())
    }
}

fn s6_case(panic: bool) {
    let (lp, h) = new_loop();
    let l = lp.clone();
    let slog = EventLog::new();
    let s2 = slog.clone();
    run_with_deadline(&lp, async move {
        let (server, port) = serve(&l, move || FailsOnData {
            panic,
            log: s2.clone(),
        })
        .await;
        let healthy_log = EventLog::new();
        let (hs, hport) = echo_server(&l, &healthy_log).await;
        let healthy = RecordingProtocol::new();
        let hl = healthy.log();
        let hconn = connect::<_, NoMessage>(&l, hport, move || healthy).await;

        let client = RecordingProtocol::new();
        let clog = client.log();
        let conn = connect::<_, NoMessage>(&l, port, move || client).await;
        conn.transport.write(b"x").unwrap();
        until(&l, || slog.lost_count() == 1 && clog.lost_count() == 1).await;
        assert!(
            clog.snapshot().contains(&Recorded::Eof),
            "peer sees EOF: {:?}",
            clog.snapshot()
        );
        match slog.snapshot().last() {
            Some(Recorded::Lost(Some(m))) => assert!(m.contains("boom in data_received"), "{m}"),
            other => panic!("expected ConnectionLost(Some(..)), got {other:?}"),
        }
        check_stream_grammar(&slog.snapshot()).expect("grammar");
        // The other connection is unaffected.
        hconn.transport.write(b"still fine").unwrap();
        until(&l, || &hl.data()[..] == b"still fine").await;
        hconn.transport.close();
        until(&l, || hl.lost_count() == 1).await;
        server.close();
        hs.close();
    });
    let ctx = h.take_one();
    assert_eq!(
        ctx.message,
        "Fatal error: protocol.data_received() call failed."
    );
    assert!(
        ctx.exception.is_some() && ctx.transport.is_some() && ctx.protocol.is_some(),
        "{ctx:?}"
    );
}

#[test]
fn s6_data_received_error_is_fatal_for_that_connection_only() {
    s6_case(false);
}

#[test]
fn s6_data_received_panic_is_fatal_for_that_connection_only() {
    s6_case(true);
}

#[test]
fn s7_peer_reset_gives_connection_reset_without_eof() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let slog = EventLog::new();
        let (server, port) = echo_server(&l, &slog).await;
        let peer = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        until(&l, || !slog.is_empty()).await;
        socket2::SockRef::from(&peer)
            .set_linger(Some(Duration::ZERO))
            .expect("linger");
        drop(peer);
        until(&l, || slog.lost_count() == 1).await;
        let events = slog.snapshot();
        assert!(!events.contains(&Recorded::Eof), "{events:?}");
        assert_eq!(
            events.last(),
            Some(&Recorded::Lost(Some("connection reset by peer".into())))
        );
        server.close();
    });
}

/// Fails in ConnectionMade, optionally aborting first; records the rest.
struct FailsOnMade {
    abort: bool,
    log: EventLog,
}

impl StreamProtocol for FailsOnMade {
    fn handle(
        &mut self,
        ev: StreamEvent,
        t: &mut dyn StreamTransport,
    ) -> Result<(), ProtocolError> {
        match ev {
            StreamEvent::ConnectionMade => {
                self.log.push(Recorded::ConnectionMade);
                if self.abort {
                    t.abort();
                    return Ok(());
                }
                return Err(ProtocolError::failed("boom in connection_made"));
            }
            StreamEvent::DataReceived(d) => self.log.push(Recorded::Data(d)),
            StreamEvent::EofReceived => self.log.push(Recorded::Eof),
            StreamEvent::ConnectionLost(r) => {
                self.log.push(Recorded::Lost(r.map(|e| e.to_string())))
            }
            _ => {}
        }
        Ok(())
    }
}

#[test]
fn s9_connection_made_error_still_connects_and_delivers() {
    let (lp, h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let (server, port) = echo_server(&l, &EventLog::new()).await;
        let log = EventLog::new();
        let l2 = log.clone();
        let conn = connect(&l, port, move || FailsOnMade {
            abort: false,
            log: l2,
        })
        .await;
        conn.transport.write(b"ping").unwrap();
        until(&l, || &log.data()[..] == b"ping").await;
        conn.transport.close();
        until(&l, || log.lost_count() == 1).await;
        support::turns(10).await;
        assert_eq!(log.lost_count(), 1);
        check_stream_grammar(&log.snapshot()).expect("grammar");

        let log = EventLog::new();
        let l2 = log.clone();
        let conn = connect(&l, port, move || FailsOnMade {
            abort: true,
            log: l2,
        })
        .await;
        assert!(conn.transport.is_closing());
        until(&l, || log.lost_count() == 1).await;
        assert_eq!(
            log.snapshot(),
            vec![Recorded::ConnectionMade, Recorded::Lost(None)]
        );
        server.close();
    });
    let ctx = h.take_one();
    assert_eq!(ctx.message, "Exception in callback connection_made()");
}

#[test]
fn fault23_spurious_read_readiness_changes_nothing() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let slog = EventLog::new();
        let (server, port) = echo_server(&l, &slog).await;
        let client = RecordingProtocol::new();
        let clog = client.log();
        let conn = connect::<_, NoMessage>(&l, port, move || client).await;
        // Each resume after a pause makes the transport read again at once
        // (edge-triggered polling will not repeat a skipped edge); with
        // nothing to read every one of those reads gets EAGAIN.
        for _ in 0..50 {
            conn.transport.pause_reading();
            conn.transport.resume_reading();
            conn.transport.resume_reading();
            support::turns(1).await;
        }
        support::turns(10).await;
        assert_eq!(clog.snapshot(), vec![Recorded::ConnectionMade]);
        assert!(conn.transport.is_reading() && !conn.transport.is_closing());
        // Still registered: later data arrives, in order, nothing lost.
        conn.transport.write(b"after the spurious wakeups").unwrap();
        until(&l, || clog.data().len() == 26).await;
        assert_eq!(&clog.data()[..], b"after the spurious wakeups");
        conn.transport.close();
        until(&l, || clog.lost_count() == 1 && slog.lost_count() == 1).await;
        assert_eq!(clog.snapshot().last(), Some(&Recorded::Lost(None)));
        check_stream_grammar(&clog.snapshot()).expect("grammar");
        server.close();
    });
}

/// Bytes waiting in the receive queue of socket `fd`, without reading them.
fn queued_bytes(fd: i32) -> usize {
    // The transport keeps `fd` open until it is closed, which the test has
    // not done yet.
    let mut buf = [0u8; 16];
    nix::sys::socket::recv(
        fd,
        &mut buf,
        nix::sys::socket::MsgFlags::MSG_PEEK | nix::sys::socket::MsgFlags::MSG_DONTWAIT,
    )
    .unwrap_or(0)
}
