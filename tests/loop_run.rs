//! `switchboard::run` (asyncio's `asyncio.run`): what happens to what the
//! main future left open when it returns, and the one-line graceful
//! pattern that leaves nothing open.
//! <https://docs.python.org/3/library/asyncio-runner.html#asyncio.run>
//!
//! Ids refer to docs/behavior.md (L9, DR2).

mod support;

use std::cell::RefCell;
use std::io::Read;
use std::net::TcpStream;
use std::rc::Rc;
use std::time::Duration;

use switchboard::prelude::*;

use support::net::{is_alone_child, refused, run_alone, until};
use support::Dropped;

/// How much the server writes to a client that does not read: more than
/// loopback's socket buffers hold, less than the 64 MiB write cap.
const FLOOD: usize = 32 << 20;

/// Writes [`FLOOD`] bytes on connect, records what it is told, and counts
/// its drop.
struct Holder {
    events: Rc<RefCell<Vec<&'static str>>>,
    _dropped: Dropped,
}

impl StreamProtocol for Holder {
    fn handle(
        &mut self,
        ev: StreamEvent,
        t: &mut dyn StreamTransport,
    ) -> Result<(), ProtocolError> {
        match ev {
            StreamEvent::ConnectionMade => {
                self.events.borrow_mut().push("made");
                t.write(&vec![b'x'; FLOOD])?;
            }
            StreamEvent::ConnectionLost(_) => self.events.borrow_mut().push("lost"),
            _ => {}
        }
        Ok(())
    }
}

/// A subprocess protocol that ignores every event.
struct Quiet;

impl SubprocessProtocol for Quiet {
    fn handle(
        &mut self,
        _ev: SubprocessEvent,
        _t: &mut dyn SubprocessTransport,
    ) -> Result<(), ProtocolError> {
        Ok(())
    }
}

#[test]
fn l9_when_main_returns_run_closes_what_it_left_open_at_once() {
    let events: Rc<RefCell<Vec<&'static str>>> = Rc::default();
    let (protocols_dropped, dropped) = Dropped::new();
    let (tasks_dropped, in_task) = Dropped::new();
    let (ev, seen) = (events.clone(), events.clone());
    let (port, mut client, child) = switchboard::run(|lp: EventLoop| async move {
        // A hang fails the test (run then says the loop stopped first).
        let stopper = lp.clone();
        lp.call_later(support::DEADLINE, move || stopper.stop())?;
        let dropped = RefCell::new(Some(dropped));
        let server = lp
            .create_server(move || Holder {
                events: ev.clone(),
                _dropped: dropped.borrow_mut().take().expect("one connection"),
            })
            .host("127.0.0.1")
            .port(0)
            .await?;
        let port = server.sockets()[0].port();
        // A client that reads nothing while main runs.
        let client = TcpStream::connect(("127.0.0.1", port))?;
        until(&lp, || server.connection_count() == 1).await;
        until(&lp, || seen.borrow().contains(&"made")).await;
        // A child that would run for a minute, and a task that never ends.
        let child = lp.subprocess_exec(|| Quiet, "sleep", ["60"]).await?;
        let _task = lp.create_task(async move {
            let _held = in_task;
            std::future::pending::<()>().await
        })?;
        // main returns with all of it open: no close, no drain.
        Ok::<_, switchboard::Error>((port, client, child))
    })
    .expect("run");

    // The listening socket is closed: a connect is refused.
    assert!(refused(port), "the server still listens");
    // The connection's socket was closed, its write buffer dropped: the
    // client gets what the kernel already held, then EOF (not a reset).
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut got = Vec::new();
    client
        .read_to_end(&mut got)
        .expect("EOF after what was sent");
    assert!(got.len() < FLOOD, "the write buffer was flushed");
    // The protocol was dropped without a ConnectionLost.
    assert_eq!(*events.borrow(), ["made"]);
    assert_eq!(
        protocols_dropped.load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    // The pending task was dropped, with what it held.
    assert_eq!(tasks_dropped.load(std::sync::atomic::Ordering::SeqCst), 1);
    // The child was killed and reaped.
    assert_eq!(child.get_returncode(), Some(-9));
}

#[test]
fn dr2_the_one_line_pattern_drains_before_run_closes() {
    let name = "dr2_the_one_line_pattern_drains_before_run_closes";
    if !is_alone_child() {
        return run_alone(name, "RUN-ONE-LINE-OK");
    }
    let events: Rc<RefCell<Vec<&'static str>>> = Rc::default();
    let (_, dropped) = Dropped::new();
    let (ev, seen) = (events.clone(), events.clone());
    let report = switchboard::run(|lp: EventLoop| async move {
        // A hang fails the test (run then says the loop stopped first).
        let stopper = lp.clone();
        lp.call_later(support::DEADLINE, move || stopper.stop())?;
        let dropped = RefCell::new(Some(dropped));
        let server = lp
            .create_server(move || Holder {
                events: ev.clone(),
                _dropped: dropped.borrow_mut().take().expect("one connection"),
            })
            .host("127.0.0.1")
            .port(0)
            .await?;
        let port = server.sockets()[0].port();
        let client = TcpStream::connect(("127.0.0.1", port))?;
        until(&lp, || seen.borrow().contains(&"made")).await;
        // SIGTERM once the handler is bound (below), as a user would send it.
        lp.call_soon(|| {
            nix::sys::signal::raise(nix::sys::signal::Signal::SIGTERM).expect("raise");
        })?;
        let report = lp
            .shutdown_on_signals(
                &[Signal::SIGINT, Signal::SIGTERM],
                Duration::from_millis(300),
            )?
            .await?;
        drop(client);
        Ok::<_, switchboard::Error>(report)
    })
    .expect("run");
    // The connection ended inside main, with its ConnectionLost.
    assert_eq!(*events.borrow(), ["made", "lost"]);
    assert_eq!(report.servers, 1);
    assert_eq!(report.connections.total(), 1);
    println!("RUN-ONE-LINE-OK");
}
