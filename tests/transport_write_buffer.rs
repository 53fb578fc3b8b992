//! The write side of a stream transport over loopback TCP: what a write, a
//! close or an abort does to the buffer and to the flow-control events, seen
//! from the protocol and from a `TransportHandle`.
//! <https://docs.python.org/3/library/asyncio-protocol.html#write-only-transports>
//!
//! Ids: S3, fault scenario 6, and issue 7's defects 4, 7 and 8.

mod support;

use std::cell::{Cell, RefCell};
use std::net::TcpListener;
use std::rc::Rc;
use std::time::Duration;

use switchboard::testing::{check_stream_grammar, EventLog, Recorded, RecordingProtocol};
use switchboard::Bytes;
use switchboard::{NoMessage, ProtocolError, StreamEvent, StreamProtocol, StreamTransport};

use support::logs;
use support::net::{connect, serve, slow_peer, until};
use support::script::{script, On};
use support::{new_loop, run_with_deadline};

/// Far more than the default high-water mark (64 KiB) plus what the kernel
/// takes from a peer that reads nothing.
const OVER_HIGH: usize = 4 * 1024 * 1024;

#[test]
fn issue_7_defect_7_pause_raised_before_abort_is_dropped() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let peer = slow_peer();
    let port = peer.port;
    run_with_deadline(&lp, async move {
        let log = EventLog::new();
        let lg = log.clone();
        let conn = l
            .create_connection(move || {
                script::<()>(&lg, |on, t| {
                    if let On::Made = on {
                        t.write(&vec![1u8; OVER_HIGH])?;
                        assert!(t.get_write_buffer_size() > 65536, "crossed high");
                        t.abort();
                    }
                    Ok(())
                })
            })
            .host("127.0.0.1")
            .port(port)
            .await
            .expect("connect");
        until(&l, || conn.transport.is_lost()).await;
        support::turns(5).await;
        // A transport that is dying with an empty buffer has nothing to pause.
        assert_eq!(
            log.snapshot(),
            vec![Recorded::ConnectionMade, Recorded::Lost(None)]
        );
    });
    drop(peer.go);
    peer.done.join().expect("peer");
}

#[test]
fn issue_7_defect_7_pause_raised_before_a_failing_handler_is_dropped() {
    let (lp, h) = new_loop();
    let l = lp.clone();
    let peer = slow_peer();
    let port = peer.port;
    run_with_deadline(&lp, async move {
        let log = EventLog::new();
        let lg = log.clone();
        let conn = l
            .create_connection(move || {
                script::<()>(&lg, |on, t| {
                    if let On::Message(()) = on {
                        t.write(&vec![1u8; OVER_HIGH])?;
                        return Err(ProtocolError::failed("fails after crossing high"));
                    }
                    Ok(())
                })
            })
            .host("127.0.0.1")
            .port(port)
            .await
            .expect("connect");
        conn.protocol.send(()).expect("the protocol is alive");
        until(&l, || conn.transport.is_lost()).await;
        support::turns(5).await;
        let events = log.snapshot();
        check_stream_grammar(&events).expect("grammar");
        assert_eq!(
            events,
            vec![
                Recorded::ConnectionMade,
                Recorded::Message("message".into()),
                Recorded::Lost(Some("protocol failed: fails after crossing high".into()))
            ]
        );
    });
    assert_eq!(
        h.take_one().message,
        "Fatal error: protocol.message() call failed."
    );
    drop(peer.go);
    peer.done.join().expect("peer");
}

/// The warnings this test's thread logged about dropped writes.
fn dropped_write_warnings() -> Vec<String> {
    logs::take_mine()
        .into_iter()
        .filter(|r| r.level == log::Level::Warn && r.message.contains("write() after close"))
        .map(|r| r.message)
        .collect()
}

#[test]
fn issue_7_defect_8_the_first_write_after_close_is_a_warning() {
    logs::install();
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let peer = slow_peer();
    let port = peer.port;
    let _ = logs::take_mine();
    run_with_deadline(&lp, async move {
        let log = EventLog::new();
        let lg = log.clone();
        let conn = l
            .create_connection(move || {
                script::<()>(&lg, |on, t| {
                    if let On::Made = on {
                        t.write(b"kept")?;
                        t.close();
                        t.write(b"an answer that is lost")?;
                    }
                    Ok(())
                })
            })
            .host("127.0.0.1")
            .port(port)
            .await
            .expect("connect");
        let warned = dropped_write_warnings();
        assert_eq!(warned.len(), 1, "{warned:?}");
        assert!(warned[0].contains("22 bytes"), "{}", warned[0]);
        // From outside, after the loss: dropped too, and said so (the count
        // goes on from the first).
        until(&l, || conn.transport.is_lost()).await;
        conn.transport.write(b"late").unwrap();
        support::turns(3).await;
        let warned = dropped_write_warnings();
        assert_eq!(warned.len(), 1, "{warned:?}");
        assert!(warned[0].contains("2 writes"), "{}", warned[0]);
        check_stream_grammar(&log.snapshot()).expect("grammar");
    });
    drop(peer.go);
    assert_eq!(peer.done.join().expect("peer"), b"kept");
}

