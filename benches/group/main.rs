//! `LoopGroup` benchmark: one port served from every loop of a group, and
//! `call` across loops, per CPU-second, against tokio's multi-thread
//! runtime and two processes of switchboard's single loop.
//!
//! Run with `cargo bench --bench group` (add `-- --loops N` for the
//! scaling table). Workloads:
//!
//! 1. `rr`: request/response, 1 KiB over 100 connections, each waiting for
//!    its whole echo before it sends again (requests);
//! 2. `http`: HTTP/1.1 hello, 100 connections, 16 pipelined requests per
//!    write, all 16 answers awaited (requests);
//! 3. `call1`, `call16`: `addr.call(..).await` round trips from loop 1 to
//!    an actor on loop 0, 1 or 16 in flight, against two current-thread
//!    tokio runtimes on two threads talking over an unbounded `mpsc` channel
//!    with a `oneshot` reply; both sides pinned, one thread per core (see
//!    `calls.rs`), and `call1-unpinned`, `call16-unpinned`: the same with
//!    the threads left to the scheduler.
//!
//! Servers of `rr` and `http` (see `serve.rs`), each a process of its own
//! (this binary re-executed with `--serve ...`) under `taskset -c 0,1`, so
//! each may use both cores: the group of 2 loops with `reuse_port` on every
//! loop and with `balanced` (one listener on an accept thread), loops not
//! pinned (`pin_cores(false)`); tokio multi-thread with 2 workers and a read
//! buffer of 64 KiB or 256 KiB per connection (echo's tokio handlers,
//! spawned with `tokio::spawn`); and two processes of switchboard's single
//! loop, each bound with `SO_REUSEPORT` to one port, their CPU summed. The
//! `call*` children run under `taskset -c 0,1` too. The load generator is
//! echo's (`../echo/load.rs`: a bare mio client loop on the main thread of
//! this process), pinned to core 1 as echo pins it. So this machine's 2
//! cores are shared: the client needs most of core 1, and every server
//! runs on core 0 plus what the client leaves of core 1; one of the
//! server's two threads competes with the client. In trial runs (with
//! other builds on the machine) an unpinned client let the servers' CPU
//! share wander (46-93% busy) and their per-CPU rates with it (a busier
//! server batches less per wake-up), rr ratios spanning 0.64-1.41 across
//! rounds; pinned, busy stayed 44-51% and the rr ratios 0.95-1.33. The
//! per-CPU-second rates are the figures to compare; raw rates mostly
//! measure the client.
//!
//! Rates are counted per CPU-second of the server, utime + stime over every
//! thread of the server process(es) (`/proc/PID/stat`) in the measured
//! window; for `call*`, of the whole child process (`getrusage`). Each
//! workload runs every peer once per round, in an order rotated from round
//! to round, warmed for a quarter of the measured time before its measured
//! window; ratios are taken within a round and printed as
//! `median (min–max)` over the rounds. The group's ratio to tokio is to the
//! better of the tokio buffers in that round.
//!
//! Scaling (`--loops N` or `SWITCHBOARD_BENCH_LOOPS=N`): `rr` and `http`
//! against the group with 1..N loops, both modes. On this 2-core machine it
//! cannot show scaling: with the load generator on one of the two cores,
//! 2 loops get about the CPU 1 loop gets, so the raw rate stays about
//! flat, and the per-CPU rate should stay flat too (the cost of a request
//! does not depend on how many loops there are). On a machine with cores to
//! spare beyond the load generator's, the raw rate should grow about
//! linearly with the loops up to the cores: each loop is a whole event loop
//! on its own thread sharing nothing with the others on the data path; the
//! only shared things are the kernel's accept queue (`reuse_port`: one per
//! socket, spread by a hash of the addresses) and, with `balanced`, the
//! accept thread, which only accepts (100 long-lived connections here, so
//! nothing after the start).
//!
//! Environment: `SWITCHBOARD_BENCH_SECS` (measured seconds per run, default
//! 2), `SWITCHBOARD_BENCH_ROUNDS` (default 3), `SWITCHBOARD_BENCH_ONLY`
//! (comma-separated: `rr`, `http`, `call1`, `call16`, `call1-unpinned`,
//! `call16-unpinned`, `call` for the four),
//! `SWITCHBOARD_BENCH_LOOPS`. Without `--bench` on the command line (under
//! `cargo test --benches`) it runs a short smoke pass of each workload.

#[path = "../common/child.rs"]
#[allow(dead_code)]
mod child;
#[path = "../echo/http.rs"]
#[allow(dead_code)]
mod http;
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
#[path = "../common/stats.rs"]
mod stats;

mod calls;
mod serve;

