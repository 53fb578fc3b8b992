//! The datagram transport actor: turns readiness into `recvfrom`s and
//! flushes, and delivers events to its protocol one at a time, never
//! re-entrantly.

use std::any::Any;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::Arc;

use bytes::Bytes;
use switchboard_protocols::internal::Mailer;
use switchboard_protocols::{
    ActorId, DatagramCommand, DatagramEvent, DatagramProtocol, DatagramTransport, Exception,
    ExceptionContext,
};

use crate::context::{LoopActor, LoopContext, Readiness, Status};
use crate::datagram::core::{Core, Phase, Raised};
use crate::datagram::socket::DatagramSocket;
use crate::stream::tls::MadeHook;
use crate::stream::{Start, StreamInfo};

/// Datagrams received per readiness event before yielding to other actors.
const READ_BUDGET: usize = 32;
/// Datagrams up to this size are copied out of the shared read buffer.
const SMALL_DATAGRAM: usize = 1024;

/// Internal: deliver `ConnectionLost` (always on a later turn than the cause).
#[derive(Debug)]
struct Finish;

/// Internal: keep receiving after yielding for fairness.
#[derive(Debug)]
struct ReadMore;

/// A datagram endpoint (UDP or Unix datagram) and the protocol it owns:
/// asyncio's `_SelectorDatagramTransport`.
///
/// An error the protocol's handler returns (or a panic in it) goes to the
/// loop's exception handler and the endpoint stays open, as asyncio's
/// does when `datagram_received` raises: one bad datagram does not end a
/// server.
pub struct DatagramSocketTransport<S: DatagramSocket, M: 'static> {
    core: Core<S>,
    protocol: Box<dyn DatagramProtocol<M>>,
    /// Runs once `ConnectionMade` was delivered.
    on_made: Option<MadeHook>,
    /// The protocol raised an `Interrupt` during the current step.
    interrupted: bool,
}

/// A UDP transport.
pub type UdpTransport<M> = DatagramSocketTransport<mio::net::UdpSocket, M>;
/// A Unix datagram transport.
pub type UnixDatagramTransport<M> = DatagramSocketTransport<mio::net::UnixDatagram, M>;

impl<S: DatagramSocket, M: 'static> std::fmt::Debug for DatagramSocketTransport<S, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.core.describe())
    }
}

/// One event on its way to the protocol.
enum Ev<M> {
    Made,
    Datagram(Bytes, switchboard_protocols::Address),
    Error(io::Error),
    Pause,
    Resume,
    Lost(Option<switchboard_protocols::TransportError>),
    Message(M),
}

impl<M> Ev<M> {
    fn callback(&self) -> &'static str {
        match self {
            Ev::Made => "connection_made",
            Ev::Datagram(..) => "datagram_received",
            Ev::Error(_) => "error_received",
            Ev::Pause => "pause_writing",
            Ev::Resume => "resume_writing",
            Ev::Lost(_) => "connection_lost",
            Ev::Message(_) => "message",
        }
    }

    fn into_event(self) -> DatagramEvent<M> {
        match self {
            Ev::Made => DatagramEvent::ConnectionMade,
            Ev::Datagram(data, addr) => DatagramEvent::DatagramReceived { data, addr },
            Ev::Error(e) => DatagramEvent::ErrorReceived(e),
            Ev::Pause => DatagramEvent::PauseWriting,
            Ev::Resume => DatagramEvent::ResumeWriting,
            Ev::Lost(r) => DatagramEvent::ConnectionLost(r),
            Ev::Message(m) => DatagramEvent::Message(m),
        }
    }
}

