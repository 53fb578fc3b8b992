//! Application actors and protocol actors with addresses (switchboard's own;
//! asyncio has no counterpart): `spawn`, `Addr::send` from any thread,
//! `send_later` on the loop's clock, `stop`, and containment of a panicking
//! actor. The protocol-address test follows the asyncio examples section,
//! <https://docs.python.org/3/library/asyncio-protocol.html#examples>.

mod support;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use support::{new_loop, run_with_deadline};
use switchboard::ready_made::Echo;
use switchboard::Bytes;
use switchboard::{
    Actor, ActorContext, EventLoop, LoopFuture, ProtocolError, SendError, StreamEvent,
    StreamProtocol, StreamTransport,
};

/// Records every message it gets; resolves `done` when it has `want` of them.
struct Recorder {
    seen: Rc<RefCell<Vec<u32>>>,
    want: usize,
    done: LoopFuture<()>,
    started: Rc<RefCell<bool>>,
    stopped: Rc<RefCell<bool>>,
}

impl Recorder {
    fn new(lp: &EventLoop, want: usize) -> (Recorder, Rc<RefCell<Vec<u32>>>, LoopFuture<()>) {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let done = lp.create_future();
        let r = Recorder {
            seen: seen.clone(),
            want,
            done: done.clone(),
            started: Rc::new(RefCell::new(false)),
            stopped: Rc::new(RefCell::new(false)),
        };
        (r, seen, done)
    }
}

impl Actor for Recorder {
    type Message = u32;
    fn started(&mut self, _ctx: &mut ActorContext<'_, u32>) {
        assert!(
            self.seen.borrow().is_empty(),
            "started runs before any message"
        );
        *self.started.borrow_mut() = true;
    }
    fn handle(&mut self, msg: u32, ctx: &mut ActorContext<'_, u32>) {
        assert!(*self.started.borrow(), "a message before started");
        if msg == u32::MAX {
            ctx.stop();
            return;
        }
        if msg == 666 {
            panic!("actor failed on purpose");
        }
        self.seen.borrow_mut().push(msg);
        if self.seen.borrow().len() == self.want {
            let _ = self.done.set_result(());
        }
    }
    fn stopped(&mut self) {
        *self.stopped.borrow_mut() = true;
    }
}

#[test]
fn actor_handles_messages_in_send_order_after_started() {
    let (lp, _h) = new_loop();
    let (rec, seen, done) = Recorder::new(&lp, 100);
    let addr = lp.spawn(rec).expect("spawn");
    for i in 0..100 {
        addr.send(i).expect("loop open");
    }
    run_with_deadline(&lp, done).expect("all messages handled");
    assert_eq!(*seen.borrow(), (0..100).collect::<Vec<_>>());
}

#[test]
fn addr_is_usable_from_other_threads_and_keeps_each_senders_order() {
    let (lp, _h) = new_loop();
    let (rec, seen, done) = Recorder::new(&lp, 4 * 500);
    let addr = lp.spawn(rec).expect("spawn");
    let senders: Vec<_> = (0..4u32)
        .map(|t| {
            let a = addr.clone();
            std::thread::spawn(move || {
                for i in 0..500u32 {
                    a.send(t * 1000 + i).expect("loop open");
                }
            })
        })
        .collect();
    run_with_deadline(&lp, done).expect("all messages handled");
    for s in senders {
        s.join().expect("sender thread");
    }
    let seen = seen.borrow();
    for t in 0..4u32 {
        let mine: Vec<u32> = seen.iter().copied().filter(|m| m / 1000 == t).collect();
        assert_eq!(mine, (0..500).map(|i| t * 1000 + i).collect::<Vec<_>>());
    }
}

#[test]
fn send_later_is_delivered_after_its_delay_on_the_loop_clock() {
    let (lp, _h) = new_loop();
    let (rec, seen, done) = Recorder::new(&lp, 2);
    let addr = lp.spawn(rec).expect("spawn");
    let t0 = lp.time();
    addr.send_later(2, Duration::from_millis(50)).expect("open");
    addr.send(1).expect("open");
    run_with_deadline(&lp, done).expect("both handled");
    assert_eq!(*seen.borrow(), vec![1, 2], "the delayed message comes last");
    assert!(lp.time() - t0 >= 0.05, "send_later never delivers early");
}

