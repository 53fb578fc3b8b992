//! `sleep`: a future that completes after a delay on the loop's clock.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use crate::error::LoopError;
use crate::event_loop::{Delay, EventLoop};
use crate::handle::TimerHandle;

/// The future [`EventLoop::sleep`] returns (asyncio's `asyncio.sleep`).
/// Dropping it cancels its timer.
pub struct Sleep {
    lp: EventLoop,
    when: f64,
    timer: Option<TimerHandle>,
    fired: Rc<Cell<bool>>,
    waker: Rc<RefCell<Option<Waker>>>,
}

impl EventLoop {
    /// A future that completes `delay` after this call (the deadline is fixed
    /// when the future is made, as `asyncio.sleep` fixes it when it starts).
    /// A delay that is not a number resolves to [`LoopError::InvalidDelay`].
    ///
    /// ```
    /// let lp = switchboard::new_event_loop()?;
    /// let t0 = lp.time();
    /// let l2 = lp.clone();
    /// lp.run_until_complete(async move { l2.sleep(0.02).await })??;
    /// assert!(lp.time() - t0 >= 0.02);
    /// # Ok::<(), switchboard::LoopError>(())
    /// ```
    pub fn sleep(&self, delay: impl Into<Delay>) -> Sleep {
        let d = delay.into().0;
        let when = if d.is_nan() {
            f64::NAN
        } else {
            self.time() + d.max(0.0)
        };
        Sleep {
            lp: self.clone(),
            when,
            timer: None,
            fired: Rc::new(Cell::new(false)),
            waker: Rc::new(RefCell::new(None)),
        }
    }
}

/// Sleeps on the running loop; [`LoopError::NoRunningLoop`] outside one.
pub fn sleep(delay: impl Into<Delay>) -> Result<Sleep, LoopError> {
    Ok(crate::get_running_loop()?.sleep(delay))
}

impl Future for Sleep {
    type Output = Result<(), LoopError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.fired.get() {
            return Poll::Ready(Ok(()));
        }
        *self.waker.borrow_mut() = Some(cx.waker().clone());
        if self.timer.is_none() {
            let fired = self.fired.clone();
            let waker = self.waker.clone();
            let timer = self.lp.call_at(self.when, move || {
                fired.set(true);
                if let Some(w) = waker.borrow_mut().take() {
                    w.wake();
                }
            });
            match timer {
                Ok(t) => self.timer = Some(t),
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(t) = &self.timer {
            t.cancel();
        }
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "<Sleep until {:.6} fired={}>",
            self.when,
            self.fired.get()
        )
    }
}
