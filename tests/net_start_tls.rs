//! `start_tls`: upgrading an open connection to TLS, from inside its
//! protocol at an exact point of the byte stream, and from a handle.
//! <https://docs.python.org/3/library/asyncio-eventloop.html#tls-upgrade>

mod support;

use std::cell::RefCell;
use std::io::{Read, Write};
use std::rc::Rc;

use switchboard::testing::{EventLog, Recorded};
use switchboard::{Bytes, NoMessage, TlsServerConfig};
use switchboard::{ProtocolError, StreamEvent, StreamProtocol, StreamTransport};

use support::net::{serve, until};
use support::tls::{client_config, server_config};
use support::{new_loop, run_with_deadline};

/// A line protocol: `STARTTLS` is answered with `OK` in plaintext, then the
/// connection turns TLS, with whatever followed the line fed to TLS; after
/// that it echoes, and logs what it sees.
struct Starttls {
    tls: TlsServerConfig,
    buf: Vec<u8>,
    upgraded: bool,
    log: EventLog,
}

impl StreamProtocol for Starttls {
    fn handle(
        &mut self,
        ev: StreamEvent,
        t: &mut dyn StreamTransport,
    ) -> Result<(), ProtocolError> {
        match ev {
            StreamEvent::DataReceived(data) if self.upgraded => {
                self.log.push(Recorded::Data(data.clone()));
                t.write(&data)?;
            }
            StreamEvent::DataReceived(data) => {
                self.buf.extend_from_slice(&data);
                if let Some(at) = self.buf.iter().position(|&b| b == b'\n') {
                    assert_eq!(&self.buf[..at], b"STARTTLS");
                    t.write(b"OK\n")?;
                    let rest = Bytes::copy_from_slice(&self.buf[at + 1..]);
                    self.log
                        .push(Recorded::Message(format!("leftover {}", rest.len())));
                    t.start_tls(self.tls.upgrade().leftover(rest))?;
                    // A second upgrade in the same handler is refused.
                    assert!(t.start_tls(self.tls.upgrade()).is_err());
                    self.upgraded = true;
                }
            }
            StreamEvent::ConnectionLost(r) => {
                self.log.push(Recorded::Lost(r.map(|e| e.to_string())))
            }
            _ => {}
        }
        Ok(())
    }
}

fn starttls_server(log: &EventLog) -> impl Fn() -> Starttls + 'static {
    let log = log.clone();
    move || Starttls {
        tls: server_config(),
        buf: Vec::new(),
        upgraded: false,
        log: log.clone(),
    }
}

#[test]
fn start_tls_with_the_hello_pipelined_right_behind_the_command() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let slog = EventLog::new();
        let (server, port) = serve::<_, NoMessage>(&l, starttls_server(&slog)).await;
        // A blocking client that sends STARTTLS and its TLS hello in one
        // write, without waiting for OK.
        let peer = std::thread::spawn(move || {
            let mut tcp = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
            let mut conn = switchboard::rustls::ClientConnection::new(
                client_config().rustls().clone(),
                "localhost".try_into().expect("name"),
            )
            .expect("client");
            let mut first = b"STARTTLS\n".to_vec();
            conn.write_tls(&mut first).expect("hello");
            tcp.write_all(&first).expect("write");
            // Read the plaintext answer one byte at a time, so nothing of
            // the server's TLS reply is taken with it.
            let mut ok = Vec::new();
            let mut byte = [0u8];
            while ok.last() != Some(&b'\n') {
                tcp.read_exact(&mut byte).expect("OK");
                ok.push(byte[0]);
            }
            assert_eq!(ok, b"OK\n");
            let mut tls = switchboard::rustls::StreamOwned::new(conn, tcp);
            tls.write_all(b"secret").expect("write");
            let mut echo = [0u8; 6];
            tls.read_exact(&mut echo).expect("echo");
            tls.conn.send_close_notify();
            tls.flush().expect("flush");
            let mut rest = Vec::new();
            let _ = tls.read_to_end(&mut rest);
            echo
        });
        until(&l, || slog.lost_count() == 1).await;
        assert_eq!(&peer.join().expect("client")[..], b"secret");
        let s = slog.snapshot();
        // The hello arrived with the command: it was fed to TLS, not lost.
        match &s[0] {
            Recorded::Message(m) => assert!(m != "leftover 0", "{m}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(slog.data(), Bytes::from_static(b"secret"));
        assert_eq!(s.last(), Some(&Recorded::Lost(None)));
        server.close();
    });
}

/// A client protocol that records, and tells when `OK` arrived.
struct Client {
    log: EventLog,
    ok: Rc<RefCell<bool>>,
}

impl StreamProtocol for Client {
    fn handle(
        &mut self,
        ev: StreamEvent,
        t: &mut dyn StreamTransport,
    ) -> Result<(), ProtocolError> {
        match ev {
            StreamEvent::DataReceived(d) if !*self.ok.borrow() => {
                assert_eq!(&d[..], b"OK\n");
                assert!(t.tls().is_none());
                *self.ok.borrow_mut() = true;
            }
            StreamEvent::DataReceived(d) => {
                assert!(t.tls().is_some());
                self.log.push(Recorded::Data(d));
            }
            StreamEvent::PauseWriting => self.log.push(Recorded::PauseWriting),
            StreamEvent::ResumeWriting => self.log.push(Recorded::ResumeWriting),
            StreamEvent::ConnectionLost(r) => {
                self.log.push(Recorded::Lost(r.map(|e| e.to_string())))
            }
            _ => {}
        }
        Ok(())
    }
}

