//! Write buffering, flow control, half-close and close versus abort over
//! loopback TCP (buffered protocols: `transport_buffered.rs`).
//! <https://docs.python.org/3/library/asyncio-protocol.html#flow-control-callbacks>
//! and <https://docs.python.org/3/library/asyncio-protocol.html#buffered-streaming-protocols>.
//!
//! Ids refer to docs/behavior.md (W1–W6, G1–G5, H1–H3, faults 1, 4–7).

mod support;

use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use switchboard::testing::{check_stream_grammar, EventLog, Recorded, RecordingProtocol};
use switchboard::Bytes;
use switchboard::{
    NoMessage, ProtocolError, StreamEvent, StreamProtocol, StreamTransport, WriteError, WriteLimits,
};

use support::net::{
    connect, count, made, payload, recording_server, serve, slow_peer, until, CHUNK,
};
use support::scripted::{scripted, Kind};
use support::{new_loop, run_with_deadline};

const CHUNKS: usize = 32; // 8 MiB

#[test]
fn w1_limits_defaults_and_derivations() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let peer = slow_peer();
    let port = peer.port;
    run_with_deadline(&lp, async move {
        let log = EventLog::new();
        let conn = connect(&l, port, move || {
            scripted(&log, |k, t, _| {
                if k == Kind::Made {
                    assert_eq!(
                        t.get_write_buffer_limits(),
                        WriteLimits {
                            low: 16384,
                            high: 65536
                        }
                    );
                    t.set_write_buffer_limits(None, Some(16385))
                        .expect("low only");
                    assert_eq!(
                        t.get_write_buffer_limits(),
                        WriteLimits {
                            low: 16385,
                            high: 65540
                        }
                    );
                    t.set_write_buffer_limits(Some(4000), None)
                        .expect("high only");
                    assert_eq!(
                        t.get_write_buffer_limits(),
                        WriteLimits {
                            low: 1000,
                            high: 4000
                        }
                    );
                    t.set_write_buffer_limits(Some(0), None).expect("zero");
                    assert_eq!(t.get_write_buffer_limits(), WriteLimits { low: 0, high: 0 });
                    assert!(t.set_write_buffer_limits(Some(10), Some(20)).is_err());
                    assert_eq!(t.get_write_buffer_limits(), WriteLimits { low: 0, high: 0 });
                    t.abort();
                }
                Ok(())
            })
        })
        .await;
        until(&l, || conn.transport.is_lost()).await;
    });
    let _ = peer.go.send(());
    peer.done.join().expect("peer");
}

#[test]
fn w2_w3_fault4_slow_consumer_pauses_once_then_resumes_once() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let peer = slow_peer();
    let port = peer.port;
    let go = peer.go.clone();
    let data = payload();
    let d2 = data.clone();
    run_with_deadline(&lp, async move {
        let log = EventLog::new();
        let lg = log.clone();
        let conn = connect(&l, port, move || {
            scripted(&lg, move |k, t, _| {
                if k == Kind::Made {
                    for _ in 0..CHUNKS {
                        t.write_bytes(d2.clone())?;
                    }
                    // W2: still one pause however much more is written.
                    t.write(b"more")?;
                }
                Ok(())
            })
        })
        .await;
        until(&l, || count(&log, &Recorded::PauseWriting) == 1).await;
        let buffered = conn.transport.get_write_buffer_size();
        assert!(buffered > 65536, "paused above high: {buffered}");
        assert!(
            buffered <= CHUNKS * CHUNK + 4,
            "holds only what we wrote: {buffered}"
        );
        // The peer is still not reading: nothing changes.
        support::turns(10).await;
        assert_eq!(count(&log, &Recorded::PauseWriting), 1);
        assert_eq!(count(&log, &Recorded::ResumeWriting), 0);
        go.send(()).expect("peer waits");
        until(&l, || count(&log, &Recorded::ResumeWriting) == 1).await;
        until(&l, || conn.transport.get_write_buffer_size() == 0).await;
        assert_eq!(count(&log, &Recorded::PauseWriting), 1);
        assert_eq!(count(&log, &Recorded::ResumeWriting), 1);
        conn.transport.close();
        until(&l, || log.lost_count() == 1).await;
        check_stream_grammar(&log.snapshot()).expect("grammar");
        assert_eq!(log.snapshot().last(), Some(&Recorded::Lost(None)));
    });
    let got = peer.done.join().expect("peer");
    assert_eq!(got.len(), CHUNKS * CHUNK + 4);
    assert_eq!(&got[..CHUNK], &data[..]);
    assert_eq!(&got[got.len() - 4..], b"more");
}

