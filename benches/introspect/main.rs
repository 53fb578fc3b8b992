//! What introspection costs (issue 20): the echo bench's `rr` row with the
//! `introspection` counters built in but never queried, against the same
//! build with them compiled out; and the price of one snapshot of a server
//! holding 10,000 connections. Targets: `in/out` at least 0.98 per server
//! CPU-second (a cost of at most 2%); a snapshot in at most 50 ms and
//! 5 MB.
//!
//! Run with `cargo bench --bench introspect`.
//!
//! 1. `rr`: request/response, 1 KiB over 100 connections, each connection
//!    waiting for its whole echo before it sends again (echo's
//!    `../echo/load.rs` load generator, a bare mio client loop in this
//!    process, pinned to core 1), against switchboard's ready-made `Echo`
//!    (echo's `../echo/servers.rs`) in a process of its own under
//!    `taskset -c 0`. The server is this bench built twice by cargo, run
//!    from here before anything is measured (see `builds.rs`): `in` with
//!    the default features, `out` with `--no-default-features --features
//!    self-signed,metrics` (every default but `introspection`); each
//!    binary is asked whether it counts (`--counting`) before it is used.
//!    Each round starts a fresh server of each build (both alive, on core
//!    0), loads each once as a burst (2 s after 0.5 s warm-up), then loads
//!    them in alternating slices (0.5 s measured after 0.1 s warm-up, 100
//!    new connections each; 10 per side), the side that goes first
//!    alternating from slice to slice and round to round (see `rr.rs`). A
//!    side's figure for the round is its slices summed: requests per
//!    CPU-second of the server process (utime + stime from
//!    `/proc/PID/stat` over each window) and per wall second. The ratio
//!    `in/out` is taken within a round; each figure is printed as
//!    `median (min–max)` over the rounds.
//! 2. `snapshot`: a switchboard server (`Echo`) in this process with N idle
//!    connections (10,000 by default; the clients in a child process),
//!    then `lp.introspect()` called 3 times untimed and 11 times timed on
//!    the loop's thread: wall and thread CPU time, the heap the returned
//!    `Snapshot` holds and the most the call had allocated at once (a
//!    counting global allocator, `heap.rs`, on only for this part), and the
//!    length of `serde_json::to_vec(&snapshot)` (what the control socket
//!    sends) with the time that takes. MB here are 10^6 bytes.
//!
//! Measured on this machine (2 cores shared with other work, load average
//! about 1.2 at the start) with `cargo bench --bench introspect`:
//!
//! - `rr` per server CPU-second: in 249.6k (244.6k–255.1k), out 250.0k
//!   (246.2k–252.7k); `in/out` 1.003 (0.983–1.015), rounds 0.983 1.000
//!   1.005 0.998 1.015 1.009: target met. An earlier run: 0.996
//!   (0.973–1.014). The noise floor, `SWITCHBOARD_BENCH_SAME=1` (the `in`
//!   build on both sides): 0.997 (0.985–1.006). So the counters' cost is
//!   below what this setup resolves, about 1%. Servers 94% busy.
//! - `snapshot` of 10,000 connections (10,002 actors), after the actor
//!   vector was sized exactly and the rare rows' parts (server,
//!   supervisor, process) boxed (`SWITCHBOARD_BENCH_ONLY=snapshot`):
//!   7.05 ms (6.90–7.16 ms) wall, the same in thread CPU: target met. The
//!   `Snapshot` holds 4.035 MB of heap (404 B per connection: the actor
//!   vector 2.561 MB, 256 B per `ActorInfo`, the rest strings): target
//!   met. Its JSON is 4.495 MB (450 B per connection), written in 5.09 ms.
//!   Before that change: 10.19 ms and 8.290 MB (missed).
//!
//! Environment: `SWITCHBOARD_BENCH_SECS` (measured seconds per side per
//! round, default 5), `SWITCHBOARD_BENCH_SLICE` (seconds per slice,
//! default 0.5), `SWITCHBOARD_BENCH_ROUNDS` (default 6),
//! `SWITCHBOARD_BENCH_CONNS` (the snapshot's connections, default 10,000,
//! capped by `RLIMIT_NOFILE`), `SWITCHBOARD_BENCH_ONLY` (`rr`, `snapshot`),
//! `SWITCHBOARD_BENCH_SAME=1` (both sides run the `in` build, still
//! labelled `in` and `out`: an A/A run, the noise floor of the ratio).
//! Without `--bench` on the command line (under `cargo test --benches`) it
//! runs a short smoke pass with this binary on both sides (nothing is
//! built) and 200 connections: not a measurement.

#[path = "../echo/http.rs"]
#[allow(dead_code)]
mod http;
#[path = "../common/idle.rs"]
mod idle;
#[path = "../echo/lines.rs"]
#[allow(dead_code)]
mod lines;
#[path = "../echo/load.rs"]
#[allow(dead_code)]
mod load;
#[path = "../echo/mio_server.rs"]
#[allow(dead_code)]
mod mio_server;
#[path = "../echo/servers.rs"]
#[allow(dead_code)]
mod servers;
pub use idle::raise_nofile;
#[path = "../common/stats.rs"]
mod stats;

