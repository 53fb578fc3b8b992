//! A count kept only for introspection: with the `introspection` feature
//! off it is zero-sized and every `add` compiles to nothing.

/// True when the crate counts for introspection (the `introspection`
/// feature, on by default); when false, every [`Counter`] reads 0.
pub const COUNTING: bool = cfg!(feature = "introspection");

/// A count for introspection: bytes, messages, accepted connections.
///
/// ```
/// use switchboard_actors::inspect::{Counter, COUNTING};
/// let mut c = Counter::default();
/// c.add(3);
/// c.add(4);
/// assert_eq!(c.get(), if COUNTING { 7 } else { 0 });
/// ```
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counter {
    #[cfg(feature = "introspection")]
    n: u64,
}

impl Counter {
    /// Adds `n` (wrapping, which no real count reaches).
    #[inline(always)]
    pub fn add(&mut self, n: u64) {
        #[cfg(feature = "introspection")]
        {
            self.n = self.n.wrapping_add(n);
        }
        #[cfg(not(feature = "introspection"))]
        let _ = n;
    }

    /// The count (0 with the feature off).
    #[inline]
    pub fn get(&self) -> u64 {
        #[cfg(feature = "introspection")]
        {
            self.n
        }
        #[cfg(not(feature = "introspection"))]
        0
    }
}

/// When something was made, for its age in introspection: milliseconds
/// since a process-wide epoch, in 4 bytes (where an `Instant` takes 16:
/// every idle connection carries one), which lasts 49 days; an age past
/// that reads as 49 days. Zero-sized with the `introspection` feature off
/// (the age then reads 0).
#[derive(Debug, Clone, Copy)]
pub struct Born {
    #[cfg(feature = "introspection")]
    at: u32,
}

#[cfg(feature = "introspection")]
fn since_epoch() -> u32 {
    static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let epoch = *EPOCH.get_or_init(std::time::Instant::now);
    u32::try_from(epoch.elapsed().as_millis()).unwrap_or(u32::MAX)
}

impl Born {
    /// Now.
    #[inline]
    pub fn now() -> Self {
        Born {
            #[cfg(feature = "introspection")]
            at: since_epoch(),
        }
    }

    /// Seconds since then (0 with the feature off).
    pub fn age_seconds(&self) -> f64 {
        #[cfg(feature = "introspection")]
        {
            f64::from(since_epoch().saturating_sub(self.at)) / 1e3
        }
        #[cfg(not(feature = "introspection"))]
        0.0
    }
}

/// Adds `n` to a counter kept in a `Cell` (where only `&self` is at hand).
#[inline(always)]
pub fn bump(cell: &std::cell::Cell<Counter>, n: u64) {
    let mut c = cell.get();
    c.add(n);
    cell.set(c);
}
