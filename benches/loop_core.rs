//! Side-by-side loop-core benchmark: switchboard against tokio's current-thread
//! runtime (and CPython asyncio for `call_soon`), reported as ratios.
//!
//! Run with `cargo bench --bench loop_core`. `SWITCHBOARD_BENCH_N` scales the
//! workload size (default 1,000,000). Without `--bench` on the command line
//! (that is, under `cargo test --benches`) it runs a quick smoke pass with
//! N = 1000 and a 10 ms timer span, checks the counters and exits.
//!
//! Workloads, each measured as "schedule + run" in one timed region:
//!
//! 1. `call_soon`: N callbacks that bump a counter. tokio: N `spawn_local`
//!    tasks on a `LocalSet`, then the `LocalSet` is driven to completion.
//! 2. `timers`: N timers with delays uniform in `[0, span)` (fixed-seed
//!    xorshift, the same delays for both), all fired. tokio: `DelayQueue`
//!    filled, then drained with `poll_expired`. The span is inherent in the
//!    wall time, so the line shows wall time, overhead beyond the last
//!    deadline, and the scheduling rate separately.
//! 3. `timers_cancel`: N timers scheduled, then each cancelled, then one loop
//!    iteration so the cancelled entries are purged. tokio: `DelayQueue`
//!    insert, then `remove` of each key.
//!
//! Each workload runs once to warm up, then the best of 3 runs is kept.
//! `SWITCHBOARD_BENCH_ONLY` (comma-separated: `call_soon`, `timers`,
//! `timers_cancel`, `asyncio`) runs a subset, e.g. under a profiler.

use std::cell::Cell;
use std::process::Command;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio_util::time::DelayQueue;

/// Best-of-N setup: one warm-up run, then this many timed runs.
struct Plan {
    n: usize,
    span: f64,
    warmup: bool,
    runs: usize,
    smoke: bool,
}

/// A tiny fixed-seed PRNG (xorshift64*), so both runtimes see the same delays.
struct XorShift(u64);

