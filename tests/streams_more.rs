//! Streams over TLS and Unix sockets, upgraded with `start_tls`, and through
//! the `futures-io` traits.
//! <https://docs.python.org/3/library/asyncio-stream.html>
//!
//! Ids refer to docs/behavior.md (HS).

mod support;

use futures_util::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use switchboard::{StreamReader, StreamWriter, TlsConfig};

use support::streams::dial;
use support::tls::{client_config, server_config};
use support::{new_loop, run_with_deadline};

/// Echoes lines upper-cased until EOF, then closes.
async fn shout(mut r: StreamReader, mut w: StreamWriter) -> Result<(), switchboard::Error> {
    loop {
        let line = r.readline().await?;
        if line.is_empty() {
            break;
        }
        w.write(&line.to_ascii_uppercase());
        w.drain().await?;
    }
    w.close();
    Ok(())
}

#[test]
fn hs7_open_connection_and_start_server_over_tls() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let server = l
            .start_server(shout)
            .host("127.0.0.1")
            .port(0)
            .ssl(server_config())
            .await
            .unwrap();
        let port = server.sockets()[0].port();
        let (mut r, mut w) = l
            .open_connection()
            .host("127.0.0.1")
            .port(port)
            .ssl(client_config())
            .server_hostname("localhost")
            .await
            .unwrap();
        let tls = w.tls().expect("the handshake is done");
        assert_eq!(tls.version, switchboard::TlsVersion::Tls13);
        assert!(!w.can_write_eof(), "TLS cannot half-close");
        w.write(b"secret\n");
        assert_eq!(&r.readline().await.unwrap()[..], b"SECRET\n");
        w.close();
        w.wait_closed().await.unwrap();
        server.close();
    });
}

#[test]
fn hs7_start_tls_upgrades_a_plain_stream_and_the_reader_reads_on() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        // The server answers "ok\n" to STARTTLS, upgrades, then shouts.
        let server = l
            .start_server(|mut r, mut w| async move {
                assert_eq!(&r.readline().await?[..], b"STARTTLS\n");
                w.write(b"ok\n");
                w.drain().await?;
                w.start_tls(TlsConfig::Server(server_config()), None)
                    .await?;
                shout(r, w).await
            })
            .host("127.0.0.1")
            .port(0)
            .await
            .unwrap();
        let port = server.sockets()[0].port();
        let (mut r, mut w) = dial(&l, port).await;
        w.write(b"STARTTLS\n");
        assert_eq!(&r.readline().await.unwrap()[..], b"ok\n");
        assert!(w.tls().is_none());
        w.start_tls(client_config(), Some("localhost"))
            .await
            .unwrap();
        assert!(w.tls().is_some());
        w.write(b"now private\n");
        assert_eq!(&r.readline().await.unwrap()[..], b"NOW PRIVATE\n");
        w.close();
        server.close();
    });
}

#[test]
fn hs8_unix_socket_streams_behave_like_tcp() {
    let (lp, h) = new_loop();
    let l = lp.clone();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sock");
    run_with_deadline(&lp, async move {
        let server = l
            .start_unix_server(shout)
            .path(&path)
            .limit(8)
            .await
            .unwrap();
        let (mut r, mut w) = l.open_unix_connection().path(&path).await.unwrap();
        w.write(b"unix\n");
        assert_eq!(&r.readline().await.unwrap()[..], b"UNIX\n");
        // The server's limit applies: a 20-byte line overruns 8.
        w.write(b"aaaaaaaaaaaaaaaaaaa\n");
        assert!(
            r.readline().await.unwrap().is_empty(),
            "the server gave up on it"
        );
        let ctx = h.take_one();
        assert!(format!("{:?}", ctx.exception).contains("limit of 8 bytes"));
        server.close();
    });
}

#[test]
fn hs6_futures_io_traits_read_lines_and_write_all() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let server = l
            .start_server(|mut r, mut w| async move {
                // Through AsyncBufRead/AsyncWrite only.
                let mut line = String::new();
                while r.read_line(&mut line).await? > 0 {
                    w.write_all(line.to_uppercase().as_bytes()).await?;
                    line.clear();
                }
                w.flush().await?;
                AsyncWriteExt::close(&mut w).await?;
                Ok::<(), std::io::Error>(())
            })
            .host("127.0.0.1")
            .port(0)
            .await
            .unwrap();
        let port = server.sockets()[0].port();
        let (mut r, mut w) = dial(&l, port).await;
        w.write_all(b"alpha\nbeta\n").await.unwrap();
        w.flush().await.unwrap();
        w.write_eof().unwrap();
        let mut all = String::new();
        r.read_to_string(&mut all).await.unwrap();
        assert_eq!(all, "ALPHA\nBETA\n");
        server.close();
    });
}

/// Forwards what its connection receives to a stream writer: the writer is
/// used from inside another transport's handler.
struct Forward(std::rc::Rc<std::cell::RefCell<Option<StreamWriter>>>);

impl switchboard::StreamProtocol for Forward {
    fn handle(
        &mut self,
        ev: switchboard::StreamEvent,
        _t: &mut dyn switchboard::StreamTransport,
    ) -> Result<(), switchboard::ProtocolError> {
        if let switchboard::StreamEvent::DataReceived(data) = ev {
            if let Some(w) = self.0.borrow_mut().as_mut() {
                w.write(&data);
            }
        }
        Ok(())
    }
}

#[test]
fn hs4_writes_keep_their_order_from_tasks_and_from_other_handlers() {
    use std::io::Write as _;
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        // An upper-casing stream server; our writer is used both from this
        // task and from inside a plain protocol's handler.
        let server = l
            .start_server(shout)
            .host("127.0.0.1")
            .port(0)
            .await
            .unwrap();
        let port = server.sockets()[0].port();
        let (mut r, w) = dial(&l, port).await;
        let slot = std::rc::Rc::new(std::cell::RefCell::new(Some(w)));
        let s2 = slot.clone();
        let relay = l
            .create_server(move || Forward(s2.clone()))
            .host("127.0.0.1")
            .port(0)
            .await
            .unwrap();
        let relay_port = relay.sockets()[0].port();
        let feeder = std::thread::spawn(move || {
            let mut s = std::net::TcpStream::connect(("127.0.0.1", relay_port)).unwrap();
            for i in 0..200 {
                s.write_all(format!("relayed {i}\n").as_bytes()).unwrap();
            }
        });
        let mut expected = Vec::new();
        for i in 0..200 {
            expected.push(format!("RELAYED {i}\n"));
        }
        let mut got = Vec::new();
        while got.len() < 200 {
            let line = r.readline().await.unwrap();
            assert!(!line.is_empty(), "EOF after {} lines", got.len());
            got.push(String::from_utf8(line.to_vec()).unwrap());
        }
        assert_eq!(got, expected);
        // And from this task, after them.
        slot.borrow_mut().as_mut().unwrap().write(b"last\n");
        assert_eq!(&r.readline().await.unwrap()[..], b"LAST\n");
        feeder.join().unwrap();
        relay.close();
        server.close();
    });
}
