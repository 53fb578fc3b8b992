//! TLS on connections and servers: `create_connection(.., ssl=..)`,
//! `create_server(.., ssl=..)`, `server_hostname`, `ssl_handshake_timeout`,
//! the SSL keys of `get_extra_info`, and TLS's half-close rules.
//! <https://docs.python.org/3/library/asyncio-eventloop.html#opening-network-connections>
//! and <https://docs.python.org/3/library/asyncio-protocol.html#asyncio.BaseTransport.get_extra_info>.
//!
//! Certificates are made fresh by rcgen (`support::tls`). Ids refer to
//! `docs/behavior.md` (H5, fault scenario 25).

mod support;

use std::future::{Future, IntoFuture};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use switchboard::testing::{check_stream_grammar, EventLog, Recorded, RecordingProtocol};
use switchboard::{Bytes, NetError, NoMessage, TlsError, TlsVersion, WriteError};
use switchboard::{ProtocolError, StreamEvent, StreamProtocol, StreamTransport};

use support::net::until;
use support::tls::{client_config, tls_connect, tls_echo_server};
use support::{new_loop, run_with_deadline};

#[test]
fn tls_echo_keeps_the_stream_grammar_on_both_sides() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let slog = EventLog::new();
        let (server, port) = tls_echo_server(&l, &slog).await;
        let client = RecordingProtocol::new();
        let clog = client.log();
        let conn = tls_connect::<_, NoMessage>(&l, port, move || client).await;
        // create_connection resolves after ConnectionMade, itself after the
        // handshake.
        assert_eq!(clog.snapshot(), vec![Recorded::ConnectionMade]);
        conn.transport.write(b"hello over tls").unwrap();
        until(&l, || &clog.data()[..] == b"hello over tls").await;
        conn.transport.close();
        until(&l, || clog.lost_count() == 1 && slog.lost_count() == 1).await;
        check_stream_grammar(&clog.snapshot()).expect("client grammar");
        check_stream_grammar(&slog.snapshot()).expect("server grammar");
        assert_eq!(clog.snapshot().last(), Some(&Recorded::Lost(None)));
        // The server got our close_notify as its EofReceived, then closed.
        let s = slog.snapshot();
        assert!(s.contains(&Recorded::Eof), "{s:?}");
        assert_eq!(s.last(), Some(&Recorded::Lost(None)));
        server.close();
    });
}

/// A protocol that writes what it is told in `ConnectionMade`, and records
/// what its transport says of TLS.
struct Probe {
    log: EventLog,
    seen: std::rc::Rc<std::cell::RefCell<Vec<String>>>,
}

impl StreamProtocol for Probe {
    fn handle(
        &mut self,
        ev: StreamEvent,
        t: &mut dyn StreamTransport,
    ) -> Result<(), ProtocolError> {
        match ev {
            StreamEvent::ConnectionMade => {
                let info = t.tls().expect("tls facts at ConnectionMade");
                self.seen.borrow_mut().push(format!(
                    "{} sni={:?} alpn={:?} certs={}",
                    info.version,
                    info.server_name,
                    info.alpn_protocol,
                    info.peer_certificates.len()
                ));
                assert!(!t.can_write_eof());
                assert!(matches!(t.write_eof(), Err(WriteError::EofNotSupported)));
                self.log.push(Recorded::ConnectionMade);
            }
            StreamEvent::ConnectionLost(r) => {
                self.log.push(Recorded::Lost(r.map(|e| e.to_string())))
            }
            _ => {}
        }
        Ok(())
    }
}