#[test]
fn stop_runs_stopped_and_later_messages_are_dropped() {
    let (lp, _h) = new_loop();
    let (rec, seen, _done) = Recorder::new(&lp, usize::MAX);
    let stopped = rec.stopped.clone();
    let addr = lp.spawn(rec).expect("spawn");
    addr.send(1).expect("open");
    addr.send(u32::MAX).expect("open");
    addr.send(2).expect("open: the loop does not know yet");
    // Messages from one thread go through one FIFO inbox: once a marker sent
    // after them reached another actor, the first actor has had its chance.
    let (marker, _, marker_done) = Recorder::new(&lp, 1);
    lp.spawn(marker).expect("spawn").send(0).expect("open");
    run_with_deadline(&lp, marker_done).expect("marker handled");
    assert!(*stopped.borrow());
    assert_eq!(*seen.borrow(), vec![1], "nothing after stop");
    // Once the actor has stopped, a send fails and gives the message back.
    assert!(!addr.is_alive());
    assert!(matches!(addr.send(3), Err(SendError::Stopped(3))));
}

#[test]
fn s6_a_panicking_actor_is_stopped_and_reported_and_others_go_on() {
    let (lp, handler) = new_loop();
    let (bad, bad_seen, _) = Recorder::new(&lp, usize::MAX);
    let (good, good_seen, good_done) = Recorder::new(&lp, 2);
    let bad = lp.spawn(bad).expect("spawn");
    let good = lp.spawn(good).expect("spawn");
    bad.send(1).expect("open");
    bad.send(666).expect("open");
    bad.send(2).expect("open");
    good.send(10).expect("open");
    good.send(11).expect("open");
    run_with_deadline(&lp, good_done).expect("the healthy actor finished");
    let ctx = handler.take_one();
    assert!(
        ctx.message.starts_with("Exception in actor"),
        "{}",
        ctx.message
    );
    assert!(ctx
        .exception
        .map(|e| e.to_string())
        .unwrap_or_default()
        .contains("actor failed on purpose"));
    assert_eq!(
        *bad_seen.borrow(),
        vec![1],
        "the failed actor gets nothing more"
    );
    assert_eq!(*good_seen.borrow(), vec![10, 11]);
}

#[test]
fn close_runs_stopped_and_send_after_close_gives_the_message_back() {
    let (lp, _h) = new_loop();
    let (rec, _seen, _done) = Recorder::new(&lp, usize::MAX);
    let stopped = rec.stopped.clone();
    let addr = lp.spawn(rec).expect("spawn");
    lp.close().expect("close");
    assert!(*stopped.borrow(), "close stops every actor");
    assert_eq!(addr.send(7), Err(SendError::Stopped(7)));
}

/// A client protocol that writes whatever its address is sent, and records
/// what comes back.
struct Relay {
    got: Rc<RefCell<Vec<u8>>>,
    done: LoopFuture<()>,
    want: usize,
}

impl StreamProtocol<Bytes> for Relay {
    fn handle(
        &mut self,
        event: StreamEvent<Bytes>,
        t: &mut dyn StreamTransport<Bytes>,
    ) -> Result<(), ProtocolError> {
        match event {
            StreamEvent::Message(data) => t.write(&data)?,
            StreamEvent::DataReceived(data) => {
                self.got.borrow_mut().extend_from_slice(&data);
                if self.got.borrow().len() >= self.want {
                    let _ = self.done.set_result(());
                }
            }
            _ => {}
        }
        Ok(())
    }
}

#[test]
fn a_connections_protocol_address_takes_messages_from_outside() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let got = Rc::new(RefCell::new(Vec::new()));
    let g = got.clone();
    run_with_deadline(&lp, async move {
        let server = l
            .create_server(|| Echo)
            .host("127.0.0.1")
            .port(0)
            .await
            .expect("server");
        let port = server.sockets()[0].port();
        let done = l.create_future();
        let d = done.clone();
        let conn = l
            .create_connection(move || Relay {
                got: g,
                done: d,
                want: 4,
            })
            .host("127.0.0.1")
            .port(port)
            .await
            .expect("connect");
        // From another thread, through the protocol's address.
        let addr = conn.protocol.clone();
        std::thread::spawn(move || addr.send(Bytes::from_static(b"ping")).expect("open"))
            .join()
            .expect("sender");
        done.await.expect("echo came back");
        conn.transport.close();
        server.close();
    });
    assert_eq!(&got.borrow()[..], b"ping");
}
