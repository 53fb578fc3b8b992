//! How a stream transport ends over loopback TCP: close versus a peer that
//! goes away, the errors that end it and how they are reported.
//! <https://docs.python.org/3/library/asyncio-protocol.html#base-transport>
//! and <https://docs.python.org/3/library/asyncio-eventloop.html#error-handling-api>.
//!
//! Ids: G1, G5, W2, Z3, fault scenarios 2 and 7.

mod support;

use std::cell::Cell;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::rc::Rc;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use switchboard::testing::{check_stream_grammar, EventLog, Recorded};
use switchboard::{EventLoop, Exception};
use switchboard::{NoMessage, TransportError};

use support::net::{count, is_alone_child, run_alone, serve, until};
use support::script::{script, On};
use support::{new_loop, run_with_deadline};

/// Far more than a loopback socket pair's kernel buffers absorb from a peer
/// with a small receive window.
const MUCH: usize = 4 * 1024 * 1024;

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// How a [`Peer`]'s reading ended.
#[derive(Debug)]
enum End {
    /// `read` returned 0: a FIN.
    Fin(Vec<u8>),
    /// `read` failed (a reset), after these bytes.
    Failed(ErrorKind, Vec<u8>),
}

/// A peer with a small receive window that accepts one connection, does
/// `before` with it, waits for `go`, and then reads to the end.
struct Peer {
    port: u16,
    go: mpsc::Sender<()>,
    done: JoinHandle<End>,
}

fn peer(before: impl FnOnce(&mut TcpStream) + Send + 'static) -> Peer {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    socket2::SockRef::from(&listener)
        .set_recv_buffer_size(4096)
        .expect("SO_RCVBUF");
    let port = listener.local_addr().expect("addr").port();
    let (go, wait) = mpsc::channel();
    let done = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("accept");
        before(&mut s);
        let _ = wait.recv();
        let mut got = Vec::new();
        let mut buf = vec![0u8; 1024 * 1024];
        loop {
            match s.read(&mut buf) {
                Ok(0) => return End::Fin(got),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return End::Failed(e.kind(), got),
            }
        }
    });
    Peer { port, go, done }
}

/// Connects a script to `port`.
async fn client(
    lp: &EventLoop,
    port: u16,
    log: &EventLog,
    step: impl FnMut(
            On<()>,
            &mut dyn switchboard::StreamTransport<()>,
        ) -> Result<(), switchboard::ProtocolError>
        + 'static,
) -> switchboard::Connection<()> {
    let lg = log.clone();
    lp.create_connection(move || script(&lg, step))
        .host("127.0.0.1")
        .port(port)
        .await
        .expect("connect")
}

#[test]
fn g1_close_flushes_every_byte_then_the_peer_sees_a_fin_not_a_reset() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let Peer { port, go, done } = peer(|_| {});
    run_with_deadline(&lp, async move {
        let log = EventLog::new();
        let conn = client(&l, port, &log, |on, t| {
            if let On::Made = on {
                t.write(&pattern(MUCH))?;
                t.close();
            }
            Ok(())
        })
        .await;
        assert!(conn.transport.get_write_buffer_size() > 0, "still flushing");
        go.send(()).expect("peer");
        until(&l, || log.lost_count() == 1).await;
        let events = log.snapshot();
        check_stream_grammar(&events).expect("grammar");
        assert_eq!(events.last(), Some(&Recorded::Lost(None)));
    });
    match done.join().expect("peer") {
        End::Fin(got) => assert!(got == pattern(MUCH), "{} bytes", got.len()),
        End::Failed(kind, got) => panic!("the peer saw {kind:?} after {} bytes", got.len()),
    }
}

