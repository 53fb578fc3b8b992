//! The part of a stream transport's state that an idle connection never
//! touches: the write buffer (bytes the kernel did not take at once), events
//! raised for the protocol, a protocol switch or TLS upgrade asked for, the
//! reason of the loss. One box, made on first use, so that
//! ten thousand idle connections pay a pointer each for all of it.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use switchboard_protocols::{AnyStreamProtocol, TlsUpgrade, TransportError};

use super::calls::Calls;

/// Events the transport raised for its protocol while the protocol was running;
/// delivered when the handler returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Raised {
    PauseWriting,
    ResumeWriting,
    /// The protocol asked for `TimerFired(token)` after `delay`.
    Timer {
        delay: Duration,
        token: u32,
    },
    /// The TLS layer asked for its own timer (handshake or shutdown
    /// timeout), `gen` telling a live timer from a stale one.
    TlsTimer {
        delay: Duration,
        gen: u32,
    },
}

/// The most capacity the small-write buffer keeps between turns.
const TAIL_KEEP: usize = 16 * 1024;

/// The rarely used state of a transport (see the module).
pub(crate) struct Cold<M: 'static> {
    /// The write buffer: what the kernel has not taken yet, in order. Made
    /// by the first write the kernel takes short; kept from then on.
    pub(crate) queue: VecDeque<Bytes>,
    /// Small writes made while the transport holds its writes (corked),
    /// copied into one buffer: the write buffer's last part, after `queue`.
    tail: BytesMut,
    /// Raised events not yet delivered, in order.
    pub(crate) raised: VecDeque<Raised>,
    /// `set_protocol`: applied when the handler that asked returns.
    pub(crate) new_protocol: Option<AnyStreamProtocol<M>>,
    /// A TLS upgrade the protocol asked for; applied when its handler
    /// returns. Boxed still: it is larger than the rest put together.
    pub(crate) upgrade: Option<Box<TlsUpgrade>>,
    /// Why the connection was lost (none for a clean close): told to the
    /// protocol in `ConnectionLost`, then kept for the actor's exit reason.
    pub(crate) lost_reason: Option<TransportError>,
    /// Writes dropped after close, while no handle shares the count.
    pub(crate) dropped_writes: u32,
    /// Calls the protocol made with `t.call`, not yet answered and handed
    /// over.
    pub(crate) calls: Calls<M>,
}

impl<M: 'static> Default for Cold<M> {
    fn default() -> Self {
        Cold {
            queue: VecDeque::new(),
            tail: BytesMut::new(),
            raised: VecDeque::new(),
            new_protocol: None,
            upgrade: None,
            lost_reason: None,
            dropped_writes: 0,
            calls: Calls::default(),
        }
    }
}

/// The box of a transport's cold state, empty until something needs it.
pub(crate) struct ColdBox<M: 'static>(Option<Box<Cold<M>>>);