use std::time::Duration;

use load::{ServerProc, Timing};
use serve::Peer;
use servers::Service;
use stats::{median, ratio, si, spread};

/// Pins this thread (the load generator's) to core 1 when there are 2
/// cores or more; children spawned from it are re-pinned by `taskset`.
fn pin_self() -> bool {
    let cpus = switchboard_actors::sys::cpu::allowed_cpus();
    cpus.len() >= 2 && switchboard_actors::sys::cpu::pin_current_thread(cpus[1]).is_ok()
}

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Workload {
    Rr,
    Http,
    /// Cross-loop calls with this many in flight, one thread per core or not.
    Call(usize, bool),
}

/// Who is measured: a server, or a `calls` peer (`group` / `tokio`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Net(Peer),
    Calls(&'static str),
}

impl Who {
    fn name(self) -> String {
        match self {
            Who::Net(p) => p.name(),
            Who::Calls(k) => k.to_owned(),
        }
    }
}

struct Plan {
    timing: Timing,
    rounds: usize,
    conns: usize,
    depth: usize,
    /// The servers' CPUs (`taskset -c`), if taskset works.
    cpus: Option<&'static str>,
}

impl Workload {
    fn key(self) -> String {
        match self {
            Workload::Rr => "rr".into(),
            Workload::Http => "http".into(),
            Workload::Call(n, true) => format!("call{n}"),
            Workload::Call(n, false) => format!("call{n}-unpinned"),
        }
    }

    fn title(self, p: &Plan) -> String {
        match self {
            Workload::Rr => format!("rr 1 KiB x {} conns, requests", p.conns),
            Workload::Http => format!("http {} conns x {} pipelined, requests", p.conns, p.depth),
            Workload::Call(n, pinned) => format!(
                "cross-loop call, {n} in flight, {}, round trips",
                if pinned {
                    "pinned one thread per core"
                } else {
                    "threads unpinned"
                }
            ),
        }
    }

    fn peers(self) -> Vec<Who> {
        let net = |v: Vec<Peer>| v.into_iter().map(Who::Net).collect();
        match self {
            Workload::Rr => net(vec![
                Peer::GroupRp(2),
                Peer::GroupBal(2),
                Peer::TokioMt(64),
                Peer::TokioMt(256),
                Peer::TwoProc,
            ]),
            Workload::Http => net(vec![
                Peer::GroupRp(2),
                Peer::GroupBal(2),
                Peer::TokioMt(64),
                Peer::TwoProc,
            ]),
            Workload::Call(..) => vec![Who::Calls("group"), Who::Calls("tokio")],
        }
    }
}

/// One peer's figures over the rounds.
struct Runs {
    who: Who,
    raw: Vec<f64>,
    per_cpu: Vec<f64>,
    busy: Vec<f64>,
}

impl Runs {
    fn new(who: Who) -> Runs {
        Runs {
            who,
            raw: Vec::new(),
            per_cpu: Vec::new(),
            busy: Vec::new(),
        }
    }
}

/// The server(s) of `peer`: for the two-process setup, a second process
/// bound to the first one's port.
fn start(peer: Peer, service: Service, cpus: Option<&str>) -> ServerProc {
    let first = ServerProc::serve(&peer.args(service), cpus);
    if peer != Peer::TwoProc {
        return first;
    }
    let port = first.addr.port().to_string();
    let second = ServerProc::serve(&["sb-rp".into(), port, service.name().into()], cpus);
    assert_eq!(first.addr, second.addr, "one port for both processes");
    first.with_sibling(second)
}

fn measure(w: Workload, who: Who, p: &Plan, runs: &mut Runs) {
    let t = &p.timing;
    let (raw, per_cpu, busy) = match (w, who) {
        (Workload::Call(n, pinned), Who::Calls(kind)) => {
            let args = [
                "calls".to_owned(),
                kind.to_owned(),
                n.to_string(),
                t.warmup.as_secs_f64().to_string(),
                t.measure.as_secs_f64().to_string(),
                u8::from(pinned).to_string(),
            ];
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let (per_cpu, raw) = child::measure_on(&args, p.cpus, &[]);
            (raw, per_cpu, raw / per_cpu)
        }
        (_, Who::Net(peer)) => {
            let service = if w == Workload::Http {
                Service::Http
            } else {
                Service::Echo
            };
            let server = start(peer, service, p.cpus);
            let s = match w {
                Workload::Http => load::bench_http(&server, p.conns, p.depth, t),
                _ => load::bench_rr(&server, p.conns, 1024, t),
            };
            (s.raw(), s.per_cpu(), s.busy())
        }
        _ => unreachable!("{w:?} has no peer {who:?}"),
    };
    runs.raw.push(raw);
    runs.per_cpu.push(per_cpu);
    runs.busy.push(busy);
}

