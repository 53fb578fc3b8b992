//! The stream transport actor: turns readiness into reads and writes, and reads
//! into events for its protocol, delivered one at a time, never re-entrantly.

use std::any::Any;
use std::num::NonZeroU32;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use switchboard_protocols::internal::{self, CallAnswer, Mailer};
use switchboard_protocols::{
    ActorId, AnyStreamProtocol, Exception, ExceptionContext, ExitReason, StreamCommand,
    StreamTransport, TlsError, TlsUpgrade, TransportError,
};

use crate::context::{LoopActor, LoopContext, Readiness, Status};
use crate::server::ServerShared;
use crate::stream::cold::Raised;
use crate::stream::core::{Core, Phase, ReadSide};
use crate::stream::event::Ev;
use crate::stream::info::StreamInfo;
use crate::stream::limits::StreamLimits;
use crate::stream::linger::Linger;
use crate::stream::socket::StreamSocket;
use crate::stream::tls::{
    MadeHook, TlsSession, TlsSetup, TlsSide, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_SHUTDOWN_TIMEOUT,
};
use crate::stream::upper::Upper;

mod answers;
mod read;

/// How much one read asks the kernel for: 256 KiB, as asyncio, uvloop and a
/// tuned bare loop do, so a backlog of streamed data costs a quarter of the
/// `recv` and `send` calls it cost at 64 KiB.
const READ_SIZE: usize = 256 * 1024;
/// Reads per readiness event before yielding to other actors: at most 1 MiB,
/// as 16 reads of 64 KiB were.
const READ_BUDGET: usize = 4;

/// Timer tag of the close timeout.
const TAG_CLOSE_TIMEOUT: u64 = 1;
/// Timer tags of the protocol's own timers: this bit, or'ed with its token.
const TAG_PROTOCOL_TIMER: u64 = 1 << 32;
/// The timer that ends a lingering close.
const TAG_LINGER: u64 = 2;
/// Timer tag of the TLS layer's timer: this bit, or'ed with its generation.
const TAG_TLS_TIMER: u64 = 1 << 33;

/// Sent by the loop (or a server) to start a transport: it delivers
/// `ConnectionMade`, then runs the `on_made` hook.
#[derive(Debug)]
pub struct Start;

/// Internal: deliver `ConnectionLost` (always on a later turn than the cause).
#[derive(Debug)]
struct Finish;

/// Hand the rest of the answered calls over (an interrupted step stopped).
struct HandOver;

/// Internal: keep reading after yielding for fairness, or after resume_reading.
#[derive(Debug)]
struct ReadMore;

/// Sent by the loop (`loop.start_tls` on a handle) to upgrade an open
/// transport to TLS; `on_done` runs once the handshake is done or failed.
#[allow(missing_debug_implementations)]
pub struct UpgradeTls {
    /// The upgrade.
    pub upgrade: TlsUpgrade,
    /// Told how the handshake ended.
    pub on_done: MadeHook,
}

/// Hooks the owner of a transport (a server, `create_connection`) sets.
#[allow(missing_debug_implementations)]
#[derive(Default)]
pub struct Hooks {
    /// Runs once `ConnectionMade` was delivered (over TLS: after the
    /// handshake), or with the reason the connection was lost before.
    pub on_made: Option<MadeHook>,
    /// The server that accepted the connection: once `ConnectionLost` was
    /// delivered, the transport tells it its id, and the server forgets the
    /// connection. A server holds thousands of connections; a closure made
    /// for each would be an allocation each, this is a reference count.
    pub server: Option<Rc<ServerShared>>,
}

