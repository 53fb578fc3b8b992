//! Bounded memory by default, over loopback TCP: read-side backpressure and
//! the default hard cap on the write buffer, for protocols that ignore
//! `PauseWriting` (fault scenario 4, slow consumer; issue 7).
//! <https://docs.python.org/3/library/asyncio-protocol.html#flow-control-callbacks>
//!
//! * A protocol that answers what it reads cannot outgrow its high-water mark
//!   by much: while the write buffer is above it, the transport reads nothing.
//! * Writes that do not come from reading (from other actors) stop at the
//!   default cap, which ends the connection with a distinct error.
//! * The server's resident memory stays bounded under a client that sends
//!   500 MB of requests and reads nothing.

mod support;

use std::cell::Cell;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::rc::Rc;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use switchboard::testing::{check_stream_grammar, EventLog, Recorded};
use switchboard::Bytes;
use switchboard::EventLoop;
use switchboard::DEFAULT_MAX_WRITE_BUFFER;

use support::net::{is_alone_child, run_alone, slow_peer, until};
use support::script::{script, On};
use support::{new_loop, run_with_deadline};

/// The most a held server can buffer: the high-water mark (64 KiB; reading
/// stops above it) plus one read's answer (a read asks for up to 256 KiB).
/// Far below what an unheld server buffers.
const HELD_BOUND: usize = 64 * 1024 + 256 * 1024;

/// Patterned bytes, so a loss or a reordering shows.
fn pattern(from: usize, len: usize) -> Vec<u8> {
    (from..from + len).map(|i| (i % 251) as u8).collect()
}

/// A client that sends up to `limit` bytes and reads nothing until told to.
/// It stops sending at `limit` or when a send makes no progress for 200 ms
/// (the server stopped reading); then it waits for `go`, shuts its write side
/// down and reads to the end. Returns (bytes sent, bytes read back).
struct Flooder {
    sent: mpsc::Receiver<usize>,
    go: mpsc::Sender<()>,
    done: JoinHandle<(usize, Vec<u8>)>,
}

fn flooder(port: u16, limit: usize) -> Flooder {
    let (sent_tx, sent) = mpsc::channel();
    let (go, wait) = mpsc::channel::<()>();
    let done = std::thread::spawn(move || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_write_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        let chunk = 64 * 1024;
        let mut n = 0;
        while n < limit {
            let data = pattern(n, chunk.min(limit - n));
            match s.write(&data) {
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break, // stalled: the server holds its reading
            }
        }
        let _ = sent_tx.send(n);
        let _ = wait.recv();
        s.set_write_timeout(None).expect("timeout");
        s.shutdown(Shutdown::Write).expect("shutdown");
        let mut back = Vec::new();
        s.read_to_end(&mut back).expect("read back");
        (n, back)
    });
    Flooder { sent, go, done }
}

/// An echo server that never looks at `PauseWriting` (the natural first
/// program); records the largest write buffer it saw and whether
/// `is_reading()` ever said false.
fn careless_echo(
    lp: &EventLoop,
    log: &EventLog,
    backpressure: bool,
) -> (switchboard::Server, u16, Rc<Cell<usize>>, Rc<Cell<bool>>) {
    let most = Rc::new(Cell::new(0));
    let not_reading = Rc::new(Cell::new(false));
    let (l, lg, m2, n2) = (lp.clone(), log.clone(), most.clone(), not_reading.clone());
    let (server, port) = run_with_deadline(lp, async move {
        let server = l
            .create_server(move || {
                let (m3, n3) = (m2.clone(), n2.clone());
                script::<()>(&lg, move |on, t| {
                    if let On::Data(d) = on {
                        t.write(&d)?;
                        m3.set(m3.get().max(t.get_write_buffer_size()));
                        if !t.is_reading() {
                            n3.set(true);
                        }
                    }
                    Ok(())
                })
            })
            .host("127.0.0.1")
            .port(0)
            .read_backpressure(backpressure)
            .await
            .expect("bind");
        let port = server.sockets()[0].port();
        (server, port)
    });
    (server, port, most, not_reading)
}

