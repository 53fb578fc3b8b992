//! The transport half a protocol calls: write buffer, flow control, close and
//! abort, as a state machine. The actor in `transport.rs` drives it.

use std::io::{self, IoSlice};
use std::os::fd::RawFd;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes};
use switchboard_protocols::internal::{self, Convert, Mailer, Ticket};
use switchboard_protocols::{
    ActorId, Addr, Address, AnyStreamProtocol, LimitsError, SocketRef, StreamTransport, TlsError,
    TlsUpgrade, TransportError, WriteError, WriteLimits,
};

use crate::flow::{FlowControl, FlowSignal};
use crate::inspect::{Born, Counter};
use crate::stream::cold::{ColdBox, Raised};
use crate::stream::facts::Facts;
use crate::stream::info::StreamInfo;
use crate::stream::linger::Linger;
use crate::stream::options::SOCKET_OPS;
use crate::stream::socket::StreamSocket;

/// The most buffers one vectored write takes.
const MAX_IOV: usize = 64;

/// Writes up to this size made while corked are copied together into one
/// buffer; larger ones are queued as they are.
const SMALL_WRITE: usize = 4096;

/// Where a transport is in its life. It only moves forward.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Phase {
    /// Made, `ConnectionMade` not yet delivered.
    Pending,
    /// Reading and writing.
    Open,
    /// `close()` was called: no more reading; flushing, then lost.
    Closing,
    /// The socket is closed; `ConnectionLost` is owed to the protocol.
    Dying,
    /// `ConnectionLost` is queued for a later turn (asyncio's
    /// `call_soon(_call_connection_lost)`); exactly one is ever queued.
    Ending,
    /// `ConnectionLost` was delivered; nothing else ever is.
    Gone,
}

/// The read side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadSide {
    Active,
    Paused,
    /// After EOF or close: reads are over.
    Done,
}

/// The write side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteSide {
    Open,
    /// `write_eof()` called with data buffered: shut down once flushed.
    EofPending,
    EofSent,
}

/// The transport state a protocol reaches through `&mut dyn StreamTransport`.
pub(crate) struct Core<S: StreamSocket, M: 'static> {
    pub(crate) socket: Option<S>,
    pub(crate) id: ActorId,
    /// The socket's descriptor as it was when the transport was made (for
    /// descriptions, after the socket is closed too).
    pub(crate) fd: RawFd,
    /// The addresses, and the facts shared with handles if any (see `facts`).
    pub(crate) facts: Facts,
    pub(crate) phase: Phase,
    pub(crate) read: ReadSide,
    pub(crate) write: WriteSide,
    /// The bytes in the write buffer, which itself is in `cold`: an idle
    /// connection never has one.
    buffered: usize,
    flow: FlowControl,
    /// The write buffer, raised events, a protocol switch, an upgrade, the
    /// reason of the loss: boxed together, made on first use (see `cold`).
    pub(crate) cold: ColdBox<M>,
    /// The protocol's answer to `EofReceived`.
    pub(crate) keep_open: bool,
    /// Where a close with unread input stands (see `finish_close`).
    pub(crate) linger: Linger,
    /// Writes are held in the buffer until the end of the loop's turn
    /// (while answers to calls are handed over: one syscall for many).
    pub(crate) corked: bool,
    /// Reading was resumed inside a handler; the actor reads once it returns.
    pub(crate) read_again: bool,
    pub(crate) mailer: Arc<dyn Mailer>,
    /// Hard cap on the write buffer (asyncio has none); see `StreamLimits`.
    /// No cap is `usize::MAX`, which no buffer exceeds: one word, where an
    /// `Option` takes two.
    max_buffer: usize,
    /// Read-side backpressure: no reading while the buffer is above high.
    pub(crate) read_backpressure: bool,
    /// The transport died of a failed send, not yet reported.
    pub(crate) write_failed: bool,
    /// The most calls (`t.call`) in flight before reading is held.
    pub(crate) max_calls: u16,
    /// Bytes read from and sent to the socket, and when the transport was
    /// made (introspection; compiled out without its feature).
    pub(crate) bytes_in: Counter,
    pub(crate) bytes_out: Counter,
    pub(crate) born: Born,
}

