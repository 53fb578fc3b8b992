//! `sleep`: a future that completes after a delay on the loop's clock.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use crate::event_loop::{Delay, EventLoop};
use crate::handle::TimerHandle;

/// The future [`sleep`] and [`EventLoop::sleep`] return (asyncio's
/// `asyncio.sleep`); it resolves to `()`. Dropping it cancels its timer.
pub struct Sleep {
    /// The loop and the deadline on its clock, once known.
    bound: Option<(EventLoop, f64)>,
    delay: f64,
    timer: Option<TimerHandle>,
    fired: Rc<Cell<bool>>,
    waker: Rc<RefCell<Option<Waker>>>,
}

/// A delay in seconds that a timer can wait: a delay that is not a number
/// counts as zero, a negative one as zero.
fn clean(delay: f64) -> f64 {
    if delay.is_nan() {
        0.0
    } else {
        delay.max(0.0)
    }
}

impl EventLoop {
    /// A future that completes `delay` after this call (the deadline is fixed
    /// when the future is made, as `asyncio.sleep` fixes it when it starts). A
    /// negative delay, or one that is not a number, completes on the next
    /// iteration.
    ///
    /// ```
    /// let lp = switchboard::new_event_loop()?;
    /// let t0 = lp.time();
    /// lp.run_until_complete(lp.sleep(0.02))?;
    /// assert!(lp.time() - t0 >= 0.02);
    /// # Ok::<(), switchboard::LoopError>(())
    /// ```
    pub fn sleep(&self, delay: impl Into<Delay>) -> Sleep {
        let delay = clean(delay.into().0);
        Sleep {
            bound: Some((self.clone(), self.time() + delay)),
            delay,
            timer: None,
            fired: Rc::new(Cell::new(false)),
            waker: Rc::new(RefCell::new(None)),
        }
    }
}

/// Sleeps `delay` (seconds as `f64`, or a `Duration`) on the running loop
/// (asyncio's `asyncio.sleep`); resolves to `()`.
///
/// Made inside a running loop, the deadline counts from now; made outside
/// one, from its first poll. Polled outside any switchboard loop (on another
/// executor) there is no clock to wait on: it logs a warning and completes at
/// once.
///
/// ```
/// switchboard::run(|lp| async move {
///     let t0 = lp.time();
///     switchboard::sleep(0.01).await;
///     assert!(lp.time() - t0 >= 0.01);
///     Ok::<(), switchboard::Error>(())
/// })?;
/// # Ok::<(), switchboard::Error>(())
/// ```
pub fn sleep(delay: impl Into<Delay>) -> Sleep {
    let delay = clean(delay.into().0);
    match crate::get_running_loop() {
        Ok(lp) => lp.sleep(delay),
        Err(_) => Sleep {
            bound: None,
            delay,
            timer: None,
            fired: Rc::new(Cell::new(false)),
            waker: Rc::new(RefCell::new(None)),
        },
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.fired.get() {
            return Poll::Ready(());
        }
        *self.waker.borrow_mut() = Some(cx.waker().clone());
        if self.timer.is_none() {
            if self.bound.is_none() {
                match crate::get_running_loop() {
                    Ok(lp) => {
                        let when = lp.time() + self.delay;
                        self.bound = Some((lp, when));
                    }
                    Err(_) => {
                        crate::diag::warning!(
                            "switchboard::sleep polled outside a running loop; completing at once"
                        );
                        return Poll::Ready(());
                    }
                }
            }
            let Some((lp, when)) = self.bound.clone() else {
                return Poll::Ready(());
            };
            let fired = self.fired.clone();
            let waker = self.waker.clone();
            let timer = lp.call_at(when, move || {
                fired.set(true);
                if let Some(w) = waker.borrow_mut().take() {
                    w.wake();
                }
            });
            match timer {
                Ok(t) => self.timer = Some(t),
                // A closed loop polls nothing more; nothing to wait for.
                Err(_) => return Poll::Ready(()),
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
        match &self.bound {
            Some((_, when)) => write!(f, "<Sleep until {when:.6} fired={}>", self.fired.get()),
            None => write!(f, "<Sleep {:.6}s unbound>", self.delay),
        }
    }
}