#[test]
fn w2_w5_pause_exactly_above_high_and_on_lowering_limits() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let peer = slow_peer();
    let port = peer.port;
    run_with_deadline(&lp, async move {
        let log = EventLog::new();
        let lg = log.clone();
        let conn = connect(&l, port, move || {
            scripted(&lg, move |k, t, log| {
                if k == Kind::Made {
                    t.set_write_buffer_limits(Some(usize::MAX / 2), None)
                        .expect("huge high");
                    let chunk = [7u8; 65536];
                    while t.get_write_buffer_size() == 0 {
                        t.write(&chunk)?; // fill the kernel
                    }
                    let cur = t.get_write_buffer_size();
                    t.set_write_buffer_limits(Some(cur + 10), Some(0))
                        .expect("limits");
                    t.write(&[1u8; 10])?;
                    assert_eq!(t.get_write_buffer_size(), cur + 10);
                    t.write(&[2u8; 1])?;
                    t.write(&[3u8; 5000])?;
                    // Events raised in a handler come after it returns.
                    assert_eq!(count(log, &Recorded::PauseWriting), 0);
                }
                if k == Kind::Pause {
                    // W5: lowering high while paused raises nothing more.
                    t.set_write_buffer_limits(Some(1), Some(0)).expect("limits");
                }
                Ok(())
            })
        })
        .await;
        until(&l, || count(&log, &Recorded::PauseWriting) == 1).await;
        support::turns(10).await;
        assert_eq!(count(&log, &Recorded::PauseWriting), 1);
        conn.transport.abort();
        until(&l, || log.lost_count() == 1).await;
        check_stream_grammar(&log.snapshot()).expect("grammar");
    });
    let _ = peer.go.send(());
    peer.done.join().expect("peer");
}

#[test]
fn w5_lowering_high_below_the_buffer_pauses_at_once() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let peer = slow_peer();
    let port = peer.port;
    run_with_deadline(&lp, async move {
        let log = EventLog::new();
        let lg = log.clone();
        let conn = connect(&l, port, move || {
            scripted(&lg, move |k, t, _| {
                if k == Kind::Made {
                    t.set_write_buffer_limits(Some(usize::MAX / 2), None)
                        .expect("huge high");
                    let chunk = [7u8; 65536];
                    while t.get_write_buffer_size() == 0 {
                        t.write(&chunk)?;
                    }
                    t.set_write_buffer_limits(Some(0), None).expect("high 0");
                }
                Ok(())
            })
        })
        .await;
        // The first event after ConnectionMade is the pause the limits raised.
        until(&l, || log.len() >= 2).await;
        assert_eq!(log.snapshot()[1], Recorded::PauseWriting);
        conn.transport.abort();
        until(&l, || log.lost_count() == 1).await;
    });
    let _ = peer.go.send(());
    peer.done.join().expect("peer");
}

#[test]
fn w4_a_write_the_kernel_takes_never_pauses() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let slog = EventLog::new();
        let s2 = slog.clone();
        let (server, port) =
            serve::<_, NoMessage>(&l, move || RecordingProtocol::with_log(s2.clone())).await;
        let log = EventLog::new();
        let lg = log.clone();
        let conn = connect(&l, port, move || {
            scripted(&lg, move |k, t, _| {
                if k == Kind::Made {
                    t.set_write_buffer_limits(Some(0), None).expect("high 0");
                    t.write(b"fits in the kernel")?;
                    assert_eq!(t.get_write_buffer_size(), 0);
                }
                Ok(())
            })
        })
        .await;
        until(&l, || slog.data().len() == 18).await;
        conn.transport.close();
        until(&l, || log.lost_count() == 1).await;
        assert_eq!(
            log.snapshot(),
            vec![Recorded::ConnectionMade, Recorded::Lost(None)]
        );
        server.close();
    });
}

