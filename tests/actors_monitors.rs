//! Exit reasons, monitors and links of actors (switchboard's own, after
//! Erlang's `monitor/2` and `link/1`; asyncio has no counterpart). Protocol
//! actors of connections follow the asyncio examples section,
//! <https://docs.python.org/3/library/asyncio-protocol.html#examples>.

mod support;

use std::cell::RefCell;
use std::rc::Rc;

use support::net::{connect, serve};
use support::{new_loop, run_with_deadline};
use switchboard::ready_made::Echo;
use switchboard::testing::RecordingProtocol;
use switchboard::{
    Actor, ActorContext, ActorExited, Addr, CallError, EventLoop, ExitReason, LoopFuture,
    NoMessage, SendError,
};

/// What a test actor is told to do.
enum Cmd {
    Stop,
    StopWith(ExitReason),
    Panic,
    Monitor(Addr<Cmd>),
    Link(Addr<Cmd>),
    Unlink(Addr<Cmd>),
    Trap,
    Ping(switchboard::ReplyTo<u32>),
}

/// Records the exits it hears of.
struct Watcher {
    heard: Rc<RefCell<Vec<ActorExited>>>,
    want: usize,
    done: LoopFuture<()>,
    stopped: Rc<RefCell<bool>>,
}

impl Watcher {
    fn new(
        lp: &EventLoop,
        want: usize,
    ) -> (Watcher, Rc<RefCell<Vec<ActorExited>>>, LoopFuture<()>) {
        let heard = Rc::new(RefCell::new(Vec::new()));
        let done = lp.create_future();
        let w = Watcher {
            heard: heard.clone(),
            want,
            done: done.clone(),
            stopped: Rc::new(RefCell::new(false)),
        };
        (w, heard, done)
    }
}

impl Actor for Watcher {
    type Message = Cmd;
    fn handle(&mut self, msg: Cmd, ctx: &mut ActorContext<'_, Cmd>) {
        match msg {
            Cmd::Stop => ctx.stop(),
            Cmd::StopWith(r) => ctx.stop_with(r),
            Cmd::Panic => panic!("worker failed on purpose"),
            Cmd::Monitor(a) => {
                ctx.monitor(&a);
            }
            Cmd::Link(a) => ctx.link(&a),
            Cmd::Unlink(a) => ctx.unlink(&a),
            Cmd::Trap => ctx.trap_exit(true),
            Cmd::Ping(r) => {
                let _ = r.send(7);
            }
        }
    }
    fn exited(&mut self, exited: ActorExited, _ctx: &mut ActorContext<'_, Cmd>) {
        self.heard.borrow_mut().push(exited);
        if self.heard.borrow().len() == self.want {
            let _ = self.done.set_result(());
        }
    }
    fn stopped(&mut self) {
        *self.stopped.borrow_mut() = true;
    }
}

fn spawn_plain(lp: &EventLoop) -> Addr<Cmd> {
    let (w, _, _) = Watcher::new(lp, usize::MAX);
    lp.spawn(w).expect("spawn")
}

#[test]
fn sv1_monitor_future_gets_each_typed_reason() {
    let (lp, handler) = new_loop();
    let l = lp.clone();
    let reasons = run_with_deadline(&lp, async move {
        let mut out = Vec::new();
        for cmd in [
            Cmd::Stop,
            Cmd::StopWith(ExitReason::Shutdown),
            Cmd::StopWith(ExitReason::failed("bad input")),
            Cmd::Panic,
        ] {
            let a = spawn_plain(&l);
            let exited = l.monitor(&a);
            a.send(cmd).expect("alive");
            let e = exited.await.expect("resolved");
            assert_eq!(e.id, a.id());
            out.push(e.reason);
        }
        out
    });
    assert_eq!(
        reasons,
        vec![
            ExitReason::Normal,
            ExitReason::Shutdown,
            ExitReason::failed("bad input"),
            ExitReason::failed("worker failed on purpose"),
        ]
    );
    handler.take_one(); // the panic was reported as well
}

