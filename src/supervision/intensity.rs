//! Restart intensity: at most `max` restarts within a sliding window.

use std::collections::VecDeque;
use std::time::Duration;

/// The restarts of the last window, by loop time in nanoseconds.
#[derive(Debug, Clone)]
pub(crate) struct Intensity {
    pub(crate) max: u32,
    pub(crate) within: Duration,
    restarts: VecDeque<i64>,
    /// Restarts since it began (introspection).
    total: u64,
}

impl Intensity {
    pub(crate) fn new(max: u32, within: Duration) -> Self {
        Intensity {
            max,
            within,
            restarts: VecDeque::new(),
            total: 0,
        }
    }

    /// Records a restart at `now`; false if that is one too many (more than
    /// `max` within the window ending at `now`).
    pub(crate) fn allow(&mut self, now: i64) -> bool {
        let window = i64::try_from(self.within.as_nanos()).unwrap_or(i64::MAX);
        while self
            .restarts
            .front()
            .is_some_and(|&t| now.saturating_sub(t) >= window)
        {
            self.restarts.pop_front();
        }
        self.restarts.push_back(now);
        self.total += 1;
        self.restarts.len() <= self.max as usize
    }

    /// Restarts inside the window that ends at `now`.
    pub(crate) fn in_window(&self, now: i64) -> usize {
        let window = i64::try_from(self.within.as_nanos()).unwrap_or(i64::MAX);
        self.restarts
            .iter()
            .filter(|&&t| now.saturating_sub(t) < window)
            .count()
    }

    /// Restarts since it began.
    pub(crate) fn total(&self) -> u64 {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    #[test]
    fn allows_max_restarts_within_the_window_and_refuses_one_more() {
        let mut i = Intensity::new(3, Duration::from_secs(5));
        assert!(i.allow(0));
        assert!(i.allow(S));
        assert!(i.allow(2 * S));
        assert!(!i.allow(3 * S));
    }

    #[test]
    fn restarts_older_than_the_window_no_longer_count() {
        let mut i = Intensity::new(2, Duration::from_secs(1));
        assert!(i.allow(0));
        assert!(i.allow(S / 2));
        assert!(i.allow(S + 1), "the first one left the window");
        assert!(!i.allow(S + 2));
    }

    #[test]
    fn zero_allows_no_restart() {
        let mut i = Intensity::new(0, Duration::from_secs(1));
        assert!(!i.allow(0));
    }
}
