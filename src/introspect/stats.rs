//! The loop's own figures for introspection: iterations, time in poll and
//! in handlers, callbacks run, exceptions, and how late timers ran (lag).
//! With the `introspection` feature off, every method is empty.

use std::cell::{Cell, RefCell};
use std::time::Instant;

use switchboard_actors::inspect::{LagInfo, LAG_BUCKETS, LAG_WINDOW};

/// Kept on the loop thread, in the loop's core.
#[derive(Default)]
pub(crate) struct LoopStats {
    iterations: Cell<u64>,
    poll_ns: Cell<u64>,
    handler_ns: Cell<u64>,
    callbacks: Cell<u64>,
    exceptions: Cell<u64>,
    /// When the current iteration's poll began (the end of the last one).
    mark: Cell<Option<Instant>>,
    /// When the current iteration's poll returned.
    polled: Cell<Option<Instant>>,
    lag: RefCell<Lag>,
}

/// The lag samples: the last [`LAG_WINDOW`] in a ring, every one in the
/// histogram.
#[derive(Default)]
struct Lag {
    ring: Vec<u64>,
    next: usize,
    buckets: [u64; LAG_BUCKETS.len() + 1],
    sum_ns: u64,
}

/// [`LAG_BUCKETS`] in nanoseconds: a sample is placed with integer
/// compares, on the path of every timer that fires.
const BUCKET_NS: [u64; LAG_BUCKETS.len()] = {
    let mut ns = [0u64; LAG_BUCKETS.len()];
    let mut i = 0;
    while i < ns.len() {
        ns[i] = (LAG_BUCKETS[i] * 1e9) as u64;
        i += 1;
    }
    ns
};

fn ns(from: Instant, to: Instant) -> u64 {
    u64::try_from(to.saturating_duration_since(from).as_nanos()).unwrap_or(u64::MAX)
}

impl LoopStats {
    /// A run (`run_forever`, `run_until_complete`) begins: the time since
    /// the last one is neither poll nor handlers.
    #[inline]
    pub(crate) fn run_begins(&self) {
        if cfg!(feature = "introspection") {
            self.mark.set(Some(Instant::now()));
        }
    }

    /// The poll returned.
    #[inline]
    pub(crate) fn polled(&self) {
        if cfg!(feature = "introspection") {
            let now = Instant::now();
            if let Some(mark) = self.mark.get() {
                self.poll_ns
                    .set(self.poll_ns.get().wrapping_add(ns(mark, now)));
            }
            self.polled.set(Some(now));
        }
    }

    /// The iteration ended.
    #[inline]
    pub(crate) fn turned(&self) {
        if cfg!(feature = "introspection") {
            let now = Instant::now();
            if let Some(polled) = self.polled.take() {
                self.handler_ns
                    .set(self.handler_ns.get().wrapping_add(ns(polled, now)));
            }
            self.iterations.set(self.iterations.get() + 1);
            self.mark.set(Some(now));
        }
    }

    /// A callback (or timer callback) is about to run.
    #[inline]
    pub(crate) fn callback(&self) {
        if cfg!(feature = "introspection") {
            self.callbacks.set(self.callbacks.get() + 1);
        }
    }

    /// The exception handler was called.
    #[inline]
    pub(crate) fn exception(&self) {
        if cfg!(feature = "introspection") {
            self.exceptions.set(self.exceptions.get() + 1);
        }
    }

    /// A timer due at `due` was taken out at `now` (loop nanoseconds).
    #[inline]
    pub(crate) fn timer_lag(&self, due: i64, now: i64) {
        if cfg!(feature = "introspection") {
            let late = now.saturating_sub(due).max(0) as u64;
            self.lag.borrow_mut().record(late);
        }
    }

    pub(crate) fn iterations(&self) -> u64 {
        self.iterations.get()
    }

    pub(crate) fn poll_seconds(&self) -> f64 {
        self.poll_ns.get() as f64 / 1e9
    }

    pub(crate) fn handler_seconds(&self) -> f64 {
        self.handler_ns.get() as f64 / 1e9
    }

    pub(crate) fn callbacks_run(&self) -> u64 {
        self.callbacks.get()
    }

    pub(crate) fn exceptions(&self) -> u64 {
        self.exceptions.get()
    }

    pub(crate) fn lag(&self) -> LagInfo {
        self.lag.borrow().info()
    }
}

impl Lag {
    fn record(&mut self, late_ns: u64) {
        if self.ring.len() < LAG_WINDOW {
            self.ring.push(late_ns);
        } else {
            self.ring[self.next] = late_ns;
        }
        self.next = (self.next + 1) % LAG_WINDOW;
        let bucket = BUCKET_NS
            .iter()
            .position(|&b| late_ns <= b)
            .unwrap_or(BUCKET_NS.len());
        self.buckets[bucket] += 1;
        self.sum_ns = self.sum_ns.saturating_add(late_ns);
    }

    fn info(&self) -> LagInfo {
        let mut sorted = self.ring.clone();
        sorted.sort_unstable();
        let at = |q: f64| -> f64 {
            if sorted.is_empty() {
                return 0.0;
            }
            // Nearest rank.
            let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
            sorted[rank - 1] as f64 / 1e9
        };
        let mut cumulative = 0;
        let buckets = self
            .buckets
            .iter()
            .map(|n| {
                cumulative += n;
                cumulative
            })
            .collect();
        LagInfo {
            p50: at(0.5),
            p99: at(0.99),
            max: sorted.last().map_or(0.0, |&n| n as f64 / 1e9),
            window: sorted.len(),
            buckets,
            sum: self.sum_ns as f64 / 1e9,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_percentiles_are_nearest_rank_over_the_window_and_the_histogram_is_cumulative() {
        let mut lag = Lag::default();
        for ms in 1..=100u64 {
            lag.record(ms * 1_000_000);
        }
        let info = lag.info();
        assert_eq!(info.window, 100);
        assert!((info.p50 - 0.050).abs() < 1e-9, "{info:?}");
        assert!((info.p99 - 0.099).abs() < 1e-9, "{info:?}");
        assert!((info.max - 0.100).abs() < 1e-9, "{info:?}");
        // 1 ms..=100 ms: ≤1 ms: 1; ≤2.5 ms: 2; ≤5 ms: 5; ≤10 ms: 10; ≤25 ms:
        // 25; ≤100 ms: 100.
        assert_eq!(info.buckets[2], 1);
        assert_eq!(info.buckets[3], 2);
        assert_eq!(info.buckets[5], 10);
        assert_eq!(info.buckets[7], 100);
        assert_eq!(*info.buckets.last().unwrap(), 100);
        assert!((info.sum - 5.050).abs() < 1e-6);
    }

    #[test]
    fn the_window_keeps_only_the_latest_samples() {
        let mut lag = Lag::default();
        for _ in 0..LAG_WINDOW {
            lag.record(1_000_000_000);
        }
        for _ in 0..LAG_WINDOW {
            lag.record(1_000);
        }
        let info = lag.info();
        assert_eq!(info.window, LAG_WINDOW);
        assert!(info.max < 0.001, "old samples left the window: {info:?}");
        assert_eq!(*info.buckets.last().unwrap(), 2 * LAG_WINDOW as u64);
    }
}
