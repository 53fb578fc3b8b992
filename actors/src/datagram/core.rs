//! The datagram transport half a protocol calls: the queue of datagrams,
//! flow control, the hard cap, close and abort. The actor in `transport.rs`
//! drives it.

use std::cell::Cell;
use std::collections::VecDeque;
use std::io;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::sync::Arc;

use bytes::Bytes;
use switchboard_protocols::internal::{self, Mailer};
use switchboard_protocols::{
    ActorId, Addr, Address, DatagramTransport, LimitsError, SocketRef, TransportError, WriteError,
    WriteLimits,
};

use crate::datagram::socket::DatagramSocket;
use crate::datagram::DATAGRAM_HEADER_SIZE;
use crate::flow::{FlowControl, FlowSignal};
use crate::inspect::{bump, ActorInfo, ActorKind, Born, Counter, TransportInfo};
use crate::stream::{StreamInfo, SOCKET_OPS};

/// Where a datagram transport is in its life. It only moves forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Phase {
    /// Made, `ConnectionMade` not yet delivered.
    Pending,
    /// Receiving and sending.
    Open,
    /// `close()` was called: no more receiving; flushing the queue.
    Closing,
    /// The socket is closed; `ConnectionLost` is owed.
    Dying,
    /// `ConnectionLost` is queued for a later turn.
    Ending,
    /// `ConnectionLost` was delivered.
    Gone,
}

/// Events raised for the protocol while it ran; delivered when it returns.
#[derive(Debug)]
pub(crate) enum Raised {
    PauseWriting,
    ResumeWriting,
    Error(io::Error),
}

/// The transport state a protocol reaches through `&mut dyn DatagramTransport`.
pub(crate) struct Core<S: DatagramSocket> {
    pub(crate) socket: Option<S>,
    pub(crate) id: ActorId,
    pub(crate) info: Rc<StreamInfo>,
    pub(crate) phase: Phase,
    queue: VecDeque<(Bytes, Option<Address>)>,
    /// Queued bytes, each datagram counting [`DATAGRAM_HEADER_SIZE`] more.
    buffered: usize,
    flow: FlowControl,
    pub(crate) max_buffer: Option<usize>,
    pub(crate) raised: VecDeque<Raised>,
    pub(crate) lost_reason: Option<TransportError>,
    mailer: Arc<dyn Mailer>,
    /// Bytes received and sent, and when it was made (introspection).
    pub(crate) bytes_in: Cell<Counter>,
    pub(crate) bytes_out: Cell<Counter>,
    born: Born,
}

impl<S: DatagramSocket> Core<S> {
    pub(crate) fn new(
        socket: S,
        id: ActorId,
        info: Rc<StreamInfo>,
        mailer: Arc<dyn Mailer>,
    ) -> Self {
        Core {
            socket: Some(socket),
            id,
            info,
            bytes_in: Cell::default(),
            bytes_out: Cell::default(),
            born: Born::now(),
            phase: Phase::Pending,
            queue: VecDeque::new(),
            buffered: 0,
            flow: FlowControl::default(),
            max_buffer: Some(crate::datagram::DEFAULT_MAX_WRITE_BUFFER),
            raised: VecDeque::new(),
            lost_reason: None,
            mailer,
        }
    }

    pub(crate) fn buffered(&self) -> usize {
        self.buffered
    }

    /// Closes the socket now and owes `ConnectionLost(reason)`; the queue is
    /// dropped. Idempotent: the first reason wins.
    pub(crate) fn die(&mut self, reason: Option<TransportError>) {
        if self.phase >= Phase::Dying {
            return;
        }
        self.phase = Phase::Dying;
        self.lost_reason = reason;
        self.raised.clear();
        self.queue.clear();
        self.buffered = 0;
        self.socket = None;
        self.info.set_socket_closed();
        self.info.set_closing();
        self.info.set_buffered(0);
    }