#[test]
fn w6_pause_writing_error_is_reported_and_the_transport_lives() {
    let (lp, h) = new_loop();
    let l = lp.clone();
    let peer = slow_peer();
    let port = peer.port;
    let go = peer.go.clone();
    run_with_deadline(&lp, async move {
        let log = EventLog::new();
        let lg = log.clone();
        let conn = connect(&l, port, move || {
            scripted(&lg, move |k, t, _| match k {
                Kind::Made => {
                    t.set_write_buffer_limits(Some(1024), None).expect("limits");
                    t.write(&vec![5u8; 4 * 1024 * 1024])?;
                    Ok(())
                }
                Kind::Pause => Err(ProtocolError::failed("pause failed")),
                Kind::Resume => Err(ProtocolError::failed("resume failed")),
                _ => Ok(()),
            })
        })
        .await;
        until(&l, || count(&log, &Recorded::PauseWriting) == 1).await;
        assert!(!conn.transport.is_closing());
        go.send(()).expect("peer");
        until(&l, || count(&log, &Recorded::ResumeWriting) == 1).await;
        until(&l, || conn.transport.get_write_buffer_size() == 0).await;
        conn.transport.close();
        until(&l, || log.lost_count() == 1).await;
        assert_eq!(log.snapshot().last(), Some(&Recorded::Lost(None)));
    });
    let calls: Vec<String> = h.take().into_iter().map(|c| c.message).collect();
    assert_eq!(
        calls,
        vec![
            "protocol.pause_writing() failed".to_string(),
            "protocol.resume_writing() failed".to_string()
        ]
    );
    assert_eq!(peer.done.join().expect("peer").len(), 4 * 1024 * 1024);
}

#[test]
fn g1_g4_close_flushes_everything_then_lost_once() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let peer = slow_peer();
    let port = peer.port;
    let go = peer.go.clone();
    let data = payload();
    let d2 = data.clone();
    run_with_deadline(&lp, async move {
        let log = EventLog::new();
        let lg = log.clone();
        let conn = connect(&l, port, move || {
            scripted(&lg, move |k, t, log| {
                if k == Kind::Made {
                    for _ in 0..CHUNKS {
                        t.write_bytes(d2.clone())?;
                    }
                    t.close();
                    assert!(t.is_closing());
                    t.close();
                    assert_eq!(log.lost_count(), 0, "G2: never inside close()");
                }
                Ok(())
            })
        })
        .await;
        assert!(conn.transport.is_closing());
        support::turns(10).await;
        assert_eq!(log.lost_count(), 0, "G1: not lost while bytes are buffered");
        assert!(conn.transport.get_write_buffer_size() > 0);
        go.send(()).expect("peer");
        until(&l, || log.lost_count() == 1).await;
        support::turns(10).await;
        let events = log.snapshot();
        assert_eq!(log.lost_count(), 1);
        assert_eq!(events.last(), Some(&Recorded::Lost(None)));
        // G4: a ResumeWriting, if any, comes before ConnectionLost.
        check_stream_grammar(&events).expect("grammar");
        assert!(!events.iter().any(|e| matches!(e, Recorded::Data(_))));
    });
    let got = peer.done.join().expect("peer");
    assert_eq!(got.len(), CHUNKS * CHUNK, "every byte, then EOF");
}

#[test]
fn g3_abort_drops_the_buffer_and_reports_lost_once() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let peer = slow_peer();
    let port = peer.port;
    let go = peer.go.clone();
    let data = payload();
    run_with_deadline(&lp, async move {
        let log = EventLog::new();
        let lg = log.clone();
        let conn = connect(&l, port, move || {
            scripted(&lg, move |k, t, log| {
                if k == Kind::Made {
                    for _ in 0..CHUNKS {
                        t.write_bytes(data.clone())?;
                    }
                    t.abort();
                    t.close();
                    t.abort();
                    assert_eq!(log.lost_count(), 0);
                    // G5: after abort, writes are dropped silently.
                    t.write(b"dropped")?;
                }
                Ok(())
            })
        })
        .await;
        until(&l, || log.lost_count() == 1).await;
        conn.transport.write(b"after lost").unwrap();
        conn.transport.close();
        conn.transport.abort();
        support::turns(10).await;
        // The writes raised a PauseWriting before the abort; it is delivered
        // after the handler, still before the one ConnectionLost.
        let events: Vec<_> = log
            .snapshot()
            .into_iter()
            .filter(|e| *e != Recorded::PauseWriting)
            .collect();
        assert_eq!(events, vec![Recorded::ConnectionMade, Recorded::Lost(None)]);
        check_stream_grammar(&log.snapshot()).expect("grammar");
        go.send(()).expect("peer");
    });
    let got = peer.done.join().expect("peer");
    assert!(
        got.len() < CHUNKS * CHUNK,
        "the user-space buffer was dropped: {}",
        got.len()
    );
}

