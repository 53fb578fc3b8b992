//! The loop's end of its inbox: what other threads sent, taken out of the
//! channel in bulk and handed to the iteration one item at a time.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;

use crate::shared::Inbox;

/// The receiving side of the inbox, owned by the loop thread.
///
/// Each item taken one by one would lock the channel once per item, against
/// every sender on other threads; under a flood from several threads the
/// loop then spends its iteration queueing for that lock. So the loop takes
/// all the channel holds at once, into `taken`, and only goes back to the
/// channel when `taken` is empty. Order is kept: `taken` holds items older
/// than any still in the channel.
pub(crate) struct InboxQueue {
    rx: flume::Receiver<Inbox>,
    /// Taken out of the channel and not yet handed out, oldest first.
    taken: RefCell<VecDeque<Inbox>>,
}

impl InboxQueue {
    pub(crate) fn new(rx: flume::Receiver<Inbox>) -> Self {
        InboxQueue {
            rx,
            taken: RefCell::new(VecDeque::new()),
        }
    }

    /// The oldest item not handed out yet, if any.
    pub(crate) fn pop(&self) -> Option<Inbox> {
        let mut taken = self.taken.borrow_mut();
        if taken.is_empty() {
            // A fresh buffer the size of what the channel held: the one a
            // past flood grew is not kept.
            *taken = self.rx.drain().collect();
        }
        taken.pop_front()
    }

    /// Everything not handed out yet (the loop is closing).
    pub(crate) fn take_all(&self) -> Vec<Inbox> {
        let mut all: Vec<Inbox> = std::mem::take(&mut *self.taken.borrow_mut()).into();
        all.extend(self.rx.drain());
        all
    }
}

impl fmt::Debug for InboxQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InboxQueue")
            .field("taken", &self.taken.borrow().len())
            .field("in_channel", &self.rx.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_protocols::internal::actor_id;

    fn item(n: u64) -> Inbox {
        Inbox::Deliver(actor_id(0), n, Box::new(()))
    }

    fn number(item: Option<Inbox>) -> Option<u64> {
        match item? {
            Inbox::Deliver(_, n, _) => Some(n),
            _ => None,
        }
    }

    #[test]
    fn items_come_out_in_the_order_sent_across_refills() {
        let (tx, rx) = flume::unbounded();
        let q = InboxQueue::new(rx);
        for n in 1..=3 {
            tx.send(item(n)).unwrap();
        }
        assert_eq!(number(q.pop()), Some(1));
        // Sent after the channel was emptied into `taken`: behind 2 and 3.
        tx.send(item(4)).unwrap();
        assert_eq!(number(q.pop()), Some(2));
        assert_eq!(number(q.pop()), Some(3));
        assert_eq!(number(q.pop()), Some(4));
        assert_eq!(number(q.pop()), None);
    }

    #[test]
    fn take_all_returns_what_was_taken_then_what_is_still_in_the_channel() {
        let (tx, rx) = flume::unbounded();
        let q = InboxQueue::new(rx);
        tx.send(item(1)).unwrap();
        tx.send(item(2)).unwrap();
        assert_eq!(number(q.pop()), Some(1));
        tx.send(item(3)).unwrap();
        let all: Vec<_> = q.take_all().into_iter().map(|i| number(Some(i))).collect();
        assert_eq!(all, [Some(2), Some(3)]);
        assert_eq!(number(q.pop()), None);
    }
}