impl XorShift {
    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `[0, 1)`.
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn delays(n: usize, span: f64) -> Vec<Duration> {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    (0..n)
        .map(|_| Duration::from_secs_f64(rng.next_f64() * span))
        .collect()
}

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Runs `f` once to warm up (unless smoke), then `plan.runs` timed runs.
fn runs<T>(plan: &Plan, mut f: impl FnMut() -> T) -> Vec<T> {
    if plan.warmup {
        f();
    }
    (0..plan.runs).map(|_| f()).collect()
}

/// The best (shortest) of a set of durations.
fn best(ds: impl IntoIterator<Item = Duration>) -> Duration {
    ds.into_iter().min().expect("at least one run")
}

fn mops(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64() / 1e6
}

// ---------------------------------------------------------------- call_soon

fn sb_call_soon(n: usize) -> Duration {
    let lp = switchboard::new_event_loop().expect("loop");
    let counter = Rc::new(Cell::new(0usize));
    let t0 = Instant::now();
    for _ in 0..n {
        let c = counter.clone();
        lp.call_soon(move || c.set(c.get() + 1)).expect("call_soon");
    }
    let stopper = lp.clone();
    lp.call_soon(move || stopper.stop()).expect("call_soon");
    lp.run_forever().expect("run_forever");
    let dt = t0.elapsed();
    assert_eq!(counter.get(), n, "switchboard call_soon count");
    lp.close().expect("close");
    dt
}

fn tokio_call_soon(n: usize) -> Duration {
    let rt = tokio_rt();
    let counter = Rc::new(Cell::new(0usize));
    let t0 = Instant::now();
    let local = tokio::task::LocalSet::new();
    for _ in 0..n {
        let c = counter.clone();
        // The JoinHandle is dropped at once (detached), like a call_soon Handle.
        local.spawn_local(async move { c.set(c.get() + 1) });
    }
    rt.block_on(local);
    let dt = t0.elapsed();
    assert_eq!(counter.get(), n, "tokio spawn_local count");
    dt
}

/// CPython asyncio's `call_soon` rate in ops/s (best of 3 after a warm-up), or
/// why it could not be measured.
fn asyncio_call_soon(n: usize) -> Result<f64, String> {
    const SCRIPT: &str = r#"
import asyncio, sys, time
n = int(sys.argv[1])
count = 0
def cb():
    global count
    count += 1
best = None
for run in range(4):
    loop = asyncio.new_event_loop()
    count = 0
    t0 = time.perf_counter()
    for _ in range(n):
        loop.call_soon(cb)
    loop.call_soon(loop.stop)
    loop.run_forever()
    dt = time.perf_counter() - t0
    loop.close()
    assert count == n, count
    if run > 0 and (best is None or dt < best):
        best = dt
print(n / best)
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(SCRIPT)
        .arg(n.to_string())
        .output()
        .map_err(|e| format!("python3 not runnable: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "python3 failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse::<f64>()
        .map_err(|e| format!("unexpected python3 output: {e}"))
}

// ------------------------------------------------------------------- timers

/// One timer-firing run: time to schedule, and time until the last fired.
#[derive(Clone, Copy)]
struct TimerRun {
    schedule: Duration,
    total: Duration,
}

fn sb_timers(delays: &[Duration]) -> TimerRun {
    let n = delays.len();
    let lp = switchboard::new_event_loop().expect("loop");
    let shared = Rc::new((Cell::new(0usize), lp.clone()));
    let t0 = Instant::now();
    for &d in delays {
        let s = shared.clone();
        lp.call_later(d, move || {
            let k = s.0.get() + 1;
            s.0.set(k);
            if k == n {
                s.1.stop();
            }
        })
        .expect("call_later");
    }
    let schedule = t0.elapsed();
    lp.run_forever().expect("run_forever");
    let total = t0.elapsed();
    assert_eq!(shared.0.get(), n, "switchboard timers fired");
    drop(shared);
    lp.close().expect("close");
    TimerRun { schedule, total }
}

fn tokio_timers(delays: &[Duration]) -> TimerRun {
    let n = delays.len();
    let rt = tokio_rt();
    rt.block_on(async {
        let counter = Rc::new(Cell::new(0usize));
        let t0 = Instant::now();
        // No pre-sizing: switchboard's timer heap cannot be pre-sized either.
        let mut q = DelayQueue::new();
        for &d in delays {
            q.insert(counter.clone(), d);
        }
        let schedule = t0.elapsed();
        while let Some(expired) = std::future::poll_fn(|cx| q.poll_expired(cx)).await {
            let c = expired.into_inner();
            c.set(c.get() + 1);
        }
        let total = t0.elapsed();
        assert_eq!(counter.get(), n, "tokio timers fired");
        TimerRun { schedule, total }
    })
}

// ------------------------------------------------------------ timers_cancel

fn sb_cancel(delays: &[Duration]) -> Duration {
    let lp = switchboard::new_event_loop().expect("loop");
    let counter = Rc::new(Cell::new(0usize));
    let t0 = Instant::now();
    let handles: Vec<_> = delays
        .iter()
        .map(|&d| {
            let c = counter.clone();
            lp.call_later(d, move || c.set(c.get() + 1))
                .expect("call_later")
        })
        .collect();
    for h in &handles {
        h.cancel();
    }
    // One iteration: the cancelled entries are purged (or popped if due).
    lp.stop();
    lp.run_forever().expect("run_forever");
    let dt = t0.elapsed();
    assert_eq!(counter.get(), 0, "switchboard cancelled timers ran");
    assert!(
        Rc::strong_count(&counter) == 1,
        "switchboard purged every cancelled timer"
    );
    drop(handles);
    lp.close().expect("close");
    dt
}

fn tokio_cancel(delays: &[Duration]) -> Duration {
    let rt = tokio_rt();
    rt.block_on(async {
        let counter = Rc::new(Cell::new(0usize));
        let t0 = Instant::now();
        let mut q = DelayQueue::new();
        let keys: Vec<_> = delays
            .iter()
            .map(|&d| q.insert(counter.clone(), d))
            .collect();
        for k in &keys {
            drop(q.remove(k));
        }
        let dt = t0.elapsed();
        assert!(q.is_empty() && Rc::strong_count(&counter) == 1);
        dt
    })
}

// --------------------------------------------------------------------- main

fn main() {
    let smoke = !std::env::args().any(|a| a == "--bench");
    let default_n = if smoke { 1000 } else { 1_000_000 };
    let n = std::env::var("SWITCHBOARD_BENCH_N")
        .ok()
        .and_then(|v| v.replace('_', "").parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(default_n);
    let plan = if smoke {
        Plan {
            n,
            span: 0.01,
            warmup: false,
            runs: 1,
            smoke,
        }
    } else {
        Plan {
            n,
            span: 1.0,
            warmup: true,
            runs: 3,
            smoke,
        }
    };
    let env_n = std::env::var("SWITCHBOARD_BENCH_N")
        .map(|v| format!("SWITCHBOARD_BENCH_N={v} "))
        .unwrap_or_default();
    let invocation = if smoke {
        "cargo test --benches"
    } else {
        "cargo bench --bench loop_core"
    };
    // Shows whether the run was pinned (e.g. `taskset -c 1 cargo bench ...`).
    let cpus = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                .map(|v| v.trim().to_owned())
        })
        .unwrap_or_else(|| "?".to_owned());

    // Other processes on the machine skew absolute figures; the load shows it.
    let load = std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".to_owned());

    println!("switchboard loop_core benchmark: ratios >1.0 mean switchboard is faster");
    println!(
        "command: {env_n}{invocation} (args: {:?}; N={}, timer span {:.3} s, {} warm-up + best of {}, \
         tokio current-thread runtime, CPUs allowed: {cpus}, load average {load}){}",
        std::env::args().skip(1).collect::<Vec<_>>(),
        plan.n,
        plan.span,
        u8::from(plan.warmup),
        plan.runs,
        if plan.smoke {
            " [smoke run: not a measurement]"
        } else {
            ""
        },
    );

    // `SWITCHBOARD_BENCH_ONLY=timers,timers_cancel` runs a subset (for profiling).
    let only = std::env::var("SWITCHBOARD_BENCH_ONLY").unwrap_or_default();
    let want = |name: &str| only.is_empty() || only.split(',').any(|w| w.trim() == name);
    let ds = delays(plan.n, plan.span);

    // 1. call_soon
    let mut sb_call_soon_rate = None;
    if want("call_soon") {
        let sb = best(runs(&plan, || sb_call_soon(plan.n)));
        let tk = best(runs(&plan, || tokio_call_soon(plan.n)));
        let (sb_rate, tk_rate) = (mops(plan.n, sb), mops(plan.n, tk));
        sb_call_soon_rate = Some(sb_rate * 1e6);
        println!(
        "call_soon      N={}: switchboard {:.2} M ops/s, tokio spawn_local {:.2} M ops/s, ratio {:.2}",
        plan.n,
        sb_rate,
        tk_rate,
        sb_rate / tk_rate
    );
    }

    // 2. timers fired
    if want("timers") {
        let last = ds.iter().copied().max().unwrap_or_default();
        let sb_runs = runs(&plan, || sb_timers(&ds));
        let tk_runs = runs(&plan, || tokio_timers(&ds));
        let (sb_total, sb_sched) = (
            best(sb_runs.iter().map(|r| r.total)),
            best(sb_runs.iter().map(|r| r.schedule)),
        );
        let (tk_total, tk_sched) = (
            best(tk_runs.iter().map(|r| r.total)),
            best(tk_runs.iter().map(|r| r.schedule)),
        );
        let over = |t: Duration| t.saturating_sub(last).as_secs_f64() * 1e3;
        println!(
        "timers         N={}: switchboard {:.3} s ({:.2} M timers/s, +{:.1} ms past last deadline, schedule {:.2} M/s), \
         tokio DelayQueue {:.3} s ({:.2} M timers/s, +{:.1} ms, schedule {:.2} M/s), \
         ratio {:.3} (wall time tokio/switchboard), schedule ratio {:.2}",
        plan.n,
        sb_total.as_secs_f64(),
        mops(plan.n, sb_total),
        over(sb_total),
        mops(plan.n, sb_sched),
        tk_total.as_secs_f64(),
        mops(plan.n, tk_total),
        over(tk_total),
        mops(plan.n, tk_sched),
        tk_total.as_secs_f64() / sb_total.as_secs_f64(),
        tk_sched.as_secs_f64() / sb_sched.as_secs_f64(),
    );
    }

    // 3. timers cancelled
    if want("timers_cancel") {
        let sb = best(runs(&plan, || sb_cancel(&ds)));
        let tk = best(runs(&plan, || tokio_cancel(&ds)));
        let (sb_rate, tk_rate) = (mops(plan.n, sb), mops(plan.n, tk));
        println!(
        "timers_cancel  N={}: switchboard {:.2} M ops/s, tokio DelayQueue insert+remove {:.2} M ops/s, ratio {:.2}",
        plan.n,
        sb_rate,
        tk_rate,
        sb_rate / tk_rate
    );
    }

    // CPython asyncio call_soon, for scale (target: switchboard >= 10x).
    if !want("asyncio") {
        return;
    }
    let sb_call_soon_rate = sb_call_soon_rate
        .unwrap_or_else(|| mops(plan.n, best(runs(&plan, || sb_call_soon(plan.n)))) * 1e6);
    match asyncio_call_soon(plan.n) {
        Ok(py) => println!(
            "call_soon      N={}: switchboard {:.2} M ops/s, CPython asyncio {:.2} M ops/s, ratio {:.1} (target >= 10)",
            plan.n,
            sb_call_soon_rate / 1e6,
            py / 1e6,
            sb_call_soon_rate / py
        ),
        Err(why) => println!("call_soon vs CPython asyncio: skipped ({why})"),
    }
}