impl<S: StreamSocket, M: 'static> Core<S, M> {
    pub(crate) fn new(socket: S, id: ActorId, mailer: Arc<dyn Mailer>) -> Self {
        Core {
            fd: socket.as_raw_fd(),
            facts: Facts::Own {
                peer: socket.peer(),
                local: socket.local(),
            },
            socket: Some(socket),
            id,
            phase: Phase::Pending,
            read: ReadSide::Active,
            write: WriteSide::Open,
            buffered: 0,
            flow: FlowControl::default(),
            cold: ColdBox::new(),
            keep_open: false,
            linger: Linger::No,
            corked: false,
            read_again: false,
            mailer,
            max_buffer: crate::stream::limits::DEFAULT_MAX_WRITE_BUFFER,
            read_backpressure: true,
            write_failed: false,
            max_calls: crate::stream::calls::DEFAULT_MAX_CALLS_IN_FLIGHT as u16,
            bytes_in: Counter::default(),
            bytes_out: Counter::default(),
            born: Born::now(),
        }
    }

    /// Sets the hard cap on the write buffer (`None`: no cap).
    pub(crate) fn set_max_buffer(&mut self, cap: Option<usize>) {
        self.max_buffer = cap.unwrap_or(usize::MAX);
    }

    pub(crate) fn buffered(&self) -> usize {
        self.buffered
    }

    /// Between a `PauseWriting` and its `ResumeWriting`.
    pub(crate) fn writing_paused(&self) -> bool {
        self.flow.is_paused()
    }

    /// True while read-side backpressure holds reading: the write buffer
    /// went strictly above high and has not drained to low since (the span
    /// of a `PauseWriting`, whether or not the protocol heeds it).
    ///
    /// Also true while the protocol has as many calls in flight as its
    /// bound allows: reading resumes once answers were handed over.
    pub(crate) fn reading_held(&self) -> bool {
        (self.read_backpressure && self.flow.is_paused()) || self.calls_full()
    }

    /// True while the protocol's calls in flight are at their bound.
    pub(crate) fn calls_full(&self) -> bool {
        self.cold.calls_len() >= self.max_calls as usize
    }

    /// Closes the socket now and schedules `ConnectionLost(reason)`; the buffer
    /// is dropped. Idempotent: the first reason wins.
    ///
    /// Flow-control events raised before and not yet delivered are dropped: a
    /// `PauseWriting` for a buffer that no longer exists would tell the
    /// protocol to wait for a `ResumeWriting` that never comes.
    pub(crate) fn die(&mut self, reason: Option<TransportError>) {
        if self.phase >= Phase::Dying {
            return;
        }
        self.phase = Phase::Dying;
        self.read = ReadSide::Done;
        self.cold.set_lost_reason(reason);
        self.cold.clear_raised();
        self.cold.clear_queue();
        self.buffered = 0;
        // Closing the fd also removes it from the epoll set.
        self.socket = None;
        self.facts.tell(|i| {
            i.set_socket_closed();
            i.set_closing();
            i.set_buffered(0);
        });
    }

    /// A send (or the shutdown of the write side) failed: the transport dies
    /// with the error, and the actor reports it once its step is over
    /// (asyncio's "Fatal write error on socket transport").
    fn fail_write(&mut self, op: &'static str, e: io::Error) {
        if self.phase < Phase::Dying {
            self.write_failed = true;
        }
        self.die(Some(TransportError::from_io(op, e)));
    }

    /// Appends `rest` to the buffer and applies flow control and the cap.
    fn enqueue(&mut self, rest: Bytes) {
        self.buffered += rest.len();
        self.cold.queue_back(rest);
        self.after_enqueue();
    }

    /// Appends a copy of `rest` to the buffer (small writes while corked
    /// share one allocation), with flow control and the cap.
    fn enqueue_copy(&mut self, rest: &[u8]) {
        self.buffered += rest.len();
        if self.corked && rest.len() <= SMALL_WRITE {
            self.cold.copy_back(rest);
        } else {
            self.cold.queue_back(Bytes::copy_from_slice(rest));
        }
        self.after_enqueue();
    }

    fn after_enqueue(&mut self) {
        self.facts.tell(|i| i.set_buffered(self.buffered));
        if self.buffered > self.max_buffer {
            let cap = self.max_buffer;
            self.die(Some(TransportError::BufferOverflow { cap }));
            return;
        }
        if let Some(FlowSignal::Pause) = self.flow.after_grow(self.buffered) {
            self.cold.raise(Raised::PauseWriting);
            self.facts.tell(|i| i.set_writing_paused(true));
        }
    }

    /// Writes what the kernel takes of `data` in one `send`; returns how much.
    ///
    /// A partial write means the send buffer is full, and a retry would almost
    /// always return `WouldBlock`, so there is none: the caller queues the rest.
    /// The socket is registered for WRITABLE (edge-triggered) from the start,
    /// and the kernel marks a socket that ran out of send space (`SOCK_NOSPACE`)
    /// so that the space freed later raises a writable edge, which flushes the
    /// queue.
    fn write_now(&mut self, data: &[u8]) -> Result<usize, io::Error> {
        let Some(sock) = self.socket.as_ref() else {
            return Ok(0);
        };
        let fd = sock.as_raw_fd();
        loop {
            match crate::sys::unix::socket::send(fd, data) {
                Ok(n) => {
                    self.bytes_out.add(n as u64);
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(0),
                Err(e) => return Err(e),
            }
        }
    }

    /// Checks whether a write may proceed: `Ok(true)` to write, `Ok(false)` to
    /// drop it (empty, or after close, abort or loss).
    ///
    /// A zero-length write is nothing at all: no syscall, no count, no
    /// warning (fault scenario 6). A dropped write is counted and warned
    /// about by [`drop_write`](Self::drop_write).
    fn admit(&mut self, len: usize) -> Result<bool, WriteError> {
        if self.write != WriteSide::Open {
            return Err(WriteError::AfterWriteEof);
        }
        let sendfile = self.facts.shared().is_some_and(StreamInfo::is_sendfile);
        if sendfile && len > 0 && self.phase < Phase::Closing {
            return Err(WriteError::SendfileInProgress);
        }
        if len == 0 {
            return Ok(false);
        }
        if self.phase >= Phase::Closing {
            self.drop_write(len);
            return Ok(false);
        }
        Ok(true)
    }

    /// With nothing queued, hands `data` to the socket at once and returns how
    /// much the kernel took (0 when something is already queued, to keep the
    /// byte order, or while corked). `None` when the send failed and the
    /// transport died.
    fn write_direct(&mut self, data: &[u8]) -> Option<usize> {
        if self.corked || !self.cold.queue_is_empty() {
            return Some(0);
        }
        match self.write_now(data) {
            Ok(n) => Some(n),
            Err(e) => {
                self.fail_write("write", e);
                None
            }
        }
    }

    /// `write` of borrowed bytes: the unsent tail is copied into the queue.
    fn write_inner(&mut self, data: &[u8]) -> Result<(), WriteError> {
        if !self.admit(data.len())? {
            return Ok(());
        }
        if let Some(off) = self.write_direct(data) {
            if off < data.len() {
                self.enqueue_copy(&data[off..]);
            }
        }
        Ok(())
    }

    /// Sends TLS records: tries the socket at once (one vectored write) when
    /// nothing is queued, and queues the rest in one copy. Unlike a
    /// protocol's write it is taken while closing (a close_notify goes out
    /// after the last data); dropped once the socket is gone.
    pub(crate) fn send_records(&mut self, slices: &[IoSlice<'_>]) {
        if self.phase >= Phase::Dying {
            return;
        }
        let total: usize = slices.iter().map(|s| s.len()).sum();
        if total == 0 {
            return;
        }
        let mut sent = 0;
        if self.cold.queue_is_empty() {
            if let Some(sock) = self.socket.as_mut() {
                loop {
                    match sock.write_vectored(slices) {
                        Ok(n) => {
                            sent = n;
                            self.bytes_out.add(n as u64);
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(e) => {
                            self.die(Some(TransportError::from_io("write", e)));
                            return;
                        }
                    }
                    break;
                }
            }
        }
        if sent < total {
            let mut rest = bytes::BytesMut::with_capacity(total - sent);
            let mut skip = sent;
            for s in slices {
                if skip >= s.len() {
                    skip -= s.len();
                    continue;
                }
                rest.extend_from_slice(&s[skip..]);
                skip = 0;
            }
            self.enqueue(rest.freeze());
        }
    }

    /// Writes buffered data with vectored writes until the kernel pushes back.
    /// Then applies resume, a pending EOF, or the end of a close.
    pub(crate) fn flush(&mut self) {
        while !self.cold.queue_is_empty() {
            let Some(fd) = self.socket.as_ref().map(|s| s.as_raw_fd()) else {
                return;
            };
            let Some(queue) = self.cold.queue() else {
                break;
            };
            let mut slices = [IoSlice::new(&[]); MAX_IOV];
            let mut n = 0;
            for (slot, b) in slices.iter_mut().zip(queue.iter()) {
                *slot = IoSlice::new(b);
                n += 1;
            }
            let offered: usize = slices[..n].iter().map(|s| s.len()).sum();
            match crate::sys::unix::socket::send_vectored(fd, &slices[..n]) {
                Ok(0) => break,
                Ok(mut written) => {
                    self.bytes_out.add(written as u64);
                    // Short of what was offered: the send buffer is full, and
                    // the next writable edge resumes the flush (see write_now).
                    let full = written < offered;
                    self.buffered -= written;
                    while written > 0 {
                        let Some(front) = queue.front_mut() else {
                            break;
                        };
                        if written >= front.len() {
                            written -= front.len();
                            queue.pop_front();
                        } else {
                            front.advance(written);
                            written = 0;
                        }
                    }
                    if full {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    self.fail_write("write", e);
                    return;
                }
            }
        }
        self.facts.tell(|i| i.set_buffered(self.buffered));
        let resume = self.flow.after_drain(self.buffered) == Some(FlowSignal::Resume);
        if self.buffered == 0 {
            self.after_drained();
        }
        // Raised after a close that has just completed, it still comes before
        // `ConnectionLost` (G4); not after a failure, whose `die` dropped the
        // events of a buffer that is gone.
        if resume && (self.phase < Phase::Dying || self.cold.lost_reason().is_none()) {
            self.cold.raise(Raised::ResumeWriting);
        }
        if resume {
            self.facts.tell(|i| i.set_writing_paused(false));
        }
        if resume && self.read_backpressure && self.read == ReadSide::Active {
            // Reading was held: edge-triggered polling will not repeat the
            // edges skipped meanwhile, so read again at once.
            self.read_again = true;
        }
    }

    /// The buffer is empty: send a pending EOF, or finish a close.
    fn after_drained(&mut self) {
        if self.write == WriteSide::EofPending {
            self.shutdown_write();
        }
        if self.phase == Phase::Closing {
            self.finish_close();
        }
    }

    pub(crate) fn shutdown_write(&mut self) {
        self.write = WriteSide::EofSent;
        if let Some(sock) = &self.socket {
            if let Err(e) = crate::sys::unix::fd::shutdown_write(sock.as_raw_fd()) {
                if e.kind() != io::ErrorKind::NotConnected {
                    self.fail_write("shutdown", e);
                }
            }
        }
    }

    /// Counts and warns about a write of `len` bytes dropped because the
    /// transport is closing or gone ([`StreamInfo::drop_write`]); the count
    /// is the shared one while handles exist, as theirs count too.
    pub(crate) fn drop_write(&mut self, len: usize) {
        let n = match self.facts.shared() {
            Some(info) => info.count_dropped(),
            None => self.cold.count_dropped(),
        };
        crate::stream::info::warn_dropped(n, len, || self.describe());
    }

    /// What introspection shows of a stream transport.
    pub(crate) fn inspect(&self, info: &mut crate::inspect::ActorInfo, tls: bool) {
        info.kind = crate::inspect::ActorKind::Transport;
        info.state = match self.phase {
            Phase::Pending => "connecting",
            Phase::Open if self.write != WriteSide::Open => "eof sent",
            Phase::Open if self.read == ReadSide::Done => "eof received",
            Phase::Open => "open",
            Phase::Closing => "closing",
            Phase::Dying | Phase::Ending | Phase::Gone => "lost",
        }
        .into();
        info.transport = Some(crate::inspect::TransportInfo {
            peer: self.facts.peername().map(|a| a.to_string()),
            sock: self.facts.sockname().map(|a| a.to_string()),
            bytes_in: self.bytes_in.get(),
            bytes_out: self.bytes_out.get(),
            write_buffer: self.buffered,
            reading_paused: self.read == ReadSide::Paused || self.reading_held(),
            writing_paused: self.flow.is_paused(),
            tls,
            age_seconds: self.born.age_seconds(),
        });
    }

    pub(crate) fn describe(&self) -> String {
        let peer = self
            .facts
            .peername()
            .map(|a| a.to_string())
            .unwrap_or_else(|| "-".into());
        format!(
            "<{} {} fd={} peer={peer} {:?}>",
            S::KIND,
            self.id,
            self.fd,
            self.phase
        )
    }
}

mod api;
