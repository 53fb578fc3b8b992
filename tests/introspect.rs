//! Introspection: `EventLoop::introspect`'s snapshot checked against what
//! the test did (connections, bytes, mailboxes, pauses, restarts, children,
//! loop lag), and the control socket that serves it (IN1–IN10).

mod support;

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use support::net::{serve, until};
use support::{new_loop, run_with_deadline};
use switchboard::introspect::{ActorInfo, ActorKind, ControlReply, Snapshot, COUNTING};
use switchboard::prelude::*;
use switchboard::ready_made::Echo;
use switchboard::{ActorId, StreamReader, StreamWriter};

fn by_kind(snap: &Snapshot, kind: ActorKind) -> Vec<&ActorInfo> {
    snap.actors.iter().filter(|a| a.kind == kind).collect()
}

fn row(snap: &Snapshot, id: ActorId) -> &ActorInfo {
    snap.actors
        .iter()
        .find(|a| a.id == id.index())
        .expect("the actor is in the snapshot")
}

/// Connects, sends `lines` lines of `line_len` bytes, reads them back.
async fn echo_client(
    lp: &EventLoop,
    port: u16,
    lines: usize,
    line_len: usize,
) -> (StreamReader, StreamWriter) {
    let (mut r, mut w) = lp
        .open_connection()
        .host("127.0.0.1")
        .port(port)
        .await
        .expect("connect");
    let mut line = vec![b'x'; line_len - 1];
    line.push(b'\n');
    for _ in 0..lines {
        w.write(&line);
    }
    w.drain().await.expect("drain");
    r.readexactly(lines * line_len).await.expect("echoed");
    (r, w)
}

#[test]
fn in1_a_servers_connections_sit_under_it_with_their_addresses_and_bytes() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let server = l
            .create_server(|| Echo)
            .host("127.0.0.1")
            .port(0)
            .name("echo")
            .await
            .unwrap();
        let port = server.sockets()[0].port();
        let mut clients = Vec::new();
        for i in 1..=3 {
            clients.push(echo_client(&l, port, i * 10, 100).await);
        }
        let snap = l.introspect();
        let servers = by_kind(&snap, ActorKind::Server);
        assert_eq!(servers.len(), 1, "{servers:?}");
        let s = servers[0];
        assert_eq!(s.name.as_deref(), Some("echo"));
        assert_eq!(s.state, "serving");
        let info = s.server.as_ref().unwrap();
        assert_eq!(info.connections, 3);
        assert_eq!(info.accepted, if COUNTING { 3 } else { 0 });
        assert_eq!(info.sockets, vec![format!("127.0.0.1:{port}")]);
        // Both ends of each connection are transports of this loop: the
        // server's three sit under it, the clients' three do not.
        let transports = by_kind(&snap, ActorKind::Transport);
        assert_eq!(transports.len(), 6);
        let mut under: Vec<_> = transports
            .iter()
            .filter(|t| t.parent == Some(s.id))
            .map(|t| t.transport.clone().unwrap())
            .collect();
        assert_eq!(under.len(), 3, "{transports:#?}");
        under.sort_by_key(|t| t.bytes_in);
        let client_addrs: Vec<String> = clients
            .iter()
            .map(|(_, w)| w.sockname().unwrap().to_string())
            .collect();
        for (i, t) in under.iter().enumerate() {
            let sent = ((i + 1) * 10 * 100) as u64;
            if COUNTING {
                assert_eq!(t.bytes_in, sent, "{t:?}");
                assert_eq!(t.bytes_out, sent, "{t:?}");
            }
            assert_eq!(
                t.sock.as_deref(),
                Some(format!("127.0.0.1:{port}").as_str())
            );
            assert!(client_addrs.contains(t.peer.as_ref().unwrap()), "{t:?}");
            assert!(!t.tls && !t.reading_paused && !t.writing_paused);
            assert_eq!(t.write_buffer, 0);
        }
        // A client goes: the server shows two, still three accepted.
        let (_r, mut w) = clients.pop().unwrap();
        w.close();
        w.wait_closed().await.ok();
        until(&l, || server.connection_count() == 2).await;
        let info = l.introspect();
        let s = by_kind(&info, ActorKind::Server)[0].server.clone().unwrap();
        assert_eq!(s.connections, 2);
        assert_eq!(s.accepted, if COUNTING { 3 } else { 0 });
        // Closed, its connections live on; the listener's row goes to the
        // next actor, which the connections must not claim as their server.
        let row = by_kind(&l.introspect(), ActorKind::Server)[0].id;
        server.close();
        l.sleep(0.0).await;
        let tenant = l.spawn(Sink).unwrap();
        assert_eq!(tenant.id().index(), row, "the listener's row is reused");
        let snap = l.introspect();
        assert!(
            by_kind(&snap, ActorKind::Transport)
                .iter()
                .all(|t| t.parent != Some(row)),
            "{:#?}",
            snap.actors
        );
    });
}