#[test]
fn g1_no_data_after_close_while_the_peer_keeps_sending() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    // The peer sends all the time our close is flushing.
    let p = peer(|s| {
        s.set_write_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        let chunk = vec![b'p'; 64 * 1024];
        for _ in 0..64 {
            if s.write(&chunk).is_err() {
                break;
            }
        }
    });
    let Peer { port, go, done } = p;
    run_with_deadline(&lp, async move {
        let log = EventLog::new();
        let conn = client(&l, port, &log, |on, t| {
            if let On::Made = on {
                // Fill the kernel, and leave a little buffered: the close
                // must wait for the peer, with the buffer below high (so
                // read-side backpressure is not what stops reading).
                let chunk = pattern(65536);
                while t.get_write_buffer_size() == 0 {
                    t.write(&chunk)?;
                }
                assert!(t.get_write_buffer_size() <= 65536);
                t.close();
            }
            Ok(())
        })
        .await;
        // Readable all along: the peer's bytes are in our socket, unread.
        until(&l, || {
            // Open until the close has flushed, which waits for the peer.
            let Some(fd) = conn.transport.fileno() else {
                return true;
            };
            let mut b = [0u8; 1];
            let flags =
                nix::sys::socket::MsgFlags::MSG_PEEK | nix::sys::socket::MsgFlags::MSG_DONTWAIT;
            nix::sys::socket::recv(fd, &mut b, flags) == Ok(1)
        })
        .await;
        support::turns(10).await;
        go.send(()).expect("peer");
        until(&l, || log.lost_count() == 1).await;
        support::turns(5).await;
        let events = log.snapshot();
        check_stream_grammar(&events).expect("grammar");
        assert!(
            !events.iter().any(|e| matches!(e, Recorded::Data(_))),
            "no DataReceived after close(): {:?}",
            events.iter().map(|e| e.name()).collect::<Vec<_>>()
        );
        assert_eq!(events.last(), Some(&Recorded::Lost(None)));
    });
    // The peer's unread bytes make the final close a reset; what it got
    // before is ours: whole chunks of the pattern.
    let got = match done.join().expect("peer") {
        End::Fin(got) | End::Failed(_, got) => got,
    };
    let chunk = pattern(65536);
    assert!(got.chunks(65536).all(|c| chunk.starts_with(c)));
}

