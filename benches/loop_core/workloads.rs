//! The loop-core workloads, each for switchboard and for its tokio peer. Each
//! returns the count with the wall time and the CPU time of this thread
//! (`clock_gettime(CLOCK_THREAD_CPUTIME_ID)`) from the first call scheduled to the last one
//! run; time spent blocked in the poller while no timer is due is wall time,
//! not CPU time, so per-CPU timer rates never include the idle wait.

use std::cell::Cell;
use std::process::Command;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio_util::time::DelayQueue;

use crate::stats::{thread_cpu, Sample};

/// A tiny fixed-seed PRNG (xorshift64*), so both runtimes see the same delays.
struct XorShift(u64);

impl XorShift {
    fn next_f64(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `n` delays of `base` plus a uniform part in `[0, span)`.
pub fn delays(n: usize, base: f64, span: f64) -> Vec<Duration> {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    (0..n)
        .map(|_| Duration::from_secs_f64(base + rng.next_f64() * span))
        .collect()
}

/// Times `f` (wall and thread CPU); `f` returns the count.
fn timed(f: impl FnOnce() -> usize) -> Sample {
    let (c0, t0) = (thread_cpu(), Instant::now());
    let count = f();
    let wall = t0.elapsed();
    Sample {
        count: count as f64,
        wall,
        cpu: thread_cpu() - c0,
    }
}

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

// ---------------------------------------------------------------- call_soon

pub fn sb_call_soon(n: usize) -> Sample {
    let lp = switchboard::new_event_loop().expect("loop");
    let s = callbacks_on(&lp, n);
    lp.close().expect("close");
    s
}

/// `n` callbacks that bump a counter, scheduled on `lp`, then run.
fn callbacks_on(lp: &switchboard::EventLoop, n: usize) -> Sample {
    let counter = Rc::new(Cell::new(0usize));
    let s = timed(|| {
        for _ in 0..n {
            let c = counter.clone();
            lp.call_soon(move || c.set(c.get() + 1)).expect("call_soon");
        }
        let stopper = lp.clone();
        lp.call_soon(move || stopper.stop()).expect("call_soon");
        lp.run_forever().expect("run_forever");
        counter.get()
    });
    assert_eq!(s.count as usize, n, "switchboard call_soon count");
    s
}

pub fn tokio_call_soon(n: usize) -> Sample {
    let rt = tokio_rt();
    let counter = Rc::new(Cell::new(0usize));
    let s = timed(|| {
        let local = tokio::task::LocalSet::new();
        for _ in 0..n {
            let c = counter.clone();
            // The JoinHandle is dropped at once (detached), like a call_soon Handle.
            local.spawn_local(async move { c.set(c.get() + 1) });
        }
        rt.block_on(local);
        counter.get()
    });
    assert_eq!(s.count as usize, n, "tokio spawn_local count");
    s
}

/// CPython asyncio's `call_soon`: `n` callbacks after one warm-up run,
/// timed with `time.process_time()` (CPU) and `time.perf_counter()` (wall).
pub fn asyncio_call_soon(n: usize) -> Result<Sample, String> {
    const SCRIPT: &str = r#"
import asyncio, sys, time
n = int(sys.argv[1])
count = 0
def cb():
    global count
    count += 1
for run in range(2):
    loop = asyncio.new_event_loop()
    count = 0
    c0, t0 = time.process_time(), time.perf_counter()
    for _ in range(n):
        loop.call_soon(cb)
    loop.call_soon(loop.stop)
    loop.run_forever()
    c1, t1 = time.process_time(), time.perf_counter()
    loop.close()
    assert count == n, count
print(c1 - c0, t1 - t0)
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
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Vec<f64> = text
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    match v[..] {
        [cpu, wall] => Ok(Sample {
            count: n as f64,
            wall: Duration::from_secs_f64(wall),
            cpu,
        }),
        _ => Err(format!("unexpected python3 output {text:?}")),
    }
}

// ------------------------------------------------------------------- timers

pub fn sb_timers(delays: &[Duration]) -> Sample {
    let n = delays.len();
    let lp = switchboard::new_event_loop().expect("loop");
    let shared = Rc::new((Cell::new(0usize), lp.clone()));
    let s = timed(|| {
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
        lp.run_forever().expect("run_forever");
        shared.0.get()
    });
    assert_eq!(s.count as usize, n, "switchboard timers fired");
    drop(shared);
    lp.close().expect("close");
    s
}

pub fn tokio_timers(delays: &[Duration]) -> Sample {
    let n = delays.len();
    let rt = tokio_rt();
    let counter = Rc::new(Cell::new(0usize));
    let s = timed(|| {
        rt.block_on(async {
            let mut q = DelayQueue::new();
            for &d in delays {
                q.insert(counter.clone(), d);
            }
            while let Some(expired) = std::future::poll_fn(|cx| q.poll_expired(cx)).await {
                let c = expired.into_inner();
                c.set(c.get() + 1);
            }
        });
        counter.get()
    });
    assert_eq!(s.count as usize, n, "tokio timers fired");
    s
}

// ------------------------------------------------------------ timers_cancel

/// Schedules every timer, cancels every one (none is due: the delays are far
/// in the future), then runs one loop iteration, which purges them.
pub fn sb_cancel(delays: &[Duration]) -> Sample {
    let lp = switchboard::new_event_loop().expect("loop");
    let counter = Rc::new(Cell::new(0usize));
    let s = timed(|| {
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
        lp.stop();
        lp.run_forever().expect("run_forever");
        drop(handles);
        delays.len()
    });
    assert_eq!(counter.get(), 0, "switchboard cancelled timers ran");
    assert_eq!(
        Rc::strong_count(&counter),
        1,
        "switchboard purged every cancelled timer"
    );
    lp.close().expect("close");
    s
}

pub fn tokio_cancel(delays: &[Duration]) -> Sample {
    let rt = tokio_rt();
    let counter = Rc::new(Cell::new(0usize));
    let s = timed(|| {
        rt.block_on(async {
            let mut q = DelayQueue::new();
            let keys: Vec<_> = delays
                .iter()
                .map(|&d| q.insert(counter.clone(), d))
                .collect();
            for k in &keys {
                drop(q.remove(k));
            }
            assert!(q.is_empty());
        });
        delays.len()
    });
    assert_eq!(Rc::strong_count(&counter), 1, "tokio removed every timer");
    s
}

// ------------------------------------------------ call_soon with timers pending

/// [`sb_call_soon`] while `pending` timers 1-60 s ahead wait in the loop (a
/// service always has timeouts pending); they are cancelled after.
pub fn sb_call_soon_timers(n: usize, pending: &[Duration]) -> Sample {
    let lp = switchboard::new_event_loop().expect("loop");
    let timers: Vec<_> = pending
        .iter()
        .map(|&d| lp.call_later(d, || ()).expect("call_later"))
        .collect();
    let s = callbacks_on(&lp, n);
    timers.iter().for_each(|t| t.cancel());
    lp.close().expect("close");
    s
}

/// [`tokio_call_soon`] with `pending` entries 1-60 s ahead in a
/// `DelayQueue` polled once (registered with the runtime's timer).
pub fn tokio_call_soon_timers(n: usize, pending: &[Duration]) -> Sample {
    let rt = tokio_rt();
    let counter = Rc::new(Cell::new(0usize));
    let local = tokio::task::LocalSet::new();
    let mut q = DelayQueue::new();
    rt.block_on(local.run_until(async {
        for &d in pending {
            q.insert((), d);
        }
        let _ = std::future::poll_fn(|cx| std::task::Poll::Ready(q.poll_expired(cx).is_pending()))
            .await;
    }));
    let s = timed(|| {
        for _ in 0..n {
            let c = counter.clone();
            local.spawn_local(async move { c.set(c.get() + 1) });
        }
        let target = n;
        let c = counter.clone();
        rt.block_on(local.run_until(async move {
            while c.get() < target {
                tokio::task::yield_now().await;
            }
        }));
        counter.get()
    });
    assert_eq!(s.count as usize, n, "tokio spawn_local count");
    drop(q);
    s
}

// ------------------------------------------------------------------ the burst

/// Other work before the measured passes, so they run on a warm process
/// (its allocator and the handle table's free slots as a service leaves
/// them): `n` timers fired (delays within `span`), `n` timers 1-60 s ahead
/// cancelled, `n` callbacks; on switchboard's loop or on tokio's.
pub fn burst(tokio: bool, n: usize, span: f64) {
    let fired = delays(n, 0.0, span);
    let far = delays(n, 1.0, 59.0);
    if tokio {
        tokio_timers(&fired);
        tokio_cancel(&far);
        tokio_call_soon(n);
    } else {
        sb_timers(&fired);
        sb_cancel(&far);
        sb_call_soon(n);
    }
}
