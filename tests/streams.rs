//! asyncio's high-level streams: `open_connection`, `start_server`,
//! `StreamReader`, `StreamWriter`.
//! <https://docs.python.org/3/library/asyncio-stream.html>
//!
//! Ids refer to docs/behavior.md (HS).

mod support;

use std::cell::RefCell;
use std::future::Future;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::rc::Rc;
use std::time::Duration;

use switchboard::{EventLoop, StreamError, StreamReader, StreamWriter};

use support::net::until;
use support::streams::dial;
use support::{new_loop, run_with_deadline};

/// A server whose callback is `cb`, on 127.0.0.1; returns it and its port.
async fn serve<F, Fut>(lp: &EventLoop, limit: usize, cb: F) -> (switchboard::Server, u16)
where
    F: Fn(StreamReader, StreamWriter) -> Fut + 'static,
    Fut: std::future::Future<Output = Result<(), switchboard::Error>> + 'static,
{
    let server = lp
        .start_server(cb)
        .host("127.0.0.1")
        .port(0)
        .limit(limit)
        .await
        .expect("server");
    let port = server.sockets()[0].port();
    (server, port)
}

/// A server that writes `data` to each connection and closes it.
async fn sender(lp: &EventLoop, data: &'static [u8]) -> (switchboard::Server, u16) {
    serve(lp, 1024, move |_r, mut w| async move {
        w.write(data);
        w.close();
        Ok(())
    })
    .await
}

#[test]
fn hs1_readline_readuntil_readexactly_and_read_follow_asyncio() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let (server, port) = sender(&l, b"one\ntwo||three12345last").await;
        let (mut r, _w) = dial(&l, port).await;
        assert_eq!(&r.readline().await.unwrap()[..], b"one\n");
        assert_eq!(&r.readuntil(b"||").await.unwrap()[..], b"two||");
        assert_eq!(&r.readexactly(5).await.unwrap()[..], b"three");
        assert_eq!(&r.read(3).await.unwrap()[..], b"123");
        assert!(!r.at_eof());
        // EOF inside readexactly: IncompleteRead carries what was there.
        match r.readexactly(100).await {
            Err(StreamError::IncompleteRead { partial, expected }) => {
                assert_eq!(&partial[..], b"45last");
                assert_eq!(expected, Some(100));
            }
            other => panic!("expected IncompleteRead, got {other:?}"),
        }
        assert!(r.at_eof());
        assert!(r.readline().await.unwrap().is_empty());
        assert!(r.read(10).await.unwrap().is_empty());
        server.close();
    });
}

#[test]
fn hs1_readline_at_eof_gives_the_rest_then_empty_and_readuntil_fails_incomplete() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let (server, port) = sender(&l, b"no newline").await;
        let (mut r, _w) = dial(&l, port).await;
        assert_eq!(&r.readline().await.unwrap()[..], b"no newline");
        assert!(r.readline().await.unwrap().is_empty());
        let (mut r2, _w2) = dial(&l, port).await;
        match r2.readuntil(b"\r\n").await {
            Err(StreamError::IncompleteRead {
                partial,
                expected: None,
            }) => {
                assert_eq!(&partial[..], b"no newline")
            }
            other => panic!("expected IncompleteRead, got {other:?}"),
        }
        assert!(matches!(
            r2.readuntil(b"").await,
            Err(StreamError::EmptySeparator)
        ));
        server.close();
    });
}

#[test]
fn hs2_no_separator_within_the_limit_is_a_limit_overrun() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let (server, port) = sender(&l, b"0123456789abcdefXYZ\nshort\n0123456789abcdefghij").await;
        let (mut r, _w) = l
            .open_connection()
            .host("127.0.0.1")
            .port(port)
            .limit(16)
            .await
            .unwrap();
        // readuntil leaves the data where it was.
        let got = r.readuntil(b"\n").await;
        assert!(
            matches!(
                got,
                Err(StreamError::LimitOverrun {
                    consumed: 19,
                    limit: 16
                })
            ),
            "{got:?}"
        );
        // readline drops the long line through its newline, as asyncio.
        assert!(matches!(
            r.readline().await,
            Err(StreamError::LimitOverrun { .. })
        ));
        assert_eq!(&r.readline().await.unwrap()[..], b"short\n");
        // A long line with no newline at all: the buffer is dropped.
        assert!(matches!(
            r.readline().await,
            Err(StreamError::LimitOverrun { .. })
        ));
        server.close();
    });
}