/// Runs a careless echo server against a [`Flooder`] of `limit` bytes and
/// returns (largest server buffer, bytes sent, whether everything came back
/// in order, the server's events).
fn flood_echo(backpressure: bool, limit: usize) -> (usize, usize, bool, Vec<Recorded>) {
    let (lp, _h) = new_loop();
    let log = EventLog::new();
    let (server, port, most, not_reading) = careless_echo(&lp, &log, backpressure);
    let client = flooder(port, limit);
    let l = lp.clone();
    let (sent_rx, go) = (client.sent, client.go);
    let sent = run_with_deadline(&lp, async move {
        let mut sent = None;
        until(&l, || {
            sent = sent_rx.try_recv().ok();
            sent.is_some()
        })
        .await;
        sent.expect("the client stopped sending")
    });
    // Nothing was lost meanwhile: the client now reads, and gets everything.
    go.send(()).expect("client waits");
    let (l, lg) = (lp.clone(), log.clone());
    run_with_deadline(&lp, async move {
        until(&l, || lg.lost_count() == 1).await;
        server.close();
    });
    let (sent2, back) = client.done.join().expect("client");
    assert_eq!(sent, sent2);
    assert!(
        !not_reading.get(),
        "is_reading() reports what the protocol asked for"
    );
    let intact = back.len() == sent && back == pattern(0, sent);
    (most.get(), sent, intact, log.snapshot())
}

#[test]
fn issue_7_read_backpressure_holds_a_careless_echo_under_a_client_that_does_not_read() {
    let (most, sent, intact, events) = flood_echo(true, 64 * 1024 * 1024);
    assert!(
        most <= HELD_BOUND,
        "the server's buffer grew to {most} bytes ({sent} sent)"
    );
    assert!(sent < 64 * 1024 * 1024, "the client was held back");
    assert!(intact, "every byte echoed, in order");
    check_stream_grammar(&events).expect("grammar");
    assert_eq!(events.last(), Some(&Recorded::Lost(None)));
}

#[test]
fn issue_7_read_backpressure_can_be_turned_off() {
    // asyncio's behaviour: reading goes on, the buffer grows with what the
    // client sends.
    const LIMIT: usize = 16 * 1024 * 1024;
    let (most, sent, intact, events) = flood_echo(false, LIMIT);
    assert_eq!(sent, LIMIT, "the server read everything");
    assert!(most > LIMIT / 2, "the buffer grew: {most}");
    assert!(intact);
    assert_eq!(events.last(), Some(&Recorded::Lost(None)));
}

/// Writes every message it gets to its own transport (a chat member, a
/// subscriber): writes that do not come from reading.
fn relay(log: &EventLog) -> support::script::Script<Bytes> {
    script(log, |on, t| {
        if let On::Message(m) = on {
            t.write_bytes(m)?;
        }
        Ok(())
    })
}

#[test]
fn issue_7_default_cap_ends_a_connection_that_writes_without_reading() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let peer = slow_peer();
    let port = peer.port;
    run_with_deadline(&lp, async move {
        let log = EventLog::new();
        let lg = log.clone();
        let conn = l
            .create_connection(move || relay(&lg))
            .host("127.0.0.1")
            .port(port)
            .await
            .expect("connect");
        // From another actor's point of view: messages to its address.
        let chunk = Bytes::from(vec![7u8; 1024 * 1024]);
        for _ in 0..DEFAULT_MAX_WRITE_BUFFER / chunk.len() + 8 {
            if conn.protocol.send(chunk.clone()).is_err() {
                break;
            }
        }
        until(&l, || conn.transport.is_lost()).await;
        let events = log.snapshot();
        assert_eq!(
            events.last(),
            Some(&Recorded::Lost(Some(format!(
                "write buffer exceeded its hard cap of {DEFAULT_MAX_WRITE_BUFFER} bytes"
            )))),
        );
        check_stream_grammar(&events).expect("grammar");
    });
    drop(peer.go);
    let got = peer.done.join().expect("peer");
    assert!(got.len() < DEFAULT_MAX_WRITE_BUFFER);
}