/// `a[r] / b[r]` for each round.
fn ratios(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| x / y).collect()
}

/// For each round, the best of `runs` whose peer `pick`s.
fn best_of(runs: &[Runs], pick: impl Fn(Who) -> bool, v: fn(&Runs) -> &Vec<f64>) -> Vec<f64> {
    let chosen: Vec<&Runs> = runs.iter().filter(|r| pick(r.who)).collect();
    let n = chosen.first().map_or(0, |r| v(r).len());
    (0..n)
        .map(|i| {
            chosen
                .iter()
                .map(|r| v(r)[i])
                .fold(f64::NEG_INFINITY, f64::max)
        })
        .collect()
}

/// The group (or calls `group`) peers' ratios to each baseline, per
/// `v`; with the targets when `targets` (per-CPU figures).
fn ratio_lines(runs: &[Runs], v: fn(&Runs) -> &Vec<f64>, targets: bool) -> Vec<String> {
    let is_tokio = |w: Who| matches!(w, Who::Net(Peer::TokioMt(_)) | Who::Calls("tokio"));
    let tokio = best_of(runs, is_tokio, v);
    let two = best_of(runs, |w| w == Who::Net(Peer::TwoProc), v);
    let mut out = Vec::new();
    for g in runs.iter().filter(|r| match r.who {
        Who::Net(p) => p.is_group(),
        Who::Calls(k) => k == "group",
    }) {
        let mut judge = |base: &str, of: &[f64], target: f64| {
            if of.is_empty() {
                return;
            }
            let rs = ratios(v(g), of);
            let mut line = format!("{}/{base} {}", g.who.name(), spread(&rs, ratio));
            if targets {
                let m = median(&rs);
                let lo = rs.iter().copied().fold(f64::INFINITY, f64::min);
                line += &if m >= target && lo >= target {
                    format!(" -> target >= {target:.2}: MET in every round")
                } else if m >= target {
                    format!(" -> target >= {target:.2}: met at the median, MISSED in some round")
                } else {
                    format!(" -> target >= {target:.2}: MISSED")
                };
            }
            out.push(line);
        };
        judge("tokio", &tokio, 1.0);
        judge("two-process", &two, 0.95);
    }
    out
}

