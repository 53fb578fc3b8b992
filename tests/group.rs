//! LoopGroup: loops on their own threads, the registry, messages across
//! loops, one address served by every loop, supervision of the loops.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use switchboard::prelude::*;
use switchboard::ready_made::{Echo, FrameHandler, Lines};
use switchboard::{Error, GroupError, LoopGroup};

use support::group::{connect, counts, echo_once, CMsg, Counter, Flag, DEADLINE};

#[test]
fn lg1_each_loop_runs_on_its_own_thread_and_outputs_come_in_loop_order() {
    let out = LoopGroup::new()
        .loops(3)
        .run(|lp: EventLoop| async move {
            let g = lp.group().expect("a loop of a group");
            Ok::<_, Error>((g.index(), g.len(), std::thread::current().id()))
        })
        .expect("run");
    let indices: Vec<_> = out.iter().map(|o| o.0).collect();
    assert_eq!(indices, vec![0, 1, 2]);
    assert!(out.iter().all(|o| o.1 == 3));
    let me = std::thread::current().id();
    assert!(out.iter().all(|o| o.2 != me));
    assert!(out[0].2 != out[1].2 && out[1].2 != out[2].2 && out[0].2 != out[2].2);
    let lone = switchboard::new_event_loop().expect("loop");
    assert!(lone.group().is_none(), "a loop outside a group has none");
}

#[test]
fn lg1_run_refuses_to_block_a_running_loop() {
    let r = switchboard::run(|_lp: EventLoop| async move {
        let inner = LoopGroup::new()
            .loops(1)
            .run(|_lp: EventLoop| async move { Ok::<_, Error>(()) });
        Ok::<_, Error>(inner.map_err(|e| e.to_string()))
    })
    .expect("run");
    assert_eq!(
        r,
        Err(switchboard::LoopError::AnotherLoopRunning.to_string())
    );
}

#[test]
fn lg1_the_default_is_one_loop_per_core_and_pinning_runs() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let out = LoopGroup::new()
        .pin_cores(true)
        .run(|lp: EventLoop| async move { Ok::<_, Error>(lp.group().map(|g| g.index())) })
        .expect("run");
    assert_eq!(out.len(), cores);
    assert_eq!(
        LoopGroup::new()
            .loops(0)
            .run(|_lp: EventLoop| async move { Ok::<_, Error>(()) })
            .map_err(|e| e.to_string()),
        Err(GroupError::InvalidArgs("a group needs at least one loop").to_string())
    );
}

#[test]
fn lg2_registry_finds_an_actor_of_another_loop_and_messages_cross_in_order() {
    let done = Flag::new();
    let out = LoopGroup::new()
        .loops(2)
        .run(move |lp: EventLoop| {
            let done = done.clone();
            async move {
                let g = lp.group().expect("group");
                if g.index() == 0 {
                    let counter = lp.spawn(Counter::default())?;
                    g.register("counter", counter.clone())?;
                    assert_eq!(
                        g.register("counter", counter.clone()),
                        Err(GroupError::NameTaken("counter".into()))
                    );
                    // Registered only after loop 1 is already waiting for it.
                    let _asker = g.lookup::<CMsg>("asker").await?;
                    g.register("late", counter.clone())?;
                    // Stay up until loop 1 is done with the counter.
                    done.wait().await;
                    return Ok::<_, Error>(counter.call(CMsg::Get).await?);
                }
                let late = lp.create_task({
                    let g = g.clone();
                    async move { g.lookup::<CMsg>("late").await }
                })?;
                let me = lp.spawn(Counter::default())?;
                g.register("asker", me.clone())?;
                let counter = switchboard::wait_for(late, DEADLINE.as_secs_f64()).await??;
                match g.lookup::<String>("counter").await {
                    Err(GroupError::WrongType { name, .. }) => assert_eq!(name, "counter"),
                    other => panic!("expected WrongType, got {other:?}"),
                }
                for n in 1..=10_000 {
                    counter
                        .send(CMsg::Add(n))
                        .map_err(|_| GroupError::Stopped)?;
                }
                let seen = counter.call(CMsg::Get).await?;
                done.raise();
                Ok(seen)
            }
        })
        .expect("run");
    let want = (10_000 * 10_001 / 2, true);
    assert_eq!(out, vec![want, want], "every message, in the order sent");
}

/// The owner of a key: answers every request with `index:line`.
struct Shard(usize);

