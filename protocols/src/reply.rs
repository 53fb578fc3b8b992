//! The one-shot channel behind `Addr::call`: a [`ReplyTo`] the actor
//! answers through, and the receiving half the caller's future polls. One
//! allocation and one uncontended lock per side, which a general channel
//! does not give.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

struct State<T> {
    value: Option<T>,
    waker: Option<Waker>,
    /// The `ReplyTo` was used or dropped: no value comes after this.
    answered: bool,
    /// The caller stopped waiting.
    abandoned: bool,
}

struct Slot<T> {
    state: Mutex<State<T>>,
}

impl<T> Slot<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Where an actor sends the answer to a [`call`](crate::Addr::call).
/// `Send`, so the answer may come from another thread (a job on the
/// executor, say). Dropping it unanswered ends the call with
/// [`CallError::NoReply`](crate::CallError::NoReply).
pub struct ReplyTo<T> {
    slot: Option<Arc<Slot<T>>>,
    /// Set instead of `slot` for a call made from inside a protocol
    /// (`t.call`): the answer goes to that connection as a message.
    post: Option<crate::call::Ticket>,
}

/// The caller's half.
pub(crate) struct Answer<T> {
    slot: Arc<Slot<T>>,
}

/// A new pair.
pub(crate) fn channel<T>() -> (ReplyTo<T>, Answer<T>) {
    let slot = Arc::new(Slot {
        state: Mutex::new(State {
            value: None,
            waker: None,
            answered: false,
            abandoned: false,
        }),
    });
    (
        ReplyTo {
            slot: Some(slot.clone()),
            post: None,
        },
        Answer { slot },
    )
}

/// A reply port whose answer goes to a connection through `ticket`.
pub(crate) fn posting<T: Send + 'static>(ticket: crate::call::Ticket) -> ReplyTo<T> {
    ReplyTo {
        slot: None,
        post: Some(ticket),
    }
}

impl<T> ReplyTo<T> {
    /// Answers the call. Returns the value back if the caller stopped waiting
    /// (for a call from a protocol: its connection is gone).
    pub fn send(mut self, value: T) -> Result<(), T>
    where
        T: Send + 'static,
    {
        if let Some(ticket) = self.post.take() {
            return ticket
                .answer(Ok::<T, crate::CallError>(value))
                .map_err(
                    |back| match back.downcast::<Result<T, crate::CallError>>() {
                        Ok(b) => match *b {
                            Ok(v) => v,
                            Err(_) => unreachable!("the answer given back is the one sent"),
                        },
                        Err(_) => unreachable!("the answer given back has the type sent"),
                    },
                );
        }
        let Some(slot) = self.slot.take() else {
            return Err(value);
        };
        let waker = {
            let mut s = slot.lock();
            s.answered = true;
            if s.abandoned {
                return Err(value);
            }
            s.value = Some(value);
            s.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    /// True while the caller still waits for the answer.
    pub fn is_waiting(&self) -> bool {
        if let Some(ticket) = &self.post {
            return ticket.is_waiting();
        }
        self.slot.as_ref().is_some_and(|s| !s.lock().abandoned)
    }
}

impl<T> Drop for ReplyTo<T> {
    fn drop(&mut self) {
        if let Some(ticket) = self.post.take() {
            // Unanswered: the connection hears `NoReply` for this call.
            ticket.no_reply();
        }
        if let Some(slot) = self.slot.take() {
            let waker = {
                let mut s = slot.lock();
                s.answered = true;
                s.waker.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
        }
    }
}

impl<T> fmt::Debug for ReplyTo<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplyTo")
            .field("waiting", &self.is_waiting())
            .finish()
    }
}

impl<T> Answer<T> {
    /// The answer, `Err(())` if none will come, or pending.
    pub(crate) fn poll(&self, cx: &mut Context<'_>) -> Poll<Result<T, ()>> {
        let mut s = self.slot.lock();
        if let Some(v) = s.value.take() {
            return Poll::Ready(Ok(v));
        }
        if s.answered {
            return Poll::Ready(Err(()));
        }
        match &s.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => s.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl<T> Drop for Answer<T> {
    fn drop(&mut self) {
        let mut s = self.slot.lock();
        s.abandoned = true;
        s.waker = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn waker() -> (Arc<Count>, Waker) {
        let c = Arc::new(Count(AtomicUsize::new(0)));
        (c.clone(), Waker::from(c))
    }

    #[test]
    fn the_answer_wakes_the_caller_and_is_taken_once() {
        let (reply, answer) = channel::<u8>();
        let (count, w) = waker();
        let mut cx = Context::from_waker(&w);
        assert!(answer.poll(&mut cx).is_pending());
        assert!(reply.is_waiting());
        assert_eq!(reply.send(7), Ok(()));
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert_eq!(answer.poll(&mut cx), Poll::Ready(Ok(7)));
        assert_eq!(
            answer.poll(&mut cx),
            Poll::Ready(Err(())),
            "no second value"
        );
    }

    #[test]
    fn a_dropped_reply_ends_the_wait() {
        let (reply, answer) = channel::<u8>();
        let (count, w) = waker();
        let mut cx = Context::from_waker(&w);
        assert!(answer.poll(&mut cx).is_pending());
        drop(reply);
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert_eq!(answer.poll(&mut cx), Poll::Ready(Err(())));
    }

    #[test]
    fn an_answer_to_a_caller_that_left_comes_back() {
        let (reply, answer) = channel::<u8>();
        drop(answer);
        assert!(!reply.is_waiting());
        assert_eq!(reply.send(3), Err(3));
    }

    #[test]
    fn the_answer_may_come_from_another_thread() {
        let (reply, answer) = channel::<u32>();
        std::thread::spawn(move || reply.send(42).ok())
            .join()
            .expect("thread");
        let (_, w) = waker();
        let mut cx = Context::from_waker(&w);
        assert_eq!(answer.poll(&mut cx), Poll::Ready(Ok(42)));
    }
}
