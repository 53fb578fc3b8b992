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
//! 2. `call_soon_timers`: the same while 100,000 timers 1-60 s ahead wait
//!    (a service always has timeouts pending). tokio: 100,000 entries in a
//!    `DelayQueue` registered with its timer.
//! 3. `timers`: N timers with delays uniform in `[0, 1 s)` (fixed-seed
//!    xorshift, the same delays for both), all fired. tokio: a `DelayQueue`
//!    filled, then drained with `poll_expired`.
//! 4. `timers_cancel`: N timers with delays uniform in 1-60 s (timeouts as
//!    a service sets them), each cancelled, then one loop iteration so the
//!    cancelled entries are purged. tokio: `DelayQueue` insert, then `remove`.
//!
//! The steady state, not a fresh process: each sample runs in a child
//! process of its own (this binary re-executed with `--sample WORKLOAD PEER
//! N SPAN`, pinned to core 0 when `taskset` works), which first does a burst
//! of other work on the same runtime (N timers fired, N timers 1-60 s ahead
//! cancelled, N callbacks), then the workload twice: both passes are
//! printed, and the second is the one compared (a service runs warm). No
//! peer inherits another's allocator state.
//! `SWITCHBOARD_BENCH_ROUNDS` (default 5) rounds, each running every peer once, in an order rotated from
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

use std::process::Command;
use std::time::Duration;

use stats::{ratio, si, spread, Sample};

/// Runs `peer` of `workload` in this process: after a burst of other work
/// (see [`workloads::burst`]), two passes; returns both.
fn run_here(workload: &str, peer: &str, n: usize, span: f64) -> (Sample, Sample) {
    let pending = workloads::delays(PENDING, 1.0, 59.0);
    let run = || match (workload, peer) {
        ("call_soon", "switchboard") => workloads::sb_call_soon(n),
        ("call_soon", "tokio-spawn_local") => workloads::tokio_call_soon(n),
        ("call_soon_timers", "switchboard") => workloads::sb_call_soon_timers(n, &pending),
        ("call_soon_timers", "tokio-spawn_local") => workloads::tokio_call_soon_timers(n, &pending),
        ("timers", "switchboard") => workloads::sb_timers(&workloads::delays(n, 0.0, span)),
        ("timers", "tokio-DelayQueue") => workloads::tokio_timers(&workloads::delays(n, 0.0, span)),
        // Timeouts as a service sets them: seconds away, mostly cancelled.
        ("timers_cancel", "switchboard") => workloads::sb_cancel(&workloads::delays(n, 1.0, 59.0)),
        ("timers_cancel", "tokio-DelayQueue") => {
            workloads::tokio_cancel(&workloads::delays(n, 1.0, 59.0))
        }
        _ => panic!("no peer {peer} for {workload}"),
    };
    workloads::burst(peer.starts_with("tokio"), n, span);
    let first = run();
    (first, run())
}

/// Timers pending during `call_soon_timers`.
const PENDING: usize = 100_000;

