//! Supervisors: strategies, restart policies, restart intensity and
//! escalation, ordered shutdown, addresses across restarts, and server and
//! timer children (switchboard's own, after Erlang/OTP's `supervisor`;
//! asyncio has no counterpart). Servers follow
//! <https://docs.python.org/3/library/asyncio-eventloop.html#creating-network-servers>.

mod support;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use support::net::until;
use support::{new_loop, run_with_deadline};
use switchboard::ready_made::Echo;
use switchboard::{
    Actor, ActorContext, CallError, ChildSpec, EventLoop, ExitReason, ReplyTo, Restart, SendError,
    Strategy,
};

type Log = Rc<RefCell<Vec<String>>>;

#[derive(Debug)]
enum Job {
    Add,
    Count(ReplyTo<u32>),
    Crash,
    Stop,
}

/// Counts `Add`s; logs its starts and stops.
struct Worker {
    name: &'static str,
    count: u32,
    log: Log,
    /// Ignores shutdown requests (to be killed at its deadline).
    hang: bool,
}

impl Actor for Worker {
    type Message = Job;
    fn started(&mut self, _ctx: &mut ActorContext<'_, Job>) {
        self.log.borrow_mut().push(format!("start {}", self.name));
    }
    fn handle(&mut self, msg: Job, ctx: &mut ActorContext<'_, Job>) {
        match msg {
            Job::Add => self.count += 1,
            Job::Count(r) => {
                let _ = r.send(self.count);
            }
            Job::Crash => panic!("{} crashed", self.name),
            Job::Stop => ctx.stop(),
        }
    }
    fn shutdown_requested(&mut self, ctx: &mut ActorContext<'_, Job>) {
        if !self.hang {
            ctx.stop_with(ExitReason::Shutdown);
        }
    }
    fn stopped(&mut self) {
        self.log.borrow_mut().push(format!("stop {}", self.name));
    }
}

fn worker(name: &'static str, log: &Log) -> impl FnMut() -> Worker + 'static {
    let log = log.clone();
    move || Worker {
        name,
        count: 0,
        log: log.clone(),
        hang: false,
    }
}

async fn count(addr: &switchboard::Addr<Job>) -> u32 {
    addr.call(Job::Count).await.expect("answered")
}

/// Adds `n` to each worker and checks the counts.
async fn add(addr: &switchboard::Addr<Job>, n: u32) {
    for _ in 0..n {
        addr.send(Job::Add).expect("address valid");
    }
}

fn panics(handler: &support::RecordingHandler) -> usize {
    handler
        .take()
        .iter()
        .filter(|c| c.message.starts_with("Exception in actor"))
        .count()
}

fn strategy_run(strategy: Strategy) -> (Vec<u32>, Vec<String>) {
    let (lp, handler) = new_loop();
    let log: Log = Rc::default();
    let mut sup = lp.supervisor("s").strategy(strategy);
    let a = sup.actor("a", worker("a", &log));
    let b = sup.actor("b", worker("b", &log));
    let c = sup.actor("c", worker("c", &log));
    let l2 = log.clone();
    let counts = run_with_deadline(&lp, async move {
        let _tree = sup.await.expect("started");
        for w in [&a, &b, &c] {
            add(w, 2).await;
        }
        assert_eq!(count(&c).await, 2);
        l2.borrow_mut().clear();
        b.send(Job::Crash).expect("valid");
        // Sent while b restarts: the new incarnation gets them.
        add(&b, 5).await;
        // b answers once the restart is over; then the others.
        let nb = count(&b).await;
        vec![count(&a).await, nb, count(&c).await]
    });
    assert_eq!(panics(&handler), 1);
    let log = log.borrow().clone();
    (counts, log)
}

#[test]
fn sv3_one_for_one_restarts_only_the_child_that_crashed() {
    let (counts, log) = strategy_run(Strategy::OneForOne);
    assert_eq!(counts, vec![2, 5, 2], "a and c kept their state");
    assert_eq!(log, vec!["start b"], "a crash runs no stopped()");
}

#[test]
fn sv4_one_for_all_restarts_every_child_others_stopped_last_first() {
    let (counts, log) = strategy_run(Strategy::OneForAll);
    assert_eq!(counts, vec![0, 5, 0], "every child starts afresh");
    assert_eq!(
        log,
        vec!["stop c", "stop a", "start a", "start b", "start c"]
    );
}

#[test]
fn sv5_rest_for_one_restarts_the_child_and_those_started_after_it() {
    let (counts, log) = strategy_run(Strategy::RestForOne);
    assert_eq!(counts, vec![2, 5, 0], "a kept its state, c did not");
    assert_eq!(log, vec!["stop c", "start b", "start c"]);
}

#[test]
fn sv6_permanent_transient_and_temporary_children() {
    let (lp, handler) = new_loop();
    let log: Log = Rc::default();
    let mut sup = lp.supervisor("s").intensity(10, Duration::from_secs(10));
    let perm = sup.actor("perm", worker("perm", &log));
    let trans = sup.actor(
        ChildSpec::new("trans").restart(Restart::Transient),
        worker("trans", &log),
    );
    let temp = sup.actor(
        ChildSpec::new("temp").restart(Restart::Temporary),
        worker("temp", &log),
    );
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let _tree = sup.await.expect("started");
        // A normal stop: only the permanent child comes back.
        let (t1, t2) = (l.monitor(&trans), l.monitor(&temp));
        perm.send(Job::Stop).expect("valid");
        trans.send(Job::Stop).expect("valid");
        temp.send(Job::Stop).expect("valid");
        assert_eq!(count(&perm).await, 0, "permanent: restarted");
        assert_eq!(t1.await.expect("stopped").reason, ExitReason::Normal);
        assert_eq!(t2.await.expect("stopped").reason, ExitReason::Normal);
        assert_eq!(trans.call(Job::Count).await, Err(CallError::Stopped));
        assert!(matches!(
            temp.send(Job::Add),
            Err(SendError::Stopped(Job::Add))
        ));
    });
    // Transient after a crash: restarted.
    let (lp, handler2) = new_loop();
    let mut sup = lp.supervisor("s");
    let trans = sup.actor(
        ChildSpec::new("trans").restart(Restart::Transient),
        worker("trans", &log),
    );
    let temp = sup.actor(
        ChildSpec::new("temp").restart(Restart::Temporary),
        worker("temp", &log),
    );
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let _tree = sup.await.expect("started");
        add(&trans, 3).await;
        trans.send(Job::Crash).expect("valid");
        assert_eq!(count(&trans).await, 0, "transient: restarted after a crash");
        let gone = l.monitor(&temp);
        temp.send(Job::Crash).expect("valid");
        gone.await.expect("stopped");
        assert_eq!(temp.call(Job::Count).await, Err(CallError::Stopped));
    });
    assert_eq!(panics(&handler2), 2);
    drop(handler);
}