impl<S: DatagramSocket, M: 'static> DatagramSocketTransport<S, M> {
    /// Wraps a socket already registered with the loop under `id`'s token
    /// for READABLE | WRITABLE (edge-triggered).
    pub fn new(
        socket: S,
        id: ActorId,
        protocol: Box<dyn DatagramProtocol<M>>,
        mailer: Arc<dyn Mailer>,
        on_made: Option<MadeHook>,
    ) -> (Self, Rc<StreamInfo>) {
        let info = Rc::new(StreamInfo::new(
            socket.peer(),
            socket.local(),
            socket.as_raw_fd(),
        ));
        let core = Core::new(socket, id, info.clone(), mailer);
        (
            DatagramSocketTransport {
                core,
                protocol,
                on_made,
                interrupted: false,
            },
            info,
        )
    }

    /// Sets the hard cap on the write buffer (`None`: unbounded); the
    /// default is [`DEFAULT_MAX_WRITE_BUFFER`](crate::datagram::DEFAULT_MAX_WRITE_BUFFER).
    pub fn set_max_write_buffer(&mut self, cap: Option<usize>) {
        self.core.max_buffer = cap;
    }

    /// Delivers `ev`, then everything it raised, in order.
    fn deliver(&mut self, ev: Ev<M>, cx: &mut dyn LoopContext) {
        self.call(ev, cx);
        self.deliver_raised(cx);
    }

    fn deliver_raised(&mut self, cx: &mut dyn LoopContext) {
        while let Some(raised) = self.core.raised.pop_front() {
            let ev = match raised {
                Raised::PauseWriting => Ev::Pause,
                Raised::ResumeWriting => Ev::Resume,
                Raised::Error(e) => Ev::Error(e),
            };
            self.call(ev, cx);
        }
    }

    fn call(&mut self, ev: Ev<M>, cx: &mut dyn LoopContext) {
        if self.core.phase == Phase::Gone || self.interrupted {
            return;
        }
        let callback = ev.callback();
        let core = &mut self.core;
        let protocol = &mut self.protocol;
        let result = catch_unwind(AssertUnwindSafe(|| {
            protocol.handle(ev.into_event(), core as &mut dyn DatagramTransport<M>)
        }));
        let exception = match result {
            Ok(Ok(())) => return,
            Ok(Err(e)) => Exception::Error(e.to_string()),
            Err(payload) => {
                if payload.is::<switchboard_protocols::Interrupt>() {
                    self.interrupted = true;
                    cx.interrupt();
                    return;
                }
                Exception::from_panic(&*payload)
            }
        };
        cx.report(
            ExceptionContext::new(format!("protocol.{callback}() failed"))
                .with_exception(exception)
                .with_transport(self.core.describe())
                .with_protocol(callback),
        );
    }

    /// Receives until the socket is drained, the endpoint closes, or the
    /// budget is spent. A receive error (an ICMP error queued on the
    /// socket) is delivered as `ErrorReceived` and receiving goes on.
    fn read_loop(&mut self, cx: &mut dyn LoopContext) {
        for _ in 0..READ_BUDGET {
            if self.core.phase != Phase::Open || self.interrupted {
                return;
            }
            let Some(sock) = self.core.socket.as_ref() else {
                return;
            };
            let buf = cx.read_buffer();
            buf.clear();
            match sock.recv_datagram(buf) {
                Ok((n, addr)) => {
                    crate::inspect::bump(&self.core.bytes_in, n as u64);
                    // A big datagram is a view of the shared buffer (no
                    // copy, and no allocation once the protocol dropped the
                    // previous one); a small one is copied out, so that a
                    // protocol that keeps many small datagrams does not pin
                    // a 64 KiB buffer with each.
                    let data = if n <= SMALL_DATAGRAM {
                        Bytes::copy_from_slice(&buf[..n])
                    } else {
                        buf.split().freeze()
                    };
                    self.deliver(Ev::Datagram(data, addr), cx);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => self.deliver(Ev::Error(e), cx),
            }
        }
        if self.core.phase == Phase::Open && !self.interrupted {
            let me = cx.id();
            cx.send(me, Box::new(ReadMore));
        }
    }

    fn settle(&mut self, cx: &mut dyn LoopContext) -> Status {
        self.interrupted = false;
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

    fn command(&mut self, cmd: DatagramCommand, cx: &mut dyn LoopContext) {
        let refused = match cmd {
            DatagramCommand::SendTo { data, addr } => {
                self.core
                    .info
                    .take_pending(data.len() + crate::datagram::DATAGRAM_HEADER_SIZE);
                self.core.send_or_queue_bytes(data, addr.as_ref());
                None
            }
            DatagramCommand::Close => {
                DatagramTransport::<M>::close(&mut self.core);
                None
            }
            DatagramCommand::Abort => {
                DatagramTransport::<M>::abort(&mut self.core);
                None
            }
            DatagramCommand::SetWriteBufferLimits { high, low } => {
                DatagramTransport::<M>::set_write_buffer_limits(&mut self.core, high, low)
                    .err()
                    .map(|e| e.to_string())
            }
            _ => None,
        };
        if let Some(why) = refused {
            cx.report(
                ExceptionContext::new(format!("transport command refused: {why}"))
                    .with_transport(self.core.describe()),
            );
        }
        self.deliver_raised(cx);
    }
}

impl<S: DatagramSocket, M: 'static> LoopActor for DatagramSocketTransport<S, M> {
    fn ready(&mut self, readiness: Readiness, cx: &mut dyn LoopContext) -> Status {
        if self.core.phase == Phase::Pending {
            return Status::Alive;
        }
        if readiness.writable && self.core.buffered() > 0 {
            self.core.flush();
            self.deliver_raised(cx);
        }
        if readiness.readable {
            self.read_loop(cx);
        }
        self.settle(cx)
    }

    fn deliver(&mut self, msg: Box<dyn Any>, cx: &mut dyn LoopContext) -> Status {
        if msg.is::<Start>() {
            if self.core.phase == Phase::Pending {
                self.core.phase = Phase::Open;
                self.deliver(Ev::Made, cx);
                if let Some(hook) = self.on_made.take() {
                    hook(Ok(()));
                }
                // Datagrams may have arrived before we started.
                self.read_loop(cx);
            }
        } else if msg.is::<ReadMore>() {
            self.read_loop(cx);
        } else if msg.is::<Finish>() {
            if self.core.phase == Phase::Ending {
                let reason = self.core.lost_reason.take();
                self.deliver(Ev::Lost(reason), cx);
                self.core.phase = Phase::Gone;
                self.core.info.set_lost();
            }
        } else {
            match msg.downcast::<DatagramCommand>() {
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
        self.core.info.set_lost();
    }

    fn transport_fd(&self) -> Option<std::os::fd::RawFd> {
        self.core.socket.as_ref().map(|s| s.as_raw_fd())
    }

    fn describe(&self) -> String {
        self.core.describe()
    }

    fn inspect(&self, info: &mut crate::inspect::ActorInfo) {
        self.core.inspect(info);
    }
}
