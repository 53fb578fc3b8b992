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
