//! Write-buffer watermarks: asyncio's `set_write_buffer_limits` arithmetic.

use crate::error::LimitsError;

/// The (low, high) write-buffer watermarks of a transport.
///
/// `PauseWriting` is sent when the buffered size goes *strictly above* `high`;
/// `ResumeWriting` when it drains to *at or below* `low`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteLimits {
    /// Resume at or below this many buffered bytes.
    pub low: usize,
    /// Pause strictly above this many buffered bytes.
    pub high: usize,
}

impl WriteLimits {
    /// asyncio's defaults: high 64 KiB, low 16 KiB.
    pub const DEFAULT: WriteLimits = WriteLimits {
        low: 16 * 1024,
        high: 64 * 1024,
    };

    /// Computes the limits as asyncio does: with neither given, the defaults;
    /// with only `low`, `high = 4 * low`; with only `high`, `low = high / 4`.
    /// `high < low` is a [`LimitsError`].
    ///
    /// ```
    /// use switchboard::WriteLimits;
    /// let l = WriteLimits::new(None, Some(16385))?;
    /// assert_eq!((l.low, l.high), (16385, 65540));
    /// assert_eq!(WriteLimits::new(Some(0), None)?, WriteLimits { low: 0, high: 0 });
    /// assert!(WriteLimits::new(Some(1), Some(2)).is_err());
    /// # Ok::<(), switchboard::LimitsError>(())
    /// ```
    pub fn new(high: Option<usize>, low: Option<usize>) -> Result<Self, LimitsError> {
        let high = match (high, low) {
            (Some(h), _) => h,
            (None, Some(l)) => l.saturating_mul(4),
            (None, None) => Self::DEFAULT.high,
        };
        let low = low.unwrap_or(high / 4);
        if high < low {
            return Err(LimitsError { high, low });
        }
        Ok(WriteLimits { low, high })
    }
}

impl Default for WriteLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}