#[test]
fn sv1_monitor_fires_after_the_last_message_was_handled() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let a = spawn_plain(&l);
        let exited = l.monitor(&a);
        // The question is queued before the stop: it is answered first.
        let answer = a.call(Cmd::Ping);
        a.send(Cmd::Stop).expect("alive");
        assert_eq!(answer.await, Ok(7));
        assert_eq!(exited.await.expect("fired").reason, ExitReason::Normal);
        // Afterwards the address refuses, typed.
        assert!(matches!(
            a.send(Cmd::Stop),
            Err(SendError::Stopped(Cmd::Stop))
        ));
        assert_eq!(a.call(Cmd::Ping).await, Err(CallError::Stopped));
    });
}

#[test]
fn sv1_monitor_of_an_already_dead_actor_fires_at_once_with_its_reason() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let a = spawn_plain(&l);
        let first = l.monitor(&a);
        a.send(Cmd::StopWith(ExitReason::failed("gone"))).ok();
        first.await.expect("fired");
        // Set up after the fact: resolved already, with the reason.
        let late = l.monitor(&a);
        assert!(late.done(), "at once, not on a later turn");
        assert_eq!(
            late.await.expect("fired").reason,
            ExitReason::failed("gone")
        );
    });
}

#[test]
fn sv1_an_actor_monitoring_another_gets_actor_exited_in_its_exited_hook() {
    let (lp, _h) = new_loop();
    let (w, heard, done) = Watcher::new(&lp, 2);
    let watcher = lp.spawn(w).expect("spawn");
    let a = spawn_plain(&lp);
    let dead = spawn_plain(&lp);
    let l = lp.clone();
    let (a2, dead2) = (a.clone(), dead.clone());
    run_with_deadline(&lp, async move {
        let gone = l.monitor(&dead2);
        dead2.send(Cmd::Stop).ok();
        gone.await.expect("stopped");
        watcher.send(Cmd::Monitor(dead2)).ok();
        watcher.send(Cmd::Monitor(a2.clone())).ok();
        a2.send(Cmd::StopWith(ExitReason::Shutdown)).ok();
        done.await.expect("both heard");
    });
    let heard = heard.borrow();
    assert_eq!(heard[0].id, dead.id());
    assert_eq!(heard[0].reason, ExitReason::Normal, "remembered reason");
    assert_eq!(heard[1].id, a.id());
    assert_eq!(heard[1].reason, ExitReason::Shutdown);
}

#[test]
fn sv1_a_connections_protocol_actor_can_be_monitored() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let (server, port) = serve::<_, NoMessage>(&l, || Echo).await;
        let conn = connect::<_, NoMessage>(&l, port, RecordingProtocol::new).await;
        let exited = l.monitor(&conn.protocol);
        conn.transport.close();
        let e = exited.await.expect("fired");
        assert_eq!(e.id, conn.protocol.id());
        assert_eq!(e.reason, ExitReason::Normal, "a clean close");
        server.close();
    });
}

#[test]
fn sv2_a_link_stops_the_other_side_with_the_same_abnormal_reason() {
    let (lp, handler) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let (a, b) = (spawn_plain(&l), spawn_plain(&l));
        let (ea, eb) = (l.monitor(&a), l.monitor(&b));
        a.send(Cmd::Link(b.clone())).ok();
        b.send(Cmd::Panic).ok();
        let eb = eb.await.expect("b");
        let ea = ea.await.expect("a");
        assert_eq!(eb.reason, ExitReason::failed("worker failed on purpose"));
        assert_eq!(ea.reason, eb.reason, "a stopped with b's reason");
    });
    handler.take_one();
}

#[test]
fn sv2_a_clean_exit_does_not_stop_a_linked_actor() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let (a, b) = (spawn_plain(&l), spawn_plain(&l));
        let eb = l.monitor(&b);
        a.send(Cmd::Link(b.clone())).ok();
        b.send(Cmd::StopWith(ExitReason::Shutdown)).ok();
        eb.await.expect("b stopped");
        assert_eq!(a.call(Cmd::Ping).await, Ok(7), "a lives on");
    });
}