#[test]
fn hs3_a_reader_nobody_reads_stops_its_transport_at_twice_the_limit() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    const TOTAL: usize = 8 << 20;
    run_with_deadline(&lp, async move {
        let server_writer: Rc<RefCell<Option<switchboard::TransportHandle>>> = Rc::default();
        let keep = server_writer.clone();
        let (server, port) = serve(&l, 1024, move |_r, mut w| {
            let keep = keep.clone();
            async move {
                *keep.borrow_mut() = w.transport().cloned();
                w.write(&vec![7u8; TOTAL]);
                w.drain().await?;
                w.close();
                Ok(())
            }
        })
        .await;
        let (mut r, w) = l
            .open_connection()
            .host("127.0.0.1")
            .port(port)
            .limit(64 * 1024)
            .await
            .unwrap();
        let client = w.transport().unwrap().clone();
        // Nobody reads: the client's transport pauses, and the bytes wait
        // in the server's write buffer instead of the reader's.
        until(&l, || !client.is_reading()).await;
        let sent = || {
            server_writer
                .borrow()
                .as_ref()
                .map(|t| t.get_write_buffer_size())
        };
        until(&l, || sent().is_some_and(|n| n > 0)).await;
        for _ in 0..50 {
            switchboard::sleep(Duration::from_millis(1)).await;
        }
        assert!(
            !client.is_reading(),
            "reading stays paused while nobody reads"
        );
        assert!(sent().unwrap() > 0, "the rest waits on the server's side");
        // Reading takes everything, in order, and resumes the transport.
        let mut got = 0;
        loop {
            let chunk = r.read(1 << 20).await.unwrap();
            if chunk.is_empty() {
                break;
            }
            assert!(chunk.iter().all(|&b| b == 7));
            got += chunk.len();
        }
        assert_eq!(got, TOTAL);
        server.close();
    });
}

#[test]
fn hs4_drain_waits_above_the_high_mark_and_fails_once_the_connection_is_lost() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        // A server that never reads, and aborts when told.
        let server_side: Rc<RefCell<Vec<StreamWriter>>> = Rc::default();
        let keep = server_side.clone();
        let (server, port) = serve(&l, 1024, move |_r, w| {
            keep.borrow_mut().push(w);
            async { Ok(()) }
        })
        .await;
        let (_r, mut w) = dial(&l, port).await;
        w.write(&vec![1u8; 16 << 20]);
        let waited = switchboard::wait_for(w.drain(), Duration::from_millis(200)).await;
        assert!(
            waited.is_err(),
            "drain returned with 16 MiB unsent: {waited:?}"
        );
        until(&l, || !server_side.borrow().is_empty()).await;
        server_side.borrow()[0].transport().unwrap().abort();
        let lost = w.drain().await;
        assert!(
            matches!(
                lost,
                Err(StreamError::ConnectionLost(_) | StreamError::Closed)
            ),
            "{lost:?}"
        );
        server.close();
    });
}

#[test]
fn hs4_drain_returns_at_once_below_the_high_mark_and_reports_a_refused_write() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let (server, port) = serve(&l, 1024, |mut r, _w| async move {
            while !r.read(4096).await?.is_empty() {}
            Ok(())
        })
        .await;
        let (_r, mut w) = dial(&l, port).await;
        w.write(b"small");
        // No turn of the loop needed: a drain below the mark is ready at once.
        {
            let mut drain = std::pin::pin!(w.drain());
            let waker = std::task::Waker::noop();
            let ready = drain
                .as_mut()
                .poll(&mut std::task::Context::from_waker(waker));
            assert!(matches!(ready, std::task::Poll::Ready(Ok(()))));
        }
        w.write_eof().unwrap();
        w.write(b"after eof");
        assert!(matches!(
            w.drain().await,
            Err(StreamError::Write(switchboard::WriteError::AfterWriteEof))
        ));
        server.close();
    });
}

#[test]
fn hs5_an_error_from_the_callback_closes_that_connection_only_and_is_reported() {
    let (lp, h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let (server, port) = serve(&l, 1024, |mut r, mut w| async move {
            loop {
                let line = r.readline().await?;
                if line.is_empty() {
                    return Ok(());
                }
                if &line[..] == b"boom\n" {
                    return Err(switchboard::Error::Io(std::io::Error::other("boom")));
                }
                w.write(&line);
                w.drain().await?;
            }
        })
        .await;
        let (mut r1, mut w1) = dial(&l, port).await;
        let (mut r2, mut w2) = dial(&l, port).await;
        w2.write(b"boom\n");
        assert!(
            r2.readline().await.unwrap().is_empty(),
            "that connection is closed"
        );
        w1.write(b"still here\n");
        assert_eq!(&r1.readline().await.unwrap()[..], b"still here\n");
        let ctx = h.take_one();
        assert!(ctx.message.contains("callback failed"), "{}", ctx.message);
        assert!(format!("{:?}", ctx.exception).contains("boom"));
        w1.close();
        server.close();
    });
}