/// A connected stream transport (TCP or Unix) and the protocol it owns.
pub struct SocketTransport<S: StreamSocket, M: 'static> {
    core: Core<S, M>,
    upper: Upper<M>,
    /// [`Hooks::on_made`], behind a thin pointer: a server's connections
    /// have none, and a client's is freed once run, at start.
    on_made: Option<Box<MadeHook>>,
    /// [`Hooks::server`].
    server: Option<Rc<ServerShared>>,
    /// Opt-in: abort a close that has not drained after this many
    /// milliseconds. Taken when the timer is armed, so it is armed once. Four
    /// bytes, which fit in this struct's padding: idle connections pay
    /// nothing for the option.
    close_timeout_ms: Option<NonZeroU32>,
    /// The protocol raised an `Interrupt` during the current step: deliver
    /// nothing more (but what it raised itself), settle, then let the loop
    /// leave through `LoopContext::interrupt`.
    interrupted: bool,
}

/// A TCP transport: asyncio's `_SelectorSocketTransport` for TCP.
pub type TcpTransport<M> = SocketTransport<mio::net::TcpStream, M>;
/// A Unix stream transport.
pub type UnixTransport<M> = SocketTransport<mio::net::UnixStream, M>;

impl<S: StreamSocket, M: 'static> std::fmt::Debug for SocketTransport<S, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.core.describe())
    }
}

