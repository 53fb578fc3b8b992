//! Opening connections: `create_connection` refused, failing over every
//! address, with an existing socket, cancelled before or after it connects,
//! and happy eyeballs over both families.
//! <https://docs.python.org/3/library/asyncio-eventloop.html#opening-network-connections>
//!
//! Ids: V7, fault scenario 22.

mod support;

use std::io::{Read, Write};
use std::rc::Rc;
use std::time::Duration;

use switchboard::testing::{check_stream_grammar, EventLog, Recorded, RecordingProtocol};
use switchboard::NetError;
use switchboard::{NoMessage, ProtocolError, StreamEvent, StreamProtocol, StreamTransport};

use support::net::{connect, echo_server, is_alone_child, open_fds, run_alone, until};
use support::{new_loop, run_with_deadline};

fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

#[test]
fn fault22_connect_refused_is_a_net_error() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let port = closed_port();
    let err = run_with_deadline(&lp, async move {
        l.create_connection::<_, NoMessage>(RecordingProtocol::new)
            .host("127.0.0.1")
            .port(port)
            .await
            .expect_err("nobody listens")
    });
    assert!(matches!(err, NetError::Connect { .. }), "{err:?}");
    assert_eq!(err.io_kind(), Some(std::io::ErrorKind::ConnectionRefused));
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
}

#[test]
fn fault22_every_failed_address_is_listed() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let port = closed_port();
    let (addrs, err) = run_with_deadline(&lp, async move {
        let addrs = l
            .getaddrinfo("localhost", port)
            .await
            .expect("resolve localhost");
        let err = l
            .create_connection::<_, NoMessage>(RecordingProtocol::new)
            .host("localhost")
            .port(port)
            .await
            .expect_err("nobody listens");
        (addrs, err)
    });
    let text = err.to_string();
    match &err {
        NetError::AllFailed { errors } => {
            assert_eq!(errors.len(), addrs.len());
            for a in &addrs {
                assert!(text.contains(&a.to_string()), "{a} missing from {text}");
            }
        }
        NetError::Connect { addr, .. } => assert_eq!(addrs, vec![*addr]),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn v7_connect_accepted_socket_follows_the_state_machine() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let mut peer = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let (accepted, _) = listener.accept().expect("accept");
    peer.write_all(b"hi there").expect("write");
    peer.shutdown(std::net::Shutdown::Write).expect("shutdown");
    let log = run_with_deadline(&lp, async move {
        let p = RecordingProtocol::new().echo(true);
        let log = p.log();
        let conn = l
            .connect_accepted_socket::<_, NoMessage>(move || p, accepted)
            .await
            .expect("adopt");
        assert!(conn.transport.peername().is_some());
        until(&l, || log.lost_count() == 1).await;
        log
    });
    check_stream_grammar(&log.snapshot()).expect("grammar");
    assert_eq!(&log.data()[..], b"hi there");
    assert!(log.snapshot().contains(&Recorded::Eof));
    let mut back = Vec::new();
    peer.read_to_end(&mut back).expect("read echo");
    assert_eq!(back, b"hi there");
}

#[test]
fn create_connection_with_an_existing_socket() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let slog = EventLog::new();
        let (server, port) = echo_server(&l, &slog).await;
        let sock = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let local = sock.local_addr().expect("addr");
        let client = RecordingProtocol::new();
        let clog = client.log();
        let conn = l
            .create_connection::<_, NoMessage>(move || client)
            .sock(sock)
            .await
            .expect("adopt socket");
        assert_eq!(
            conn.transport.sockname().and_then(|a| a.as_inet()),
            Some(local)
        );
        conn.transport.write(b"via sock=").unwrap();
        until(&l, || &clog.data()[..] == b"via sock=").await;
        conn.transport.close();
        until(&l, || clog.lost_count() == 1).await;
        let bad = l
            .create_connection::<_, NoMessage>(RecordingProtocol::new)
            .sock(std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect"))
            .port(port)
            .await
            .expect_err("sock and port together");
        assert!(matches!(bad, NetError::InvalidArgs(_)), "{bad:?}");
        server.close();
    });
}

/// A listener whose accept queue is full: Linux (and gVisor) drop further
/// SYNs, so a connect to it stays pending until it is cancelled. Keep the
/// returned values alive.
fn hanging_listener() -> (socket2::Socket, std::net::TcpStream, u16) {
    use socket2::{Domain, Socket, Type};
    let l = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    let any: std::net::SocketAddr = "127.0.0.1:0".parse().expect("addr");
    l.bind(&any.into()).expect("bind");
    l.listen(0).expect("listen");
    let addr = l.local_addr().expect("addr").as_socket().expect("inet");
    let filler = std::net::TcpStream::connect(addr).expect("the one queued connection");
    (l, filler, addr.port())
}