fn report(w: Workload, p: &Plan, runs: &[Runs]) -> String {
    let list = |v: fn(&Runs) -> &Vec<f64>| {
        runs.iter()
            .map(|r| format!("  {:<20} {}", r.who.name(), spread(v(r), si)))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let indent = |v: Vec<String>| {
        v.iter()
            .map(|l| format!("  {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let busy = runs
        .iter()
        .map(|r| format!("{} {:.0}%", r.who.name(), median(&r.busy) * 100.0))
        .collect::<Vec<_>>()
        .join(", ");
    let (cpu, tokio) = match w {
        Workload::Call(..) => ("of the whole process", ""),
        _ => (
            "of the server process(es)",
            "; tokio = the better tokio buffer of the round",
        ),
    };
    format!(
        "{}\n per CPU-second {cpu}, median (min–max):\n{}\n ratios per CPU-second (within \
         rounds{tokio}):\n{}\n raw per wall second:\n{}\n raw ratios:\n{}\n CPU busy \
         (CPU-s per wall s, median): {busy}\n",
        w.title(p),
        list(|r| &r.per_cpu),
        indent(ratio_lines(runs, |r| &r.per_cpu, true)),
        list(|r| &r.raw),
        indent(ratio_lines(runs, |r| &r.raw, false)),
    )
}

/// Runs each of `runs` (one per peer) once, starting with the
/// `round`-th (modulo their number), so the order rotates by round.
fn round(w: Workload, p: &Plan, round: usize, runs: &mut [Runs]) {
    let n = runs.len();
    for k in 0..n {
        let i = (k + round) % n;
        measure(w, runs[i].who, p, &mut runs[i]);
        let r = &runs[i];
        let last = |v: &Vec<f64>| v.last().copied().unwrap_or(f64::NAN);
        eprintln!(
            "  round {} {} {}: raw {}/s, per CPU-s {}, busy {:.0}%",
            round + 1,
            w.key(),
            r.who.name(),
            si(last(&r.raw)),
            si(last(&r.per_cpu)),
            last(&r.busy) * 100.0
        );
    }
}

/// The group with 1..=`max` loops, both modes, on `rr` and `http`.
fn scaling(max: usize, p: &Plan, workloads: &[Workload]) {
    println!("scaling: the group with 1..{max} loops (2 cores, load generator included)");
    for &w in workloads
        .iter()
        .filter(|w| !matches!(w, Workload::Call(..)))
    {
        let mut runs: Vec<Runs> = (1..=max)
            .flat_map(|n| [Peer::GroupRp(n), Peer::GroupBal(n)])
            .map(|peer| Runs::new(Who::Net(peer)))
            .collect();
        for r in 0..p.rounds {
            round(w, p, r, &mut runs);
        }
        println!(" {}:", w.title(p));
        for (k, r) in runs.iter().enumerate() {
            // Relative to the same mode with 1 loop.
            let one = &runs[k % 2];
            println!(
                "  {:<20} per CPU-s {} (x{} of 1 loop), raw {}/s (x{} of 1 loop)",
                r.who.name(),
                spread(&r.per_cpu, si),
                ratio(median(&r.per_cpu) / median(&one.per_cpu)),
                spread(&r.raw, si),
                ratio(median(&r.raw) / median(&one.raw)),
            );
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize| args.get(i).map_or("", String::as_str);
    if let Some(i) = args.iter().position(|a| a == "--serve") {
        if !serve::serve(arg(i + 1), arg(i + 2), arg(i + 3)) {
            panic!("unknown server {:?}", arg(i + 1));
        }
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--run") {
        assert_eq!(arg(i + 1), "calls", "--run calls ...");
        calls::run(&args[i + 2..]);
        return;
    }
    let smoke = !args.iter().any(|a| a == "--bench");
    raise_nofile();
    let secs = if smoke {
        0.2
    } else {
        stats::env_num("SWITCHBOARD_BENCH_SECS").unwrap_or(2.0)
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let taskset_ok = std::process::Command::new("taskset")
        .args(["-c", "0,1", "true"])
        .status()
        .is_ok_and(|s| s.success());
    let plan = Plan {
        timing: Timing {
            warmup: Duration::from_secs_f64(if smoke { 0.05 } else { secs / 4.0 }),
            measure: Duration::from_secs_f64(secs),
        },
        rounds: if smoke {
            1
        } else {
            stats::env_num("SWITCHBOARD_BENCH_ROUNDS").map_or(3, |v| v as usize)
        },
        conns: if smoke { 4 } else { 100 },
        depth: 16,
        cpus: (cores >= 2 && taskset_ok).then_some("0,1"),
    };
    let loops = args
        .iter()
        .position(|a| a == "--loops")
        .and_then(|i| args.get(i + 1)?.parse::<usize>().ok())
        .or_else(|| stats::env_num("SWITCHBOARD_BENCH_LOOPS").map(|v| v as usize));
    let only = std::env::var("SWITCHBOARD_BENCH_ONLY").unwrap_or_default();
    let picked = |w: Workload| {
        only.is_empty()
            || only.split(',').any(|o| {
                let o = o.trim();
                o == w.key() || (o == "call" && matches!(w, Workload::Call(..)))
            })
    };
    // After the taskset check above: pinned, this thread's children start
    // on core 1 only until `taskset -c 0,1` widens them.
    let pinned = plan.cpus.is_some() && pin_self();
    let workloads: Vec<Workload> = [
        Workload::Rr,
        Workload::Http,
        Workload::Call(1, true),
        Workload::Call(16, true),
        Workload::Call(1, false),
        Workload::Call(16, false),
    ]
    .into_iter()
    .filter(|&w| picked(w))
    .collect();
    println!(
        "group bench ({}): {} round(s), {secs} s measured per run after {:.2} s warm-up; \
         {cores} cores; servers and call children {}, load generator {}; load average at start {}",
        if smoke {
            "smoke pass under cargo test --benches, not a measurement"
        } else {
            "cargo bench --bench group"
        },
        plan.rounds,
        plan.timing.warmup.as_secs_f64(),
        plan.cpus
            .map_or("NOT pinned".to_owned(), |c| format!("under taskset -c {c}")),
        if pinned {
            "pinned to core 1"
        } else {
            "NOT pinned"
        },
        stats::loadavg(),
    );
    let mut all: Vec<Vec<Runs>> = workloads
        .iter()
        .map(|w| w.peers().into_iter().map(Runs::new).collect())
        .collect();
    // Round-major, as echo: each round runs every workload once.
    for r in 0..plan.rounds {
        for (w, runs) in workloads.iter().zip(all.iter_mut()) {
            round(*w, &plan, r, runs);
        }
    }
    for (w, runs) in workloads.iter().zip(all.iter()) {
        println!("{}", report(*w, &plan, runs));
    }
    if let Some(max) = loops.filter(|&n| n >= 1) {
        scaling(max, &plan, &workloads);
    }
    println!("load average at end {}", stats::loadavg());
}