impl<S: StreamSocket, M: 'static> SocketTransport<S, M> {
    /// Wraps a connected socket, already registered with the loop under `id`'s
    /// token for READABLE | WRITABLE (edge-triggered). Its addresses are
    /// read now, as asyncio caches them, so they stay known after the
    /// socket is closed.
    pub fn new(
        socket: S,
        id: ActorId,
        protocol: AnyStreamProtocol<M>,
        mailer: Arc<dyn Mailer>,
        hooks: Hooks,
    ) -> Self {
        SocketTransport {
            core: Core::new(socket, id, mailer),
            upper: Upper::Plain(protocol),
            on_made: hooks.on_made.map(Box::new),
            server: hooks.server,
            close_timeout_ms: None,
            interrupted: false,
        }
    }

    /// The facts this transport shares with handles held outside it (the
    /// connection `create_connection` returns), made on the first call from
    /// what the transport did so far, then kept up to date. A transport
    /// nobody asks this of (a server's connection, which only its protocol
    /// reaches) keeps its addresses in itself and allocates nothing for
    /// facts.
    pub fn share_info(&mut self) -> Rc<StreamInfo> {
        let tls = match &self.upper {
            Upper::Plain(_) => None,
            Upper::Tls(s) => Some((s.st.closing(), s.st.info.clone())),
        };
        self.core.share_facts(tls)
    }

    /// Sets the hard cap on the write buffer (`None`: no cap): past it the
    /// transport aborts with `TransportError::BufferOverflow`.
    pub fn set_max_buffer(&mut self, cap: Option<usize>) {
        self.core.set_max_buffer(cap);
    }

    /// Applies [`StreamLimits`] (call before the transport starts); a new
    /// transport has the defaults.
    pub fn set_limits(&mut self, limits: StreamLimits) {
        self.core.set_max_buffer(limits.max_write_buffer);
        self.core.read_backpressure = limits.read_backpressure;
        self.core.max_calls = u16::try_from(limits.max_calls_in_flight.max(1)).unwrap_or(u16::MAX);
        self.close_timeout_ms = limits.close_timeout.map(|d| {
            // Whole milliseconds, rounded up, at least 1 (about 49 days at most).
            let ms = d
                .as_nanos()
                .div_ceil(1_000_000)
                .clamp(1, u128::from(u32::MAX));
            NonZeroU32::new(ms as u32).unwrap_or(NonZeroU32::MIN)
        });
    }

    /// Puts a TLS session between the socket and the protocol before the
    /// transport starts (`create_connection(..).ssl(..)`, a TLS server): the
    /// protocol gets `ConnectionMade` once the handshake is done.
    pub fn set_tls(&mut self, setup: TlsSetup) -> Result<(), TlsError> {
        let Some(app) = self.upper.take_plain() else {
            return Err(TlsError::AlreadyTls);
        };
        match TlsSession::new(app, setup, false, bytes::Bytes::new(), None) {
            Ok(s) => {
                self.upper = Upper::Tls(Box::new(s));
                self.core.facts.tell(StreamInfo::set_tls_layer);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Applies a TLS upgrade (`start_tls`): the protocol keeps its events,
    /// TLS takes the socket's bytes from here on, `leftover` first.
    fn upgrade(
        &mut self,
        upgrade: TlsUpgrade,
        on_done: Option<MadeHook>,
        cx: &mut dyn LoopContext,
    ) {
        let refused = if matches!(self.upper, Upper::Tls(_)) {
            Some(TlsError::AlreadyTls)
        } else if self.core.phase >= Phase::Closing {
            Some(TlsError::Closing)
        } else {
            None
        };
        if let Some(e) = refused {
            if let Some(hook) = on_done {
                hook(Err(TransportError::Tls(e)));
            }
            return;
        }
        let parts = internal::tls_upgrade_parts(upgrade);
        let Ok(side) = parts.setup.downcast::<TlsSide>() else {
            if let Some(hook) = on_done {
                hook(Err(TransportError::Tls(TlsError::Unsupported)));
            }
            return;
        };
        let setup = TlsSetup {
            side: *side,
            handshake_timeout: parts.handshake_timeout.unwrap_or(DEFAULT_HANDSHAKE_TIMEOUT),
            shutdown_timeout: parts.shutdown_timeout.unwrap_or(DEFAULT_SHUTDOWN_TIMEOUT),
        };
        let Some(app) = self.upper.take_plain() else {
            return;
        };
        match TlsSession::new(app, setup, true, parts.leftover, on_done) {
            Ok(s) => {
                self.upper = Upper::Tls(Box::new(s));
                self.core.facts.tell(StreamInfo::set_tls_layer);
                // Send the client's hello, arm the timeout, read the leftover.
                self.call(Ev::Made, cx);
            }
            Err(e) => {
                // The session was never made: its hook is gone with it, and
                // the protocol hears of the failure in ConnectionLost.
                self.core.die(Some(TransportError::Tls(e)));
            }
        }
    }

    /// Delivers `ev` and then everything it raised, in order.
    fn deliver(&mut self, ev: Ev<M>, cx: &mut dyn LoopContext) {
        self.call(ev, cx);
        self.deliver_raised(cx);
        if let Some(p) = self.core.cold.take_protocol() {
            self.upper.set_app(p);
        }
        if let Some(up) = self.core.cold.take_upgrade() {
            self.upgrade(*up, None, cx);
            self.deliver_raised(cx);
        }
    }

    fn call(&mut self, ev: Ev<M>, cx: &mut dyn LoopContext) {
        if self.core.phase == Phase::Gone {
            return;
        }
        let flow = matches!(ev, Ev::Pause | Ev::Resume);
        if self.interrupted && !flow {
            return;
        }
        let callback = ev.callback();
        let fatal = !matches!(ev, Ev::Made | Ev::Pause | Ev::Resume | Ev::Lost(_));
        let core = &mut self.core;
        let upper = &mut self.upper;
        let result = catch_unwind(AssertUnwindSafe(|| upper.dispatch(ev, core, &mut *cx)));
        let exception = match result {
            Ok(Ok(())) => return,
            Ok(Err(e)) => Exception::Error(e.to_string()),
            Err(payload) => {
                if payload.is::<switchboard_protocols::Interrupt>() {
                    // Not a failure of the connection: it lives on (asyncio
                    // keeps its transports through a KeyboardInterrupt).
                    self.interrupt(cx);
                    return;
                }
                Exception::from_panic(&*payload)
            }
        };
        let what = if fatal {
            format!("Fatal error: protocol.{callback}() call failed.")
        } else if callback == "connection_made" {
            "Exception in callback connection_made()".to_string()
        } else {
            format!("protocol.{callback}() failed")
        };
        cx.report(
            ExceptionContext::new(what)
                .with_exception(exception.clone())
                .with_transport(self.core.describe())
                .with_protocol(callback),
        );
        if fatal {
            let message = match exception {
                Exception::Panic(m) | Exception::Error(m) => m,
                other => other.to_string(),
            };
            self.core
                .die(Some(TransportError::ProtocolFailed { message }));
        }
    }

    /// The protocol raised an `Interrupt`: the current step ends early (no
    /// more data is delivered), and the loop leaves once it has settled.
    fn interrupt(&mut self, cx: &mut dyn LoopContext) {
        if !self.interrupted {
            self.interrupted = true;
            cx.interrupt();
        }
    }

    /// After any step: finish a close, read again if asked, schedule
    /// `ConnectionLost` once the socket is gone.
    fn settle(&mut self, cx: &mut dyn LoopContext) -> Status {
        // The step is over; a later one delivers again.
        self.interrupted = false;
        if std::mem::take(&mut self.core.write_failed) {
            if let Some(err) = self.core.cold.lost_reason() {
                self.report_fatal("Fatal write error on socket transport", err, cx);
            }
        }
        let open = self.core.phase == Phase::Open;
        let lingering = self.core.linger != Linger::No && self.core.phase == Phase::Closing;
        if std::mem::take(&mut self.core.read_again) && (open || lingering) {
            // Reading held, or a lingering read that spent its budget: more
            // may wait, with no new edge to say so.
            let me = cx.id();
            cx.send(me, Box::new(ReadMore));
        }
        if self.core.phase == Phase::Closing {
            if let Some(ms) = self.close_timeout_ms.take() {
                // Not cancelled when the close completes in time: the timer
                // then finds the transport past Closing (or gone) and does
                // nothing.
                cx.wake_after(
                    Duration::from_millis(u64::from(ms.get())),
                    TAG_CLOSE_TIMEOUT,
                );
            }
        }
        if self.core.linger == Linger::Start && self.core.phase == Phase::Closing {
            self.core.linger = Linger::Armed;
            cx.wake_after(crate::stream::linger::LINGER_TIMEOUT, TAG_LINGER);
        }
        if self.core.phase == Phase::Dying {
            self.core.phase = Phase::Ending;
            let me = cx.id();
            cx.send(me, Box::new(Finish));
        }
        if self.core.phase == Phase::Gone {
            Status::Done
        } else {
            Status::Alive
        }
    }

    fn command(&mut self, cmd: StreamCommand, cx: &mut dyn LoopContext) {
        if let StreamCommand::Write(b) = &cmd {
            self.core.facts.tell(|i| i.take_pending(b.len()));
        }
        // Through the transport the protocol sees: over TLS, a handle's
        // write is encrypted and its close sends close_notify.
        let refused = self.upper.command(cmd, &mut self.core);
        if let Some(why) = refused {
            cx.report(
                ExceptionContext::new(format!("transport command refused: {why}"))
                    .with_transport(self.core.describe()),
            );
        }
        // Deliver whatever the command raised (PauseWriting), in order.
        self.deliver_raised(cx);
    }
}

impl<S: StreamSocket, M: 'static> LoopActor for SocketTransport<S, M> {
    fn ready(&mut self, readiness: Readiness, cx: &mut dyn LoopContext) -> Status {
        if self.core.phase == Phase::Pending {
            return Status::Alive;
        }
        if self.core.linger != Linger::No {
            if readiness.readable && self.core.phase == Phase::Closing {
                self.core.linger_read();
            }
            return self.settle(cx);
        }
        if readiness.writable && self.core.buffered() > 0 {
            self.core.flush();
            // Deliver ResumeWriting raised by the flush.
            self.deliver_raised(cx);
        }
        if readiness.readable {
            self.read_loop(cx, !readiness.closed);
        }
        self.settle(cx)
    }

    fn end_of_turn(&mut self, cx: &mut dyn LoopContext) -> Status {
        if std::mem::take(&mut self.core.corked) && self.core.buffered() > 0 {
            self.core.flush();
            self.deliver_raised(cx);
        }
        self.core.cold.trim_tail();
        self.settle(cx)
    }

    fn timer(&mut self, tag: u64, cx: &mut dyn LoopContext) -> Status {
        if tag & TAG_PROTOCOL_TIMER != 0 {
            if self.core.phase < Phase::Dying {
                // The token is the low 32 bits by construction.
                self.deliver(Ev::Timer(tag as u32), cx);
            }
        } else if tag & TAG_TLS_TIMER != 0 {
            if self.core.phase < Phase::Dying {
                self.deliver(Ev::TlsTimer(tag as u32), cx);
            }
        } else if tag == TAG_LINGER && self.core.phase == Phase::Closing {
            self.core.die(None);
        } else if tag == TAG_CLOSE_TIMEOUT
            && self.core.phase == Phase::Closing
            && self.core.linger != Linger::No
        {
            // Everything written is out; only the peer's input is awaited.
            self.core.die(None);
        } else if tag == TAG_CLOSE_TIMEOUT && self.core.phase == Phase::Closing {
            let pending = self.core.buffered();
            self.core
                .die(Some(TransportError::CloseTimedOut { pending }));
        }
        self.settle(cx)
    }

    fn deliver(&mut self, msg: Box<dyn Any>, cx: &mut dyn LoopContext) -> Status {
        if msg.is::<Start>() {
            if self.core.phase == Phase::Pending {
                self.core.phase = Phase::Open;
                if let Upper::Tls(s) = &mut self.upper {
                    // Over TLS the protocol is made once the handshake is done.
                    s.st.on_made = self.on_made.take().map(|h| *h);
                }
                self.deliver(Ev::Made, cx);
                if let Some(hook) = self.on_made.take() {
                    hook(Ok(()));
                }
                // Data may have arrived before we started: read it now.
                self.read_loop(cx, false);
            }
        } else if msg.is::<UpgradeTls>() {
            if let Ok(u) = msg.downcast::<UpgradeTls>() {
                let UpgradeTls { upgrade, on_done } = *u;
                self.upgrade(upgrade, Some(on_done), cx);
                self.deliver_raised(cx);
            }
        } else if msg.is::<CallAnswer>() {
            if let Ok(answer) = msg.downcast::<CallAnswer>() {
                if self.core.phase < Phase::Dying {
                    let CallAnswer { seq, value } = *answer;
                    self.take_answer(seq, value, cx);
                    self.hand_over_answers(cx);
                }
            }
        } else if msg.is::<HandOver>() {
            if self.core.phase < Phase::Dying {
                self.hand_over_answers(cx);
            }
        } else if msg.is::<ReadMore>() {
            if self.core.linger != Linger::No {
                if self.core.phase == Phase::Closing {
                    self.core.linger_read();
                }
            } else {
                // No fresh edge here: read until the kernel says WouldBlock.
                self.read_loop(cx, false);
            }
        } else if msg.is::<Finish>() {
            if self.core.phase == Phase::Ending {
                let reason = self.core.cold.take_lost_reason();
                // Kept for `exit_reason`: monitors of the protocol learn
                // whether the connection ended cleanly.
                let kept = reason.clone();
                self.deliver(Ev::Lost(reason), cx);
                self.core.cold.set_lost_reason(kept);
                self.core.phase = Phase::Gone;
                self.core.facts.tell(StreamInfo::set_lost);
                if let Some(server) = self.server.take() {
                    server.remove(self.core.id);
                }
            }
        } else {
            match msg.downcast::<StreamCommand>() {
                Ok(cmd) => self.command(*cmd, cx),
                Err(other) => {
                    if let Ok(m) = other.downcast::<M>() {
                        if self.core.phase < Phase::Dying {
                            self.deliver(Ev::Message(*m), cx);
                        }
                    }
                }
            }
        }
        self.settle(cx)
    }

    fn shutdown(&mut self, _cx: &mut dyn LoopContext) {
        self.core.die(None);
        self.core.phase = Phase::Gone;
        self.core.facts.tell(StreamInfo::set_lost);
    }

    fn kill(&mut self, cx: &mut dyn LoopContext) -> Status {
        // Like `abort()`: the protocol still gets its `ConnectionLost`.
        self.core.die(None);
        self.settle(cx)
    }

    fn exit_reason(&mut self) -> ExitReason {
        match self.core.cold.lost_reason() {
            None => ExitReason::Normal,
            Some(e) => ExitReason::failed(e.to_string()),
        }
    }

    fn transport_fd(&self) -> Option<std::os::fd::RawFd> {
        self.core.socket.as_ref().map(|s| s.as_raw_fd())
    }

    fn describe(&self) -> String {
        self.core.describe()
    }

    fn inspect(&self, info: &mut crate::inspect::ActorInfo) {
        self.core.inspect(info, matches!(self.upper, Upper::Tls(_)));
        info.parent = self.server.as_ref().and_then(|s| s.actor_row());
    }
}

impl<S: StreamSocket, M: 'static> SocketTransport<S, M> {
    /// Delivers the events handlers raised, in order; arms the timers they
    /// asked for.
    fn deliver_raised(&mut self, cx: &mut dyn LoopContext) {
        while let Some(raised) = self.core.cold.next_raised() {
            let ev = match raised {
                Raised::PauseWriting => Ev::Pause,
                Raised::ResumeWriting => Ev::Resume,
                Raised::Timer { delay, token } => {
                    cx.wake_after(delay, TAG_PROTOCOL_TIMER | u64::from(token));
                    continue;
                }
                Raised::TlsTimer { delay, gen } => {
                    cx.wake_after(delay, TAG_TLS_TIMER | u64::from(gen));
                    continue;
                }
            };
            self.call(ev, cx);
        }
    }
}

