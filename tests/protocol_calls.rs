//! Asking an actor from inside a protocol: `t.call(&addr, make, wrap)` and its
//! answers as events of the connection, on real sockets.
//!
//! Ids refer to docs/behavior.md (AC1–AC6).

mod support;

use std::cell::Cell;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::rc::Rc;
use std::time::Duration;

use switchboard::prelude::*;
use switchboard::ready_made::{FrameHandler, FramingError, Lines};
use switchboard::Server;

use support::net::{is_alone_child, run_alone, until};
use support::{new_loop, run_with_deadline};

/// The store: answers `Get(k)` with `k`, but out of order: it holds replies
/// and answers a batch of eight (or what it holds at `last`) in reverse.
enum Store {
    Get(String, ReplyTo<String>),
    /// Drops every held reply unanswered.
    Forget,
    /// Answers every held reply now.
    Flush,
    /// Stops the actor (its held replies are dropped with it).
    Stop,
}

struct Reverser {
    held: Vec<(String, ReplyTo<String>)>,
    batch: usize,
    /// How many replies it holds now, for the test to wait on.
    holding: Rc<Cell<usize>>,
    /// The most it ever held.
    peak: Rc<Cell<usize>>,
}

fn reverser(batch: usize) -> (Reverser, Rc<Cell<usize>>) {
    let holding = Rc::new(Cell::new(0));
    let r = Reverser {
        held: Vec::new(),
        batch,
        holding: holding.clone(),
        peak: Rc::new(Cell::new(0)),
    };
    (r, holding)
}

impl Actor for Reverser {
    type Message = Store;
    fn handle(&mut self, msg: Store, ctx: &mut ActorContext<'_, Store>) {
        match msg {
            Store::Get(k, reply) => {
                let last = k == "last";
                self.held.push((k, reply));
                if self.held.len() >= self.batch || last {
                    while let Some((k, reply)) = self.held.pop() {
                        let _ = reply.send(k);
                    }
                }
            }
            Store::Forget => self.held.clear(),
            Store::Flush => {
                for (k, reply) in self.held.drain(..) {
                    let _ = reply.send(k);
                }
            }
            Store::Stop => ctx.stop(),
        }
        self.holding.set(self.held.len());
        self.peak.set(self.peak.get().max(self.held.len()));
    }
}

enum Conn {
    Got(Result<String, CallError>),
}

/// One call per line; each answer written as a line (`ERR ..` for a failed
/// call).
struct Asker {
    store: Addr<Store>,
    mode: Mode,
}

/// What an `Asker` does besides asking.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Plain,
    /// At EOF: `keep_open()`, and say `eof`.
    KeepOpen,
    /// Its `wrap` panics.
    PanicWrap,
}

impl FrameHandler<Conn> for Asker {
    fn frame(
        &mut self,
        line: Bytes,
        t: &mut dyn StreamTransport<Conn>,
    ) -> Result<(), ProtocolError> {
        let key = String::from_utf8_lossy(&line).into_owned();
        if self.mode == Mode::PanicWrap {
            let wrap = |_: Result<String, CallError>| -> Conn { panic!("wrap failed") };
            t.call(&self.store, |reply| Store::Get(key, reply), wrap)?;
        } else {
            t.call(&self.store, |reply| Store::Get(key, reply), Conn::Got)?;
        }
        Ok(())
    }
    fn event(
        &mut self,
        ev: StreamEvent<Conn>,
        t: &mut dyn StreamTransport<Conn>,
    ) -> Result<(), ProtocolError> {
        match ev {
            StreamEvent::Message(Conn::Got(Ok(v))) => t.write(format!("{v}\n").as_bytes())?,
            StreamEvent::Message(Conn::Got(Err(e))) => {
                let what = match e {
                    CallError::Stopped => "stopped",
                    CallError::NoReply => "noreply",
                    _ => "other",
                };
                t.write(format!("ERR {what}\n").as_bytes())?
            }
            StreamEvent::EofReceived if self.mode == Mode::KeepOpen => {
                t.keep_open();
                t.write(b"eof\n")?;
            }
            _ => {}
        }
        Ok(())
    }
    fn framing_error(
        &mut self,
        _e: FramingError,
        t: &mut dyn StreamTransport<Conn>,
    ) -> Result<(), ProtocolError> {
        t.write(b"ERR too long\n")?;
        Ok(())
    }
}

async fn serve(lp: &EventLoop, store: &Addr<Store>, max_calls: Option<usize>) -> (Server, u16) {
    serve_lines(lp, store, max_calls, 1024).await
}

async fn serve_lines(
    lp: &EventLoop,
    store: &Addr<Store>,
    max_calls: Option<usize>,
    max_line: usize,
) -> (Server, u16) {
    serve_mode(lp, store, max_calls, max_line, Mode::Plain).await
}

