//! Bounded mailboxes and backpressure across actors (switchboard's own;
//! the transport side follows asyncio's flow control,
//! <https://docs.python.org/3/library/asyncio-protocol.html#flow-control-callbacks>).

mod support;

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::net::{is_alone_child, run_alone, until};
use support::{new_loop, run_with_deadline};
use switchboard::prelude::*;
use switchboard::{CallError, SendError};

/// Records what it gets.
struct Sink(Rc<RefCell<Vec<u32>>>);

enum In {
    N(u32),
    Ask(ReplyTo<usize>),
    Stop,
}

impl Actor for Sink {
    type Message = In;
    fn handle(&mut self, msg: In, ctx: &mut ActorContext<'_, In>) {
        match msg {
            In::N(n) => self.0.borrow_mut().push(n),
            In::Ask(r) => {
                let _ = r.send(self.0.borrow().len());
            }
            In::Stop => ctx.stop(),
        }
    }
}

#[test]
fn mb1_a_full_mailbox_refuses_send_typed_and_send_wait_waits_for_room() {
    let (lp, _h) = new_loop();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let sink = lp.spawn_bounded(Sink(seen.clone()), 2).expect("spawn");
    assert_eq!(sink.capacity(), Some(2));
    // The loop has not run: nothing was taken out yet.
    sink.send(In::N(1)).expect("room");
    sink.send(In::N(2)).expect("room");
    assert_eq!(sink.mailbox_depth(), 2);
    assert!(matches!(
        sink.send(In::N(99)),
        Err(SendError::Full(In::N(99)))
    ));
    // A question is refused too (the call is decided when it is made).
    let refused = sink.call(In::Ask);
    let s = sink.clone();
    let l = lp.clone();
    let asked = run_with_deadline(&lp, async move {
        assert!(matches!(refused.await, Err(CallError::MailboxFull)));
        // Waits until the sink has taken a message, then goes in.
        for n in 3..=10 {
            s.send_wait(In::N(n)).await.expect("room came");
        }
        until(&l, || s.mailbox_depth() < 2).await;
        s.call(In::Ask).await.expect("answered")
    });
    assert_eq!(asked, 10);
    assert_eq!(*seen.borrow(), (1..=10).collect::<Vec<_>>(), "in order");
    assert_eq!(sink.mailbox_depth(), 0);
}

#[test]
fn mb1_send_wait_to_an_actor_that_stops_fails_stopped() {
    let (lp, _h) = new_loop();
    let sink = lp.spawn_bounded(Sink(Rc::default()), 1).expect("spawn");
    sink.send(In::Stop).expect("room");
    let s = sink.clone();
    let out = run_with_deadline(&lp, async move { s.send_wait(In::N(1)).await });
    assert!(matches!(out, Err(SendError::Stopped(In::N(1)))));
}

/// Forwards every chunk it reads to a consumer, with backpressure.
struct Forwarder(Addr<Bytes>);

impl StreamProtocol for Forwarder {
    fn handle(
        &mut self,
        ev: StreamEvent,
        t: &mut dyn StreamTransport,
    ) -> Result<(), ProtocolError> {
        if let StreamEvent::DataReceived(data) = ev {
            self.0.forward(data, t)?;
        }
        Ok(())
    }
}

/// A slow consumer: 20 MB/s, on its own loop thread.
struct Slow(Arc<AtomicUsize>);

impl Actor for Slow {
    type Message = Bytes;
    fn handle(&mut self, data: Bytes, _: &mut ActorContext<'_, Bytes>) {
        std::thread::sleep(Duration::from_micros(data.len() as u64 / 20));
        self.0.fetch_add(data.len(), Ordering::SeqCst);
    }
}

/// Peak resident memory of this process, in bytes.
fn peak_rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM");
    let kb: usize = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("kB");
    kb * 1024
}

#[test]
fn mb2_a_fast_producer_into_a_slow_bounded_consumer_keeps_memory_bounded() {
    let name = "mb2_a_fast_producer_into_a_slow_bounded_consumer_keeps_memory_bounded";
    if !is_alone_child() {
        return run_alone(name, "MB2-BOUNDED-OK");
    }
    const TOTAL: usize = 24 << 20;
    let got = Arc::new(AtomicUsize::new(0));
    // The consumer's loop, on another thread.
    let (tx, rx) = std::sync::mpsc::channel();
    let g = got.clone();
    let consumer = std::thread::spawn(move || {
        let lp = EventLoop::new().expect("loop");
        let _z4 = support::RecordingHandler::install(&lp);
        let addr = lp.spawn_bounded(Slow(g), 4).expect("spawn");
        tx.send((addr, lp.handle())).expect("send");
        lp.run_forever().expect("run");
    });
    let (addr, remote) = rx.recv().expect("consumer");
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let before = peak_rss();
    let max_depth = run_with_deadline(&lp, async move {
        let a = addr.clone();
        let server = l
            .create_server(move || Forwarder(a.clone()))
            .host("127.0.0.1")
            .port(0)
            .await
            .expect("bind");
        let port = server.sockets()[0].port();
        let producer = std::thread::spawn(move || {
            let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
            let chunk = vec![7u8; 64 << 10];
            for _ in 0..TOTAL / chunk.len() {
                s.write_all(&chunk).expect("write");
            }
        });
        let mut max_depth = 0;
        until(&l, || {
            max_depth = max_depth.max(addr.mailbox_depth());
            got.load(Ordering::SeqCst) == TOTAL
        })
        .await;
        producer.join().expect("producer");
        server.close();
        max_depth
    });
    let grew = peak_rss().saturating_sub(before);
    remote.stop();
    consumer.join().expect("consumer");
    assert!(
        max_depth <= 5,
        "bound 4, one over per connection: {max_depth}"
    );
    assert!(
        grew < 8 << 20,
        "resident memory grew by {} KiB for {} MiB sent",
        grew >> 10,
        TOTAL >> 20
    );
    println!("MB2-BOUNDED-OK grew {} KiB", grew >> 10);
}
