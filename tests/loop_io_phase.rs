//! Where protocol handlers run in a loop iteration, over loopback TCP.
//! <https://docs.python.org/3/library/asyncio-eventloop.html#running-and-stopping-the-loop>
//!
//! As in asyncio's `_run_once`, the I/O events a poll returns join the ready
//! queue and run in the iteration's snapshot: what a handler schedules (a
//! callback, a `ConnectionLost` after `close()`) runs on a later iteration,
//! and `stop()` from a handler lets the rest of the snapshot finish but
//! nothing scheduled during it. An `Interrupt` raised in a handler leaves the
//! loop like one raised in a callback: the connection and the events the poll
//! returned survive it, for the next run.
//!
//! Ids: L2, L4, L8, S1, and issue 7's defects 1 and 2.

mod support;

use std::cell::{Cell, RefCell};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::panic::{catch_unwind, panic_any, AssertUnwindSafe};
use std::rc::Rc;

use switchboard::testing::{check_stream_grammar, EventLog, Recorded};
use switchboard::NoMessage;
use switchboard::{EventLoop, Interrupt};

use support::net::{made, serve, until};
use support::script::{script, On};
use support::{new_loop, run_with_deadline, DEADLINE};

/// Runs the loop until an `Interrupt` leaves it; false if it stopped (or the
/// deadline stopped it) without one.
fn run_until_interrupt(lp: &EventLoop) -> bool {
    let stopper = lp.clone();
    let guard = lp
        .call_later(DEADLINE, move || stopper.stop())
        .expect("open loop");
    let out = catch_unwind(AssertUnwindSafe(|| lp.run_forever()));
    guard.cancel();
    match out {
        Ok(r) => {
            r.expect("run_forever");
            false
        }
        Err(payload) => {
            assert!(
                payload.is::<Interrupt>(),
                "only an Interrupt leaves the loop"
            );
            true
        }
    }
}

/// A server whose connections record into `log`, raise an `Interrupt` on
/// their first data, and echo the rest.
fn interrupting_server(lp: &EventLoop, log: &EventLog) -> u16 {
    let l = lp.clone();
    let log = log.clone();
    let (server, port) = run_with_deadline(lp, async move {
        serve::<_, NoMessage>(&l, move || {
            let first = Cell::new(true);
            script(&log, move |on, t| {
                if let On::Data(d) = on {
                    if first.replace(false) {
                        panic_any(Interrupt);
                    }
                    t.write(&d)?;
                }
                Ok(())
            })
        })
        .await
    });
    // The server lives as long as the loop serves it.
    drop(server);
    port
}

/// True while the peer of `s` has neither closed nor reset the connection.
fn still_open(s: &TcpStream) -> bool {
    s.set_nonblocking(true).expect("nonblocking");
    let open = matches!(s.peek(&mut [0u8; 1]), Err(e) if e.kind() == ErrorKind::WouldBlock);
    s.set_nonblocking(false).expect("blocking");
    open
}

#[test]
fn issue_7_defect_1_an_interrupt_in_a_handler_keeps_its_connection() {
    let (lp, _h) = new_loop();
    let log = EventLog::new();
    let port = interrupting_server(&lp, &log);
    let mut client = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    client.write_all(b"first").expect("write");
    assert!(
        run_until_interrupt(&lp),
        "the handler's Interrupt left the loop"
    );
    assert!(!lp.is_running() && !lp.is_closed());
    // The transport was not dropped on the way out: no FIN, no reset.
    assert!(still_open(&client));
    client.write_all(b"second").expect("write");
    let (l, lg) = (lp.clone(), log.clone());
    run_with_deadline(&lp, async move {
        until(&l, || &lg.data()[..] == b"firstsecond").await;
    });
    let mut back = [0u8; 6];
    client.read_exact(&mut back).expect("echo");
    assert_eq!(&back, b"second");
    // Its end is reported, once.
    drop(client);
    let (l, lg) = (lp.clone(), log.clone());
    run_with_deadline(&lp, async move {
        until(&l, || lg.lost_count() == 1).await;
        support::turns(5).await;
    });
    assert_eq!(log.lost_count(), 1);
    check_stream_grammar(&log.snapshot()).expect("grammar");
}

#[test]
fn issue_7_defect_1_the_other_events_of_the_poll_survive_an_interrupt() {
    let (lp, _h) = new_loop();
    let log = EventLog::new();
    let port = interrupting_server(&lp, &log);
    let mut a = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let mut b = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let (l, lg) = (lp.clone(), log.clone());
    run_with_deadline(&lp, async move { until(&l, || made(&lg) == 2).await });
    // Both readable before the loop polls again: one poll returns both.
    a.write_all(b"a").expect("write");
    b.write_all(b"b").expect("write");
    assert!(run_until_interrupt(&lp));
    assert_eq!(log.data().len(), 1);
    // No new traffic: the second event, taken from the poller with the
    // first, still reaches its protocol (which interrupts too).
    assert!(
        run_until_interrupt(&lp),
        "the other connection's event was lost"
    );
    let mut got = log.data().to_vec();
    got.sort();
    assert_eq!(got, b"ab");
    assert!(still_open(&a) && still_open(&b));
}

