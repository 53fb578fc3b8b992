//! Event loop policies: who makes loops and which one is current.

use std::cell::RefCell;
use std::fmt;
use std::sync::{Arc, RwLock};

use crate::error::LoopError;
use crate::event_loop::EventLoop;

/// asyncio's `AbstractEventLoopPolicy`: decides what `get_event_loop`,
/// `set_event_loop` and `new_event_loop` do. Loops are per thread, so a policy
/// keeps its current loop in thread-local storage.
pub trait EventLoopPolicy: Send + Sync + fmt::Debug {
    /// The current loop of this thread.
    fn get_event_loop(&self) -> Result<EventLoop, LoopError>;
    /// Sets (or clears) the current loop of this thread.
    fn set_event_loop(&self, lp: Option<EventLoop>);
    /// Makes a new loop.
    fn new_event_loop(&self) -> Result<EventLoop, LoopError>;
}

thread_local! {
    static CURRENT: RefCell<Option<EventLoop>> = const { RefCell::new(None) };
}

/// The default policy: one current loop per thread, set explicitly.
#[derive(Debug, Default, Clone, Copy)]
pub struct DefaultEventLoopPolicy;

impl EventLoopPolicy for DefaultEventLoopPolicy {
    fn get_event_loop(&self) -> Result<EventLoop, LoopError> {
        CURRENT
            .with(|c| c.borrow().clone())
            .ok_or_else(|| LoopError::NoCurrentLoop {
                thread: std::thread::current()
                    .name()
                    .unwrap_or("<unnamed>")
                    .to_string(),
            })
    }

    fn set_event_loop(&self, lp: Option<EventLoop>) {
        CURRENT.with(|c| *c.borrow_mut() = lp);
    }

    fn new_event_loop(&self) -> Result<EventLoop, LoopError> {
        EventLoop::new()
    }
}

static POLICY: RwLock<Option<Arc<dyn EventLoopPolicy>>> = RwLock::new(None);

/// The process-wide policy (the default one unless set).
///
/// ```
/// use switchboard::{get_event_loop, get_event_loop_policy, set_event_loop};
/// let lp = get_event_loop_policy().new_event_loop()?;
/// set_event_loop(Some(lp.clone()));
/// assert!(get_event_loop().is_ok());
/// set_event_loop(None);
/// assert!(get_event_loop().is_err());
/// # Ok::<(), switchboard::LoopError>(())
/// ```
pub fn get_event_loop_policy() -> Arc<dyn EventLoopPolicy> {
    let guard = POLICY.read().unwrap_or_else(|p| p.into_inner());
    guard
        .clone()
        .unwrap_or_else(|| Arc::new(DefaultEventLoopPolicy))
}

/// Replaces the process-wide policy; `None` restores the default.
pub fn set_event_loop_policy(policy: Option<Arc<dyn EventLoopPolicy>>) {
    *POLICY.write().unwrap_or_else(|p| p.into_inner()) = policy;
}
