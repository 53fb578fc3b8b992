//! Side-by-side loop-core benchmark: switchboard against tokio's current-thread
//! runtime (and CPython asyncio for `call_soon`), per CPU-second.
//!
//! Run with `cargo bench --bench loop_core`. Every rate is shown per CPU-second
//! of this thread (`CLOCK_THREAD_CPUTIME_ID`, user + system, from the first
//! call scheduled to the last one run) and as a raw wall-clock rate. Timer
//! rates per CPU-second leave out the time the loop sleeps until a deadline.
//!
//! Workloads (N = 1,000,000 unless `SWITCHBOARD_BENCH_N` says otherwise):
//!
//! 1. `call_soon`: N callbacks that bump a counter, scheduled, then run. tokio:
//!    N `spawn_local` tasks on a `LocalSet` driven to completion; CPython
//!    asyncio's `call_soon` for scale (`time.process_time`).
//! 2. `timers`: N timers with delays uniform in `[0, 1 s)` (fixed-seed
//!    xorshift, the same delays for both), all fired. tokio: a `DelayQueue`
//!    filled, then drained with `poll_expired`.
//! 3. `timers_cancel`: N timers scheduled 1 h (plus up to 1 s) ahead, so none
//!    can fall due, then each cancelled, then one loop iteration so the
//!    cancelled entries are purged. tokio: `DelayQueue` insert, then `remove`.
//!
//! One unmeasured warm-up run of each, then `SWITCHBOARD_BENCH_ROUNDS`
//! (default 5) rounds, each running every peer once, in an order rotated from
//! round to round. Ratios are taken within a round; each figure is printed as
//! `median (min–max)` over the rounds, one line per workload.
//! `SWITCHBOARD_BENCH_ONLY` (comma-separated: `call_soon`, `timers`,
//! `timers_cancel`, `asyncio`) runs a subset, e.g. under a profiler, and
//! `SWITCHBOARD_BENCH_PEERS` (`switchboard`, `tokio-spawn_local`, ...) only
//! those peers. Without
//! `--bench` on the command line (under `cargo test --benches`) it runs a
//! smoke pass with N = 1000 and a 10 ms timer span.

#[path = "../common/stats.rs"]
mod stats;
mod workloads;

use std::time::Duration;

use stats::{ratio, si, spread, Sample};

/// One peer of a workload.
struct Peer {
    name: &'static str,
    run: Box<dyn Fn() -> Sample>,
    samples: Vec<Sample>,
}

impl Peer {
    fn new(name: &'static str, run: impl Fn() -> Sample + 'static) -> Peer {
        Peer {
            name,
            run: Box::new(run),
            samples: Vec::new(),
        }
    }
}

struct Workload {
    title: String,
    unit: &'static str,
    /// Switchboard first.
    peers: Vec<Peer>,
}