impl Actor for Shard {
    type Message = (String, ReplyTo<String>);
    fn handle(
        &mut self,
        (line, r): (String, ReplyTo<String>),
        _: &mut ActorContext<'_, Self::Message>,
    ) {
        let _ = r.send(format!("{}:{line}", self.0));
    }
}

enum Ans {
    A(Result<String, CallError>),
}

/// Asks the shard on the other loop about every line, with `t.call`.
struct Asking(Addr<(String, ReplyTo<String>)>);

impl FrameHandler<Ans> for Asking {
    fn frame(
        &mut self,
        line: Bytes,
        t: &mut dyn StreamTransport<Ans>,
    ) -> Result<(), ProtocolError> {
        let text = String::from_utf8_lossy(&line).into_owned();
        t.call(&self.0, |r| (text, r), Ans::A)?;
        Ok(())
    }
    fn event(
        &mut self,
        ev: StreamEvent<Ans>,
        t: &mut dyn StreamTransport<Ans>,
    ) -> Result<(), ProtocolError> {
        if let StreamEvent::Message(Ans::A(a)) = ev {
            t.write(format!("{}\n", a.unwrap_or_else(|e| e.to_string())).as_bytes())?;
        }
        Ok(())
    }
}

#[test]
fn lg3_t_call_from_a_protocol_to_another_loop_answers_in_call_order() {
    let finished = Flag::new();
    let out = LoopGroup::new()
        .loops(2)
        .run(move |lp: EventLoop| {
            let finished = finished.clone();
            async move {
                let g = lp.group().expect("group");
                if g.index() == 0 {
                    g.register("shard", lp.spawn(Shard(0))?)?;
                    finished.wait().await;
                    return Ok::<_, Error>(Vec::new());
                }
                let shard = g.lookup::<(String, ReplyTo<String>)>("shard").await?;
                let server = lp
                    .create_server(move || Lines::with_handler(128, Asking(shard.clone())))
                    .host("127.0.0.1")
                    .port(0)
                    .await?;
                let port = server.sockets()[0].port();
                let lines = lp
                    .run_in_executor(None, move || {
                        let mut s = connect(port);
                        let mut req = String::new();
                        for i in 0..500 {
                            req.push_str(&format!("q{i}\n"));
                        }
                        s.write_all(req.as_bytes()).expect("write");
                        let mut r = BufReader::new(s);
                        (0..500)
                            .map(|_| {
                                let mut l = String::new();
                                r.read_line(&mut l).expect("answer");
                                l
                            })
                            .collect::<Vec<_>>()
                    })?
                    .await?;
                finished.raise();
                Ok(lines)
            }
        })
        .expect("run");
    let want: Vec<String> = (0..500).map(|i| format!("0:q{i}\n")).collect();
    assert_eq!(out[1], want, "answered by loop 0, in call order");
}

/// An echo server on every loop of two; `clients` runs on an executor
/// thread of loop 0 with the port, while each loop counts the connections
/// its factory made. Returns what `clients` returned and the counts.
fn serve_two<R: Send + 'static>(
    balanced: bool,
    clients: impl Fn(u16, &[AtomicUsize]) -> R + Send + Sync + 'static,
) -> (R, Vec<usize>) {
    let made = counts(2);
    let port = Arc::new(std::sync::OnceLock::<u16>::new());
    let clients = Arc::new(clients);
    let m = made.clone();
    let (bound_flag, joined, finished) = (Flag::new(), Flag::new(), Flag::new());
    let mut out = LoopGroup::new()
        .loops(2)
        .run(move |lp: EventLoop| {
            let (made, port, clients) = (m.clone(), port.clone(), clients.clone());
            let (bound_flag, joined, finished) =
                (bound_flag.clone(), joined.clone(), finished.clone());
            async move {
                let g = lp.group().expect("group");
                let i = g.index();
                if i == 1 && !balanced {
                    bound_flag.wait().await;
                }
                let want = port.get().copied().unwrap_or(0);
                let mm = made.clone();
                let server = lp
                    .create_server(move || {
                        mm[i].fetch_add(1, Ordering::SeqCst);
                        Echo
                    })
                    .host("127.0.0.1")
                    .port(want)
                    .reuse_port(!balanced)
                    .balanced(balanced)
                    .await?;
                let bound = server.sockets()[0].port();
                if i == 0 {
                    let _ = port.set(bound);
                    bound_flag.raise();
                } else {
                    if balanced {
                        bound_flag.wait().await;
                    }
                    assert_eq!(Some(&bound), port.get(), "one port for both loops");
                    joined.raise();
                    finished.wait().await;
                    return Ok::<_, Error>(None);
                }
                // Clients only once both loops serve.
                joined.wait().await;
                let m2 = made.clone();
                let r = lp
                    .run_in_executor(None, move || clients(bound, &m2))?
                    .await?;
                finished.raise();
                Ok(Some(r))
            }
        })
        .expect("run");
    let r = out.remove(0).expect("loop 0's result");
    (r, made.iter().map(|c| c.load(Ordering::SeqCst)).collect())
}

