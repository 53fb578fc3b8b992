//! Side-by-side socket benchmark: switchboard's ready-made protocols against
//! a bare mio loop (the practical limit) and tokio's current-thread runtime,
//! under one load generator, per CPU-second of the server.
//!
//! Run with `cargo bench --bench echo`. Each server runs in its own process
//! (this binary re-executed with `--serve KIND SERVICE`) pinned to core 0
//! with `taskset -c 0`; the load generator, a bare mio client loop in this
//! process, is pinned to core 1. Every rate is shown per CPU-second of the
//! server process (utime + stime from `/proc/PID/stat` over the measured
//! window) and as a raw wall-clock rate; per-CPU rates are the ones to
//! compare, as they barely move when other processes take the cores.
//!
//! Each workload runs every peer once per round, in an order rotated from
//! round to round; ratios are taken within a round, and each figure is printed
//! as `median (min–max)` over the rounds, one line per workload.
//!
//! Workloads:
//!
//! 1. `rr`: request/response, 1 KiB over 100 connections, each connection
//!    waiting for its whole echo before it sends again (requests).
//! 2. `stream`: 64 KiB chunks written without waiting over 10 connections,
//!    echoes read as they come (MiB echoed).
//! 3. `http`: HTTP/1.1, 100 connections, 16 pipelined requests per write,
//!    all 16 answers awaited (requests), against switchboard's `HttpHello`.
//! 4. `idle`: the server's RSS growth per connection with 10,000 idle
//!    connections (bytes, lower is better).
//! 5. `lines`: line echo over the high-level streams, 1 KiB lines
//!    (`readline` → `write` → `drain`) over 100 connections, one line in
//!    flight per connection (requests), against tokio's `BufReader` lines +
//!    `write_all`, CPython asyncio's streams, and switchboard's own
//!    protocol-level `Echo` (what the streams layer costs).
//! 6. `churn`: connection churn, 100 clients at once, each connecting,
//!    sending one 64-byte request, reading the echo and closing, then
//!    connecting again (connections per server CPU-second).
//!
//! Peers: `mio` reads into one shared 256 KiB buffer and writes directly,
//! queueing only what the kernel did not take; `tokio-64k` and `tokio-256k`
//! read into a buffer of that size per connection, allocated at its first
//! bytes (`read().await`, then `write_all().await`), as a tokio user writes
//! it.
//!
//! Environment: `SWITCHBOARD_BENCH_SECS` (measured seconds per run, default
//! 2, after a warm-up of a quarter of that), `SWITCHBOARD_BENCH_ROUNDS`
//! (default 5), `SWITCHBOARD_BENCH_CONNS` (idle connections, default 10,000),
//! `SWITCHBOARD_BENCH_ONLY` (comma-separated workloads: `rr`, `stream`,
//! `http`, `idle`, `lines`, `churn`). Without `--bench` on the command line (under
//! `cargo test --benches`) it runs a short smoke pass of each workload.

mod http;
mod lines;
mod load;
mod mio_server;
mod servers;
#[path = "../common/stats.rs"]
mod stats;

use std::process::{Command, Stdio};
use std::time::Duration;

use load::{ServerProc, Timing};
use servers::{Kind, Service};
use stats::{median, ratio, si, spread, whole};

/// Raises the soft RLIMIT_NOFILE to the hard limit; returns the new soft one.
pub fn raise_nofile() -> u64 {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((_, hard)) => {
            let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
            getrlimit(Resource::RLIMIT_NOFILE).map_or(1024, |(s, _)| s)
        }
        Err(_) => 1024,
    }
}

/// True when CPython with asyncio runs here (the `lines` workload's peer).
fn python_ok() -> bool {
    Command::new("python3")
        .args(["-c", "import asyncio"])
        .status()
        .is_ok_and(|s| s.success())
}

