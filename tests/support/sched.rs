//! Small helpers of the scheduling tests: a shared log and a callback that
//! pushes to it, and one loop iteration.
#![allow(dead_code)]

use std::cell::RefCell;
use std::rc::Rc;

use switchboard::EventLoop;

/// What callbacks recorded, in order.
pub type Log<T> = Rc<RefCell<Vec<T>>>;

/// A new, empty log.
pub fn log<T>() -> Log<T> {
    Rc::new(RefCell::new(Vec::new()))
}

/// A callback that pushes `v` to `log`.
pub fn push<T: Clone + 'static>(log: &Log<T>, v: T) -> impl FnOnce() + 'static {
    let log = log.clone();
    move || log.borrow_mut().push(v)
}

/// Runs the loop once with a pre-requested stop: one iteration, zero timeout.
pub fn run_one_iteration(lp: &EventLoop) {
    lp.stop();
    lp.run_forever().unwrap();
}
