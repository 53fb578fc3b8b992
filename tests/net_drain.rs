//! Graceful drain of servers and the loop's shutdown (switchboard's own,
//! beyond asyncio's `Server.close`, `close_clients` and `abort_clients`:
//! <https://docs.python.org/3/library/asyncio-eventloop.html#server-objects>).

mod support;

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use support::net::{is_alone_child, run_alone, until};
use support::{new_loop, run_with_deadline};
use switchboard::prelude::*;
use switchboard::{DrainReport, DrainState, ExitReason, Server};

/// Answers each line with `ok <line>` 10 ms later (a slow request); on
/// EOF, closes once every answer is out.
#[derive(Default)]
struct Slow {
    pending: VecDeque<Vec<u8>>,
    partial: Vec<u8>,
    eof: bool,
}

impl StreamProtocol for Slow {
    fn handle(
        &mut self,
        ev: StreamEvent,
        t: &mut dyn StreamTransport,
    ) -> Result<(), ProtocolError> {
        match ev {
            StreamEvent::DataReceived(data) => {
                for &b in data.iter() {
                    if b == b'\n' {
                        self.pending.push_back(std::mem::take(&mut self.partial));
                        t.call_later(Duration::from_millis(10), 0);
                    } else {
                        self.partial.push(b);
                    }
                }
            }
            StreamEvent::TimerFired(_) => {
                if let Some(line) = self.pending.pop_front() {
                    t.write(b"ok ")?;
                    t.write(&line)?;
                    t.write(b"\n")?;
                }
                if self.eof && self.pending.is_empty() {
                    t.close();
                }
            }
            StreamEvent::EofReceived => {
                self.eof = true;
                if self.pending.is_empty() {
                    t.close();
                } else {
                    t.keep_open();
                }
            }
            _ => {}
        }
        Ok(())
    }
}

async fn slow_server(lp: &EventLoop) -> (Server, u16) {
    let server = lp
        .create_server(Slow::default)
        .host("127.0.0.1")
        .port(0)
        .await
        .expect("bind");
    let port = server.sockets()[0].port();
    (server, port)
}

#[test]
fn dr1_draining_refuses_new_connects_at_once_and_loses_no_request() {
    const CLIENTS: usize = 20;
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let (report, answers) = run_with_deadline(&lp, async move {
        let (server, port) = slow_server(&l).await;
        // Each client sends three requests, one after the other, then ends.
        let (tx, rx) = std::sync::mpsc::channel();
        let clients: Vec<_> = (0..CLIENTS)
            .map(|i| {
                let tx = tx.clone();
                std::thread::spawn(move || {
                    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
                    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
                    let mut r = BufReader::new(s.try_clone().expect("clone"));
                    let mut got = Vec::new();
                    for n in 0..3 {
                        writeln!(s, "c{i} r{n}").expect("write");
                        let mut line = String::new();
                        r.read_line(&mut line).expect("answer");
                        got.push(line);
                        if n == 0 {
                            tx.send(()).ok();
                        }
                    }
                    s.shutdown(std::net::Shutdown::Write).ok();
                    let mut rest = Vec::new();
                    r.read_to_end(&mut rest).ok();
                    got
                })
            })
            .collect();
        // Every client has had its first answer: requests are in flight.
        let mut first = 0;
        until(&l, || {
            while rx.try_recv().is_ok() {
                first += 1;
            }
            first == CLIENTS
        })
        .await;
        let drain = server.drain(Duration::from_secs(10));
        assert_eq!(drain.state(), DrainState::Draining);
        // The listening socket is closed already: a connect is refused.
        let refused = TcpStream::connect(("127.0.0.1", port));
        assert_eq!(
            refused.map(|_| ()).map_err(|e| e.kind()),
            Err(std::io::ErrorKind::ConnectionRefused)
        );
        let report = drain.await;
        let answers: Vec<Vec<String>> = clients
            .into_iter()
            .map(|c| c.join().expect("client"))
            .collect();
        (report, answers)
    });
    assert_eq!(
        report,
        DrainReport {
            finished: CLIENTS,
            closed: 0,
            aborted: 0
        }
    );
    for (i, got) in answers.iter().enumerate() {
        let want: Vec<String> = (0..3).map(|n| format!("ok c{i} r{n}\n")).collect();
        assert_eq!(got, &want, "every request was answered");
    }
}

