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
//! Each sample runs in a fresh child process (this binary re-executed with
//! `--sample WORKLOAD PEER N SPAN`, pinned to core 0 when `taskset` works),
//! which does one unmeasured warm-up run and then the measured one: no peer
//! inherits the allocator's state (a million freed timers) from another.
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

/// Runs `peer` of `workload` in this process: one warm-up run, then the
/// measured one.
fn run_here(workload: &str, peer: &str, n: usize, span: f64) -> Sample {
    let run = || match (workload, peer) {
        ("call_soon", "switchboard") => workloads::sb_call_soon(n),
        ("call_soon", "tokio-spawn_local") => workloads::tokio_call_soon(n),
        ("timers", "switchboard") => workloads::sb_timers(&workloads::delays(n, 0.0, span)),
        ("timers", "tokio-DelayQueue") => workloads::tokio_timers(&workloads::delays(n, 0.0, span)),
        // Far enough ahead that none falls due while the run lasts.
        ("timers_cancel", "switchboard") => {
            workloads::sb_cancel(&workloads::delays(n, 3600.0, span))
        }
        ("timers_cancel", "tokio-DelayQueue") => {
            workloads::tokio_cancel(&workloads::delays(n, 3600.0, span))
        }
        _ => panic!("no peer {peer} for {workload}"),
    };
    run();
    run()
}

/// Runs one sample in a fresh child process (see the module docs).
fn run_in_child(workload: &str, peer: &str, n: usize, span: f64) -> Sample {
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
    Sample {
        count: v[0],
        wall: Duration::from_secs_f64(v[1]),
        cpu: v[2],
    }
}

/// The child's side of [`run_in_child`]: `--sample WORKLOAD PEER N SPAN`.
fn sample_main(args: &[String]) {
    let n = args[2].parse().expect("N");
    let span = args[3].parse().expect("span");
    let s = run_here(&args[0], &args[1], n, span);
    println!("SAMPLE {} {} {}", s.count, s.wall.as_secs_f64(), s.cpu);
}

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
         in a fresh process after a warm-up run in it, tokio current-thread runtime, \
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
            title: format!(
                "timers scheduled then cancelled N={n}, delays 3600-{} s",
                3600.0 + span
            ),
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