impl<M: 'static> ColdBox<M> {
    /// Nothing made yet.
    pub(crate) fn new() -> Self {
        ColdBox(None)
    }

    /// The cold state, made now if it was not yet.
    fn get(&mut self) -> &mut Cold<M> {
        self.0.get_or_insert_with(Box::default)
    }

    /// True while nothing waits in the write buffer.
    pub(crate) fn queue_is_empty(&self) -> bool {
        self.0
            .as_ref()
            .is_none_or(|c| c.queue.is_empty() && c.tail.is_empty())
    }

    /// The write buffer, if one was made (small writes copied together are
    /// its last part).
    pub(crate) fn queue(&mut self) -> Option<&mut VecDeque<Bytes>> {
        let c = self.0.as_mut()?;
        if !c.tail.is_empty() {
            c.queue.push_back(c.tail.split().freeze());
        }
        Some(&mut c.queue)
    }

    /// Appends `b` to the write buffer.
    pub(crate) fn queue_back(&mut self, b: Bytes) {
        let c = self.get();
        if !c.tail.is_empty() {
            c.queue.push_back(c.tail.split().freeze());
        }
        c.queue.push_back(b);
    }

    /// Appends a copy of `data` to the write buffer, into one buffer with the
    /// small writes before it (no allocation per write).
    pub(crate) fn copy_back(&mut self, data: &[u8]) {
        self.get().tail.extend_from_slice(data);
    }

    /// Lets go of the small-write buffer's memory once it is empty and
    /// large, so a connection that answered a burst does not keep the
    /// burst's buffer while it idles.
    pub(crate) fn trim_tail(&mut self) {
        if let Some(c) = &mut self.0 {
            if c.tail.is_empty() && c.tail.capacity() > TAIL_KEEP {
                c.tail = BytesMut::new();
            }
        }
    }

    /// Drops what the write buffer holds.
    pub(crate) fn clear_queue(&mut self) {
        if let Some(c) = &mut self.0 {
            c.tail.clear();
            c.queue.clear();
        }
    }

    /// The calls in flight, made now if need be.
    pub(crate) fn calls(&mut self) -> &mut Calls<M> {
        &mut self.get().calls
    }

    /// How many calls are in flight (none made nothing).
    pub(crate) fn calls_len(&self) -> usize {
        self.0.as_ref().map_or(0, |c| c.calls.len())
    }

    /// The next answer in call order, if it came (none made nothing).
    pub(crate) fn pop_answered(&mut self) -> Option<M> {
        self.0.as_mut()?.calls.pop_answered()
    }

    /// True once the connection is to close when its last call is answered.
    pub(crate) fn close_when_calls_done(&self) -> bool {
        self.0.as_ref().is_some_and(|c| c.calls.close_when_done)
    }

    /// Queues `r` for delivery once the running handler returns.
    pub(crate) fn raise(&mut self, r: Raised) {
        self.get().raised.push_back(r);
    }

    /// The next raised event, if any.
    pub(crate) fn next_raised(&mut self) -> Option<Raised> {
        self.0.as_mut()?.raised.pop_front()
    }

    /// Forgets the raised events not yet delivered.
    pub(crate) fn clear_raised(&mut self) {
        if let Some(c) = &mut self.0 {
            c.raised.clear();
        }
    }

    /// Records `protocol` to replace the current one.
    pub(crate) fn set_protocol(&mut self, protocol: AnyStreamProtocol<M>) {
        self.get().new_protocol = Some(protocol);
    }

    /// The protocol that replaces the current one, if one was set.
    pub(crate) fn take_protocol(&mut self) -> Option<AnyStreamProtocol<M>> {
        self.0.as_mut()?.new_protocol.take()
    }

    /// True while an upgrade waits to be applied.
    pub(crate) fn has_upgrade(&self) -> bool {
        self.0.as_ref().is_some_and(|c| c.upgrade.is_some())
    }

    /// Records the upgrade the protocol asked for.
    pub(crate) fn set_upgrade(&mut self, upgrade: TlsUpgrade) {
        self.get().upgrade = Some(Box::new(upgrade));
    }

    /// The upgrade waiting to be applied, if any.
    pub(crate) fn take_upgrade(&mut self) -> Option<Box<TlsUpgrade>> {
        self.0.as_mut()?.upgrade.take()
    }

    /// Counts one more write dropped after close; returns the count.
    pub(crate) fn count_dropped(&mut self) -> u32 {
        let c = self.get();
        c.dropped_writes = c.dropped_writes.saturating_add(1);
        c.dropped_writes
    }

    /// The writes dropped so far.
    pub(crate) fn dropped(&self) -> u32 {
        self.0.as_ref().map_or(0, |c| c.dropped_writes)
    }

    /// Why the connection was lost, if it was not a clean close.
    pub(crate) fn lost_reason(&self) -> Option<&TransportError> {
        self.0.as_ref()?.lost_reason.as_ref()
    }

    /// Takes the reason of the loss (for `ConnectionLost`).
    pub(crate) fn take_lost_reason(&mut self) -> Option<TransportError> {
        self.0.as_mut()?.lost_reason.take()
    }

    /// Sets the reason of the loss. A clean close makes nothing: it is the
    /// common end of a connection, and it needs no box.
    pub(crate) fn set_lost_reason(&mut self, reason: Option<TransportError>) {
        match reason {
            Some(r) => self.get().lost_reason = Some(r),
            None => {
                if let Some(c) = &mut self.0 {
                    c.lost_reason = None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_protocols::NoMessage;

    /// What every connection does on its way (look for raised events, for
    /// a queued write, a protocol switch, an upgrade; close cleanly) makes
    /// no box: only what needs one does.
    #[test]
    fn reading_and_a_clean_close_make_nothing() {
        let mut c = ColdBox::<NoMessage>::new();
        assert!(c.next_raised().is_none());
        assert!(c.queue_is_empty() && c.queue().is_none());
        assert!(c.take_protocol().is_none() && c.take_upgrade().is_none());
        assert!(!c.has_upgrade() && c.lost_reason().is_none());
        assert_eq!(c.dropped(), 0);
        c.clear_raised();
        c.clear_queue();
        c.set_lost_reason(None);
        assert!(c.take_lost_reason().is_none());
        assert!(c.0.is_none(), "nothing needed a box");
        c.raise(Raised::PauseWriting);
        assert!(c.0.is_some());
        assert_eq!(c.next_raised(), Some(Raised::PauseWriting));
    }
}