async fn serve_mode(
    lp: &EventLoop,
    store: &Addr<Store>,
    max_calls: Option<usize>,
    max_line: usize,
    mode: Mode,
) -> (Server, u16) {
    let s = store.clone();
    let mut b = lp
        .create_server(move || {
            let asker = Asker {
                store: s.clone(),
                mode,
            };
            Lines::with_handler(max_line, asker)
        })
        .host("127.0.0.1")
        .port(0);
    if let Some(n) = max_calls {
        b = b.max_calls_in_flight(n);
    }
    let server = b.await.expect("serve");
    let port = server.sockets()[0].port();
    (server, port)
}

/// Sends `requests`, half-closes, and reads everything until EOF.
fn half_closing_client(port: u16, requests: Vec<u8>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        s.write_all(&requests).expect("send");
        s.shutdown(Shutdown::Write).expect("shutdown");
        let mut got = Vec::new();
        s.read_to_end(&mut got).expect("read to EOF");
        got
    })
}

#[test]
fn ac1_ac3_answers_come_in_call_order_and_all_of_them_after_a_half_close() {
    let (lp, h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let store = l.spawn(reverser(8).0).unwrap();
        let (server, port) = serve(&l, &store, None).await;
        let mut requests = String::new();
        let mut expected = String::new();
        for i in 0..1999 {
            requests.push_str(&format!("{i}\n"));
            expected.push_str(&format!("{i}\n"));
        }
        requests.push_str("last\n");
        expected.push_str("last\n");
        let client = half_closing_client(port, requests.into_bytes());
        until(&l, || client.is_finished()).await;
        let got = client.join().expect("client");
        assert_eq!(String::from_utf8_lossy(&got), expected);
        until(&l, || server.connection_count() == 0).await;
        server.close();
    });
    assert!(h.take().is_empty());
}

#[test]
fn ac2_a_stopped_actor_and_a_dropped_reply_are_events_not_hangs() {
    let (lp, h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let (r, holding) = reverser(100);
        let store = l.spawn(r).unwrap();
        let (server, port) = serve(&l, &store, None).await;
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        s.write_all(b"a\nb\n").unwrap();
        // Both are held; then forgotten: two NoReply, in order.
        until(&l, || holding.get() == 2).await;
        store.send(Store::Forget).unwrap();
        let read_lines = |s: &mut TcpStream, n: usize| {
            let mut got = Vec::new();
            let mut byte = [0u8; 1];
            while got.iter().filter(|b| **b == b'\n').count() < n {
                s.read_exact(&mut byte).expect("read");
                got.push(byte[0]);
            }
            String::from_utf8(got).unwrap()
        };
        let mut reader = s.try_clone().unwrap();
        let first = std::thread::spawn(move || read_lines(&mut reader, 2));
        until(&l, || first.is_finished()).await;
        assert_eq!(first.join().unwrap(), "ERR noreply\nERR noreply\n");
        // The store stops: the next call is answered `Stopped`.
        store.send(Store::Stop).unwrap();
        until(&l, || store.send(Store::Forget).is_err()).await;
        s.write_all(b"c\n").unwrap();
        let mut reader = s.try_clone().unwrap();
        let second = std::thread::spawn(move || read_lines(&mut reader, 1));
        until(&l, || second.is_finished()).await;
        assert_eq!(second.join().unwrap(), "ERR stopped\n");
        drop(s);
        until(&l, || server.connection_count() == 0).await;
        server.close();
    });
    assert!(h.take().is_empty());
}

#[test]
fn ac4_answers_for_a_lost_connection_are_dropped_and_leak_nothing() {
    if !is_alone_child() {
        // The count of live calls is process-wide: alone in a child.
        return run_alone(
            "ac4_answers_for_a_lost_connection_are_dropped_and_leak_nothing",
            "ac4 checked",
        );
    }
    let (lp, h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        assert_eq!(switchboard::testing::live_calls(), 0);
        let (r, holding) = reverser(1000);
        let store = l.spawn(r).unwrap();
        let (server, port) = serve(&l, &store, None).await;
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(b"1\n2\n3\n").unwrap();
        until(&l, || holding.get() == 3).await;
        assert_eq!(switchboard::testing::live_calls(), 3);
        // The client resets; its connection is lost with three calls out.
        let s = socket2::Socket::from(s);
        s.set_linger(Some(Duration::ZERO)).unwrap();
        drop(s);
        until(&l, || server.connection_count() == 0).await;
        assert_eq!(
            switchboard::testing::live_calls(),
            0,
            "the entries went with it"
        );
        // The store answers now: to a connection that is gone.
        store.send(Store::Flush).unwrap();
        support::turns(5).await;
        assert_eq!(switchboard::testing::live_calls(), 0);
        server.close();
    });
    assert!(h.take().is_empty());
    println!("ac4 checked");
}

