//! TLS connections that would hold a graceful stop for a long time: a
//! client that never finishes its handshake (60 s `ssl_handshake_timeout`)
//! and one that never answers our close_notify (30 s
//! `ssl_shutdown_timeout`). A server's `drain` and the loop's `shutdown`
//! end both within their own deadline plus the close grace, by aborting
//! them (issue 18 item 3).
//! <https://docs.python.org/3/library/asyncio-eventloop.html#server-objects>
//!
//! Ids refer to docs/behavior.md (DR1, DR2).

mod support;

use std::net::TcpStream;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use switchboard::testing::EventLog;
use switchboard::{DrainReport, DrainState, EventLoop, Server};

use support::net::{made, until};
use support::tls::{client_config, tls_echo_server};
use support::{new_loop, run_with_deadline};

/// Far below the 30 s and 60 s TLS timeouts, well above deadline + grace.
const PROMPTLY: Duration = Duration::from_secs(5);

/// The two stuck clients, held open until dropped.
struct Stuck {
    /// Connected over TCP; never sends a ClientHello.
    _mute: TcpStream,
    /// Handshook, then neither reads (so never sees nor answers our
    /// close_notify) nor closes, until told to stop.
    silent: JoinHandle<()>,
    stop: mpsc::Sender<()>,
}

impl Stuck {
    fn end(self) {
        let _ = self.stop.send(());
        self.silent.join().expect("silent client");
    }
}

/// Attaches both stuck clients to the TLS `server` on `port` and waits
/// until the server holds both, the silent one past its handshake (its
/// protocol got `ConnectionMade`).
async fn attach_stuck(lp: &EventLoop, server: &Server, port: u16, log: &EventLog) -> Stuck {
    let (stop, wait) = mpsc::channel::<()>();
    let silent = std::thread::spawn(move || {
        let mut tcp = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let name = "localhost".try_into().expect("name");
        let mut conn =
            switchboard::rustls::ClientConnection::new(client_config().rustls().clone(), name)
                .expect("client");
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp).expect("handshake");
        }
        // Sit on the socket without reading until the test is over.
        let _ = wait.recv();
        drop(tcp);
    });
    until(lp, || made(log) == 1).await;
    let mute = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    until(lp, || server.connection_count() == 2).await;
    Stuck {
        _mute: mute,
        silent,
        stop,
    }
}

#[test]
fn dr1_drain_aborts_a_stalled_handshake_and_an_unanswered_close_notify() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let (report, steps, took) = run_with_deadline(&lp, async move {
        let log = EventLog::new();
        let (server, port) = tls_echo_server(&l, &log).await;
        let stuck = attach_stuck(&l, &server, port, &log).await;
        let start = Instant::now();
        let drain = server.drain_with(Duration::from_millis(300), Duration::from_millis(300));
        let closing = drain.reached(DrainState::Closing).await;
        let aborting = drain.reached(DrainState::Aborting).await;
        let report = drain.await;
        let took = start.elapsed();
        assert_eq!(server.connection_count(), 0);
        stuck.end();
        (report, (closing, aborting), took)
    });
    assert!(took < PROMPTLY, "the drain took {took:?}");
    assert_eq!(steps.0.finished, 0, "neither ended on its own");
    assert_eq!(steps.1.closed, 0, "neither ended when asked to close");
    assert_eq!(
        report,
        DrainReport {
            finished: 0,
            closed: 0,
            aborted: 2
        }
    );
}

#[test]
fn dr1_drain_with_the_default_grace_ends_stuck_tls_clients_promptly() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let (report, took) = run_with_deadline(&lp, async move {
        let log = EventLog::new();
        let (server, port) = tls_echo_server(&l, &log).await;
        let stuck = attach_stuck(&l, &server, port, &log).await;
        let start = Instant::now();
        let report = server.drain(Duration::from_millis(300)).await;
        let took = start.elapsed();
        stuck.end();
        (report, took)
    });
    assert!(took < PROMPTLY, "the drain took {took:?}");
    assert_eq!(report.aborted, 2, "{report}");
}

#[test]
fn dr2_loop_shutdown_ends_stuck_tls_clients_within_its_deadline() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let (report, took) = run_with_deadline(&lp, async move {
        let log = EventLog::new();
        let (server, port) = tls_echo_server(&l, &log).await;
        let stuck = attach_stuck(&l, &server, port, &log).await;
        let start = Instant::now();
        let report = l.shutdown(Duration::from_millis(300)).await;
        let took = start.elapsed();
        assert_eq!(server.connection_count(), 0);
        stuck.end();
        (report, took)
    });
    assert!(took < PROMPTLY, "the shutdown took {took:?}");
    assert_eq!(report.servers, 1);
    assert_eq!(
        report.connections,
        DrainReport {
            finished: 0,
            closed: 0,
            aborted: 2
        }
    );
}
