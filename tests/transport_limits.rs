//! Transport limits beyond asyncio, over loopback TCP: a hard cap on the
//! write buffer (fault scenario 4, slow consumer; on by default, set here
//! lower) and a close timeout (fault scenario 5, close() while the peer never
//! reads; off by default). Both are builder options of `create_connection`
//! and `create_server`.
//! <https://docs.python.org/3/library/asyncio-protocol.html#flow-control-callbacks>

mod support;

use std::cell::RefCell;
use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::rc::Rc;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use switchboard::Bytes;
use switchboard::{ProtocolError, StreamEvent, StreamProtocol, StreamTransport, TransportError};

use support::net::{payload, slow_peer, until, CHUNK};
use support::{new_loop, run_with_deadline};

/// 16 MiB: more than a loopback socket's kernel buffers can absorb.
const CHUNKS: usize = 64;
const CAP: usize = 1024 * 1024;

/// What a [`Flood`] saw.
#[derive(Debug, Default)]
struct Seen {
    pauses: usize,
    resumes: usize,
    write_errors: usize,
    /// Every `ConnectionLost` reason, in order.
    lost: Vec<Option<TransportError>>,
    /// Events after `ConnectionLost` (must stay 0).
    after_lost: usize,
}

type Shared = Rc<RefCell<Seen>>;

/// Writes `CHUNKS` chunks on `ConnectionMade` and ignores `PauseWriting` (the
/// slow-consumer case); with `close`, closes right after.
struct Flood {
    seen: Shared,
    data: Bytes,
    close: bool,
}

impl StreamProtocol for Flood {
    fn handle(
        &mut self,
        ev: StreamEvent,
        t: &mut dyn StreamTransport,
    ) -> Result<(), ProtocolError> {
        let mut seen = self.seen.borrow_mut();
        if !seen.lost.is_empty() {
            seen.after_lost += 1;
        }
        match ev {
            StreamEvent::ConnectionMade => {
                for _ in 0..CHUNKS {
                    if t.write_bytes(self.data.clone()).is_err() {
                        seen.write_errors += 1;
                    }
                }
                if self.close {
                    t.close();
                }
            }
            StreamEvent::PauseWriting => seen.pauses += 1,
            StreamEvent::ResumeWriting => seen.resumes += 1,
            StreamEvent::ConnectionLost(reason) => seen.lost.push(reason),
            _ => {}
        }
        Ok(())
    }
}

fn flood(seen: &Shared, close: bool) -> Flood {
    Flood {
        seen: seen.clone(),
        data: payload(),
        close,
    }
}

/// A client with a small receive window that connects to `addr` and reads
/// nothing until told to (or until `go` is dropped).
fn stuck_client(addr: SocketAddr) -> (mpsc::Sender<()>, JoinHandle<Vec<u8>>) {
    let (go, wait) = mpsc::channel();
    let done = std::thread::spawn(move || {
        let sock = socket2::Socket::new(
            socket2::Domain::IPV4,
            socket2::Type::STREAM,
            Some(socket2::Protocol::TCP),
        )
        .expect("socket");
        sock.set_recv_buffer_size(4096).expect("SO_RCVBUF");
        sock.connect(&addr.into()).expect("connect");
        let mut s: TcpStream = sock.into();
        let _ = wait.recv();
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got);
        got
    });
    (go, done)
}

fn assert_lost_once(seen: &Seen) -> Option<TransportError> {
    assert_eq!(seen.lost.len(), 1, "ConnectionLost exactly once: {seen:?}");
    assert_eq!(seen.after_lost, 0, "nothing after ConnectionLost");
    assert_eq!(seen.write_errors, 0, "write() never fails (fault 4)");
    seen.lost[0].clone()
}

#[test]
fn fault4_connection_past_max_write_buffer_is_lost_with_buffer_overflow() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let peer = slow_peer();
    let port = peer.port;
    let seen = Shared::default();
    let s2 = seen.clone();
    run_with_deadline(&lp, async move {
        let s3 = s2.clone();
        let conn = l
            .create_connection(move || flood(&s3, false))
            .host("127.0.0.1")
            .port(port)
            .max_write_buffer(CAP)
            .await
            .expect("connect");
        until(&l, || !s2.borrow().lost.is_empty()).await;
        // A write after the loss is dropped silently (G5).
        conn.transport
            .write_bytes(Bytes::from_static(b"late"))
            .unwrap();
        support::turns(10).await;
        assert!(conn.transport.is_closing());
        assert_eq!(conn.transport.get_write_buffer_size(), 0);
    });
    let seen = seen.borrow();
    let reason = assert_lost_once(&seen);
    assert!(
        matches!(reason, Some(TransportError::BufferOverflow { cap }) if cap == CAP),
        "{reason:?}"
    );
    // The writes that crossed high also crossed the cap in the same handler:
    // the pause they raised was dropped with the buffer (issue 7 defect 7).
    assert_eq!(seen.pauses, 0);
    assert_eq!(seen.resumes, 0);
    drop(peer.go);
    let got = peer.done.join().expect("peer");
    assert!(got.len() < CHUNKS * CHUNK, "the buffer was dropped");
}