    /// The target of a `sendto`: `Ok(None)` for the connected peer.
    pub(crate) fn check_target<'a>(
        peer: Option<&Address>,
        addr: Option<&'a Address>,
    ) -> Result<Option<&'a Address>, WriteError> {
        match (peer, addr) {
            (Some(_), None) => Ok(None),
            (Some(p), Some(a)) if a == p => Ok(None),
            (Some(_), Some(_)) => Err(WriteError::InvalidAddress {
                reason: "must be None or the connected peer's address",
            }),
            (None, None) => Err(WriteError::InvalidAddress {
                reason: "an address is required on an unconnected endpoint",
            }),
            (None, Some(a)) => Ok(Some(a)),
        }
    }

    fn send_one(&self, data: &[u8], to: Option<&Address>) -> io::Result<()> {
        let Some(sock) = self.socket.as_ref() else {
            return Ok(());
        };
        loop {
            let sent = match to {
                None => sock.send_datagram(data),
                Some(a) => sock.send_datagram_to(data, a),
            };
            match sent {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // A datagram socket sends the whole datagram or fails: a
                // short count never happens, so nothing is ever truncated.
                other => {
                    if other.is_ok() {
                        bump(&self.bytes_out, data.len() as u64);
                    }
                    return other.map(|_| ());
                }
            }
        }
    }

    /// Sends `data` now if nothing is queued, else queues it whole (copied
    /// only then: a datagram the kernel takes at once costs no allocation).
    pub(crate) fn send_or_queue(&mut self, data: &[u8], to: Option<&Address>) {
        self.send_or_queue_with(data, to, || Bytes::copy_from_slice(data));
    }

    /// [`send_or_queue`](Self::send_or_queue) of owned bytes (from a handle).
    pub(crate) fn send_or_queue_bytes(&mut self, data: Bytes, to: Option<&Address>) {
        let owned = data.clone();
        self.send_or_queue_with(&data, to, move || owned);
    }

    fn send_or_queue_with(
        &mut self,
        data: &[u8],
        to: Option<&Address>,
        owned: impl FnOnce() -> Bytes,
    ) {
        if self.phase >= Phase::Closing {
            self.info.drop_write(data.len(), || self.describe());
            return;
        }
        if self.queue.is_empty() {
            match self.send_one(data, to) {
                Ok(()) => return,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => {
                    self.raised.push_back(Raised::Error(e));
                    return;
                }
            }
        }
        let size = data.len() + DATAGRAM_HEADER_SIZE;
        if let Some(cap) = self.max_buffer {
            if self.buffered + size > cap {
                // Dropped whole, as a kernel drops what its full queue
                // cannot take: UDP promises no delivery anyway.
                self.raised
                    .push_back(Raised::Error(io::Error::from_raw_os_error(
                        nix::libc::ENOBUFS,
                    )));
                return;
            }
        }
        self.buffered += size;
        self.queue.push_back((owned(), to.cloned()));
        self.info.set_buffered(self.buffered);
        if let Some(FlowSignal::Pause) = self.flow.after_grow(self.buffered) {
            self.raised.push_back(Raised::PauseWriting);
        }
    }

    /// Sends queued datagrams until the kernel pushes back. A datagram the
    /// OS refuses is dropped and reported; the rest go on (edge-triggered
    /// polling gives no second chance to a queue left waiting).
    pub(crate) fn flush(&mut self) {
        while let Some((data, to)) = self.queue.front() {
            match self.send_one(data, to.as_ref()) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                result => {
                    let size = data.len() + DATAGRAM_HEADER_SIZE;
                    self.queue.pop_front();
                    self.buffered -= size;
                    if let Err(e) = result {
                        self.raised.push_back(Raised::Error(e));
                    }
                }
            }
        }
        self.info.set_buffered(self.buffered);
        if self.flow.after_drain(self.buffered) == Some(FlowSignal::Resume) {
            self.raised.push_back(Raised::ResumeWriting);
        }
        if self.queue.is_empty() && self.phase == Phase::Closing {
            self.die(None);
        }
    }

    /// What introspection shows of a datagram endpoint.
    pub(crate) fn inspect(&self, info: &mut ActorInfo) {
        info.kind = ActorKind::Datagram;
        info.state = match self.phase {
            Phase::Pending => "starting",
            Phase::Open => "open",
            Phase::Closing => "closing",
            Phase::Dying | Phase::Ending | Phase::Gone => "lost",
        }
        .into();
        info.transport = Some(TransportInfo {
            peer: self.info.peername.as_ref().map(|a| a.to_string()),
            sock: self.info.sockname.as_ref().map(|a| a.to_string()),
            bytes_in: self.bytes_in.get().get(),
            bytes_out: self.bytes_out.get().get(),
            write_buffer: self.buffered,
            reading_paused: false,
            writing_paused: self.flow.is_paused(),
            tls: false,
            age_seconds: self.born.age_seconds(),
        });
    }

    pub(crate) fn describe(&self) -> String {
        let local = self
            .info
            .sockname
            .as_ref()
            .map(|a| a.to_string())
            .unwrap_or_else(|| "-".into());
        format!(
            "<{} {} fd={} local={local} {:?}>",
            S::KIND,
            self.id,
            self.info.fd,
            self.phase
        )
    }
}

impl<S: DatagramSocket, M: 'static> DatagramTransport<M> for Core<S> {
    fn sendto(&mut self, data: &[u8], addr: Option<&Address>) -> Result<(), WriteError> {
        let to = Self::check_target(self.info.peername.as_ref(), addr)?;
        self.send_or_queue(data, to);
        Ok(())
    }

    fn close(&mut self) {
        if self.phase >= Phase::Closing {
            return;
        }
        self.phase = Phase::Closing;
        self.info.set_closing();
        if self.queue.is_empty() {
            self.die(None);
        }
    }

    fn abort(&mut self) {
        self.die(None);
    }

    fn is_closing(&self) -> bool {
        self.phase >= Phase::Closing
    }

    fn get_write_buffer_size(&self) -> usize {
        self.buffered
    }

    fn get_write_buffer_limits(&self) -> WriteLimits {
        self.flow.limits()
    }

    fn set_write_buffer_limits(
        &mut self,
        high: Option<usize>,
        low: Option<usize>,
    ) -> Result<(), LimitsError> {
        if let Some(FlowSignal::Pause) = self.flow.set_limits(high, low, self.buffered)? {
            self.raised.push_back(Raised::PauseWriting);
        }
        Ok(())
    }

    fn peername(&self) -> Option<Address> {
        self.info.peername.clone()
    }

    fn sockname(&self) -> Option<Address> {
        self.info.sockname.clone()
    }

    fn fileno(&self) -> Option<RawFd> {
        self.socket.as_ref().map(|s| s.as_raw_fd())
    }

    fn socket(&self) -> Option<SocketRef<'_>> {
        self.socket
            .as_ref()
            .map(|s| SocketRef::new(s.as_fd(), &SOCKET_OPS))
    }

    fn addr(&self) -> Option<Addr<M>>
    where
        M: Send,
    {
        Some(internal::current_addr(self.id, self.mailer.clone()))
    }
}