#[test]
fn g5_fault_7_a_write_after_close_with_bytes_still_buffered_is_dropped() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let Peer { port, go, done } = peer(|_| {});
    run_with_deadline(&lp, async move {
        let log = EventLog::new();
        let conn = client(&l, port, &log, |on, t| {
            if let On::Made = on {
                t.write(&pattern(MUCH))?;
                assert!(t.get_write_buffer_size() > 0);
                t.close();
                // CPython would still queue and send this: not copied.
                t.write(b"written after close")?;
            }
            Ok(())
        })
        .await;
        // From outside too.
        conn.transport.write(b"and from a handle").unwrap();
        go.send(()).expect("peer");
        until(&l, || log.lost_count() == 1).await;
    });
    match done.join().expect("peer") {
        End::Fin(got) => assert!(got == pattern(MUCH), "{} bytes", got.len()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn w2_pause_is_strictly_above_high_not_at_it() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let Peer { port, go, done } = peer(|_| {});
    run_with_deadline(&lp, async move {
        let log = EventLog::new();
        let conn = client(&l, port, &log, |on, t| {
            match on {
                On::Made => {
                    t.set_write_buffer_limits(Some(usize::MAX / 2), Some(0))
                        .expect("limits");
                    let chunk = [7u8; 65536];
                    while t.get_write_buffer_size() == 0 {
                        t.write(&chunk)?; // fill the kernel
                    }
                }
                On::Message(()) if !t.is_closing() => {
                    let cur = t.get_write_buffer_size();
                    t.set_write_buffer_limits(Some(cur + 10), Some(0))
                        .expect("limits");
                    t.write(&[1u8; 10])?;
                    assert_eq!(t.get_write_buffer_size(), cur + 10, "exactly at high");
                }
                _ => {}
            }
            Ok(())
        })
        .await;
        // At high, after the handler and a few more turns: no pause.
        conn.protocol.send(()).expect("alive");
        support::turns(10).await;
        assert_eq!(count(&log, &Recorded::PauseWriting), 0);
        // One byte more, from outside: strictly above, so paused (whatever
        // the kernel took meanwhile, the limits follow the buffer).
        let cur = conn.transport.get_write_buffer_size();
        conn.transport.set_write_buffer_limits(Some(cur), Some(0));
        support::turns(3).await;
        assert_eq!(count(&log, &Recorded::PauseWriting), 0, "equal again");
        conn.transport.write(b"!").unwrap();
        until(&l, || count(&log, &Recorded::PauseWriting) == 1).await;
        conn.transport.abort();
        until(&l, || log.lost_count() == 1).await;
        check_stream_grammar(&log.snapshot()).expect("grammar");
    });
    drop(go);
    done.join().expect("peer");
}

/// A server whose connections record into `log`; on EOF they keep the write
/// side open and answer with more than the kernel takes.
fn answering_server(lp: &EventLoop, log: &EventLog, answer: usize) -> (switchboard::Server, u16) {
    let (l, lg) = (lp.clone(), log.clone());
    run_with_deadline(lp, async move {
        serve::<_, NoMessage>(&l, move || {
            script(&lg, move |on, t| {
                if let On::Eof = on {
                    if answer > 0 {
                        t.keep_open();
                        t.write(&pattern(answer))?;
                    }
                }
                Ok(())
            })
        })
        .await
    })
}

#[test]
fn fault_2_no_sigpipe_from_the_transports_writes() {
    let name = "fault_2_no_sigpipe_from_the_transports_writes";
    if !is_alone_child() {
        // A SIGPIPE handler is process-wide.
        return run_alone(name, "FAULT2-SIGPIPE-OK");
    }
    let (lp, _h) = new_loop();
    let sigpipes = Rc::new(Cell::new(0));
    let s2 = sigpipes.clone();
    lp.add_signal_handler(switchboard::Signal::SIGPIPE, move || s2.set(s2.get() + 1))
        .expect("SIGPIPE handler");

    // Bytes pending when the peer goes: the peer half-closes, the server
    // answers more than the kernel takes, then the peer closes with the
    // answer unread (a reset). The next send finds a broken pipe.
    let log = EventLog::new();
    let (server, port) = answering_server(&lp, &log, MUCH);
    let mut peer = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    socket2::SockRef::from(&peer)
        .set_recv_buffer_size(4096)
        .expect("SO_RCVBUF");
    peer.shutdown(Shutdown::Write).expect("half-close");
    let l = lp.clone();
    let lg = log.clone();
    let (tx, rx) = mpsc::channel::<()>();
    let closer = std::thread::spawn(move || {
        rx.recv().expect("go");
        let mut b = [0u8; 1];
        peer.read_exact(&mut b).expect("some of the answer");
        drop(peer); // unread bytes: a reset
    });
    run_with_deadline(&lp, async move {
        until(&l, || count(&lg, &Recorded::Eof) == 1).await;
        tx.send(()).expect("closer");
        until(&l, || lg.lost_count() == 1).await;
        // A SIGPIPE would have reached its handler by now.
        support::turns(10).await;
    });
    closer.join().expect("closer");
    match log.snapshot().last() {
        Some(Recorded::Lost(Some(why))) => assert_eq!(
            why,
            &TransportError::BrokenPipe.to_string(),
            "bytes were pending"
        ),
        other => panic!("expected a broken pipe: {other:?}"),
    }
    assert_eq!(sigpipes.get(), 0, "the runtime's own writes raised SIGPIPE");
    server.close();

    // The buffer idle when the peer goes: a clean loss.
    let log = EventLog::new();
    let (server, port) = answering_server(&lp, &log, 0);
    let mut peer = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    peer.write_all(b"bye").expect("write");
    drop(peer);
    let (l, lg) = (lp.clone(), log.clone());
    run_with_deadline(&lp, async move {
        until(&l, || lg.lost_count() == 1).await;
        support::turns(10).await;
    });
    assert_eq!(log.snapshot().last(), Some(&Recorded::Lost(None)));
    assert_eq!(sigpipes.get(), 0);
    server.close();
    println!("FAULT2-SIGPIPE-OK");
}

/// A peer that resets the connection as soon as `go` comes: same as
/// [`peer`], but the socket is dropped with SO_LINGER 0 instead of read.
fn resetting_peer(pending: bool) -> Peer {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    socket2::SockRef::from(&listener)
        .set_recv_buffer_size(4096)
        .expect("SO_RCVBUF");
    let port = listener.local_addr().expect("addr").port();
    let (go, wait) = mpsc::channel::<()>();
    let done = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("accept");
        if !pending {
            let mut b = [0u8; 5];
            s.read_exact(&mut b).expect("greeting");
        }
        let _ = wait.recv();
        socket2::SockRef::from(&s)
            .set_linger(Some(Duration::ZERO))
            .expect("linger");
        drop(s);
        End::Fin(Vec::new())
    });
    Peer { port, go, done }
}