#[test]
fn tls_info_gives_version_cipher_peer_chain_alpn_and_sni() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let s2 = seen.clone();
        let slog = EventLog::new();
        let sl = slog.clone();
        let server = l
            .create_server(move || Probe {
                log: sl.clone(),
                seen: s2.clone(),
            })
            .host("127.0.0.1")
            .port(0)
            .ssl(support::tls::server_config().alpn(["h2", "echo/1"]))
            .await
            .expect("bind");
        let port = server.sockets()[0].port();
        let conn = l
            .create_connection::<_, NoMessage>(RecordingProtocol::new)
            .host("127.0.0.1")
            .port(port)
            .ssl(client_config().alpn(["echo/1"]))
            .server_hostname("localhost")
            .await
            .expect("connect");
        let info = conn.transport.tls().expect("tls facts");
        assert_eq!(info.version, TlsVersion::Tls13);
        assert_eq!(info.version.as_str(), "TLSv1.3");
        assert!(info.cipher.starts_with("TLS13_"), "{}", info.cipher);
        assert_eq!(info.alpn_protocol.as_deref(), Some(&b"echo/1"[..]));
        assert_eq!(info.server_name.as_deref(), Some("localhost"));
        // The server sent its leaf and the CA.
        assert_eq!(info.peer_certificates.len(), 2);
        until(&l, || made(&slog) == 1).await;
        assert_eq!(
            seen.borrow().as_slice(),
            ["TLSv1.3 sni=Some(\"localhost\") alpn=Some(b\"echo/1\") certs=0"]
        );
        conn.transport.close();
        until(&l, || slog.lost_count() == 1).await;
        server.close();
    });
}

fn made(log: &EventLog) -> usize {
    log.snapshot()
        .iter()
        .filter(|e| **e == Recorded::ConnectionMade)
        .count()
}

#[test]
fn tls_wrong_hostname_is_refused() {
    let (lp, h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let slog = EventLog::new();
        let (server, port) = tls_echo_server(&l, &slog).await;
        let made_client = std::rc::Rc::new(std::cell::Cell::new(false));
        let err = l
            .create_connection::<_, NoMessage>(RecordingProtocol::new)
            .host("127.0.0.1")
            .port(port)
            .ssl(client_config())
            .server_hostname("example.com")
            .await
            .expect_err("the certificate is not for example.com");
        assert!(
            matches!(err, NetError::Tls(TlsError::Certificate { .. })),
            "{err:?}"
        );
        assert!(err.to_string().contains("certificate"), "{err}");
        made_client.set(true);
        // The server saw a failed handshake: its protocol never got
        // ConnectionMade, and the failure was reported, once.
        let seen = h.watch();
        until(&l, || !seen.borrow().is_empty()).await;
        assert_eq!(h.take_one().message, "SSL handshake failed");
        assert_eq!(made(&slog), 0);
        server.close();
    });
}

#[test]
fn tls_empty_server_hostname_checks_the_chain_but_not_the_name() {
    let (lp, h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let slog = EventLog::new();
        let (server, port) = tls_echo_server(&l, &slog).await;
        let conn = l
            .create_connection::<_, NoMessage>(RecordingProtocol::new)
            .host("127.0.0.1")
            .port(port)
            .ssl(client_config())
            .server_hostname("")
            .await
            .expect("the name is not checked");
        assert_eq!(conn.transport.tls().expect("tls").server_name, None);
        conn.transport.close();
        until(&l, || slog.lost_count() == 1).await;
        // An untrusted chain is still refused.
        let other = support::tls::make_pki(&["localhost"]);
        let stranger =
            switchboard::TlsClientConfig::from_root_pem(other.ca_pem.as_bytes()).expect("config");
        let err = l
            .create_connection::<_, NoMessage>(RecordingProtocol::new)
            .host("127.0.0.1")
            .port(port)
            .ssl(stranger)
            .server_hostname("")
            .await
            .expect_err("unknown issuer");
        assert!(
            matches!(err, NetError::Tls(TlsError::Certificate { .. })),
            "{err:?}"
        );
        // The server heard the client's alert: a failed handshake, reported
        // once.
        let seen = h.watch();
        until(&l, || !seen.borrow().is_empty()).await;
        assert_eq!(h.take_one().message, "SSL handshake failed");
        server.close();
    });
}