fn report(w: &Workload) -> String {
    let pick =
        |f: fn(&Sample) -> f64| move |p: &Peer| p.samples.iter().map(f).collect::<Vec<f64>>();
    let per_cpu = pick(Sample::per_cpu);
    let raw = pick(Sample::raw);
    let figures = |f: &dyn Fn(&Peer) -> Vec<f64>| {
        w.peers
            .iter()
            .map(|p| format!("{} {}", p.name, spread(&f(p), si)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let ratios = |f: &dyn Fn(&Peer) -> Vec<f64>| {
        let sb = f(&w.peers[0]);
        w.peers[1.min(w.peers.len())..]
            .iter()
            .map(|p| {
                let r: Vec<f64> = sb.iter().zip(f(p)).map(|(a, b)| a / b).collect();
                format!("switchboard/{} {}", p.name, spread(&r, ratio))
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "{}: {} per CPU-s {}; ratios per CPU-s {}; raw {}/s {}; raw ratios {}",
        w.title,
        w.unit,
        figures(&per_cpu),
        ratios(&per_cpu),
        w.unit,
        figures(&raw),
        ratios(&raw),
    )
}

fn main() {
    let smoke = !std::env::args().any(|a| a == "--bench");
    let n = stats::env_num("SWITCHBOARD_BENCH_N")
        .map_or(if smoke { 1000 } else { 1_000_000 }, |v| v as usize);
    let span = if smoke { 0.01 } else { 1.0 };
    let rounds = if smoke {
        1
    } else {
        stats::env_num("SWITCHBOARD_BENCH_ROUNDS").map_or(5, |v| v as usize)
    };
    let only = std::env::var("SWITCHBOARD_BENCH_ONLY").unwrap_or_default();
    let want = |name: &str| only.is_empty() || only.split(',').any(|w| w.trim() == name);

    println!(
        "loop_core bench ({}): N={n}, timer span {span} s, {} warm-up + {rounds} round(s), \
         tokio current-thread runtime, CPUs allowed: {}, load average at start {}",
        if smoke {
            "smoke pass under cargo test --benches, not a measurement"
        } else {
            "cargo bench --bench loop_core"
        },
        u8::from(!smoke),
        stats::cpus_allowed(),
        stats::loadavg(),
    );

    let fire = Duration::ZERO;
    let fired = workloads::delays(n, fire.as_secs_f64(), span);
    // Far enough ahead that none falls due while the run lasts.
    let far = workloads::delays(n, 3600.0, span);
    let mut all = Vec::new();
    if want("call_soon") {
        let mut peers = vec![
            Peer::new("switchboard", move || workloads::sb_call_soon(n)),
            Peer::new("tokio-spawn_local", move || workloads::tokio_call_soon(n)),
        ];
        if want("asyncio") && !smoke {
            peers.push(Peer::new("asyncio", move || {
                workloads::asyncio_call_soon(n).unwrap_or_else(|why| {
                    eprintln!("asyncio skipped: {why}");
                    Sample {
                        count: f64::NAN,
                        wall: Duration::from_secs(1),
                        cpu: 1.0,
                    }
                })
            }));
        }
        all.push(Workload {
            title: format!("call_soon N={n}"),
            unit: "callbacks",
            peers,
        });
    }
    if want("timers") {
        let (a, b) = (fired.clone(), fired);
        all.push(Workload {
            title: format!("timers fired N={n}, delays 0-{span} s"),
            unit: "timers",
            peers: vec![
                Peer::new("switchboard", move || workloads::sb_timers(&a)),
                Peer::new("tokio-DelayQueue", move || workloads::tokio_timers(&b)),
            ],
        });
    }
    if want("timers_cancel") {
        let (a, b) = (far.clone(), far);
        all.push(Workload {
            title: format!(
                "timers scheduled then cancelled N={n}, delays 3600-{} s",
                3600.0 + span
            ),
            unit: "timers",
            peers: vec![
                Peer::new("switchboard", move || workloads::sb_cancel(&a)),
                Peer::new("tokio-DelayQueue", move || workloads::tokio_cancel(&b)),
            ],
        });
    }
    // `SWITCHBOARD_BENCH_PEERS=switchboard` runs only those peers (profiling).
    if let Ok(keep) = std::env::var("SWITCHBOARD_BENCH_PEERS") {
        for w in &mut all {
            w.peers
                .retain(|p| keep.split(',').any(|k| k.trim() == p.name));
        }
    }
    if !smoke {
        for w in &all {
            for p in &w.peers {
                (p.run)();
            }
        }
    }
    for round in 0..rounds {
        for w in &mut all {
            let k = w.peers.len();
            for j in 0..k {
                let p = &mut w.peers[(j + round) % k];
                let s = (p.run)();
                eprintln!(
                    "  round {} {} {}: {} per CPU-s, {}/s raw ({:.3} s CPU, {:.3} s wall)",
                    round + 1,
                    w.title,
                    p.name,
                    si(s.per_cpu()),
                    si(s.raw()),
                    s.cpu,
                    s.wall.as_secs_f64()
                );
                p.samples.push(s);
            }
        }
    }
    for w in &all {
        println!("{}", report(w));
    }
    println!("load average at end {}", stats::loadavg());
}