#[test]
fn fault22_cancelled_create_connection_leaves_no_fd_and_the_loop_lives() {
    let name = "fault22_cancelled_create_connection_leaves_no_fd_and_the_loop_lives";
    if !is_alone_child() {
        // Counting this process's descriptors needs no other test running.
        return run_alone(name, "FAULT22-CANCEL-OK");
    }
    let (lp, _h) = new_loop();
    let (_listener, _filler, hang) = hanging_listener();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let before = open_fds();
        let l2 = l.clone();
        let connecting = l
            .create_task(async move {
                l2.create_connection::<_, NoMessage>(RecordingProtocol::new)
                    .host("127.0.0.1")
                    .port(hang)
                    .await
            })
            .expect("task");
        // The attempt's socket is open and connecting.
        until(&l, || open_fds() > before).await;
        support::turns(10).await;
        assert!(!connecting.done(), "the connect hangs");
        connecting.cancel();
        until(&l, || connecting.done()).await;
        assert!(connecting.cancelled());
        until(&l, || open_fds() == before).await;

        // The loop is healthy: a connection round-trips.
        let slog = EventLog::new();
        let (server, port) = echo_server(&l, &slog).await;
        let client = RecordingProtocol::new();
        let clog = client.log();
        let conn = connect::<_, NoMessage>(&l, port, move || client).await;
        conn.transport.write(b"alive").unwrap();
        until(&l, || &clog.data()[..] == b"alive").await;
        conn.transport.close();
        until(&l, || clog.lost_count() == 1 && slog.lost_count() == 1).await;
        server.close();
    });
    println!("FAULT22-CANCEL-OK");
}

#[test]
fn happy_eyeballs_localhost_over_both_families() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let addrs = l.getaddrinfo("localhost", 1).await.expect("resolve");
        let v6 = addrs.iter().any(|a| a.is_ipv6());
        let v4 = addrs.iter().any(|a| a.is_ipv4());
        if !(v4 && v6) {
            eprintln!(
                "note: localhost resolves to {addrs:?}, not to both ::1 and 127.0.0.1; \
                 skipping (connect_any's unit tests cover the race)"
            );
            return;
        }
        // Serve on one family only: the other address is refused and the
        // race falls through to the one that listens, whichever comes first.
        for host in ["::1", "127.0.0.1"] {
            let slog = EventLog::new();
            let server = l
                .create_server::<_, NoMessage>({
                    let slog = slog.clone();
                    move || RecordingProtocol::with_log(slog.clone()).echo(true)
                })
                .host(host)
                .port(0)
                .await
                .expect("bind");
            let port = server.sockets()[0].port();
            let client = RecordingProtocol::new();
            let clog = client.log();
            let conn = l
                .create_connection::<_, NoMessage>(move || client)
                .host("localhost")
                .port(port)
                .happy_eyeballs_delay(Duration::from_millis(50))
                .interleave(1)
                .await
                .expect("one family connects");
            let peer = conn.transport.peername().and_then(|a| a.as_inet());
            assert_eq!(peer.map(|a| a.ip().to_string()), Some(host.to_string()));
            conn.transport.write(b"he").unwrap();
            until(&l, || &clog.data()[..] == b"he").await;
            conn.transport.close();
            until(&l, || clog.lost_count() == 1).await;
            server.close();
        }
    });
}

/// Cancels the task that is connecting it as soon as it is made: the window
/// between a successful connect and `create_connection` handing it over.
struct CancelOnMade {
    task: Rc<std::cell::RefCell<Option<switchboard::Task<()>>>>,
    events: Rc<std::cell::RefCell<Vec<&'static str>>>,
}

impl StreamProtocol for CancelOnMade {
    fn handle(
        &mut self,
        event: StreamEvent,
        _t: &mut dyn StreamTransport,
    ) -> Result<(), ProtocolError> {
        match event {
            StreamEvent::ConnectionMade => {
                self.events.borrow_mut().push("made");
                if let Some(task) = self.task.borrow().as_ref() {
                    assert!(task.cancel(), "the connecting task is still pending");
                }
            }
            StreamEvent::ConnectionLost(reason) => {
                assert!(reason.is_none(), "an abort is a clean end: {reason:?}");
                self.events.borrow_mut().push("lost");
            }
            _ => self.events.borrow_mut().push("other"),
        }
        Ok(())
    }
}

#[test]
fn fault22_cancel_after_connect_before_handover_aborts_the_transport() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let slog = EventLog::new();
        let (server, port) = support::net::recording_server(&l, &slog).await;
        let slot = Rc::new(std::cell::RefCell::new(None));
        let events = Rc::new(std::cell::RefCell::new(Vec::new()));
        let (s, e, l2) = (slot.clone(), events.clone(), l.clone());
        let task = l
            .create_task(async move {
                let conn = l2
                    .create_connection(move || CancelOnMade { task: s, events: e })
                    .host("127.0.0.1")
                    .port(port)
                    .await;
                unreachable!("cancelled before the connection was handed over: {conn:?}");
            })
            .expect("task");
        *slot.borrow_mut() = Some(task);
        until(&l, || events.borrow().contains(&"lost")).await;
        assert_eq!(*events.borrow(), vec!["made", "lost"]);
        // Nobody holds the connection, so it must not live on: the server's
        // side ends too.
        until(&l, || slog.lost_count() == 1).await;
        assert!(slot.borrow().as_ref().is_some_and(|t| t.cancelled()));
        server.close();
    });
}
