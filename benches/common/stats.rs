//! What both benchmarks share: CPU-time readings, medians and spreads, and
//! the machine's state, so every figure is printed the same way. Each bench
//! uses a part of it.
#![allow(dead_code)]

use std::time::Duration;

/// User + system CPU seconds of the calling thread (`CLOCK_THREAD_CPUTIME_ID`).
#[allow(dead_code)]
pub fn thread_cpu() -> f64 {
    // CLOCK_THREAD_CPUTIME_ID is the thread's user + system time to the
    // nanosecond; getrusage(RUSAGE_THREAD) reports the same time in steps
    // of the kernel's tick (4 ms here), a 6% step on a 70 ms run.
    use nix::time::{clock_gettime, ClockId};
    let t = clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).expect("CLOCK_THREAD_CPUTIME_ID");
    t.tv_sec() as f64 + t.tv_nsec() as f64 * 1e-9
}

/// User + system CPU seconds of process `pid` (every thread), from
/// `/proc/PID/stat` fields 14 and 15, in clock ticks of `USER_HZ` (100 on
/// Linux, whatever the kernel's own tick).
#[allow(dead_code)]
pub fn process_cpu(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after `(comm)`: state is field 3, so utime (14) is index 11 here.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

/// One measurement: a count over a wall-clock window and over the CPU time
/// the measured process (or thread) spent in it.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub count: f64,
    pub wall: Duration,
    pub cpu: f64,
}

impl Sample {
    /// Count per wall-clock second (the raw rate).
    pub fn raw(&self) -> f64 {
        self.count / self.wall.as_secs_f64().max(1e-9)
    }

    /// Count per CPU-second of the measured process (NaN when no CPU time
    /// was seen: a run shorter than the clock's step).
    pub fn per_cpu(&self) -> f64 {
        if self.cpu > 0.0 {
            self.count / self.cpu
        } else {
            f64::NAN
        }
    }

    /// The measured process's CPU share of the window.
    #[allow(dead_code)]
    pub fn busy(&self) -> f64 {
        self.cpu / self.wall.as_secs_f64().max(1e-9)
    }
}

/// The median of `v` (the mean of the middle two for an even count).
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// `median (min–max)` of `v`, each value formatted by `f`; NaN values (no
/// CPU time seen) are left out, and `n/a` stands for none left.
pub fn spread(v: &[f64], f: fn(f64) -> String) -> String {
    let v: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return "n/a".to_owned();
    }
    let v = &v[..];
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{} ({}–{})", f(median(v)), f(min), f(max))
}

/// A rate with a k/M suffix: `156.5k`, `1.89M`.
pub fn si(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

/// A plain number with no decimals.
#[allow(dead_code)]
pub fn whole(v: f64) -> String {
    format!("{v:.0}")
}

/// A ratio with three decimals (a target of 1.0 is judged on them).
pub fn ratio(v: f64) -> String {
    format!("{v:.3}")
}

/// The 1, 5 and 15 minute load averages.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".to_owned())
}

/// The CPUs this process may run on.
#[allow(dead_code)]
pub fn cpus_allowed() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                .map(|v| v.trim().to_owned())
        })
        .unwrap_or_else(|| "?".to_owned())
}

/// A positive number from the environment.
pub fn env_num(name: &str) -> Option<f64> {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse::<f64>().ok())
        .filter(|v| *v > 0.0)
}