#[test]
fn sv7_past_its_intensity_a_supervisor_stops_its_children_and_fails() {
    let (lp, handler) = new_loop();
    let log: Log = Rc::default();
    let mut sup = lp.supervisor("s").intensity(2, Duration::from_secs(60));
    let a = sup.actor("a", worker("a", &log));
    let b = sup.actor("b", worker("b", &log));
    let b2 = b.clone();
    let l2 = log.clone();
    let (tree, exited) = run_with_deadline(&lp, async move {
        let tree = sup.await.expect("started");
        let exited = tree.exited();
        for _ in 0..2 {
            a.send(Job::Crash).expect("valid");
            assert_eq!(count(&a).await, 0, "restarted");
        }
        l2.borrow_mut().clear();
        a.send(Job::Crash).expect("valid");
        (tree, exited)
    });
    // The root's failure stops the loop.
    support::run_forever_with_deadline(&lp);
    assert!(!tree.is_alive());
    let exited = exited.result().expect("resolved").expect("a value");
    // The supervisor let go of its children: their addresses refuse.
    assert!(b2.send(Job::Add).is_err());
    let message = exited.reason.to_string();
    assert!(
        message.contains("supervisor s gave up: more than 2 restarts"),
        "{message}"
    );
    assert_eq!(*log.borrow(), vec!["stop b"], "a crashed, b was stopped");
    let calls = handler.take();
    assert_eq!(calls.len(), 4, "three crashes and the root's failure");
    assert!(calls[3].message.starts_with("Exception in supervisor"));
}

#[test]
fn sv7_a_nested_supervisor_that_gives_up_is_restarted_by_its_parent() {
    let (lp, handler) = new_loop();
    let log: Log = Rc::default();
    let mut inner = lp.supervisor("inner").intensity(1, Duration::from_secs(60));
    let w = inner.actor("w", worker("w", &log));
    let mut outer = lp.supervisor("outer").intensity(5, Duration::from_secs(60));
    let sibling = outer.actor("sibling", worker("sibling", &log));
    outer.supervisor("inner", inner);
    run_with_deadline(&lp, async move {
        let tree = outer.await.expect("started");
        add(&sibling, 4).await;
        w.send(Job::Crash).expect("valid");
        assert_eq!(count(&w).await, 0);
        // One too many for the inner supervisor: it gives up, the outer one
        // restarts it (one-for-one), and with it w, on the same address.
        w.send(Job::Crash).expect("valid");
        add(&w, 1).await;
        assert_eq!(count(&w).await, 1, "w serves again, same address");
        assert_eq!(count(&sibling).await, 4, "the sibling was not touched");
        assert!(tree.is_alive());
    });
    assert_eq!(panics(&handler), 2);
}