#[test]
fn fault_25_handshake_timeout_against_a_silent_peer() {
    let (lp, h) = new_loop();
    let l = lp.clone();
    // A peer that accepts and never says a word.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let peer = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("accept");
        let mut sink = Vec::new();
        // Returns once we abort the connection.
        let _ = s.read_to_end(&mut sink);
    });
    run_with_deadline(&lp, async move {
        let start = std::time::Instant::now();
        let err = l
            .create_connection::<_, NoMessage>(RecordingProtocol::new)
            .host("127.0.0.1")
            .port(port)
            .ssl(client_config())
            .server_hostname("localhost")
            .ssl_handshake_timeout(Duration::from_millis(200))
            .await
            .expect_err("the peer never answers");
        assert!(
            matches!(err, NetError::Tls(TlsError::HandshakeTimedOut { .. })),
            "{err:?}"
        );
        assert!(start.elapsed() >= Duration::from_millis(200));
    });
    peer.join().expect("peer saw the abort");
    // No exception-handler noise for a timeout.
    assert!(h.take().is_empty());
}

#[test]
fn fault_25_server_handshake_timeout_ends_that_connection_alone() {
    let (lp, h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let slog = EventLog::new();
        let sl = slog.clone();
        let server = l
            .create_server::<_, NoMessage>(move || {
                RecordingProtocol::with_log(sl.clone()).echo(true)
            })
            .host("127.0.0.1")
            .port(0)
            .ssl(support::tls::server_config())
            .ssl_handshake_timeout(Duration::from_millis(150))
            .await
            .expect("bind");
        let port = server.sockets()[0].port();
        // A silent client, and one that speaks garbage.
        let mut silent = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let mut garbage = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        garbage.write_all(b"GET / HTTP/1.0\r\n\r\n").expect("write");
        // A real client meanwhile works.
        let client = RecordingProtocol::new();
        let clog = client.log();
        let conn = tls_connect::<_, NoMessage>(&l, port, move || client).await;
        conn.transport.write(b"still fine").unwrap();
        until(&l, || &clog.data()[..] == b"still fine").await;
        // The silent one is cut after the timeout (no noise); the garbage
        // one at once (reported).
        let t = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = silent.read_to_end(&mut buf);
            let _ = garbage.read_to_end(&mut buf);
        });
        until(&l, || t.is_finished()).await;
        let calls = h.take();
        assert_eq!(calls.len(), 1, "{calls:?}");
        assert_eq!(calls[0].message, "SSL handshake failed");
        assert_eq!(made(&slog), 1);
        assert_eq!(slog.lost_count(), 0);
        conn.transport.close();
        until(&l, || clog.lost_count() == 1).await;
        server.close();
    });
}

#[test]
fn h5_close_notify_is_eof_received_and_keep_open_is_ignored() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let slog = EventLog::new();
        let sl = slog.clone();
        // The server asks to stay open after EOF: TLS closes anyway.
        let (server, port) = support::tls::tls_serve::<_, NoMessage>(&l, move || {
            RecordingProtocol::with_log(sl.clone()).keep_open_on_eof(true)
        })
        .await;
        let client = RecordingProtocol::new();
        let clog = client.log();
        let conn = tls_connect::<_, NoMessage>(&l, port, move || client).await;
        conn.transport.write(b"bye").unwrap();
        conn.transport.close();
        until(&l, || slog.lost_count() == 1 && clog.lost_count() == 1).await;
        assert_eq!(
            slog.snapshot(),
            vec![
                Recorded::ConnectionMade,
                Recorded::Data(Bytes::from_static(b"bye")),
                Recorded::Eof,
                Recorded::Lost(None),
            ]
        );
        assert_eq!(clog.snapshot().last(), Some(&Recorded::Lost(None)));
        server.close();
    });
}