struct Sink;
impl Actor for Sink {
    type Message = u32;
    fn handle(&mut self, _: u32, _: &mut ActorContext<'_, u32>) {}
}

#[test]
fn in2_mailboxes_show_what_waits_against_their_bound_and_what_was_handled() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let bounded = l.spawn_bounded(Sink, 100).unwrap();
        assert!(l.name_actor(&bounded, "bounded"));
        let plain = l.spawn_named("plain", Sink).unwrap();
        for i in 0..50 {
            bounded.send(i).unwrap();
        }
        for i in 0..7 {
            plain.send(i).unwrap();
        }
        let snap = l.introspect();
        let b = row(&snap, bounded.id());
        assert_eq!(b.kind, ActorKind::Application);
        assert_eq!(b.name.as_deref(), Some("bounded"));
        assert_eq!((b.mailbox.depth, b.mailbox.bound), (50, Some(100)));
        let p = row(&snap, plain.id());
        assert_eq!(p.name.as_deref(), Some("plain"));
        // Its start and seven messages wait in the loop's queue.
        assert_eq!((p.mailbox.depth, p.mailbox.bound), (8, None));
        assert_eq!(p.messages, 0);
        // Once they ran: empty, and counted.
        until(&l, || bounded.mailbox_depth() == 0).await;
        l.sleep(0.0).await;
        let snap = l.introspect();
        let p = row(&snap, plain.id());
        assert_eq!(p.mailbox.depth, 0);
        assert_eq!(p.messages, if COUNTING { 8 } else { 0 });
        assert_eq!(row(&snap, bounded.id()).mailbox.depth, 0);
        // An unnamed actor shows its type's name.
        let anon = l.spawn(Sink).unwrap();
        assert_eq!(
            row(&l.introspect(), anon.id()).name.as_deref(),
            Some("Sink")
        );
        // A stale address names nobody: not the next tenant of its row.
        let gone = l.spawn(Quitter).unwrap();
        gone.send(()).unwrap();
        until(&l, || !gone.is_alive()).await;
        let next = l.spawn(Sink).unwrap();
        assert_eq!(next.id(), gone.id(), "the row is reused");
        assert!(!l.name_actor(&gone, "stale"));
        assert_eq!(
            row(&l.introspect(), next.id()).name.as_deref(),
            Some("Sink")
        );
    });
}

/// Stops at its first message.
struct Quitter;
impl Actor for Quitter {
    type Message = ();
    fn handle(&mut self, _: (), ctx: &mut ActorContext<'_, ()>) {
        ctx.stop();
    }
}

/// Pauses its reading as soon as it is made.
struct Paused;
impl StreamProtocol for Paused {
    fn handle(
        &mut self,
        ev: StreamEvent,
        t: &mut dyn StreamTransport,
    ) -> Result<(), ProtocolError> {
        if let StreamEvent::ConnectionMade = ev {
            t.pause_reading();
            // More than the peer will read for a while: the buffer stays.
            let _ = t.write(&vec![0u8; 8 << 20]);
        }
        Ok(())
    }
}

#[test]
fn in3_paused_reading_a_full_write_buffer_and_paused_writing_show() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let (server, port) = serve(&l, || Paused).await;
        // A client that never reads.
        let (_r, _w) = l
            .open_connection()
            .host("127.0.0.1")
            .port(port)
            .await
            .unwrap();
        until(&l, || server.connection_count() == 1).await;
        l.sleep(0.0).await;
        let snap = l.introspect();
        let t = snap
            .actors
            .iter()
            .find(|a| a.kind == ActorKind::Transport && a.parent.is_some())
            .and_then(|a| a.transport.clone())
            .expect("the server's connection");
        assert!(t.reading_paused, "{t:?}");
        assert!(t.writing_paused, "{t:?}");
        assert!(t.write_buffer > 1 << 20, "{t:?}");
        if COUNTING {
            assert_eq!(t.bytes_out as usize + t.write_buffer, 8 << 20, "{t:?}");
        }
        server.close();
        server.abort_clients();
    });
}

#[derive(Debug)]
enum Job {
    Crash,
}

struct Worker;
impl Actor for Worker {
    type Message = Job;
    fn handle(&mut self, msg: Job, _: &mut ActorContext<'_, Job>) {
        match msg {
            Job::Crash => panic!("asked to crash"),
        }
    }
}