#[test]
fn lg4_reuse_port_serves_one_port_from_every_loop() {
    let ((), made) = serve_two(false, |port, _| {
        for _ in 0..64 {
            echo_once(&mut connect(port));
        }
    });
    assert_eq!(made.iter().sum::<usize>(), 64);
    // The kernel hashes 64 connections over two sockets: all on one has
    // probability 2^-63.
    assert!(made.iter().all(|&n| n > 0), "both loops served: {made:?}");
}

#[test]
fn lg5_balanced_mode_spreads_100_connections_within_one() {
    let (held, made) = serve_two(true, |port, made| {
        let mut held = Vec::new();
        for _ in 0..100 {
            let mut s = connect(port);
            echo_once(&mut s);
            held.push(s);
        }
        // Every connection is open and served: the counts now.
        made.iter()
            .map(|c| c.load(Ordering::SeqCst))
            .collect::<Vec<_>>()
    });
    assert_eq!(held.iter().sum::<usize>(), 100);
    assert!(held[0].abs_diff(held[1]) <= 1, "balanced: {held:?}");
    assert_eq!(made, held);
}

#[test]
fn lg6_a_closed_balanced_share_takes_its_loop_out_and_the_last_close_refuses() {
    let made = counts(2);
    let m = made.clone();
    let finished = Flag::new();
    let out = LoopGroup::new()
        .loops(2)
        .run(move |lp: EventLoop| {
            let (made, finished) = (m.clone(), finished.clone());
            async move {
                let g = lp.group().expect("group");
                let i = g.index();
                let mm = made.clone();
                let server = lp
                    .create_server(move || {
                        mm[i].fetch_add(1, Ordering::SeqCst);
                        Echo
                    })
                    .host("127.0.0.1")
                    .port(0)
                    .balanced(true)
                    .await?;
                let port = server.sockets()[0].port();
                if i == 1 {
                    g.register("one", lp.spawn(Counter::default())?)?;
                    let _ = g.lookup::<CMsg>("closed0").await?;
                    server.close();
                    g.register("closed1", lp.spawn(Counter::default())?)?;
                    finished.wait().await;
                    return Ok::<_, Error>(0);
                }
                let _ = g.lookup::<CMsg>("one").await?;
                server.close();
                let refused = lp
                    .run_in_executor(None, move || {
                        for _ in 0..10 {
                            echo_once(&mut connect(port));
                        }
                        port
                    })?
                    .await?;
                g.register("closed0", lp.spawn(Counter::default())?)?;
                let _ = g.lookup::<CMsg>("closed1").await?;
                let ended = lp
                    .run_in_executor(None, move || {
                        // The accept thread closes the socket when it sees
                        // the last share go: refused within the deadline.
                        let end = std::time::Instant::now() + DEADLINE;
                        loop {
                            match TcpStream::connect(("127.0.0.1", refused)) {
                                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                                    return true
                                }
                                _ if std::time::Instant::now() > end => return false,
                                _ => std::thread::yield_now(),
                            }
                        }
                    })?
                    .await?;
                finished.raise();
                Ok(usize::from(ended))
            }
        })
        .expect("run");
    assert_eq!(out[0], 1, "connects refused once every share closed");
    let made: Vec<_> = made.iter().map(|c| c.load(Ordering::SeqCst)).collect();
    assert_eq!(
        made,
        vec![0, 10],
        "loop 0 took none after closing its share"
    );
}

#[test]
fn lg6_balanced_outside_a_group_is_a_typed_error() {
    let r = switchboard::run(|lp: EventLoop| async move {
        let e = lp
            .create_server(|| Echo)
            .host("127.0.0.1")
            .port(0)
            .balanced(true)
            .await
            .expect_err("no group");
        Ok::<_, Error>(e.to_string())
    })
    .expect("run");
    assert!(r.contains("LoopGroup"), "{r}");
}