#[test]
fn sv2_a_trapping_actor_gets_the_exit_as_a_message_and_lives_on() {
    let (lp, handler) = new_loop();
    let (w, heard, done) = Watcher::new(&lp, 2);
    let trapper = lp.spawn(w).expect("spawn");
    let l = lp.clone();
    let t = trapper.clone();
    let (b_id, c_id) = run_with_deadline(&lp, async move {
        let (b, c) = (spawn_plain(&l), spawn_plain(&l));
        t.send(Cmd::Trap).ok();
        t.send(Cmd::Link(b.clone())).ok();
        t.send(Cmd::Link(c.clone())).ok();
        b.send(Cmd::Panic).ok();
        c.send(Cmd::Stop).ok();
        done.await.expect("both exits heard");
        assert_eq!(t.call(Cmd::Ping).await, Ok(7), "the trapper lives on");
        (b.id(), c.id())
    });
    let heard = heard.borrow();
    let b = heard.iter().find(|e| e.id == b_id).expect("b's exit");
    assert_eq!(b.reason, ExitReason::failed("worker failed on purpose"));
    let c = heard.iter().find(|e| e.id == c_id).expect("c's exit");
    assert_eq!(c.reason, ExitReason::Normal, "clean exits come too");
    handler.take_one();
}

#[test]
fn sv2_links_go_both_ways_and_unlink_cuts_them() {
    let (lp, handler) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        // a links to b; a fails: b stops too.
        let (a, b) = (spawn_plain(&l), spawn_plain(&l));
        let eb = l.monitor(&b);
        a.send(Cmd::Link(b.clone())).ok();
        a.send(Cmd::StopWith(ExitReason::failed("a broke"))).ok();
        assert_eq!(eb.await.expect("b").reason, ExitReason::failed("a broke"));
        // c links to d, then unlinks; d fails: c lives.
        let (c, d) = (spawn_plain(&l), spawn_plain(&l));
        let ed = l.monitor(&d);
        c.send(Cmd::Link(d.clone())).ok();
        c.send(Cmd::Unlink(d.clone())).ok();
        d.send(Cmd::Panic).ok();
        ed.await.expect("d");
        assert_eq!(c.call(Cmd::Ping).await, Ok(7), "c lives on");
    });
    handler.take_one();
}

#[test]
fn sv2_linking_to_a_dead_actor_acts_at_once() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let (a, b) = (spawn_plain(&l), spawn_plain(&l));
        let eb = l.monitor(&b);
        b.send(Cmd::StopWith(ExitReason::failed("early"))).ok();
        eb.await.expect("b");
        let ea = l.monitor(&a);
        a.send(Cmd::Link(b)).ok();
        assert_eq!(ea.await.expect("a").reason, ExitReason::failed("early"));
    });
}

#[test]
fn sv2_a_protocol_actor_linked_to_a_failing_actor_is_aborted_and_still_gets_connection_lost() {
    use support::net::client;
    use switchboard::testing::Recorded;
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let log = run_with_deadline(&lp, async move {
        let (server, port) = serve::<_, NoMessage>(&l, || Echo).await;
        let (conn, log) = client(&l, port).await;
        let lost = l.monitor(&conn.protocol);
        // Links are set from an actor's context: the protocol's address
        // goes to the actor, which links to it, then fails.
        struct Linker(Addr<NoMessage>);
        impl Actor for Linker {
            type Message = ();
            fn handle(&mut self, _: (), ctx: &mut ActorContext<'_, ()>) {
                ctx.link(&self.0);
                ctx.stop_with(ExitReason::failed("linker failed"));
            }
        }
        let linker = l.spawn(Linker(conn.protocol.clone())).expect("spawn");
        linker.send(()).expect("alive");
        lost.await.expect("the connection ended");
        server.close();
        log
    });
    let events = log.snapshot();
    assert_eq!(events.first(), Some(&Recorded::ConnectionMade));
    assert_eq!(events.last(), Some(&Recorded::Lost(None)), "{events:?}");
}