#[test]
fn tls_truncated_stream_is_an_error_not_a_clean_eof() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let slog = EventLog::new();
        let (server, port) = tls_echo_server(&l, &slog).await;
        // A blocking rustls client that cuts the TCP connection under TLS:
        // shutdown(SHUT_WR) sends a FIN without any close_notify.
        let peer = std::thread::spawn(move || {
            let tcp = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
            let name = "localhost".try_into().expect("name");
            let conn =
                switchboard::rustls::ClientConnection::new(client_config().rustls().clone(), name)
                    .expect("client");
            let mut tls = switchboard::rustls::StreamOwned::new(conn, tcp);
            tls.write_all(b"x").expect("write");
            let mut one = [0u8; 1];
            tls.read_exact(&mut one).expect("echo");
            tls.sock
                .shutdown(std::net::Shutdown::Write)
                .expect("shutdown");
            let mut rest = Vec::new();
            let _ = tls.sock.read_to_end(&mut rest);
            one
        });
        until(&l, || slog.lost_count() == 1).await;
        assert_eq!(&peer.join().expect("peer")[..], b"x");
        let s = slog.snapshot();
        assert!(!s.contains(&Recorded::Eof), "{s:?}");
        assert_eq!(
            s.last(),
            Some(&Recorded::Lost(Some(TlsError::Truncated.to_string())))
        );
        server.close();
    });
}

#[test]
fn tls_shutdown_timeout_aborts_a_close_the_peer_never_answers() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (stop, wait) = std::sync::mpsc::channel::<()>();
    // A TLS server that completes the handshake, then neither answers our
    // close_notify nor closes.
    let peer = std::thread::spawn(move || {
        let (mut tcp, _) = listener.accept().expect("accept");
        let mut conn = switchboard::rustls::ServerConnection::new(
            support::tls::server_config().rustls().clone(),
        )
        .expect("server");
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp).expect("handshake");
        }
        let _ = wait.recv();
    });
    run_with_deadline(&lp, async move {
        let client = RecordingProtocol::new();
        let clog = client.log();
        let conn = l
            .create_connection::<_, NoMessage>(move || client)
            .host("127.0.0.1")
            .port(port)
            .ssl(client_config())
            .server_hostname("localhost")
            .ssl_shutdown_timeout(Duration::from_millis(200))
            .await
            .expect("connect");
        conn.transport.close();
        assert!(conn.transport.is_closing());
        until(&l, || clog.lost_count() == 1).await;
        let timeout = Duration::from_millis(200);
        assert_eq!(
            clog.snapshot().last(),
            Some(&Recorded::Lost(Some(
                TlsError::ShutdownTimedOut { timeout }.to_string()
            )))
        );
    });
    let _ = stop.send(());
    peer.join().expect("peer");
}

#[test]
fn fault_25_a_corrupted_record_is_lost_with_a_tls_error() {
    let (lp, h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let slog = EventLog::new();
        let (server, port) = tls_echo_server(&l, &slog).await;
        // A blocking rustls client that finishes the handshake, then sends
        // an application-data record whose bytes were tampered with.
        let peer = std::thread::spawn(move || {
            let mut tcp = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
            let mut conn = switchboard::rustls::ClientConnection::new(
                client_config().rustls().clone(),
                "localhost".try_into().expect("name"),
            )
            .expect("client");
            while conn.is_handshaking() {
                conn.complete_io(&mut tcp).expect("handshake");
            }
            conn.writer().write_all(b"tampered").expect("plaintext");
            let mut record = Vec::new();
            conn.write_tls(&mut record).expect("record");
            let last = record.len() - 1;
            record[last] ^= 0xff;
            tcp.write_all(&record).expect("write");
            let mut rest = Vec::new();
            // The server aborts: read until it is gone.
            let _ = tcp.read_to_end(&mut rest);
        });
        until(&l, || slog.lost_count() == 1).await;
        peer.join().expect("peer");
        match slog.snapshot().last() {
            Some(Recorded::Lost(Some(why))) => assert!(why.starts_with("tls error"), "{why}"),
            other => panic!("{other:?}"),
        }
        // The protocol heard it in ConnectionLost; the handler was not called.
        assert!(h.take().is_empty());
        server.close();
    });
}