#[test]
fn sv7_a_root_supervisor_that_gives_up_makes_run_return_its_error() {
    let out = support::run(|lp: EventLoop| async move {
        lp.set_exception_handler(Some(Rc::new(|_, _| {})));
        let mut sup = lp.supervisor("root").intensity(0, Duration::from_secs(60));
        let w = sup.actor("w", worker("w", &Log::default()));
        let _tree = sup.await?;
        w.send(Job::Crash)?;
        // Waits forever: only the root's failure ends this.
        switchboard::sleep(3600.0).await;
        Ok::<(), switchboard::Error>(())
    });
    match out {
        Err(switchboard::Error::Supervisor(switchboard::SupervisorError::GaveUp {
            name,
            max_restarts,
            ..
        })) => {
            assert_eq!(name, "root");
            assert_eq!(max_restarts, 0);
        }
        other => panic!("expected the root's failure, got {other:?}"),
    }
}

#[test]
fn sv8_shutdown_stops_children_in_reverse_order_killing_at_the_deadline() {
    let (lp, _h) = new_loop();
    let log: Log = Rc::default();
    let mut sup = lp.supervisor("s");
    let a = sup.actor("a", worker("a", &log));
    let b = sup.actor("b", worker("b", &log));
    let l = log.clone();
    let c = sup.actor(
        ChildSpec::new("c").shutdown(Duration::from_millis(50)),
        move || Worker {
            name: "c",
            count: 0,
            log: l.clone(),
            hang: true,
        },
    );
    let lp2 = lp.clone();
    let (ra, rb, rc, took, root) = run_with_deadline(&lp, async move {
        let tree = sup.await.expect("started");
        assert_eq!(count(&c).await, 0);
        let (ea, eb, ec) = (lp2.monitor(&a), lp2.monitor(&b), lp2.monitor(&c));
        let t0 = lp2.time();
        let root = tree.shutdown().await.expect("stopped");
        let took = lp2.time() - t0;
        (
            ea.await.expect("a").reason,
            eb.await.expect("b").reason,
            ec.await.expect("c").reason,
            took,
            root.reason,
        )
    });
    assert_eq!(
        *log.borrow(),
        vec!["start a", "start b", "start c", "stop c", "stop b", "stop a"]
    );
    assert_eq!(rc, ExitReason::Killed, "c ignored the request");
    assert_eq!((ra, rb), (ExitReason::Shutdown, ExitReason::Shutdown));
    assert_eq!(root, ExitReason::Shutdown);
    assert!(took >= 0.05, "c had its whole deadline: {took}");
}

#[test]
fn sv9_messages_sent_during_a_restart_reach_the_new_incarnation_in_order() {
    let (lp, handler) = new_loop();
    let log: Log = Rc::default();
    let mut sup = lp.supervisor("s");
    let w = sup.actor("w", worker("w", &log));
    // Sent before the tree starts: held, then delivered.
    w.send(Job::Add).expect("held until start");
    let handle = lp.handle();
    let w2 = w.clone();
    run_with_deadline(&lp, async move {
        let _tree = sup.await.expect("started");
        assert_eq!(count(&w2).await, 1);
        // From another thread, a crash and then 100 messages in a burst.
        let sender = w2.clone();
        std::thread::spawn(move || {
            sender.send(Job::Crash).expect("valid");
            for _ in 0..100 {
                sender.send(Job::Add).expect("valid across the restart");
            }
        })
        .join()
        .expect("sender");
        assert_eq!(count(&w2).await, 100, "none vanished");
    });
    drop(handle);
    assert_eq!(panics(&handler), 1);
}

#[test]
fn sv9_a_child_given_up_on_refuses_and_its_pending_call_ends_with_no_reply() {
    let (lp, handler) = new_loop();
    let log: Log = Rc::default();
    let mut sup = lp.supervisor("s");
    let w = sup.actor(
        ChildSpec::new("w").restart(Restart::Temporary),
        worker("w", &log),
    );
    run_with_deadline(&lp, async move {
        let _tree = sup.await.expect("started");
        w.send(Job::Crash).expect("valid");
        // Queued behind the crash: held, then dropped when the supervisor
        // lets the temporary child go; the caller learns it.
        let pending = w.call(Job::Count);
        assert_eq!(pending.await, Err(CallError::NoReply));
        assert!(matches!(
            w.send(Job::Add),
            Err(SendError::Stopped(Job::Add))
        ));
    });
    assert_eq!(panics(&handler), 1);
}