/// Runs one sample in a fresh child process (see the module docs).
fn run_in_child(workload: &str, peer: &str, n: usize, span: f64) -> (Sample, Sample) {
    let exe = std::env::current_exe().expect("bench binary");
    let pin = Command::new("taskset")
        .args(["-c", "0", "true"])
        .status()
        .is_ok_and(|s| s.success());
    let mut cmd = if pin {
        let mut c = Command::new("taskset");
        c.args(["-c", "0"]).arg(&exe);
        c
    } else {
        Command::new(&exe)
    };
    let out = cmd
        .args([
            "--sample",
            workload,
            peer,
            &n.to_string(),
            &span.to_string(),
        ])
        .output()
        .expect("run the bench child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{workload} {peer} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Vec<f64> = stdout
        .lines()
        .find_map(|l| l.strip_prefix("SAMPLE "))
        .expect("a SAMPLE line")
        .split_whitespace()
        .map(|x| x.parse().expect("a number"))
        .collect();
    let sample = |k: usize| Sample {
        count: v[k],
        wall: Duration::from_secs_f64(v[k + 1]),
        cpu: v[k + 2],
    };
    (sample(0), sample(3))
}

/// The child's side of [`run_in_child`]: `--sample WORKLOAD PEER N SPAN`.
fn sample_main(args: &[String]) {
    let n = args[2].parse().expect("N");
    let span = args[3].parse().expect("span");
    let (a, b) = run_here(&args[0], &args[1], n, span);
    println!(
        "SAMPLE {} {} {} {} {} {}",
        a.count,
        a.wall.as_secs_f64(),
        a.cpu,
        b.count,
        b.wall.as_secs_f64(),
        b.cpu
    );
}

/// One peer of a workload.
struct Peer {
    name: &'static str,
    /// The first pass and the second (the one reported).
    run: Box<dyn Fn() -> (Sample, Sample)>,
    first: Vec<Sample>,
    samples: Vec<Sample>,
}

impl Peer {
    fn new(name: &'static str, run: impl Fn() -> (Sample, Sample) + 'static) -> Peer {
        Peer {
            name,
            run: Box::new(run),
            first: Vec::new(),
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
    let first = |p: &Peer| p.first.iter().map(Sample::per_cpu).collect::<Vec<f64>>();
    let keep = |p: &Peer| {
        let r: Vec<f64> = per_cpu(p)
            .iter()
            .zip(first(p))
            .map(|(b, a)| b / a)
            .collect();
        format!("{} {}", p.name, spread(&r, ratio))
    };
    format!(
        "{}: 2nd pass {} per CPU-s {}; ratios per CPU-s {}; raw {}/s {}; raw ratios {}; \
         1st pass per CPU-s {}; 2nd/1st {}",
        w.title,
        w.unit,
        figures(&per_cpu),
        ratios(&per_cpu),
        w.unit,
        figures(&raw),
        ratios(&raw),
        figures(&first),
        w.peers.iter().map(keep).collect::<Vec<_>>().join(", "),
    )
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--sample") {
        return sample_main(&args[i + 1..]);
    }
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
        "loop_core bench ({}): N={n}, timer span {span} s, {rounds} round(s), each sample \
         in its own process after a burst of other work, two passes (the 2nd compared), \
         tokio current-thread runtime, \
         CPUs allowed: {}, load average at start {}",
        if smoke {
            "smoke pass under cargo test --benches, not a measurement"
        } else {
            "cargo bench --bench loop_core"
        },
        stats::cpus_allowed(),
        stats::loadavg(),
    );

    let mut all = Vec::new();
    let child =
        |w: &'static str, p: &'static str| Peer::new(p, move || run_in_child(w, p, n, span));
    if want("call_soon") {
        let mut peers = vec![
            child("call_soon", "switchboard"),
            child("call_soon", "tokio-spawn_local"),
        ];
        if want("asyncio") && !smoke {
            peers.push(Peer::new("asyncio", move || {
                let s = workloads::asyncio_call_soon(n).unwrap_or_else(|why| {
                    eprintln!("asyncio skipped: {why}");
                    Sample {
                        count: f64::NAN,
                        wall: Duration::from_secs(1),
                        cpu: 1.0,
                    }
                });
                (s, s)
            }));
        }
        all.push(Workload {
            title: format!("call_soon N={n}"),
            unit: "callbacks",
            peers,
        });
    }
    if want("call_soon_timers") {
        all.push(Workload {
            title: format!("call_soon N={n} with {PENDING} timers pending (1-60 s)"),
            unit: "callbacks",
            peers: vec![
                child("call_soon_timers", "switchboard"),
                child("call_soon_timers", "tokio-spawn_local"),
            ],
        });
    }
    if want("timers") {
        all.push(Workload {
            title: format!("timers fired N={n}, delays 0-{span} s"),
            unit: "timers",
            peers: vec![
                child("timers", "switchboard"),
                child("timers", "tokio-DelayQueue"),
            ],
        });
    }
    if want("timers_cancel") {
        all.push(Workload {
            title: format!("timers scheduled then cancelled N={n}, delays 1-60 s"),
            unit: "timers",
            peers: vec![
                child("timers_cancel", "switchboard"),
                child("timers_cancel", "tokio-DelayQueue"),
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
    for round in 0..rounds {
        for w in &mut all {
            let k = w.peers.len();
            for j in 0..k {
                let p = &mut w.peers[(j + round) % k];
                let (first, s) = (p.run)();
                eprintln!(
                    "  round {} {} {}: 1st pass {} per CPU-s; 2nd {} per CPU-s, {}/s raw ({:.3} s CPU, {:.3} s wall)",
                    round + 1,
                    w.title,
                    p.name,
                    si(first.per_cpu()),
                    si(s.per_cpu()),
                    si(s.raw()),
                    s.cpu,
                    s.wall.as_secs_f64()
                );
                p.first.push(first);
                p.samples.push(s);
            }
        }
    }
    for w in &all {
        println!("{}", report(w));
    }
    println!("load average at end {}", stats::loadavg());
}