#[test]
fn hs6_eof_keeps_the_writer_open_and_wait_closed_waits_for_the_end() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        // Reads to EOF, then answers with how much it read.
        let (server, port) = serve(&l, 1024, |mut r, mut w| async move {
            let mut n = 0;
            loop {
                let chunk = r.read(4096).await?;
                if chunk.is_empty() {
                    break;
                }
                n += chunk.len();
            }
            assert!(r.at_eof());
            w.write(format!("{n}\n").as_bytes());
            w.close();
            w.wait_closed().await?;
            Ok(())
        })
        .await;
        let (mut r, mut w) = dial(&l, port).await;
        assert!(w.can_write_eof());
        w.write(&[0u8; 10_000]);
        w.write_eof().unwrap();
        assert_eq!(&r.readline().await.unwrap()[..], b"10000\n");
        assert!(r.readline().await.unwrap().is_empty());
        w.close();
        assert!(w.is_closing());
        w.wait_closed().await.unwrap();
        server.close();
    });
}

#[test]
fn hs6_a_callback_that_only_reads_keeps_its_connection() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        // The writer is not moved into the future: it is dropped at once,
        // and the reader alone keeps the connection.
        let (server, port) = serve(&l, 1024, |mut r, _w| async move {
            let line = r.readline().await?;
            assert_eq!(&line[..], b"late\n");
            Ok(())
        })
        .await;
        let (mut r, mut w) = dial(&l, port).await;
        until(&l, || server.connection_count() == 1).await;
        for _ in 0..20 {
            switchboard::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(server.connection_count(), 1, "the connection stays open");
        w.write(b"late\n");
        // The callback read its line and returned: both halves gone, closed.
        assert!(r.readline().await.unwrap().is_empty());
        until(&l, || server.connection_count() == 0).await;
        server.close();
    });
}

#[test]
fn hs6_a_dropped_writer_closes_its_connection() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        // The callback returns without closing: its writer is dropped.
        let (server, port) = serve(&l, 1024, |_r, mut w| async move {
            w.write(b"bye\n");
            Ok(())
        })
        .await;
        let (mut r, _w) = dial(&l, port).await;
        assert_eq!(&r.readline().await.unwrap()[..], b"bye\n");
        assert!(r.readline().await.unwrap().is_empty());
        until(&l, || server.connection_count() == 0).await;
        server.close();
    });
}

#[test]
fn hs1_a_blocking_std_client_talks_to_a_stream_server() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let (server, port) = serve(&l, 1024, |mut r, mut w| async move {
            let line = r.readline().await?;
            w.write(&line.to_ascii_uppercase());
            w.drain().await?;
            w.close();
            Ok(())
        })
        .await;
        let client = std::thread::spawn(move || {
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            s.write_all(b"shout\n").unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).unwrap();
            out
        });
        until(&l, || client.is_finished()).await;
        assert_eq!(client.join().unwrap(), "SHOUT\n");
        server.close();
    });
}

#[test]
fn hs6_run_returning_with_live_stream_tasks_closes_them_quietly() {
    // main returns while a server callback waits on its reader and a client
    // holds its writer: the loop closes, the tasks and writers are dropped
    // (each writer's drop closes its transport), and nothing panics.
    let out = support::run(|lp| async move {
        let _z4 = support::RecordingHandler::install(&lp);
        let server = lp
            .start_server(|mut r, _w| async move {
                r.readline().await?;
                Ok::<(), switchboard::Error>(())
            })
            .host("127.0.0.1")
            .port(0)
            .await?;
        let port = server.sockets()[0].port();
        let (_r, mut w) = lp.open_connection().host("127.0.0.1").port(port).await?;
        w.write(b"no newline, the server keeps waiting");
        until(&lp, || server.connection_count() == 1).await;
        Ok::<_, switchboard::Error>(port)
    });
    let port = out.expect("run ends cleanly");
    // The listener is gone with the loop.
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
}