#[test]
fn start_tls_from_a_handle_on_both_ends_of_switchboard() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let slog = EventLog::new();
        let (server, port) = serve::<_, NoMessage>(&l, starttls_server(&slog)).await;
        let clog = EventLog::new();
        let ok = Rc::new(RefCell::new(false));
        let (cl, o) = (clog.clone(), ok.clone());
        let conn = l
            .create_connection::<_, NoMessage>(move || Client { log: cl, ok: o })
            .host("127.0.0.1")
            .port(port)
            .await
            .expect("connect");
        assert!(conn.transport.tls().is_none());
        conn.transport.write(b"STARTTLS\n").unwrap();
        until(&l, || *ok.borrow()).await;
        let tls = l
            .start_tls(conn.transport, client_config())
            .server_hostname("localhost")
            .await
            .expect("handshake");
        let info = tls.tls().expect("tls facts");
        assert_eq!(info.server_name.as_deref(), Some("localhost"));
        tls.write(b"over tls").unwrap();
        until(&l, || &clog.data()[..] == b"over tls").await;
        tls.close();
        until(&l, || clog.lost_count() == 1 && slog.lost_count() == 1).await;
        assert_eq!(clog.snapshot().last(), Some(&Recorded::Lost(None)));
        assert_eq!(slog.data(), Bytes::from_static(b"over tls"));
        server.close();
    });
}

#[test]
fn start_tls_handshake_failure_is_lost_with_the_tls_error() {
    let (lp, h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let slog = EventLog::new();
        let (server, port) = serve::<_, NoMessage>(&l, starttls_server(&slog)).await;
        let clog = EventLog::new();
        let ok = Rc::new(RefCell::new(false));
        let (cl, o) = (clog.clone(), ok.clone());
        let conn = l
            .create_connection::<_, NoMessage>(move || Client { log: cl, ok: o })
            .host("127.0.0.1")
            .port(port)
            .await
            .expect("connect");
        conn.transport.write(b"STARTTLS\n").unwrap();
        until(&l, || *ok.borrow()).await;
        let err = l
            .start_tls(conn.transport, client_config())
            .server_hostname("wrong.example")
            .await
            .expect_err("wrong name");
        assert!(err.to_string().contains("certificate"), "{err}");
        until(&l, || clog.lost_count() == 1 && slog.lost_count() == 1).await;
        // The protocol had its ConnectionMade: it hears of the failure.
        match clog.snapshot().last() {
            Some(Recorded::Lost(Some(why))) => assert!(why.contains("certificate"), "{why}"),
            other => panic!("{other:?}"),
        }
        // The server's protocol too (our alert); nothing reported.
        assert!(matches!(
            slog.snapshot().last(),
            Some(Recorded::Lost(Some(_)))
        ));
        assert!(h.take().is_empty());
        server.close();
    });
}

#[test]
fn start_tls_keeps_a_transport_paused_for_writing_consistent() {
    // Data written before the upgrade goes out in plaintext ahead of the
    // handshake, even when it is still queued, and the flow-control state
    // carries over: the protocol gets its ResumeWriting once the queue
    // drains, then TLS data flows.
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let slog = EventLog::new();
        let (server, port) = serve::<_, NoMessage>(&l, starttls_server(&slog)).await;
        let clog = EventLog::new();
        let ok = Rc::new(RefCell::new(false));
        let (cl, o) = (clog.clone(), ok.clone());
        let conn = l
            .create_connection::<_, NoMessage>(move || Client { log: cl, ok: o })
            .host("127.0.0.1")
            .port(port)
            .await
            .expect("connect");
        conn.transport.set_write_buffer_limits(Some(0), None);
        conn.transport.write(b"STARTTLS\n").unwrap();
        until(&l, || *ok.borrow()).await;
        let tls = l
            .start_tls(conn.transport, client_config())
            .server_hostname("localhost")
            .await
            .expect("handshake");
        let big = vec![7u8; 4 * 1024 * 1024];
        tls.write(&big).unwrap();
        assert!(tls.get_write_buffer_size() > 0);
        until(&l, || clog.data().len() == big.len()).await;
        assert!(clog.data().iter().all(|&b| b == 7));
        // Flow control counted the TLS records: paused, then resumed, once.
        let s = clog.snapshot();
        let pauses = s.iter().filter(|e| **e == Recorded::PauseWriting).count();
        let resumes = s.iter().filter(|e| **e == Recorded::ResumeWriting).count();
        assert_eq!(
            (pauses, resumes),
            (1, 1),
            "{:?}",
            s.iter().map(|e| e.name()).collect::<Vec<_>>()
        );
        tls.close();
        until(&l, || clog.lost_count() == 1).await;
        server.close();
    });
}
