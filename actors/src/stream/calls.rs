//! The calls a connection's protocol made with `t.call`, in call order: each
//! waits for its answer, and answers are handed to the protocol only from the
//! front, so they arrive in the order the calls were made.

use std::any::Any;
use std::collections::VecDeque;

use switchboard_protocols::internal::{CallAnswer, Convert, LiveCall, Ticket};
use switchboard_protocols::CallError;

use crate::stream::core::{Core, Phase};
use crate::stream::socket::StreamSocket;

/// The calls a protocol made with `t.call` that the calls' bound applies to,
/// unless the builder sets another.
pub const DEFAULT_MAX_CALLS_IN_FLIGHT: usize = 64;

/// One call: its number, how to make the protocol's message of its answer,
/// and the message once the answer came.
struct Pending<M> {
    seq: u64,
    convert: Option<Convert<M>>,
    answer: Option<M>,
    _live: LiveCall,
}

/// A connection's calls in flight (kept in its cold box: a connection that
/// never calls pays nothing).
pub(crate) struct Calls<M> {
    pending: VecDeque<Pending<M>>,
    /// The number the next call gets.
    next: u64,
    /// The peer half-closed while calls were pending and the protocol did
    /// not keep the connection open: close once the last answer is handed
    /// over.
    pub(crate) close_when_done: bool,
    /// The connection's incarnation, looked up at its first call.
    pub(crate) gen: Option<u64>,
}

impl<M> Default for Calls<M> {
    fn default() -> Self {
        Calls {
            pending: VecDeque::new(),
            next: 0,
            close_when_done: false,
            gen: None,
        }
    }
}

impl<M> Calls<M> {
    /// Makes the entry of one more call; returns its number.
    pub(crate) fn push(&mut self, convert: Convert<M>) -> u64 {
        let seq = self.next;
        self.next += 1;
        self.pending.push_back(Pending {
            seq,
            convert: Some(convert),
            answer: None,
            _live: LiveCall::new(),
        });
        seq
    }

    /// Calls not yet handed over.
    pub(crate) fn len(&self) -> usize {
        self.pending.len()
    }

    /// Records the answer to call `seq`. The first answer of a call is the
    /// one (a refused call is answered before its dropped `ReplyTo` says
    /// `NoReply`); answers to calls already handed over are ignored.
    pub(crate) fn answer(&mut self, seq: u64, value: Box<dyn Any + Send>) {
        let Some(front) = self.pending.front() else {
            return;
        };
        let Some(at) = seq.checked_sub(front.seq) else {
            return;
        };
        let Some(p) = usize::try_from(at)
            .ok()
            .and_then(|i| self.pending.get_mut(i))
        else {
            return;
        };
        if let Some(convert) = p.convert.take() {
            p.answer = Some(convert(value));
        }
    }

    /// The next answer in call order, if it came.
    pub(crate) fn pop_answered(&mut self) -> Option<M> {
        self.pending.front()?.answer.as_ref()?;
        self.pending.pop_front()?.answer
    }
}

impl<S: StreamSocket, M: 'static> Core<S, M> {
    /// `call_ticket`: the entry of one more call, and where its answer
    /// goes; none once the transport is closing.
    pub(crate) fn ticket(&mut self, convert: Convert<M>) -> Option<Ticket> {
        if self.phase >= Phase::Closing {
            return None;
        }
        let (mailer, id) = (&self.mailer, self.id);
        let calls = self.cold.calls();
        // This actor is the one in its row while its protocol runs.
        let gen = *calls.gen.get_or_insert_with(|| mailer.generation(id));
        let seq = calls.push(convert);
        Some(Ticket::new(self.mailer.clone(), self.id, gen, seq))
    }

    /// `call_refused`: the answer to call `seq` is `error`, handed over
    /// after the running handler.
    pub(crate) fn refuse(&mut self, seq: u64, error: CallError) {
        let (mailer, id) = (&self.mailer, self.id);
        let calls = self.cold.calls();
        let gen = *calls.gen.get_or_insert_with(|| mailer.generation(id));
        let answer = CallAnswer {
            seq,
            value: Box::new(error),
        };
        // Through the loop, as any answer: handed over after this handler.
        let _ = self.mailer.post(self.id, gen, Box::new(answer));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn convert() -> Convert<u32> {
        Box::new(|v: Box<dyn Any + Send>| *v.downcast::<u32>().unwrap())
    }

    #[test]
    fn answers_leave_in_call_order_whatever_order_they_come_in() {
        let mut calls = Calls::<u32>::default();
        for _ in 0..3 {
            calls.push(convert());
        }
        calls.answer(2, Box::new(12u32));
        calls.answer(1, Box::new(11u32));
        assert_eq!(calls.pop_answered(), None, "call 0 is not answered");
        calls.answer(0, Box::new(10u32));
        calls.answer(0, Box::new(99u32)); // a second answer is ignored
        let order: Vec<u32> = std::iter::from_fn(|| calls.pop_answered()).collect();
        assert_eq!(order, [10, 11, 12]);
        assert_eq!(calls.len(), 0);
        calls.answer(1, Box::new(0u32)); // already handed over: ignored
        assert_eq!(calls.pop_answered(), None);
    }
}