/// Zero-length writes of every shape.
fn write_nothing(t: &mut dyn StreamTransport<u8>) -> Result<(), ProtocolError> {
    t.write(b"")?;
    t.write_bytes(Bytes::new())?;
    t.writelines(&[])?;
    t.writelines(&[b"", b""])?;
    Ok(())
}

#[test]
fn fault_6_zero_length_writes_make_no_syscall_and_change_nothing() {
    logs::install();
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (go, wait) = std::sync::mpsc::channel::<()>();
    let peer = std::thread::spawn(move || {
        let (s, _) = listener.accept().expect("accept");
        let _ = wait.recv();
        socket2::SockRef::from(&s)
            .set_linger(Some(Duration::ZERO))
            .expect("linger");
        drop(s); // RST
    });
    let _ = logs::take_mine();
    run_with_deadline(&lp, async move {
        let log = EventLog::new();
        let lg = log.clone();
        let conn = l
            .create_connection(move || {
                script::<u8>(&lg, |on, t| {
                    match on {
                        // Not reading: nothing touches the socket on its own.
                        On::Made => t.pause_reading(),
                        On::Message(0) => {
                            let limits = t.get_write_buffer_limits();
                            write_nothing(t)?;
                            assert_eq!(t.get_write_buffer_size(), 0);
                            assert_eq!(t.get_write_buffer_limits(), limits);
                            assert!(!t.is_closing());
                        }
                        On::Message(_) => t.write(b"x")?,
                        _ => {}
                    }
                    Ok(())
                })
            })
            .host("127.0.0.1")
            .port(port)
            .await
            .expect("connect");
        go.send(()).expect("peer");
        // Wait until the reset is in our socket. From then on any send
        // fails: a syscall for a zero-length write would end the transport.
        let fd = conn.transport.fileno().expect("open");
        until(&l, || {
            let mut b = [0u8; 1];
            let flags =
                nix::sys::socket::MsgFlags::MSG_PEEK | nix::sys::socket::MsgFlags::MSG_DONTWAIT;
            matches!(
                nix::sys::socket::recv(fd, &mut b, flags),
                Err(nix::errno::Errno::ECONNRESET) | Ok(0)
            )
        })
        .await;
        conn.transport.write_bytes(Bytes::new()).unwrap();
        conn.protocol.send(0).expect("alive");
        support::turns(5).await;
        assert!(!conn.transport.is_closing(), "{:?}", log.snapshot());
        assert_eq!(conn.transport.get_write_buffer_size(), 0);
        assert_eq!(
            log.snapshot(),
            vec![
                Recorded::ConnectionMade,
                Recorded::Message("message".into())
            ]
        );
        // The control: one byte does reach the socket, and fails.
        conn.protocol.send(1).expect("alive");
        until(&l, || conn.transport.is_lost()).await;
        match log.snapshot().last() {
            Some(Recorded::Lost(Some(_))) => {}
            other => panic!("a send on the reset socket fails: {other:?}"),
        }
        // After the loss, zero-length writes are not dropped writes either:
        // nothing to warn about.
        conn.transport.write_bytes(Bytes::new()).unwrap();
        support::turns(3).await;
        assert_eq!(dropped_write_warnings(), Vec::<String>::new());
    });
    peer.join().expect("peer");
}

#[test]
fn fault_6_zero_length_writes_after_close_are_not_dropped_writes() {
    logs::install();
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let peer = slow_peer();
    let port = peer.port;
    let _ = logs::take_mine();
    run_with_deadline(&lp, async move {
        let log = EventLog::new();
        let lg = log.clone();
        let conn = l
            .create_connection(move || {
                script::<u8>(&lg, |on, t| {
                    if let On::Made = on {
                        t.close();
                        for _ in 0..6 {
                            write_nothing(t)?;
                        }
                    }
                    Ok(())
                })
            })
            .host("127.0.0.1")
            .port(port)
            .await
            .expect("connect");
        until(&l, || conn.transport.is_lost()).await;
        assert_eq!(dropped_write_warnings(), Vec::<String>::new());
    });
    drop(peer.go);
    assert_eq!(peer.done.join().expect("peer"), b"");
}