#[test]
fn g5_fault7_write_after_close_is_dropped() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let slog = EventLog::new();
        let s2 = slog.clone();
        let (server, port) =
            serve::<_, NoMessage>(&l, move || RecordingProtocol::with_log(s2.clone())).await;
        let log = EventLog::new();
        let lg = log.clone();
        let _conn = connect(&l, port, move || {
            scripted(&lg, move |k, t, _| {
                if k == Kind::Made {
                    t.write(b"kept")?;
                    t.close();
                    for _ in 0..6 {
                        t.write(b"dropped")?;
                    }
                    t.write_eof()?; // H1: after close, raises nothing
                }
                Ok(())
            })
        })
        .await;
        until(&l, || slog.lost_count() == 1 && log.lost_count() == 1).await;
        assert_eq!(&slog.data()[..], b"kept");
        server.close();
    });
}

#[test]
fn h1_h2_write_eof_flushes_once_and_forbids_writes() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let slog = EventLog::new();
        let s2 = slog.clone();
        let (server, port) =
            serve::<_, NoMessage>(&l, move || RecordingProtocol::with_log(s2.clone())).await;
        let log = EventLog::new();
        let lg = log.clone();
        let _conn = connect(&l, port, move || {
            scripted(&lg, move |k, t, _| {
                if k == Kind::Made {
                    assert!(t.can_write_eof());
                    t.write(b"before eof")?;
                    t.write_eof()?;
                    t.write_eof()?;
                    assert!(matches!(t.write(b"late"), Err(WriteError::AfterWriteEof)));
                    assert!(matches!(
                        t.write_bytes(Bytes::from_static(b"x")),
                        Err(WriteError::AfterWriteEof)
                    ));
                }
                Ok(())
            })
        })
        .await;
        // The server got the data then one EOF and closed itself (H3, false
        // answer), so the client sees EOF too.
        until(&l, || slog.lost_count() == 1 && log.lost_count() == 1).await;
        assert_eq!(
            slog.snapshot(),
            vec![
                Recorded::ConnectionMade,
                Recorded::Data(Bytes::from_static(b"before eof")),
                Recorded::Eof,
                Recorded::Lost(None)
            ]
        );
        assert_eq!(
            log.snapshot(),
            vec![
                Recorded::ConnectionMade,
                Recorded::Eof,
                Recorded::Lost(None)
            ]
        );
        server.close();
    });
}

#[test]
fn h3_keep_open_lets_the_server_reply_after_eof() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let slog = EventLog::new();
        let s2 = slog.clone();
        let (server, port) = serve(&l, move || {
            scripted(&s2, |k, t, _| {
                if k == Kind::Eof {
                    t.keep_open();
                    t.write(b"reply-after-eof")?;
                    t.close();
                }
                Ok(())
            })
        })
        .await;
        let client = RecordingProtocol::new();
        let clog = client.log();
        let conn = connect::<_, NoMessage>(&l, port, move || client).await;
        conn.transport.write(b"hello").unwrap();
        conn.transport.write_eof().unwrap();
        until(&l, || clog.lost_count() == 1 && slog.lost_count() == 1).await;
        assert_eq!(&clog.data()[..], b"reply-after-eof");
        assert_eq!(count(&slog, &Recorded::Eof), 1);
        check_stream_grammar(&clog.snapshot()).expect("client grammar");
        check_stream_grammar(&slog.snapshot()).expect("server grammar");
        server.close();
    });
}