#[test]
fn tls_write_eof_through_a_handle_is_refused_as_the_transport_refuses_it() {
    let (lp, h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let slog = EventLog::new();
        let (server, port) = tls_echo_server(&l, &slog).await;
        let client = RecordingProtocol::new();
        let clog = client.log();
        let conn = tls_connect::<_, NoMessage>(&l, port, move || client).await;
        // One shape per verb: the handle refuses as `t.write_eof()` does.
        assert!(!conn.transport.can_write_eof());
        assert_eq!(
            conn.transport.write_eof(),
            Err(switchboard::WriteError::EofNotSupported)
        );
        // The connection goes on, and nothing was reported.
        assert!(h.take().is_empty());
        conn.transport.write(b"still open").unwrap();
        until(&l, || &clog.data()[..] == b"still open").await;
        conn.transport.close();
        until(&l, || clog.lost_count() == 1).await;
        server.close();
    });
}

#[test]
fn tls_close_during_the_handshake_waits_for_it_and_flushes_what_was_written() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let slog = EventLog::new();
        let (server, port) = tls_echo_server(&l, &slog).await;
        // A plain connection upgraded from a handle: the protocol writes
        // and closes while the handshake is still under way.
        let conn = l
            .create_connection::<_, NoMessage>(RecordingProtocol::new)
            .host("127.0.0.1")
            .port(port)
            .await
            .expect("connect");
        let upgrade = l
            .start_tls(conn.transport.clone(), client_config())
            .server_hostname("localhost")
            .into_future();
        let mut upgrade = std::pin::pin!(upgrade);
        // Poll once: the upgrade is queued, ahead of the write and close.
        std::future::poll_fn(|cx| {
            assert!(upgrade.as_mut().poll(cx).is_pending());
            std::task::Poll::Ready(())
        })
        .await;
        conn.transport.write(b"early bird").unwrap();
        conn.transport.close();
        assert!(conn.transport.is_closing());
        upgrade.await.expect("the handshake completes");
        until(&l, || slog.lost_count() == 1).await;
        assert_eq!(&slog.data()[..], b"early bird");
        server.close();
    });
}

#[test]
fn tls_system_roots_load_when_the_system_has_them() {
    let has_store = std::path::Path::new("/etc/ssl/certs").exists();
    match switchboard::TlsClientConfig::system_roots() {
        Ok(c) => assert!(c.rustls().alpn_protocols.is_empty()),
        Err(e) => assert!(
            !has_store,
            "system roots failed though /etc/ssl/certs exists: {e}"
        ),
    }
}

#[test]
fn tls_connect_accepted_socket_serves_tls_on_a_socket_accepted_elsewhere() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    run_with_deadline(&lp, async move {
        let connecting = l
            .create_connection::<_, NoMessage>(RecordingProtocol::new)
            .host("127.0.0.1")
            .port(port)
            .ssl(client_config())
            .server_hostname("localhost");
        let client = l.create_task(connecting.into_future()).expect("task");
        // Accept without blocking the loop, which runs the connecting task.
        listener.set_nonblocking(true).expect("nonblocking");
        let accepted = loop {
            match listener.accept() {
                Ok((s, _)) => break s,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    let _ = l.sleep(Duration::from_millis(1)).await;
                }
                Err(e) => panic!("accept: {e}"),
            }
        };
        let slog = EventLog::new();
        let sl = slog.clone();
        let server = l
            .connect_accepted_socket::<_, NoMessage>(
                move || RecordingProtocol::with_log(sl).echo(true),
                accepted,
            )
            .ssl(support::tls::server_config())
            .await
            .expect("handshake");
        assert!(server.transport.tls().is_some());
        let conn = client.await.expect("client handshake");
        conn.transport.write(b"accepted").unwrap();
        until(&l, || &slog.data()[..] == b"accepted").await;
        conn.transport.close();
        until(&l, || slog.lost_count() == 1).await;
    });
}
