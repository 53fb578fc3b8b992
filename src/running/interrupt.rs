//! The abort-class panic: Rust's twin of `KeyboardInterrupt`/`SystemExit`.

/// Panic with this payload (`std::panic::panic_any(Interrupt)`) to leave
/// `run_forever`/`run_until_complete` through the caller, as a
/// `KeyboardInterrupt` raised in an asyncio callback does. Any other panic in a
/// callback is caught, reported to the exception handler, and the loop goes on.
/// After an `Interrupt` the loop is stopped but not closed, and can run again.
///
/// ```
/// use std::panic::{catch_unwind, panic_any, AssertUnwindSafe};
/// let lp = switchboard::new_event_loop()?;
/// lp.call_soon(|| panic_any(switchboard::Interrupt))?;
/// let out = catch_unwind(AssertUnwindSafe(|| lp.run_forever()));
/// assert!(out.is_err());
/// assert!(!lp.is_running() && !lp.is_closed());
/// # Ok::<(), switchboard::LoopError>(())
/// ```
pub use switchboard_protocols::Interrupt;

pub(crate) fn is_interrupt(payload: &(dyn std::any::Any + Send)) -> bool {
    payload.is::<Interrupt>()
}