#[test]
fn issue_7_no_cap_when_max_write_buffer_is_none() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let peer = slow_peer();
    let port = peer.port;
    let go = peer.go.clone();
    let total = DEFAULT_MAX_WRITE_BUFFER + 8 * 1024 * 1024;
    run_with_deadline(&lp, async move {
        let log = EventLog::new();
        let lg = log.clone();
        let conn = l
            .create_connection(move || relay(&lg))
            .host("127.0.0.1")
            .port(port)
            .max_write_buffer(None)
            .await
            .expect("connect");
        let chunk = Bytes::from(vec![7u8; 1024 * 1024]);
        for _ in 0..total / chunk.len() {
            conn.transport.write_bytes(chunk.clone()).unwrap();
        }
        support::turns(3).await;
        assert!(!conn.transport.is_closing());
        assert!(conn.transport.get_write_buffer_size() > DEFAULT_MAX_WRITE_BUFFER);
        // Everything arrives once the peer reads.
        go.send(()).expect("peer");
        until(&l, || conn.transport.get_write_buffer_size() == 0).await;
        conn.transport.close();
        until(&l, || conn.transport.is_lost()).await;
        assert_eq!(log.snapshot().last(), Some(&Recorded::Lost(None)));
    });
    assert_eq!(peer.done.join().expect("peer").len(), total);
}

/// This process's resident memory: (current, peak) in KiB.
fn rss_kib() -> (usize, usize) {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("{name} in /proc/self/status"))
    };
    (field("VmRSS:"), field("VmHWM:"))
}

#[test]
fn issue_7_server_rss_stays_bounded_under_500_mb_of_requests_never_read() {
    let name = "issue_7_server_rss_stays_bounded_under_500_mb_of_requests_never_read";
    if !is_alone_child() {
        // Alone in a child: the peak resident size is the whole process's.
        return run_alone(name, "RSS-BOUNDED-OK");
    }
    const REQUESTS: usize = 500 * 1000 * 1000;
    const BOUND_KIB: usize = 32 * 1024;
    let (lp, _h) = new_loop();
    let log = EventLog::new();
    // The natural first program: answer every request, ignore PauseWriting.
    let (server, port, _most, _) = careless_echo(&lp, &log, true);
    let (_, base) = rss_kib();
    let remote = lp.handle();
    let started = Instant::now();
    let client = std::thread::spawn(move || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_write_timeout(Some(Duration::from_millis(300)))
            .expect("timeout");
        let chunk = vec![b'r'; 256 * 1024];
        let mut sent = 0;
        // Fast over loopback, bounded by bytes and by time.
        while sent < REQUESTS && started.elapsed() < Duration::from_secs(4) {
            match s.write(&chunk) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break, // the server stopped reading
            }
        }
        remote
            .call_soon_threadsafe(|| switchboard::get_running_loop().expect("loop").stop())
            .expect("open loop");
        (sent, s)
    });
    support::run_forever_with_deadline(&lp);
    let (sent, s) = client.join().expect("client");
    let (_, peak) = rss_kib();
    eprintln!(
        "sent {} MB in {:?}; peak RSS {} KiB, {} KiB at start",
        sent / 1_000_000,
        started.elapsed(),
        peak,
        base
    );
    assert!(
        peak.saturating_sub(base) < BOUND_KIB,
        "the server grew by {} KiB while the client sent {sent} bytes",
        peak - base
    );
    assert_eq!(log.lost_count(), 0, "the connection was held, not dropped");
    drop(s);
    server.close();
    println!("RSS-BOUNDED-OK");
}