#[cfg(test)]
mod size_tests {
    /// mio keeps the id of the selector a socket is registered with in
    /// debug builds only: 12 more bytes there, 16 once aligned.
    const DEBUG_SOCKET_EXTRA: usize = if cfg!(debug_assertions) { 16 } else { 0 };

    /// An idle connection is one allocation, and a small one (issue 8: at
    /// most 320 bytes of memory per idle connection, all told): the write
    /// buffer and what else idle connections never use sit in the cold
    /// box, the facts shared with handles are made only for handles, a
    /// server is told of a loss without a closure, the made hook is a thin
    /// pointer, and TLS costs a plain connection nothing but its slot's
    /// variant. 200 bytes in a release build, a 208-byte malloc chunk;
    /// introspection's bytes in, bytes out and birth add 24 (compiled out
    /// without its feature).
    #[test]
    fn a_plain_transport_stays_small() {
        let size = std::mem::size_of::<super::TcpTransport<switchboard_protocols::NoMessage>>();
        let introspection = if crate::inspect::COUNTING { 24 } else { 0 };
        assert!(
            size <= 200 + introspection + DEBUG_SOCKET_EXTRA,
            "TcpTransport is {size} bytes"
        );
    }

    /// What a transport keeps in itself for handles it may never have: its
    /// two addresses, nothing else.
    #[test]
    fn the_facts_kept_without_handles_are_the_addresses() {
        let size = std::mem::size_of::<crate::stream::facts::Facts>();
        let addresses = 2 * std::mem::size_of::<Option<switchboard_protocols::Address>>();
        assert!(size <= addresses, "Facts is {size} bytes");
    }

    /// The facts every connection shares with its handles stay small: TLS
    /// facts and drain waiters are boxed, made only when used.
    #[test]
    fn the_shared_connection_facts_stay_small() {
        let size = std::mem::size_of::<crate::stream::StreamInfo>();
        assert!(size <= 128, "StreamInfo is {size} bytes");
    }
}