/// A connection reset by its peer, in debug mode or not, with its buffer
/// empty (the read sees the reset) or full (the write does). Returns the
/// handler's calls and the protocol's events.
fn reset(debug: bool, pending: bool) -> (Vec<switchboard::ExceptionContext>, Vec<Recorded>) {
    let (lp, h) = new_loop();
    lp.set_debug(debug);
    let l = lp.clone();
    let Peer { port, go, done } = resetting_peer(pending);
    let log = EventLog::new();
    let lg = log.clone();
    run_with_deadline(&lp, async move {
        let conn = client(&l, port, &lg, move |on, t| {
            if let On::Made = on {
                if pending {
                    t.write(&pattern(MUCH))?;
                } else {
                    t.write(b"hello")?;
                }
            }
            Ok(())
        })
        .await;
        assert_eq!(conn.transport.get_write_buffer_size() > 0, pending);
        go.send(()).expect("peer");
        until(&l, || lg.lost_count() == 1).await;
    });
    done.join().expect("peer");
    (h.take(), log.snapshot())
}

/// Asserts one handler call with asyncio's keys for a fatal transport error.
fn assert_fatal(calls: &[switchboard::ExceptionContext], message: &str) {
    assert_eq!(calls.len(), 1, "{calls:?}");
    let ctx = &calls[0];
    assert_eq!(ctx.message, message);
    assert!(
        matches!(
            ctx.exception,
            Some(Exception::Transport(
                TransportError::ConnectionReset | TransportError::BrokenPipe
            ))
        ),
        "{ctx:?}"
    );
    assert!(
        ctx.transport
            .as_deref()
            .is_some_and(|t| t.contains("TcpTransport")),
        "{ctx:?}"
    );
    assert!(ctx.protocol.is_some(), "{ctx:?}");
}

#[test]
fn z3_fatal_read_error_context_on_a_real_socket() {
    let (calls, events) = reset(true, false);
    assert_fatal(&calls, "Fatal read error on socket transport");
    assert_eq!(
        events.last(),
        Some(&Recorded::Lost(Some("connection reset by peer".into())))
    );
}

#[test]
fn z3_fatal_write_error_context_on_a_real_socket() {
    let (calls, events) = reset(true, true);
    assert_fatal(&calls, "Fatal write error on socket transport");
    assert!(
        matches!(events.last(), Some(Recorded::Lost(Some(_)))),
        "{events:?}"
    );
}

#[test]
fn z3_connection_errors_are_not_reported_outside_debug_mode() {
    for pending in [false, true] {
        let (calls, events) = reset(false, pending);
        assert!(calls.is_empty(), "{calls:?}");
        assert!(matches!(events.last(), Some(Recorded::Lost(Some(_)))));
    }
}