mod builds;
mod heap;
mod report;
mod rr;
mod snapshot;

use std::time::Duration;

use builds::Side;
use load::Timing;

#[global_allocator]
static HEAP: heap::Counting = heap::Counting;

/// Pins this thread (the load generator's) to core 1 when there are 2
/// cores or more; the servers are put on core 0 by `taskset`.
fn pin_self() -> bool {
    let cpus = switchboard_actors::sys::cpu::allowed_cpus();
    cpus.len() >= 2 && switchboard_actors::sys::cpu::pin_current_thread(cpus[1]).is_ok()
}

/// What one run is made of.
#[derive(Debug)]
struct Plan {
    /// Under `cargo test --benches`: a short pass, not a measurement.
    smoke: bool,
    /// The burst each server gets first.
    burst: Timing,
    /// One measured slice.
    slice: Timing,
    /// Slices per side per round.
    slices: usize,
    /// Rounds of `rr`, each running both sides.
    rounds: usize,
    /// `rr`'s connections.
    rr_conns: usize,
    /// The snapshot's idle connections.
    snap_conns: usize,
    /// Servers on core 0, this process on core 1.
    pin: bool,
    /// Both sides run the `in` build (an A/A run: the noise floor).
    same: bool,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize| args.get(i).map_or("", String::as_str);
    if let Some(i) = args.iter().position(|a| a == "--serve") {
        return servers::serve(arg(i + 1), arg(i + 2));
    }
    if let Some(i) = args.iter().position(|a| a == "--clients") {
        return idle::clients_main(arg(i + 1), arg(i + 2));
    }
    if args.iter().any(|a| a == "--counting") {
        return println!("COUNTING {}", switchboard::introspect::COUNTING);
    }
    let smoke = !args.iter().any(|a| a == "--bench");
    let nofile = raise_nofile();
    let (secs, slice, burst) = if smoke {
        (0.4, 0.2, 0.2)
    } else {
        (
            stats::env_num("SWITCHBOARD_BENCH_SECS").unwrap_or(5.0),
            stats::env_num("SWITCHBOARD_BENCH_SLICE").unwrap_or(0.5),
            2.0,
        )
    };
    let timing = |warmup: f64, measure: f64| Timing {
        warmup: Duration::from_secs_f64(warmup),
        measure: Duration::from_secs_f64(measure),
    };
    let mut plan = Plan {
        smoke,
        burst: timing(burst / 4.0, burst),
        slice: timing(if smoke { 0.05 } else { 0.1 }, slice),
        slices: ((secs / slice).round() as usize).max(1),
        rounds: if smoke {
            1
        } else {
            stats::env_num("SWITCHBOARD_BENCH_ROUNDS").map_or(6, |v| v as usize)
        },
        rr_conns: if smoke { 4 } else { 100 },
        snap_conns: if smoke {
            200
        } else {
            stats::env_num("SWITCHBOARD_BENCH_CONNS").map_or(10_000, |v| v as usize)
        },
        pin: false,
        same: std::env::var_os("SWITCHBOARD_BENCH_SAME").is_some_and(|v| v == "1"),
    };
    // This process holds the server's side of every connection.
    let max_conns = (nofile as usize).saturating_sub(64);
    if plan.snap_conns > max_conns {
        eprintln!("RLIMIT_NOFILE is {nofile}: snapshot connections capped at {max_conns}");
        plan.snap_conns = max_conns;
    }
    let only = std::env::var("SWITCHBOARD_BENCH_ONLY").unwrap_or_default();
    let wants = |w: &str| only.is_empty() || only.split(',').any(|o| o.trim() == w);
    // Built before pinning, so cargo has both cores.
    let exes = if !wants("rr") {
        None
    } else if smoke {
        let me = std::env::current_exe().expect("bench binary");
        Some([(Side::In, me.clone()), (Side::Out, me)])
    } else {
        let mut exes = [Side::In, Side::Out].map(|s| (s, builds::build(s)));
        for (side, exe) in &exes {
            assert_eq!(
                builds::counting(exe),
                *side == Side::In,
                "{} is not the {} build",
                exe.display(),
                side.name()
            );
        }
        if plan.same {
            exes[1].1 = exes[0].1.clone();
        }
        Some(exes)
    };
    plan.pin = pin_self();
    report::header(&plan);
    let rr = exes.map(|e| rr::run(&plan, &e));
    let snap = wants("snapshot").then(|| snapshot::measure(plan.snap_conns, 3, 11));
    if let Some(rr) = &rr {
        report::rr(&plan, rr);
    }
    if let Some(snap) = &snap {
        report::snapshot(&plan, snap);
    }
    println!("load average at end {}", stats::loadavg());
}