#[test]
fn in4_the_supervision_tree_shows_strategy_children_and_restarts() {
    let (lp, h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let mut sup = l
            .supervisor("workers")
            .strategy(Strategy::OneForAll)
            .intensity(5, Duration::from_secs(60));
        let a = sup.actor("a", || Worker);
        let b = sup.actor("b", || Worker);
        let _tree = sup.await.unwrap();
        l.sleep(0.0).await;
        let snap = l.introspect();
        let s = by_kind(&snap, ActorKind::Supervisor)[0];
        assert_eq!(s.name.as_deref(), Some("workers"));
        let info = s.supervisor.clone().unwrap();
        assert_eq!(info.strategy, "one_for_all");
        assert_eq!((info.max_restarts, info.within_seconds), (5, 60.0));
        assert_eq!((info.restarts_total, info.restarts_in_window), (0, 0));
        let names: Vec<_> = info.children.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        for (c, addr) in info.children.iter().zip([&a, &b]) {
            assert_eq!(c.actor, Some(addr.id().index()));
            assert_eq!(row(&snap, addr.id()).parent, Some(s.id));
        }
        // One crash, one restart (of both children, one-for-all).
        a.send(Job::Crash).unwrap();
        let restarted = || {
            let snap = l.introspect();
            let s = by_kind(&snap, ActorKind::Supervisor)[0].supervisor.clone();
            s.is_some_and(|s| s.restarts_total == 1 && s.children.iter().all(|c| c.restarts == 1))
        };
        until(&l, restarted).await;
        let snap = l.introspect();
        let info = by_kind(&snap, ActorKind::Supervisor)[0]
            .supervisor
            .clone()
            .unwrap();
        assert_eq!(info.restarts_in_window, 1);
    });
    assert_eq!(h.take().len(), 1, "the crash was reported");
}

#[test]
fn in5_loop_figures_count_iterations_timers_tasks_and_lag() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let before = l.introspect().lp;
        // A timer far away, and a task that waits.
        let far = l.call_later(3600.0, || {}).unwrap();
        let task = l
            .create_task(async { switchboard::sleep(3600.0).await })
            .unwrap();
        // A timer due while a callback holds the loop for 60 ms runs at
        // least ~60 ms late.
        l.call_soon(|| std::thread::sleep(Duration::from_millis(60)))
            .unwrap();
        let fired = std::rc::Rc::new(std::cell::Cell::new(false));
        let f = fired.clone();
        l.call_later(0.001, move || f.set(true)).unwrap();
        until(&l, || fired.get()).await;
        let after = l.introspect().lp;
        // The far timer and the task's sleep, and cancelled ones not yet
        // purged (such as `until`'s last sleep).
        assert!((2..=3).contains(&after.timers), "{after:?}");
        assert_eq!(after.tasks, 2, "the main task and the sleeper: {after:?}");
        assert!(after.time > before.time);
        if COUNTING {
            assert!(after.iterations > before.iterations + 2, "{after:?}");
            assert!(after.callbacks_run >= before.callbacks_run + 2, "{after:?}");
            assert!(after.handler_seconds >= 0.05, "{after:?}");
            assert!(after.lag.max >= 0.04, "{:?}", after.lag);
            assert!(after.lag.window >= 1);
            let total = *after.lag.buckets.last().unwrap();
            assert_eq!(total as usize, after.lag.window, "every sample once");
            assert!(after.lag.sum >= after.lag.max);
        }
        far.cancel();
        task.cancel();
    });
}

#[test]
fn in6_a_child_process_shows_its_pid_and_its_exit() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let p = l.create_subprocess_exec("sleep", ["30"]).await.unwrap();
        let snap = l.introspect();
        let procs = by_kind(&snap, ActorKind::Subprocess);
        assert_eq!(procs.len(), 1);
        let info = procs[0].process.clone().unwrap();
        assert_eq!((info.pid, info.state.as_str()), (p.pid(), "running"));
        assert_eq!(info.returncode, None);
        p.kill().unwrap();
        assert_eq!(p.wait().await.unwrap(), -9);
        let snap = l.introspect();
        if let Some(a) = by_kind(&snap, ActorKind::Subprocess).first() {
            let info = a.process.clone().unwrap();
            assert_eq!((info.state.as_str(), info.returncode), ("exited", Some(-9)));
        }
    });
}

#[test]
fn in7_a_snapshot_round_trips_through_json() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let (server, port) = serve(&l, || Echo).await;
        let _c = echo_client(&l, port, 3, 10).await;
        l.spawn_bounded(Sink, 4).unwrap();
        let snap = l.introspect();
        let json = serde_json::to_string(&snap).unwrap();
        assert!(json.contains("\"loop\":{"), "{json}");
        let back: Snapshot = serde_json::from_str(&json).unwrap();
        assert_eq!(back, snap);
        server.close();
    });
}

/// Runs a blocking client on a thread while the loop runs; its result.
async fn off_loop<T: Send + 'static>(lp: &EventLoop, f: impl FnOnce() -> T + Send + 'static) -> T {
    let t = std::thread::spawn(f);
    until(lp, || t.is_finished()).await;
    t.join().expect("client thread")
}

