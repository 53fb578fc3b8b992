//! Write-buffer flow control shared by every write transport (TCP, Unix,
//! pipes): asyncio's `_FlowControlMixin` as a struct, not a base class.
//!
//! A transport calls [`FlowControl::after_grow`] after queueing bytes in its
//! write buffer and [`FlowControl::after_drain`] after the kernel took some;
//! a returned [`FlowSignal`] is the event to queue for the protocol.
//!
//! ```text
//!             buffered > high  (after_grow, set_limits)
//!   Flowing ─────────────────────────────────────────► Paused
//!      ▲                                                 │
//!      └────────────── buffered <= low  (after_drain) ───┘
//! ```

use switchboard_protocols::{LimitsError, WriteLimits};

/// A crossing of a watermark: the event the transport must queue for its
/// protocol (as `PauseWriting` / `ResumeWriting`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowSignal {
    /// The buffer went strictly above the high-water mark: queue
    /// `PauseWriting`.
    Pause,
    /// The buffer drained to the low-water mark or below after a pause: queue
    /// `ResumeWriting`.
    Resume,
}

/// Whether the protocol was told to stop writing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Writing {
    /// No `PauseWriting` outstanding.
    Flowing,
    /// A `PauseWriting` was signalled and its `ResumeWriting` was not.
    Paused,
}

/// The write-buffer watermark state machine of one transport.
///
/// Signals strictly alternate, starting with [`FlowSignal::Pause`]:
/// - `Pause` exactly once per crossing, when the buffered size goes
///   *strictly above* `high` (W2; a size equal to `high` does not pause);
/// - `Resume` exactly once, only after a `Pause`, when the buffered size
///   drains to *at or below* `low` (W3).
///
/// Only user-space bytes count: a write the kernel takes whole never grows the
/// buffer, so it never pauses (W4).
///
/// ```
/// use switchboard_actors::{FlowControl, FlowSignal};
/// use switchboard_protocols::WriteLimits;
///
/// let mut flow = FlowControl::new(WriteLimits { low: 10, high: 20 });
/// assert_eq!(flow.after_grow(20), None);                    // equal to high: no pause
/// assert_eq!(flow.after_grow(21), Some(FlowSignal::Pause)); // strictly above
/// assert_eq!(flow.after_grow(5000), None);                  // once per crossing
/// assert_eq!(flow.after_drain(11), None);                   // still above low
/// assert_eq!(flow.after_drain(10), Some(FlowSignal::Resume));
/// assert!(!flow.is_paused());
/// ```
#[derive(Debug, Clone)]
pub struct FlowControl {
    limits: WriteLimits,
    writing: Writing,
}

impl Default for FlowControl {
    /// asyncio's default limits (16 KiB, 64 KiB), not paused.
    fn default() -> Self {
        Self::new(WriteLimits::DEFAULT)
    }
}

impl FlowControl {
    /// Flow control with `limits`, not paused.
    pub fn new(limits: WriteLimits) -> Self {
        FlowControl {
            limits,
            writing: Writing::Flowing,
        }
    }

    /// Call after the write buffer grew to `buffered` bytes. Returns
    /// `Some(Pause)` if this crossed `high` (strictly above) while not paused.
    pub fn after_grow(&mut self, buffered: usize) -> Option<FlowSignal> {
        match self.writing {
            Writing::Flowing if buffered > self.limits.high => {
                self.writing = Writing::Paused;
                Some(FlowSignal::Pause)
            }
            _ => None,
        }
    }

    /// Call after the write buffer drained to `buffered` bytes. Returns
    /// `Some(Resume)` if paused and `buffered` is at or below `low`.
    pub fn after_drain(&mut self, buffered: usize) -> Option<FlowSignal> {
        match self.writing {
            Writing::Paused if buffered <= self.limits.low => {
                self.writing = Writing::Flowing;
                Some(FlowSignal::Resume)
            }
            _ => None,
        }
    }

    /// `set_write_buffer_limits(high, low)` with `buffered` bytes in the
    /// buffer: computes the limits as [`WriteLimits::new`] does, then
    /// re-evaluates at once, which may return `Some(Pause)` (W5).
    ///
    /// Like asyncio it never resumes here: a paused transport still has bytes
    /// above the old `low`, so a later drain resumes it. On error the limits
    /// are unchanged.
    ///
    /// ```
    /// use switchboard_actors::{FlowControl, FlowSignal};
    ///
    /// let mut flow = FlowControl::default();
    /// assert_eq!(flow.set_limits(Some(100), None, 101)?, Some(FlowSignal::Pause));
    /// assert_eq!((flow.limits().low, flow.limits().high), (25, 100));
    /// assert!(flow.set_limits(Some(1), Some(2), 0).is_err());
    /// # Ok::<(), switchboard_protocols::LimitsError>(())
    /// ```
    pub fn set_limits(
        &mut self,
        high: Option<usize>,
        low: Option<usize>,
        buffered: usize,
    ) -> Result<Option<FlowSignal>, LimitsError> {
        self.limits = WriteLimits::new(high, low)?;
        Ok(self.after_grow(buffered))
    }

    /// The current watermarks.
    pub fn limits(&self) -> WriteLimits {
        self.limits
    }

    /// True between a `Pause` and its `Resume`.
    pub fn is_paused(&self) -> bool {
        self.writing == Writing::Paused
    }
}

#[cfg(test)]
mod tests;