#[test]
fn ac5_at_the_bound_a_connection_stops_taking_requests_until_answers_go_out() {
    let (lp, h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let (r, holding) = reverser(usize::MAX);
        let peak = r.peak.clone();
        let store = l.spawn(r).unwrap();
        let (server, port) = serve(&l, &store, Some(4)).await;
        let mut requests = String::new();
        let mut expected = String::new();
        for i in 0..1000 {
            requests.push_str(&format!("{i}\n"));
            expected.push_str(&format!("{i}\n"));
        }
        let client = half_closing_client(port, requests.into_bytes());
        until(&l, || holding.get() == 4).await;
        support::turns(20).await;
        assert_eq!(holding.get(), 4, "no call past the bound");
        // Each flush answers what is held; the connection then takes the
        // next four requests, and so on, until the half-closed client has
        // every answer.
        while !client.is_finished() {
            if holding.get() > 0 {
                store.send(Store::Flush).unwrap();
            }
            support::turns(1).await;
        }
        let got = client.join().expect("client");
        assert_eq!(String::from_utf8_lossy(&got), expected);
        assert_eq!(peak.get(), 4, "the store never held more than the bound");
        until(&l, || server.connection_count() == 0).await;
        server.close();
    });
    assert!(h.take().is_empty());
}

#[test]
fn ac6_a_bad_frame_is_answered_after_the_answers_to_the_frames_before_it() {
    let (lp, h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let (r, holding) = reverser(usize::MAX);
        let store = l.spawn(r).unwrap();
        let (server, port) = serve_lines(&l, &store, None, 8).await;
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        s.write_all(b"a\nb\nmuch too long for eight\nc\n").unwrap();
        until(&l, || holding.get() == 2).await;
        support::turns(5).await;
        assert_eq!(holding.get(), 2, "nothing after the bad line is asked");
        store.send(Store::Flush).unwrap();
        let reader = std::thread::spawn(move || {
            let mut got = String::new();
            s.read_to_string(&mut got).map(|_| got)
        });
        until(&l, || reader.is_finished()).await;
        let got = reader.join().unwrap().expect("read to EOF");
        assert_eq!(got, "a\nb\nERR too long\n");
        until(&l, || server.connection_count() == 0).await;
        server.close();
    });
    assert!(h.take().is_empty());
}

/// Flushes the store each turn until `client` is done.
async fn flush_until_done<T>(
    lp: &EventLoop,
    store: &Addr<Store>,
    holding: &Rc<Cell<usize>>,
    client: &std::thread::JoinHandle<T>,
) {
    let _ = lp;
    while !client.is_finished() {
        if holding.get() > 0 {
            store.send(Store::Flush).unwrap();
        }
        support::turns(1).await;
    }
}

#[test]
fn ac6_a_bad_frame_behind_the_bound_and_a_half_close_answers_in_order() {
    let (lp, h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let (r, holding) = reverser(usize::MAX);
        let store = l.spawn(r).unwrap();
        let (server, port) = serve_lines(&l, &store, Some(2), 8).await;
        let client = half_closing_client(port, b"a\nb\nc\nmuch too long for eight\nd\n".to_vec());
        flush_until_done(&l, &store, &holding, &client).await;
        let got = client.join().expect("client");
        assert_eq!(String::from_utf8_lossy(&got), "a\nb\nc\nERR too long\n");
        until(&l, || server.connection_count() == 0).await;
        server.close();
    });
    assert!(h.take().is_empty());
}

#[test]
fn ac3_keep_open_at_eof_keeps_a_connection_with_calls_open() {
    let (lp, h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let (r, holding) = reverser(usize::MAX);
        let store = l.spawn(r).unwrap();
        let (server, port) = serve_mode(&l, &store, Some(2), 64, Mode::KeepOpen).await;
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        s.write_all(b"a\nb\nc\nd\n").unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        let mut reader = s.try_clone().unwrap();
        let want = "a\nb\nc\nd\neof\n";
        let client = std::thread::spawn(move || {
            let mut got = vec![0u8; want.len()];
            reader.read_exact(&mut got).map(|_| got)
        });
        flush_until_done(&l, &store, &holding, &client).await;
        let got = String::from_utf8(client.join().unwrap().expect("read")).unwrap();
        // The answers in order; `EofReceived` reached the handler after the
        // last frame was asked, so its `eof` may come before the last answer.
        let answers: Vec<&str> = got.lines().filter(|l| *l != "eof").collect();
        assert_eq!(answers, ["a", "b", "c", "d"], "{got:?}");
        assert_eq!(got.lines().filter(|l| *l == "eof").count(), 1, "{got:?}");
        // Every answer is out and EOF was handled with keep_open: still open.
        support::turns(10).await;
        assert_eq!(server.connection_count(), 1);
        server.close_clients();
        until(&l, || server.connection_count() == 0).await;
        server.close();
    });
    assert!(h.take().is_empty());
}

#[test]
fn ac2_a_panicking_wrap_fails_its_connection_alone() {
    let (lp, h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let (r, _holding) = reverser(1);
        let store = l.spawn(r).unwrap();
        let (server, port) = serve_mode(&l, &store, None, 64, Mode::PanicWrap).await;
        let client = half_closing_client(port, b"a\n".to_vec());
        until(&l, || client.is_finished()).await;
        assert!(client.join().expect("client").is_empty());
        until(&l, || server.connection_count() == 0).await;
        let reports = h.take();
        assert_eq!(reports.len(), 1, "{reports:?}");
        assert!(
            reports[0].message.contains("wrap"),
            "{}",
            reports[0].message
        );
        // The store and the server go on.
        assert!(store.send(Store::Flush).is_ok());
        server.close();
    });
}