fn ask(path: &std::path::Path, command: &[u8]) -> std::io::Result<String> {
    let mut s = std::os::unix::net::UnixStream::connect(path)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(command)?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

#[test]
fn in8_the_control_socket_is_owner_only_and_answers_snapshot_alone() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ctl.sock");
    run_with_deadline(&lp, async move {
        let control = l.serve_control(&path).await.unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let p = path.clone();
        let json = off_loop(&l, move || ask(&p, b"snapshot\n")).await.unwrap();
        let reply: ControlReply = serde_json::from_str(&json).unwrap();
        assert_eq!(reply.pid, std::process::id());
        assert_eq!(reply.loops.len(), 1);
        // The control server itself is in it, named.
        let servers = by_kind(&reply.loops[0], ActorKind::Server);
        assert_eq!(servers[0].name.as_deref(), Some("control"));
        // Another command: an error, as JSON.
        let p = path.clone();
        let json = off_loop(&l, move || ask(&p, b"kill everything\n"))
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert!(
            v["error"].as_str().unwrap().contains("unknown command"),
            "{v}"
        );
        // An over-long line: dropped without an answer.
        let p = path.clone();
        let long = off_loop(&l, move || ask(&p, &[b'a'; 4096])).await;
        assert!(long.map_or(true, |s| s.is_empty()));
        // Four clients that say nothing hold every answer in progress: a
        // fifth is turned away at once.
        let p = path.clone();
        let busy = off_loop(&l, move || {
            let idle: Vec<_> = (0..4)
                .map(|_| std::os::unix::net::UnixStream::connect(&p).unwrap())
                .collect();
            let answer = ask(&p, b"snapshot\n");
            drop(idle);
            answer
        })
        .await
        .unwrap();
        assert!(busy.contains("\"busy\""), "{busy}");
        control.close();
        control.wait_closed().await;
        assert!(!path.exists(), "the socket file goes with the server");
    });
}

#[test]
fn in9_switchboard_control_in_the_environment_makes_run_serve_it() {
    let marker = "in9-child";
    if support::net::is_alone_child() {
        let path = std::env::var("SWITCHBOARD_CONTROL").unwrap();
        support::run(|lp: EventLoop| async move {
            let p = std::path::PathBuf::from(path);
            let json = off_loop(&lp, move || ask(&p, b"snapshot\n")).await.unwrap();
            let reply: ControlReply = serde_json::from_str(&json).unwrap();
            assert_eq!(reply.loops.len(), 1);
            println!("{marker} ok");
            Ok::<(), switchboard::Error>(())
        })
        .unwrap();
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("env.sock");
    // Set for the child alone: every other test's `run` reads it too.
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "in9_switchboard_control_in_the_environment_makes_run_serve_it",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(support::net::ALONE_CHILD, "1")
        .env("SWITCHBOARD_CONTROL", &path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(&format!("{marker} ok")), "{stdout}");
    assert!(!path.exists(), "the socket file went with the loop");
}

#[test]
fn in10_a_loop_groups_control_socket_shows_every_loop() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("group.sock");
    // Loop 1 stays up until loop 0 has its reply (a name would vanish with
    // loop 0, so a plain flag says so).
    let asked = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let out = switchboard::LoopGroup::new()
        .loops(2)
        .run(move |lp: EventLoop| {
            let path = path.clone();
            let asked = asked.clone();
            async move {
                let group = lp.group().unwrap();
                let me = lp.spawn_named(format!("on-{}", group.index()), Sink)?;
                if group.index() != 0 {
                    group.register("up", me)?;
                    until(&lp, || asked.load(std::sync::atomic::Ordering::Acquire)).await;
                    return Ok::<_, switchboard::Error>(None);
                }
                // Loop 1 is running (a loop not yet started is left out).
                let _up = group.lookup::<u32>("up").await?;
                let control = lp.serve_control(&path).await?;
                let json = off_loop(&lp, move || ask(&path, b"snapshot\n")).await;
                asked.store(true, std::sync::atomic::Ordering::Release);
                control.close();
                let reply: ControlReply = serde_json::from_str(&json?).unwrap();
                Ok(Some(reply))
            }
        })
        .unwrap();
    let reply = out[0].clone().unwrap();
    assert_eq!(reply.loops.len(), 2);
    for (i, snap) in reply.loops.iter().enumerate() {
        assert_eq!(snap.lp.group_index, Some(i));
        let name = format!("on-{i}");
        assert!(
            snap.actors
                .iter()
                .any(|a| a.name.as_deref() == Some(name.as_str())),
            "loop {i}: {:?}",
            snap.actors
        );
    }
}