#[test]
fn issue_7_defect_4_a_handle_answers_from_what_was_asked_at_once() {
    logs::install();
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let peer = slow_peer();
    let port = peer.port;
    let _ = logs::take_mine();
    run_with_deadline(&lp, async move {
        let log = EventLog::new();
        let lg = log.clone();
        let conn = l
            .create_connection(move || script::<()>(&lg, |_, _| Ok(())))
            .host("127.0.0.1")
            .port(port)
            .await
            .expect("connect");
        let t = &conn.transport;
        // Sizes include what was written, before the loop applied it.
        t.write(b"abc").unwrap();
        t.write_bytes(Bytes::from_static(b"defg")).unwrap();
        assert_eq!(t.get_write_buffer_size(), 7);
        // The kernel takes it all once the loop runs.
        until(&l, || t.get_write_buffer_size() == 0).await;
        // Reading state reads as asked.
        t.pause_reading();
        assert!(!t.is_reading());
        t.resume_reading();
        assert!(t.is_reading());
        // close(): closing at once; a write after it is dropped at once, and
        // said so (issue 7 defect 8).
        assert!(!t.is_closing());
        t.close();
        assert!(t.is_closing());
        assert!(!t.is_reading());
        t.write(b"after close").unwrap();
        assert_eq!(t.get_write_buffer_size(), 0);
        let warned = dropped_write_warnings();
        assert_eq!(warned.len(), 1, "{warned:?}");
        assert!(warned[0].contains("11 bytes"), "{}", warned[0]);
        t.resume_reading();
        assert!(!t.is_reading(), "no reading after close");
        until(&l, || t.is_lost()).await;
        assert_eq!(
            log.snapshot(),
            vec![Recorded::ConnectionMade, Recorded::Lost(None)]
        );
    });
    drop(peer.go);
    assert_eq!(peer.done.join().expect("peer"), b"abcdefg");
}

#[test]
fn issue_7_defect_4_abort_through_a_handle_is_closing_at_once() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let peer = slow_peer();
    let port = peer.port;
    run_with_deadline(&lp, async move {
        let log = EventLog::new();
        let lg = log.clone();
        let conn = l
            .create_connection(move || script::<()>(&lg, |_, _| Ok(())))
            .host("127.0.0.1")
            .port(port)
            .await
            .expect("connect");
        conn.transport.abort();
        assert!(conn.transport.is_closing());
        assert!(!conn.transport.is_reading());
        until(&l, || conn.transport.is_lost()).await;
    });
    drop(peer.go);
    peer.done.join().expect("peer");
}

/// Keeps every byte it receives; records the loss.
struct Collector {
    got: Rc<RefCell<Vec<u8>>>,
    lost: Rc<Cell<usize>>,
}

impl StreamProtocol for Collector {
    fn handle(
        &mut self,
        ev: StreamEvent,
        _t: &mut dyn StreamTransport,
    ) -> Result<(), ProtocolError> {
        match ev {
            StreamEvent::DataReceived(d) => self.got.borrow_mut().extend_from_slice(&d),
            StreamEvent::ConnectionLost(r) => {
                assert!(r.is_none(), "{r:?}");
                self.lost.set(self.lost.get() + 1)
            }
            _ => {}
        }
        Ok(())
    }
}

/// Pseudo-random bytes (xorshift64*, fixed seed): a reordered, dropped or
/// repeated chunk shows, where a count or a constant byte would not.
fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.max(1);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

#[test]
fn s3_many_megabytes_arrive_intact_and_in_order() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let got = Rc::new(RefCell::new(Vec::new()));
        let lost = Rc::new(Cell::new(0));
        let (g2, lost2) = (got.clone(), lost.clone());
        let (server, port) = serve(&l, move || Collector {
            got: g2.clone(),
            lost: lost2.clone(),
        })
        .await;
        let conn = connect::<_, NoMessage>(&l, port, RecordingProtocol::new).await;
        // About 8 MB in writes of uneven sizes (1 byte to 200 KiB), so the
        // kernel takes some whole, some in part, and queues the rest.
        let data = Bytes::from(random_bytes(0x5eed, 8_000_000));
        let sizes = random_bytes(7, 4096);
        let (mut at, mut i) = (0, 0);
        while at < data.len() {
            let pick = u32::from_le_bytes([sizes[i % 4096], sizes[(i + 1) % 4096], 0, 0]);
            let n = (1 + (pick as usize * 3) % (200 * 1024)).min(data.len() - at);
            conn.transport.write_bytes(data.slice(at..at + n)).unwrap();
            at += n;
            i += 2;
        }
        conn.transport.write(b"14 bytes tail!").unwrap();
        conn.transport.close();
        until(&l, || lost.get() == 1).await;
        let got = got.borrow();
        assert_eq!(got.len(), data.len() + 14);
        assert!(
            got[..data.len()] == data[..],
            "the bytes differ or are out of order"
        );
        assert_eq!(&got[data.len()..], b"14 bytes tail!");
        server.close();
    });
}
