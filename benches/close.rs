//! Closing at scale: a server holding N idle connections (10,000 by
//! default) closes them all at once, switchboard (`server.close()` +
//! `close_clients()`, awaited with `wait_closed`) against a bare mio loop
//! (deregister and drop each accepted stream), timed on the server's
//! thread, wall and CPU. Issue target: switchboard within 2× mio.
//!
//! Run with `cargo bench --bench close`. The clients are blocking sockets
//! in a child process, connected before the timing starts and held until
//! it ends. `SWITCHBOARD_BENCH_ROUNDS` (default 5) rounds, the
//! peers interleaved; `SWITCHBOARD_BENCH_CONNS` the connections. Without
//! `--bench` on the command line (under `cargo test --benches`) it runs a
//! smoke pass with 200 connections.

#[path = "common/idle.rs"]
mod idle;
#[path = "common/stats.rs"]
mod stats;

use std::time::{Duration, Instant};

use idle::{clients, clients_main, echo_with_idle_clients, raise_nofile, release};
use stats::{median, ratio, spread, thread_cpu};

/// Wall seconds and thread CPU seconds of `f`.
fn timed(f: impl FnOnce()) -> (f64, f64) {
    let (c0, t0) = (thread_cpu(), Instant::now());
    f();
    (t0.elapsed().as_secs_f64(), thread_cpu() - c0)
}

fn switchboard_close(n: usize) -> (f64, f64) {
    let lp = switchboard::new_event_loop().expect("loop");
    let (server, child) = echo_with_idle_clients(&lp, n);
    let out = timed(|| {
        server.close();
        server.close_clients();
        lp.run_until_complete(server.wait_closed())
            .expect("wait_closed");
    });
    assert_eq!(server.connection_count(), 0);
    release(child);
    lp.close().expect("close");
    out
}

fn mio_close(n: usize) -> (f64, f64) {
    use mio::net::TcpListener;
    use mio::{Events, Interest, Poll, Token};
    let mut poll = Poll::new().expect("poll");
    let mut listener = TcpListener::bind("127.0.0.1:0".parse().expect("addr")).expect("bind");
    poll.registry()
        .register(&mut listener, Token(usize::MAX), Interest::READABLE)
        .expect("register");
    let child = clients(listener.local_addr().expect("addr"), n);
    let mut conns = Vec::with_capacity(n);
    let mut events = Events::with_capacity(1024);
    while conns.len() < n {
        poll.poll(&mut events, Some(Duration::from_millis(50)))
            .expect("poll");
        while let Ok((mut s, _)) = listener.accept() {
            poll.registry()
                .register(&mut s, Token(conns.len()), Interest::READABLE)
                .expect("register");
            conns.push(s);
        }
    }
    let out = timed(|| {
        for mut s in conns.drain(..) {
            let _ = poll.registry().deregister(&mut s);
        }
    });
    release(child);
    out
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--clients") {
        return clients_main(&args[i + 1], &args[i + 2]);
    }
    let smoke = !args.iter().any(|a| a == "--bench");
    raise_nofile();
    let n = if smoke {
        200
    } else {
        stats::env_num("SWITCHBOARD_BENCH_CONNS").map_or(10_000, |v| v as usize)
    };
    let rounds = if smoke {
        1
    } else {
        stats::env_num("SWITCHBOARD_BENCH_ROUNDS").map_or(5, |v| v as usize)
    };
    println!(
        "close bench: {n} idle connections closed at once, {rounds} round(s), load average at start {}",
        stats::loadavg()
    );
    let (mut sb, mut mio) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let (a, b) = if round % 2 == 0 {
            let a = switchboard_close(n);
            (a, mio_close(n))
        } else {
            let b = mio_close(n);
            (switchboard_close(n), b)
        };
        eprintln!(
            "  round {}: switchboard {:.2} ms wall {:.2} ms CPU; mio {:.2} ms wall {:.2} ms CPU",
            round + 1,
            a.0 * 1e3,
            a.1 * 1e3,
            b.0 * 1e3,
            b.1 * 1e3
        );
        sb.push(a);
        mio.push(b);
    }
    let ms = |v: f64| format!("{:.2} ms", v * 1e3);
    let wall = |v: &[(f64, f64)]| v.iter().map(|x| x.0).collect::<Vec<_>>();
    let cpu = |v: &[(f64, f64)]| v.iter().map(|x| x.1).collect::<Vec<_>>();
    let rs: Vec<f64> = sb.iter().zip(&mio).map(|(a, b)| a.0 / b.0).collect();
    println!(
        "close {n}: wall switchboard {}, mio {}; CPU switchboard {}, mio {}; switchboard/mio wall {} (target <= 2.0; median {:.3})",
        spread(&wall(&sb), ms),
        spread(&wall(&mio), ms),
        spread(&cpu(&sb), ms),
        spread(&cpu(&mio), ms),
        spread(&rs, ratio),
        median(&rs),
    );
    println!("load average at end {}", stats::loadavg());
}
