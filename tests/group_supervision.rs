//! LoopGroup supervision and shutdown: failed or panicking loops restarted
//! within the intensity, giving up past it, one signal draining every loop,
//! children reaped by their own loop. Ids refer to docs/behavior.md.

mod support;

use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use switchboard::prelude::*;
use switchboard::ready_made::Echo;
use switchboard::{Error, LoopGroup, SupervisorError};

use support::group::{connect, counts, echo_once, CMsg, Counter, Flag, DEADLINE};

/// A setup that fails (or panics) on its first run of loop `fail_on`.
fn restarts(strategy: Strategy, panic: bool) -> (switchboard::Result<Vec<usize>>, Vec<usize>) {
    let setups = counts(2);
    let s = setups.clone();
    let up = Arc::new(tokio::sync::watch::channel([false; 2]).0);
    let started0 = Flag::new();
    let out = LoopGroup::new()
        .loops(2)
        .strategy(strategy)
        .run(move |lp: EventLoop| {
            let (setups, up, started0) = (s.clone(), up.clone(), started0.clone());
            async move {
                let g = lp.group().expect("group");
                let i = g.index();
                let run = setups[i].fetch_add(1, Ordering::SeqCst);
                let me = lp.spawn(Counter::default())?;
                // A restarted loop's names are gone: it registers again.
                g.register(format!("w{i}"), me)?;
                if i == 0 {
                    started0.raise();
                }
                if i == 1 && run == 0 {
                    // Fails once loop 0 runs, so one-for-all has a loop 0
                    // to restart.
                    started0.wait().await;
                    if panic {
                        panic!("loop 1 fails once");
                    }
                    return Err(Error::from(std::io::Error::other("loop 1 fails once")));
                }
                // Both loops stay until both are up in their last run (a
                // loop 0 that ended first would not be restarted by
                // one-for-all).
                up.send_modify(|u| u[i] = true);
                let _ = up.subscribe().wait_for(|u| u[0] && u[1]).await;
                Ok(i)
            }
        });
    (
        out,
        setups.iter().map(|c| c.load(Ordering::SeqCst)).collect(),
    )
}

#[test]
fn lg7_a_failed_loop_is_restarted_one_for_one() {
    let (out, setups) = restarts(Strategy::OneForOne, false);
    assert_eq!(out.expect("run"), vec![0, 1]);
    assert_eq!(setups, vec![1, 2], "only loop 1 ran its setup again");
}

#[test]
fn lg7_a_loop_that_panics_outside_a_handler_is_restarted() {
    let (out, setups) = restarts(Strategy::OneForOne, true);
    assert_eq!(out.expect("run"), vec![0, 1]);
    assert_eq!(setups, vec![1, 2]);
}

#[test]
fn lg7_one_for_all_restarts_every_loop() {
    let (out, setups) = restarts(Strategy::OneForAll, false);
    assert_eq!(out.expect("run"), vec![0, 1]);
    assert_eq!(setups, vec![2, 2], "loop 0 was restarted with loop 1");
}

#[test]
fn lg8_past_the_intensity_the_group_stops_every_loop_and_gives_up() {
    let out = LoopGroup::new()
        .loops(2)
        .intensity(2, Duration::from_secs(60))
        .run(|lp: EventLoop| async move {
            let g = lp.group().expect("group");
            if g.index() == 1 {
                return Err(Error::from(std::io::Error::other("always")));
            }
            // Waits for ever: the group must stop it.
            let _ = g.lookup::<CMsg>("never").await?;
            Ok(())
        });
    match out {
        Err(Error::Supervisor(SupervisorError::GroupGaveUp {
            index,
            max_restarts,
            last,
            ..
        })) => {
            assert_eq!((index, max_restarts), (1, 2));
            assert!(last.contains("always"), "{last}");
        }
        other => panic!("expected GroupGaveUp, got {other:?}"),
    }
}

#[test]
fn lg8_without_restarts_run_returns_the_first_error_itself() {
    let out = LoopGroup::new()
        .loops(2)
        .intensity(0, Duration::from_secs(1))
        .run(|lp: EventLoop| async move {
            let g = lp.group().expect("group");
            if g.index() == 0 {
                return Err(Error::from(std::io::Error::other("first")));
            }
            let _ = g.lookup::<CMsg>("never").await?;
            Ok(())
        });
    match out {
        Err(Error::Io(e)) => assert_eq!(e.to_string(), "first"),
        other => panic!("expected the loop's own error, got {other:?}"),
    }
}

#[test]
fn lg9_one_signal_drains_every_loop_and_each_gets_the_summed_report() {
    const NAME: &str = "lg9_one_signal_drains_every_loop_and_each_gets_the_summed_report";
    if !support::net::is_alone_child() {
        return support::net::run_alone(NAME, "LG9 done");
    }
    let joined = Flag::new();
    let reports = LoopGroup::new()
        .loops(2)
        .run(move |lp: EventLoop| {
            let joined = joined.clone();
            async move {
                let g = lp.group().expect("group");
                let server = lp
                    .create_server(|| Echo)
                    .host("127.0.0.1")
                    .port(0)
                    .balanced(true)
                    .await?;
                let done = g.shutdown_on_signals(&[Signal::SIGTERM], DEADLINE)?;
                if g.index() == 1 {
                    joined.raise();
                } else {
                    joined.wait().await;
                    let port = server.sockets()[0].port();
                    lp.run_in_executor(None, move || {
                        // One connection per loop (balanced), both served.
                        let mut held: Vec<_> = (0..2).map(|_| connect(port)).collect();
                        held.iter_mut().for_each(echo_once);
                        nix::sys::signal::raise(nix::sys::signal::Signal::SIGTERM).expect("raise");
                        // Both shares closed (the drains began) once connects
                        // are refused; then the clients leave.
                        let end = std::time::Instant::now() + DEADLINE;
                        while TcpStream::connect(("127.0.0.1", port)).is_ok() {
                            assert!(std::time::Instant::now() < end, "never drained");
                            std::thread::yield_now();
                        }
                        drop(held);
                    })?;
                }
                Ok::<_, Error>(done.await)
            }
        })
        .expect("run");
    assert_eq!(reports[0], reports[1], "one report, summed over the loops");
    let r = reports[0];
    assert_eq!(r.servers, 2, "{r}");
    // The two held connections, and any probe connect accepted before the
    // listener closed: all ended by the clients, none closed or aborted.
    assert!(r.connections.finished >= 2, "{r}");
    assert_eq!(r.connections.total(), r.connections.finished, "{r}");
    println!("LG9 done");
}

#[test]
fn lg11_each_loop_reaps_its_own_children_with_their_own_status() {
    let out = LoopGroup::new()
        .loops(2)
        .run(|lp: EventLoop| async move {
            let i = lp.group().expect("group").index();
            let mut procs = Vec::new();
            for k in 0..5 {
                let code = 10 * (i + 1) + k;
                let script = format!("sleep 0.0{k}; exit {code}");
                procs.push((
                    code,
                    lp.create_subprocess_exec("sh", ["-c", &script]).await?,
                ));
            }
            let mut got = Vec::new();
            for (code, p) in procs {
                got.push((code as i32, p.wait().await?));
            }
            Ok::<_, Error>(got)
        })
        .expect("run");
    for per_loop in out {
        for (want, got) in per_loop {
            assert_eq!(got, want, "a child's status went to its own loop");
        }
    }
}