#[test]
fn fault1_fault2_reset_while_bytes_are_buffered_is_never_a_clean_loss() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    socket2::SockRef::from(&listener)
        .set_recv_buffer_size(4096)
        .expect("SO_RCVBUF");
    let port = listener.local_addr().expect("addr").port();
    let (go, wait) = mpsc::channel::<()>();
    let peer = std::thread::spawn(move || {
        let (s, _) = listener.accept().expect("accept");
        let _ = wait.recv();
        socket2::SockRef::from(&s)
            .set_linger(Some(Duration::ZERO))
            .expect("linger");
        drop(s); // RST, with our bytes unread
    });
    let data = payload();
    run_with_deadline(&lp, async move {
        let log = EventLog::new();
        let lg = log.clone();
        let conn = connect(&l, port, move || {
            scripted(&lg, move |k, t, _| {
                if k == Kind::Made {
                    for _ in 0..CHUNKS {
                        t.write_bytes(data.clone())?;
                    }
                }
                Ok(())
            })
        })
        .await;
        until(&l, || count(&log, &Recorded::PauseWriting) == 1).await;
        go.send(()).expect("peer");
        until(&l, || log.lost_count() == 1).await;
        // Later writes are dropped silently.
        conn.transport.write(b"after the reset").unwrap();
        support::turns(10).await;
        let events = log.snapshot();
        assert_eq!(log.lost_count(), 1);
        match events.last() {
            Some(Recorded::Lost(Some(why))) => assert!(
                why == "connection reset by peer" || why == "broken pipe",
                "{why}"
            ),
            other => panic!("a reset must not look clean: {other:?}"),
        }
        check_stream_grammar(&events).expect("grammar");
    });
    peer.join().expect("peer");
}

/// Writes every message it gets (`Addr::send`) to its own transport.
struct Relay;

impl StreamProtocol<Bytes> for Relay {
    fn handle(
        &mut self,
        ev: StreamEvent<Bytes>,
        t: &mut dyn StreamTransport<Bytes>,
    ) -> Result<(), ProtocolError> {
        if let StreamEvent::Message(m) = ev {
            t.write_bytes(m)?;
        }
        Ok(())
    }
}

#[test]
fn w6_resume_writing_writes_to_another_transport() {
    use std::cell::RefCell;
    use std::rc::Rc;

    let (lp, _h) = new_loop();
    let l = lp.clone();
    let peer = slow_peer();
    let port = peer.port;
    let go = peer.go.clone();
    run_with_deadline(&lp, async move {
        let slog = EventLog::new();
        let (server, sport) = recording_server(&l, &slog).await;
        // Two other transports: one reached by its handle, one by a message.
        let by_handle = connect::<_, NoMessage>(&l, sport, RecordingProtocol::new).await;
        let by_message = connect(&l, sport, || Relay).await;
        until(&l, || made(&slog) == 2).await;
        let others = Rc::new(RefCell::new(Some((
            by_handle.transport.clone(),
            by_message.protocol.clone(),
        ))));
        let log = EventLog::new();
        let lg = log.clone();
        let o2 = others.clone();
        let conn = connect(&l, port, move || {
            scripted(&lg, move |k, t, _| {
                match k {
                    Kind::Made => {
                        t.set_write_buffer_limits(Some(1024), None).expect("limits");
                        t.write(&vec![5u8; 4 * 1024 * 1024])?;
                    }
                    Kind::Resume => {
                        // Re-entrance from inside flow control (asyncio
                        // test_resume_writing_write_different_transport).
                        if let Some((handle, addr)) = o2.borrow_mut().take() {
                            handle.write(b"from resume_writing;").unwrap();
                            addr.send(Bytes::from_static(b"and by message"))
                                .expect("the relay is alive");
                        }
                    }
                    _ => {}
                }
                Ok(())
            })
        })
        .await;
        until(&l, || count(&log, &Recorded::PauseWriting) == 1).await;
        assert!(others.borrow().is_some(), "nothing written while paused");
        go.send(()).expect("peer");
        until(&l, || count(&log, &Recorded::ResumeWriting) == 1).await;
        until(&l, || slog.data().len() == 34).await;
        let got = slog.data();
        // Two connections, so the server log interleaves per arrival; each
        // write arrives whole.
        let text = String::from_utf8_lossy(&got).into_owned();
        assert!(text.contains("from resume_writing;"), "{text}");
        assert!(text.contains("and by message"), "{text}");
        until(&l, || conn.transport.get_write_buffer_size() == 0).await;
        conn.transport.close();
        by_handle.transport.close();
        by_message.transport.close();
        until(&l, || log.lost_count() == 1 && slog.lost_count() == 2).await;
        assert_eq!(log.snapshot().last(), Some(&Recorded::Lost(None)));
        check_stream_grammar(&log.snapshot()).expect("grammar");
        server.close();
    });
    assert_eq!(peer.done.join().expect("peer").len(), 4 * 1024 * 1024);
}