#[test]
fn dr1_each_step_is_observable_and_counted() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let (report, steps) = run_with_deadline(&lp, async move {
        // Writes a lot to a client on its request (one that never reads).
        struct Flood(std::rc::Rc<std::cell::Cell<bool>>);
        impl StreamProtocol for Flood {
            fn handle(
                &mut self,
                ev: StreamEvent,
                t: &mut dyn StreamTransport,
            ) -> Result<(), ProtocolError> {
                match ev {
                    StreamEvent::DataReceived(d) if d.starts_with(b"flood") => {
                        t.set_write_buffer_limits(Some(64 << 20), None)
                            .map_err(|e| std::io::Error::other(e.to_string()))?;
                        t.write(&vec![b'x'; 16 << 20])?;
                        self.0.set(true);
                    }
                    StreamEvent::DataReceived(d) if d.starts_with(b"bye") => t.close(),
                    _ => {}
                }
                Ok(())
            }
        }
        let flooded = std::rc::Rc::new(std::cell::Cell::new(false));
        let f = flooded.clone();
        let server = l
            .create_server(move || Flood(f.clone()))
            .host("127.0.0.1")
            .port(0)
            .await
            .expect("bind");
        let port = server.sockets()[0].port();
        let mut quits = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let idle = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let mut stuck = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        until(&l, || server.connection_count() == 3).await;
        stuck.write_all(b"flood").expect("write");
        until(&l, || flooded.get()).await;
        let drain = server.drain_with(Duration::from_millis(300), Duration::from_millis(100));
        quits.write_all(b"bye").expect("write");
        let mut steps = Vec::new();
        steps.push((DrainState::Draining, drain.report()));
        let at = drain.reached(DrainState::Closing).await;
        steps.push((DrainState::Closing, at));
        let at = drain.reached(DrainState::Aborting).await;
        steps.push((DrainState::Aborting, at));
        let report = drain.clone().await;
        assert_eq!(drain.state(), DrainState::Drained);
        drop((idle, stuck));
        (report, steps)
    });
    assert_eq!(
        report,
        DrainReport {
            finished: 1,
            closed: 1,
            aborted: 1
        }
    );
    assert_eq!(steps[1].1.finished, 1, "counted when closing began");
    assert_eq!(steps[2].1.closed, 1, "counted when aborting began");
}

#[test]
fn dr2_loop_shutdown_drains_servers_then_stops_trees() {
    let (lp, _h) = new_loop();
    struct Worker;
    impl Actor for Worker {
        type Message = ReplyTo<u8>;
        fn handle(&mut self, r: ReplyTo<u8>, _: &mut ActorContext<'_, ReplyTo<u8>>) {
            let _ = r.send(1);
        }
    }
    let mut sup = lp.supervisor("svc");
    let echo = sup.server("echo", |lp| {
        lp.create_server(|| switchboard::ready_made::Echo)
            .host("127.0.0.1")
            .port(0)
    });
    let worker = sup.actor("worker", || Worker);
    let l = lp.clone();
    let (report, reason) = run_with_deadline(&lp, async move {
        let _tree = sup.await.expect("start");
        assert_eq!(worker.call(|r| r).await, Ok(1));
        let port = echo.sockets()[0].port();
        let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let server = echo.server().expect("running");
        until(&l, || server.connection_count() == 1).await;
        let exited = l.monitor(&worker);
        let shutdown = l.shutdown(Duration::from_secs(5));
        // The client ends its conversation during the drain: it finished
        // within the deadline.
        let client = std::thread::spawn(move || {
            c.write_all(b"x").expect("write");
            let mut b = [0u8; 1];
            c.read_exact(&mut b).expect("echo during the drain");
        });
        let report = shutdown.await;
        client.join().expect("client");
        assert!(echo.sockets().is_empty(), "the server was not restarted");
        (report, exited.await.expect("exited").reason)
    });
    assert_eq!(report.servers, 1);
    assert_eq!(report.trees, 1);
    assert_eq!(
        report.connections,
        DrainReport {
            finished: 1,
            closed: 0,
            aborted: 0
        }
    );
    assert_eq!(reason, ExitReason::Shutdown);
}

#[test]
fn dr2_sigterm_drains_and_a_second_sigterm_aborts() {
    let name = "dr2_sigterm_drains_and_a_second_sigterm_aborts";
    if !is_alone_child() {
        return run_alone(name, "DR2-SIGTERM-OK");
    }
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let report = run_with_deadline(&lp, async move {
        let done = l
            .shutdown_on_signal(Signal::SIGTERM, Duration::from_secs(30))
            .expect("handler");
        let (server, port) = slow_server(&l).await;
        let _c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        until(&l, || server.connection_count() == 1).await;
        nix::sys::signal::raise(nix::sys::signal::Signal::SIGTERM).expect("raise");
        until(&l, || server.sockets().is_empty()).await;
        assert_eq!(server.connection_count(), 1, "the drain waits for it");
        assert!(!done.done());
        nix::sys::signal::raise(nix::sys::signal::Signal::SIGTERM).expect("raise");
        done.await.expect("report")
    });
    assert_eq!(report.connections.aborted, 1);
    assert_eq!(report.servers, 1);
    println!("DR2-SIGTERM-OK");
}