#[test]
fn issue_7_defect_1_data_left_in_the_interrupted_socket_is_read_on_the_next_run() {
    const N: usize = 1024 * 1024;
    let (lp, _h) = new_loop();
    let log = EventLog::new();
    let port = interrupting_server(&lp, &log);
    let mut client = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let (l, lg) = (lp.clone(), log.clone());
    run_with_deadline(&lp, async move { until(&l, || made(&lg) == 1).await });
    // More than one read takes, all in the socket before the loop reads.
    let data: Vec<u8> = (0..N).map(|i| (i % 241) as u8).collect();
    let writer = {
        let mut c = client.try_clone().expect("clone");
        let data = data.clone();
        std::thread::spawn(move || c.write_all(&data).expect("write"))
    };
    assert!(run_until_interrupt(&lp));
    writer.join().expect("writer");
    // No new traffic comes: the rest must be read all the same.
    let (l, lg) = (lp.clone(), log.clone());
    run_with_deadline(&lp, async move {
        until(&l, || lg.data().len() == N).await;
    });
    assert_eq!(&log.data()[..], &data[..]);
    client
        .shutdown(std::net::Shutdown::Write)
        .expect("shutdown");
    let mut echoed = Vec::new();
    let (l, lg) = (lp.clone(), log.clone());
    let reader = std::thread::spawn(move || {
        let _ = client.read_to_end(&mut echoed);
        echoed
    });
    run_with_deadline(&lp, async move { until(&l, || lg.lost_count() == 1).await });
    let echoed = reader.join().expect("reader");
    // Everything but the first chunk (the one that interrupted) came back.
    assert!(data.ends_with(&echoed), "{} bytes echoed", echoed.len());
}

#[test]
fn issue_7_defect_2_close_inside_data_received_loses_the_connection_on_a_later_iteration() {
    let (lp, _h) = new_loop();
    let log = EventLog::new();
    let (l, lg) = (lp.clone(), log.clone());
    let stopper = lp.clone();
    let (server, port) = run_with_deadline(&lp, async move {
        serve::<_, NoMessage>(&l, move || {
            let stopper = stopper.clone();
            script(&lg, move |on, t| {
                if let On::Data(_) = on {
                    t.close();
                    // The run ends with this iteration.
                    stopper.stop();
                }
                Ok(())
            })
        })
        .await
    });
    let mut client = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let (l, lg) = (lp.clone(), log.clone());
    run_with_deadline(&lp, async move { until(&l, || made(&lg) == 1).await });
    client.write_all(b"x").expect("write");
    support::run_forever_with_deadline(&lp);
    assert_eq!(
        log.snapshot(),
        vec![Recorded::ConnectionMade, Recorded::Data("x".into())],
        "G2: ConnectionLost is not delivered in the iteration that closed"
    );
    let (l, lg) = (lp.clone(), log.clone());
    run_with_deadline(&lp, async move { until(&l, || lg.lost_count() == 1).await });
    assert_eq!(log.snapshot().last(), Some(&Recorded::Lost(None)));
    let mut rest = Vec::new();
    client.read_to_end(&mut rest).expect("EOF");
    server.close();
}

#[test]
fn issue_7_defect_2_stop_then_call_soon_inside_an_io_handler_waits_for_the_next_run() {
    let (lp, _h) = new_loop();
    let log = EventLog::new();
    let calls = Rc::new(RefCell::new(Vec::<&'static str>::new()));
    let (l, lg, c2) = (lp.clone(), log.clone(), calls.clone());
    let (server, port) = run_with_deadline(&lp, async move {
        let l2 = l.clone();
        serve::<_, NoMessage>(&l, move || {
            let (lp, calls) = (l2.clone(), c2.clone());
            script(&lg, move |on, _t| {
                if let On::Data(_) = on {
                    lp.stop();
                    let calls = calls.clone();
                    lp.call_soon(move || calls.borrow_mut().push("scheduled in the handler"))
                        .expect("open loop");
                }
                Ok(())
            })
        })
        .await
    });
    let mut client = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let (l, lg) = (lp.clone(), log.clone());
    run_with_deadline(&lp, async move { until(&l, || made(&lg) == 1).await });
    client.write_all(b"x").expect("write");
    support::run_forever_with_deadline(&lp);
    assert_eq!(log.data().len(), 1);
    assert!(
        calls.borrow().is_empty(),
        "L2: a callback scheduled during the batch waits for the next run"
    );
    // The next run runs it (and ends: stopping again from the callback).
    let l = lp.clone();
    lp.call_soon(move || l.stop()).expect("open loop");
    support::run_forever_with_deadline(&lp);
    assert_eq!(*calls.borrow(), vec!["scheduled in the handler"]);
    drop(client);
    server.close();
    let l = lp.clone();
    lp.call_soon(move || l.stop()).expect("open loop");
    support::run_forever_with_deadline(&lp);
}
