//! The answers to the calls a connection's protocol made with `t.call`:
//! recorded as they come, handed to the protocol in call order, written
//! together at the end of the loop's turn.

use super::*;

impl<S: StreamSocket, M: 'static> SocketTransport<S, M> {
    /// Records the answer to call `seq`, made into the protocol's message by
    /// the `wrap` given to `call`: user code, so a panic there fails the
    /// connection as a panicking handler does.
    pub(super) fn take_answer(
        &mut self,
        seq: u64,
        value: Box<dyn Any + Send>,
        cx: &mut dyn LoopContext,
    ) {
        let calls = self.core.cold.calls();
        let Err(payload) = catch_unwind(AssertUnwindSafe(|| calls.answer(seq, value))) else {
            return;
        };
        let exception = Exception::from_panic(&*payload);
        cx.report(
            ExceptionContext::new("Fatal error: the wrap of a call's answer failed.")
                .with_exception(exception.clone())
                .with_transport(self.core.describe())
                .with_protocol("message"),
        );
        let message = match exception {
            Exception::Panic(m) | Exception::Error(m) => m,
            other => other.to_string(),
        };
        self.core
            .die(Some(TransportError::ProtocolFailed { message }));
    }

    /// Hands the protocol every answer that is next in call order, each as
    /// a `Message` event; then closes a half-closed connection whose last
    /// call was answered, and reads again if the calls' bound held reading.
    ///
    /// What the protocol writes meanwhile is held until the end of the
    /// loop's turn: the answers to a pipelined batch of calls come back as
    /// separate messages in one turn, and leave in one syscall.
    pub(super) fn hand_over_answers(&mut self, cx: &mut dyn LoopContext) {
        let was_full = self.core.calls_full();
        if !self.core.corked && self.core.phase == Phase::Open {
            self.core.corked = true;
            cx.at_end_of_turn();
        }
        while self.core.phase < Phase::Dying {
            if self.interrupted {
                // The step ends early; the rest is handed over in the next
                // (no answer may come to start it again).
                let me = cx.id();
                cx.send(me, Box::new(HandOver));
                break;
            }
            let Some(m) = self.core.cold.pop_answered() else {
                break;
            };
            self.deliver(Ev::Message(m), cx);
        }
        if self.core.cold.close_when_calls_done()
            && self.core.cold.calls_len() == 0
            && self.core.phase == Phase::Open
            && !self.core.keep_open
        {
            self.core.close();
            self.deliver_raised(cx);
        }
        if was_full && !self.core.reading_held() && self.core.phase == Phase::Open {
            self.read_loop(cx, false);
        }
    }
}