/// Pins this process (the load generator) to core 1.
fn pin_self() -> bool {
    // Counted before pinning: available_parallelism honours the affinity mask.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores >= 2
        && Command::new("taskset")
            .args(["-cp", "1", &std::process::id().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Workload {
    Rr,
    Stream,
    Http,
    Idle,
    Lines,
    Churn,
}

struct Plan {
    timing: Timing,
    rounds: usize,
    rr_conns: usize,
    stream_conns: usize,
    http_conns: usize,
    depth: usize,
    idle_conns: usize,
    pin: bool,
}

impl Workload {
    fn key(self) -> &'static str {
        match self {
            Workload::Rr => "rr",
            Workload::Stream => "stream",
            Workload::Http => "http",
            Workload::Idle => "idle",
            Workload::Lines => "lines",
            Workload::Churn => "churn",
        }
    }

    fn title(self, p: &Plan) -> String {
        match self {
            Workload::Rr => format!("rr 1 KiB x {} conns, requests", p.rr_conns),
            Workload::Stream => format!("stream 64 KiB x {} conns, MiB", p.stream_conns),
            Workload::Http => format!(
                "http {} conns x {} pipelined, requests",
                p.http_conns, p.depth
            ),
            Workload::Idle => format!(
                "idle memory @{} conns, bytes/conn (lower is better)",
                p.idle_conns
            ),
            Workload::Lines => format!(
                "lines: 1 KiB line echo x {} conns over streams, requests",
                p.rr_conns
            ),
            Workload::Churn => format!(
                "churn: connect, one 64 B request, close, x {} clients, connections",
                p.rr_conns
            ),
        }
    }

    fn peers(self) -> Vec<Kind> {
        match self {
            Workload::Rr | Workload::Stream => {
                vec![
                    Kind::Switchboard,
                    Kind::Mio,
                    Kind::Tokio(64),
                    Kind::Tokio(256),
                ]
            }
            Workload::Http | Workload::Idle | Workload::Churn => {
                vec![Kind::Switchboard, Kind::Mio, Kind::Tokio(64)]
            }
            // Streams first: the ratios are of the first peer to each other.
            // `switchboard` is the protocol-level `Echo` (what the layer costs).
            Workload::Lines => {
                let mut v = vec![Kind::Streams, Kind::Switchboard, Kind::Tokio(64)];
                if python_ok() {
                    v.push(Kind::Python);
                }
                v
            }
        }
    }

    fn service(self) -> Service {
        match self {
            Workload::Http => Service::Http,
            Workload::Lines => Service::Lines,
            _ => Service::Echo,
        }
    }
}

/// One peer's figures over the rounds.
struct Runs {
    kind: Kind,
    /// Per wall second (idle: bytes per connection).
    raw: Vec<f64>,
    /// Per server CPU-second (empty for idle).
    per_cpu: Vec<f64>,
    busy: Vec<f64>,
}

fn measure(w: Workload, kind: Kind, p: &Plan, runs: &mut Runs) {
    let server = ServerProc::start(kind, w.service(), p.pin);
    let t = &p.timing;
    let sample = match w {
        Workload::Rr => load::bench_rr(&server, p.rr_conns, 1024, t),
        Workload::Stream => load::bench_stream(&server, p.stream_conns, 64 * 1024, t),
        Workload::Http => load::bench_http(&server, p.http_conns, p.depth, t),
        Workload::Lines => load::bench_lines(&server, p.rr_conns, 1024, t),
        Workload::Churn => load::bench_churn(&server, p.rr_conns, t),
        Workload::Idle => {
            runs.raw.push(load::bench_idle(&server, p.idle_conns));
            return;
        }
    };
    runs.raw.push(sample.raw());
    runs.per_cpu.push(sample.per_cpu());
    runs.busy.push(sample.busy());
}

/// `switchboard/peer` for each round.
fn ratios(sb: &[f64], peer: &[f64]) -> Vec<f64> {
    sb.iter().zip(peer).map(|(a, b)| a / b).collect()
}

/// `switchboard/best peer` for each round (best: highest, or lowest for idle).
fn ratio_to_best(runs: &[Runs], pick: fn(&Runs) -> &Vec<f64>, lower: bool) -> Vec<f64> {
    let sb = pick(&runs[0]);
    (0..sb.len())
        .map(|r| {
            let peers = runs[1..].iter().map(|x| pick(x)[r]);
            let best = if lower {
                peers.fold(f64::INFINITY, f64::min)
            } else {
                peers.fold(f64::NEG_INFINITY, f64::max)
            };
            sb[r] / best
        })
        .collect()
}

fn report(w: Workload, p: &Plan, runs: &[Runs]) -> String {
    let name = |r: &Runs| r.kind.name();
    let list = |pick: fn(&Runs) -> &Vec<f64>, f: fn(f64) -> String| {
        runs.iter()
            .map(|r| format!("{} {}", name(r), spread(pick(r), f)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let ratio_list = |pick: fn(&Runs) -> &Vec<f64>, lower: bool| {
        let mut v: Vec<String> = runs[1..]
            .iter()
            .map(|r| {
                let rs = ratios(pick(&runs[0]), pick(r));
                format!("{}/{} {}", name(&runs[0]), name(r), spread(&rs, ratio))
            })
            .collect();
        let best = ratio_to_best(runs, pick, lower);
        v.push(format!("{}/best {}", name(&runs[0]), spread(&best, ratio)));
        v.join(", ")
    };
    if w == Workload::Idle {
        return format!(
            "{}: {}; ratios {}",
            w.title(p),
            list(|r| &r.raw, whole),
            ratio_list(|r| &r.raw, true)
        );
    }
    let pct = |v: f64| format!("{:.0}%", v * 100.0);
    // MiB as whole numbers; counts with a k/M suffix.
    let fmt = if w == Workload::Stream { whole } else { si };
    format!(
        "{}: per server CPU-s {}; ratios per CPU-s {}; raw per s {}; raw ratios {}; server CPU busy {}",
        w.title(p),
        list(|r| &r.per_cpu, fmt),
        ratio_list(|r| &r.per_cpu, false),
        list(|r| &r.raw, fmt),
        ratio_list(|r| &r.raw, false),
        runs.iter()
            .map(|r| format!("{} {}", name(r), pct(median(&r.busy))))
            .collect::<Vec<_>>()
            .join(", "),
    )
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--serve") {
        let arg = |k: usize| args.get(i + k).map_or("", String::as_str);
        servers::serve(arg(1), arg(2));
        return;
    }
    let smoke = !args.iter().any(|a| a == "--bench");
    let nofile = raise_nofile();
    let secs = if smoke {
        0.2
    } else {
        stats::env_num("SWITCHBOARD_BENCH_SECS").unwrap_or(2.0)
    };
    let mut plan = Plan {
        timing: Timing {
            warmup: Duration::from_secs_f64(if smoke { 0.05 } else { secs / 4.0 }),
            measure: Duration::from_secs_f64(secs),
        },
        rounds: if smoke {
            1
        } else {
            stats::env_num("SWITCHBOARD_BENCH_ROUNDS").map_or(5, |v| v as usize)
        },
        rr_conns: if smoke { 4 } else { 100 },
        stream_conns: if smoke { 2 } else { 10 },
        http_conns: if smoke { 4 } else { 100 },
        depth: 16,
        idle_conns: if smoke {
            50
        } else {
            stats::env_num("SWITCHBOARD_BENCH_CONNS").map_or(10_000, |v| v as usize)
        },
        pin: false,
    };
    // Client and server each need one fd per connection, plus some slack.
    let max_idle = (nofile as usize).saturating_sub(64);
    if plan.idle_conns > max_idle {
        eprintln!("RLIMIT_NOFILE is {nofile}: idle connections capped at {max_idle}");
        plan.idle_conns = max_idle;
    }
    plan.pin = pin_self();
    let only = std::env::var("SWITCHBOARD_BENCH_ONLY").unwrap_or_default();
    let workloads: Vec<Workload> = [
        Workload::Rr,
        Workload::Stream,
        Workload::Http,
        Workload::Idle,
        Workload::Lines,
        Workload::Churn,
    ]
    .into_iter()
    .filter(|w| only.is_empty() || only.split(',').any(|o| o.trim() == w.key()))
    .collect();
    println!(
        "echo bench ({}): {} round(s), {secs} s measured per run after {:.2} s warm-up; {}; \
         load average at start {}",
        if smoke {
            "smoke pass under cargo test --benches, not a measurement"
        } else {
            "cargo bench --bench echo"
        },
        plan.rounds,
        plan.timing.warmup.as_secs_f64(),
        if plan.pin {
            "servers pinned to core 0 (taskset -c 0), load generator to core 1"
        } else {
            "NOT pinned (taskset failed or fewer than 2 cores)"
        },
        stats::loadavg(),
    );
    let mut all: Vec<Vec<Runs>> = workloads
        .iter()
        .map(|w| {
            w.peers()
                .into_iter()
                .map(|kind| Runs {
                    kind,
                    raw: Vec::new(),
                    per_cpu: Vec::new(),
                    busy: Vec::new(),
                })
                .collect()
        })
        .collect();
    for round in 0..plan.rounds {
        for (w, runs) in workloads.iter().zip(all.iter_mut()) {
            let n = runs.len();
            for k in 0..n {
                let i = (k + round) % n;
                measure(*w, runs[i].kind, &plan, &mut runs[i]);
                let r = &runs[i];
                let last = |v: &Vec<f64>| v.last().copied().unwrap_or(f64::NAN);
                if *w == Workload::Idle {
                    eprintln!(
                        "  round {} idle {}: {:.0} bytes/conn",
                        round + 1,
                        r.kind.name(),
                        last(&r.raw)
                    );
                    continue;
                }
                eprintln!(
                    "  round {} {} {}: raw {}/s, per server CPU-s {}, server busy {:.0}%",
                    round + 1,
                    w.key(),
                    r.kind.name(),
                    si(last(&r.raw)),
                    si(last(&r.per_cpu)),
                    last(&r.busy) * 100.0
                );
            }
        }
    }
    for (w, runs) in workloads.iter().zip(all.iter()) {
        println!("{}", report(*w, &plan, runs));
    }
    println!("load average at end {}", stats::loadavg());
}
