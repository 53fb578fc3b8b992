//! The abort-class panic payload.

/// Panic with this payload (`std::panic::panic_any(Interrupt)`) to leave the
/// loop's `run_forever`/`run_until_complete` through the caller, as a
/// `KeyboardInterrupt` raised in an asyncio callback does. Any other panic in a
/// callback, task, actor or protocol is caught, reported to the exception
/// handler, and the loop goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interrupt;