#[test]
fn sv10_a_failed_listener_is_recreated_on_its_address_and_connections_survive() {
    use std::io::{Read, Write};
    let (lp, handler) = new_loop();
    let log: Log = Rc::default();
    let fail_next = Rc::new(std::cell::Cell::new(false));
    let mut sup = lp.supervisor("svc").strategy(Strategy::OneForAll);
    let f = fail_next.clone();
    let echo = sup.server("echo", move |lp| {
        let f = f.clone();
        lp.create_server(move || {
            assert!(!f.replace(false), "factory failed on purpose");
            Echo
        })
        .host("127.0.0.1")
        .port(0)
    });
    let w = sup.actor("w", worker("w", &log));
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let _tree = sup.await.expect("started");
        assert_eq!(count(&w).await, 0);
        let port = echo.sockets()[0].port();
        // A client connected before any restart.
        let mut kept = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        kept.write_all(b"one").expect("write");
        let mut buf = [0u8; 3];
        read_on_loop(&l, &mut kept, &mut buf).await;
        assert_eq!(&buf, b"one");
        // The worker crashes: one-for-all restarts the server too, on the
        // same port; the connection it had accepted lives on.
        w.send(Job::Crash).expect("valid");
        assert_eq!(count(&w).await, 0);
        kept.write_all(b"two").expect("write");
        read_on_loop(&l, &mut kept, &mut buf).await;
        assert_eq!(&buf, b"two", "the accepted connection survived");
        // The listener itself fails (its protocol factory panics): it is
        // re-created on its address and serves the next client.
        fail_next.set(true);
        let _doomed = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        until(&l, || !fail_next.get()).await;
        let mut next = loop {
            match std::net::TcpStream::connect(("127.0.0.1", port)) {
                Ok(s) => break s,
                Err(_) => l.sleep(Duration::from_millis(1)).await,
            }
        };
        next.write_all(b"new").expect("write");
        read_on_loop(&l, &mut next, &mut buf).await;
        assert_eq!(&buf, b"new");
        let mut tail = [0u8; 1];
        kept.set_nonblocking(true).expect("nonblocking");
        assert!(
            !matches!(kept.read(&mut tail), Ok(0)),
            "the old connection is still open"
        );
    });
    let calls = handler.take();
    assert!(calls.len() >= 2, "{calls:?}");
}

/// Reads exactly `buf.len()` bytes from a blocking socket in small waits,
/// letting the loop run between them.
async fn read_on_loop(lp: &EventLoop, s: &mut std::net::TcpStream, buf: &mut [u8]) {
    use std::io::Read;
    s.set_nonblocking(true).expect("nonblocking");
    let mut got = 0;
    while got < buf.len() {
        match s.read(&mut buf[got..]) {
            Ok(0) => panic!("closed"),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                lp.sleep(Duration::from_millis(1)).await;
            }
            Err(e) => panic!("read: {e}"),
        }
    }
}

#[test]
fn sv10_a_periodic_timer_child_ticks_and_is_restarted_after_a_panic() {
    let (lp, handler) = new_loop();
    let ticks = Rc::new(std::cell::Cell::new(0u32));
    let mut sup = lp.supervisor("s");
    let t = ticks.clone();
    sup.periodic("tick", Duration::from_millis(2), move || {
        t.set(t.get() + 1);
        assert!(t.get() != 3, "third tick fails");
    });
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let _tree = sup.await.expect("started");
        until(&l, || ticks.get() >= 6).await;
    });
    assert_eq!(panics(&handler), 1);
}

#[test]
fn sv8_stopping_a_tree_drains_its_server_child_within_the_deadline() {
    use std::io::{Read, Write};
    let (lp, _h) = new_loop();
    let mut sup = lp.supervisor("svc");
    let echo = sup.server(
        ChildSpec::new("echo").shutdown(Duration::from_secs(5)),
        |lp| lp.create_server(|| Echo).host("127.0.0.1").port(0),
    );
    let l = lp.clone();
    let (took, refused) = run_with_deadline(&lp, async move {
        let tree = sup.await.expect("started");
        let port = echo.sockets()[0].port();
        let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let server = echo.server().expect("running");
        until(&l, || server.connection_count() == 1).await;
        let t0 = l.time();
        let stopped = tree.shutdown();
        // The listener is closed at once…
        until(&l, || server.sockets().is_empty()).await;
        let refused = std::net::TcpStream::connect(("127.0.0.1", port)).is_err();
        // …and the open conversation goes on until the client ends it.
        let client = std::thread::spawn(move || {
            c.write_all(b"last words").expect("write");
            let mut buf = [0u8; 10];
            c.read_exact(&mut buf).expect("echo during the drain");
            buf
        });
        while !client.is_finished() {
            l.sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(&client.join().expect("client"), b"last words");
        stopped.await.expect("stopped");
        (l.time() - t0, refused)
    });
    assert!(refused, "no new connection once the drain began");
    assert!(
        took < 4.0,
        "done when the connection ended, not at the deadline: {took}"
    );
}