#[test]
fn fault4_server_connection_past_max_write_buffer_is_lost_with_buffer_overflow() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let seen = Shared::default();
    let s2 = seen.clone();
    let client = run_with_deadline(&lp, async move {
        let s3 = s2.clone();
        let server = l
            .create_server(move || flood(&s3, false))
            .host("127.0.0.1")
            .port(0)
            .max_write_buffer(CAP)
            .await
            .expect("bind");
        let client = stuck_client(server.sockets()[0]);
        until(&l, || !s2.borrow().lost.is_empty()).await;
        server.close();
        client
    });
    let reason = assert_lost_once(&seen.borrow());
    assert!(
        matches!(reason, Some(TransportError::BufferOverflow { cap }) if cap == CAP),
        "{reason:?}"
    );
    drop(client.0);
    let _ = client.1.join().expect("client");
}

#[test]
fn fault5_close_with_a_blocked_peer_times_out_with_close_timed_out() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let peer = slow_peer();
    let port = peer.port;
    let seen = Shared::default();
    let s2 = seen.clone();
    run_with_deadline(&lp, async move {
        let s3 = s2.clone();
        let conn = l
            .create_connection(move || flood(&s3, true))
            .host("127.0.0.1")
            .port(port)
            .close_timeout(Duration::from_millis(100))
            .await
            .expect("connect");
        assert!(conn.transport.is_closing());
        until(&l, || !s2.borrow().lost.is_empty()).await;
    });
    let seen = seen.borrow();
    let reason = assert_lost_once(&seen);
    match reason {
        Some(TransportError::CloseTimedOut { pending }) => {
            assert!(pending > 0 && pending <= CHUNKS * CHUNK, "{pending}")
        }
        other => panic!("expected CloseTimedOut, got {other:?}"),
    }
    drop(peer.go);
    let got = peer.done.join().expect("peer");
    assert!(got.len() < CHUNKS * CHUNK, "the buffer was dropped");
}

#[test]
fn fault5_server_close_with_a_blocked_client_times_out_with_close_timed_out() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let seen = Shared::default();
    let s2 = seen.clone();
    let client = run_with_deadline(&lp, async move {
        let s3 = s2.clone();
        let server = l
            .create_server(move || flood(&s3, true))
            .host("127.0.0.1")
            .port(0)
            .close_timeout(Duration::from_millis(100))
            .await
            .expect("bind");
        let client = stuck_client(server.sockets()[0]);
        until(&l, || !s2.borrow().lost.is_empty()).await;
        server.close();
        server.wait_closed().await;
        client
    });
    let reason = assert_lost_once(&seen.borrow());
    assert!(
        matches!(reason, Some(TransportError::CloseTimedOut { pending }) if pending > 0),
        "{reason:?}"
    );
    drop(client.0);
    let _ = client.1.join().expect("client");
}

#[test]
fn fault5_close_that_drains_in_time_is_a_clean_loss_and_delivers_everything() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let peer = slow_peer();
    let port = peer.port;
    let go = peer.go.clone();
    let seen = Shared::default();
    let s2 = seen.clone();
    run_with_deadline(&lp, async move {
        let s3 = s2.clone();
        let conn = l
            .create_connection(move || flood(&s3, true))
            .host("127.0.0.1")
            .port(port)
            // Generous: only a hang would reach it.
            .close_timeout(Duration::from_secs(60))
            .max_write_buffer(2 * CHUNKS * CHUNK)
            .await
            .expect("connect");
        assert!(conn.transport.get_write_buffer_size() > 0);
        go.send(()).expect("peer");
        until(&l, || !s2.borrow().lost.is_empty()).await;
    });
    let reason = assert_lost_once(&seen.borrow());
    assert!(reason.is_none(), "{reason:?}");
    let got = peer.done.join().expect("peer");
    assert_eq!(got.len(), CHUNKS * CHUNK, "every byte, then EOF");
}
