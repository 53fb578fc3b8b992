//! The bound of a bounded mailbox, shared by every address of the actor
//! and its mailbox: how many messages are on their way, and who waits for
//! room.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::task::Waker;

/// Someone waiting for room in a bounded mailbox.
enum Waiter {
    /// A `send_wait` future.
    Task(Waker),
    /// A transport whose reading was paused by `forward`: resume it.
    Resume(Box<dyn FnOnce() + Send>),
}

/// The bound of one actor's mailbox and the messages counted against it
/// (sent, not yet handled).
pub struct Capacity {
    bound: usize,
    depth: AtomicUsize,
    waiters: Mutex<Vec<Waiter>>,
}

impl fmt::Debug for Capacity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Capacity({}/{})", self.depth(), self.bound)
    }
}

impl Capacity {
    /// A mailbox of at most `bound` messages (at least 1).
    pub fn new(bound: usize) -> Self {
        Capacity {
            bound: bound.max(1),
            depth: AtomicUsize::new(0),
            waiters: Mutex::new(Vec::new()),
        }
    }

    /// The bound.
    pub fn bound(&self) -> usize {
        self.bound
    }

    /// Messages sent and not yet handled.
    pub fn depth(&self) -> usize {
        self.depth.load(Ordering::Acquire)
    }

    /// Counts one more message if there is room.
    pub(crate) fn try_reserve(&self) -> bool {
        self.depth
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |d| {
                (d < self.bound).then_some(d + 1)
            })
            .is_ok()
    }

    /// Counts one more message, room or not; true if the mailbox is now at
    /// (or over) its bound.
    pub(crate) fn force_reserve(&self) -> bool {
        self.depth.fetch_add(1, Ordering::AcqRel) + 1 >= self.bound
    }

    /// A message was handled (or given back): one less is counted, and
    /// whoever waits for room is woken once there is some.
    pub fn release(&self) {
        let before = self
            .depth
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |d| d.checked_sub(1))
            .unwrap_or(0);
        if before <= self.bound {
            self.wake_all();
        }
    }

    /// Wakes every waiter (room, or the actor stopped: they look again).
    pub fn wake_all(&self) {
        let waiters = std::mem::take(&mut *self.lock());
        for w in waiters {
            match w {
                Waiter::Task(w) => w.wake(),
                Waiter::Resume(f) => f(),
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Waiter>> {
        self.waiters.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn wait(&self, waker: &Waker) {
        let mut ws = self.lock();
        if !ws
            .iter()
            .any(|w| matches!(w, Waiter::Task(x) if x.will_wake(waker)))
        {
            ws.push(Waiter::Task(waker.clone()));
        }
    }

    pub(crate) fn on_room(&self, f: Box<dyn FnOnce() + Send>) {
        self.lock().push(Waiter::Resume(f));
        if self.depth() < self.bound {
            // Room came between the check and the registration.
            self.wake_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    #[test]
    fn reserves_up_to_the_bound_and_releases_make_room() {
        let c = Capacity::new(2);
        assert!(c.try_reserve());
        assert!(c.try_reserve());
        assert!(!c.try_reserve(), "full");
        c.release();
        assert_eq!(c.depth(), 1);
        assert!(c.try_reserve());
    }

    #[test]
    fn force_reserve_goes_past_the_bound_and_says_when_full() {
        let c = Capacity::new(2);
        assert!(!c.force_reserve());
        assert!(c.force_reserve(), "at the bound");
        assert!(c.force_reserve(), "one over");
        assert_eq!(c.depth(), 3);
    }

    #[test]
    fn a_resume_waits_for_room_and_runs_once() {
        let c = Capacity::new(1);
        assert!(c.force_reserve());
        let fired = Arc::new(AtomicBool::new(false));
        let f = fired.clone();
        c.on_room(Box::new(move || f.store(true, Ordering::SeqCst)));
        assert!(!fired.load(Ordering::SeqCst), "still full");
        c.release();
        assert!(fired.load(Ordering::SeqCst), "room: resumed");
    }

    #[test]
    fn a_resume_registered_after_the_room_came_runs_at_once() {
        let c = Capacity::new(1);
        let fired = Arc::new(AtomicBool::new(false));
        let f = fired.clone();
        c.on_room(Box::new(move || f.store(true, Ordering::SeqCst)));
        assert!(fired.load(Ordering::SeqCst));
    }

    #[test]
    fn release_never_goes_below_zero() {
        let c = Capacity::new(1);
        c.release();
        assert_eq!(c.depth(), 0);
    }
}
