//! The write half of a pipe: what a write-pipe transport and a child's stdin
//! share. Writes go to the pipe at once when nothing is queued; the rest is
//! queued and flushed with vectored writes as the reader takes it, under the
//! same watermarks as sockets ([`FlowControl`]).

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

use bytes::{Buf, Bytes};
use mio::unix::SourceFd;
use switchboard_protocols::{
    LimitsError, PipeCommand, TransportError, WriteError, WriteLimits, WritePipeTransport,
};

use crate::flow::{FlowControl, FlowSignal};
use crate::pipe::reader::Phase;
use crate::sys::unix::pipe as sys;

/// The most buffers one vectored write takes.
const MAX_IOV: usize = 64;

/// The write half of a pipe.
#[derive(Debug)]
pub struct PipeWriter {
    fd: Option<OwnedFd>,
    socket: bool,
    phase: Phase,
    reason: Option<TransportError>,
    buffer: VecDeque<Bytes>,
    buffered: usize,
    flow: FlowControl,
    /// Watermark crossings for the protocol, delivered after its handler.
    raised: VecDeque<FlowSignal>,
    dropped_writes: u32,
    /// Hard cap on the buffer, as for stream transports: a reader that
    /// never reads cannot grow the process without end.
    max_buffer: Option<usize>,
    /// Bytes written (introspection).
    written: crate::inspect::Counter,
}

impl PipeWriter {
    /// What introspection shows of a write pipe's transport.
    pub fn inspect(&self) -> crate::inspect::TransportInfo {
        crate::inspect::TransportInfo {
            bytes_out: self.written.get(),
            write_buffer: self.buffered,
            writing_paused: self.flow.is_paused(),
            ..Default::default()
        }
    }

    /// Takes a non-blocking, pipe-like descriptor (`socket`: it is a socket,
    /// written with `send(MSG_NOSIGNAL)`).
    pub fn new(fd: OwnedFd, socket: bool) -> Self {
        PipeWriter {
            fd: Some(fd),
            socket,
            phase: Phase::Open,
            reason: None,
            buffer: VecDeque::new(),
            buffered: 0,
            flow: FlowControl::default(),
            raised: VecDeque::new(),
            dropped_writes: 0,
            max_buffer: Some(crate::stream::DEFAULT_MAX_WRITE_BUFFER),
            written: Default::default(),
        }
    }

    /// Changes the hard cap on the buffer (`None`: no cap). A write that
    /// takes the buffer past it ends the pipe with
    /// `TransportError::BufferOverflow`.
    pub fn set_max_buffer(&mut self, cap: Option<usize>) {
        self.max_buffer = cap;
    }

    /// Registers the descriptor under `token`. Only writability is asked
    /// for; the kernel reports the reader going away as an error event
    /// anyway (asyncio watches for readability of the write end instead).
    pub fn register(&self, registry: &mio::Registry, token: mio::Token) -> io::Result<()> {
        match &self.fd {
            Some(fd) => registry.register(
                &mut SourceFd(&fd.as_raw_fd()),
                token,
                mio::Interest::WRITABLE,
            ),
            None => Ok(()),
        }
    }

    /// The pipe became writable, or its reader went away (`closed`): flush,
    /// or finish. With nothing buffered, a reader that went away is a clean
    /// loss (`None`); with bytes buffered, the flush fails with `EPIPE` and
    /// the loss is `BrokenPipe` (P3).
    pub fn on_ready(&mut self, closed: bool) {
        if self.phase >= Phase::Dying {
            return;
        }
        if self.buffer.is_empty() {
            if closed {
                self.die(None);
            }
            return;
        }
        self.flush();
    }

    /// Closes at once, dropping the buffer and any undelivered watermark
    /// event (a `ResumeWriting` after the reader went away would be a lie,
    /// P3); the first reason wins.
    pub fn die(&mut self, reason: Option<TransportError>) {
        if self.phase >= Phase::Dying {
            return;
        }
        self.phase = Phase::Dying;
        self.reason = reason;
        self.buffer.clear();
        self.buffered = 0;
        self.raised.clear();
    }

    /// If the pipe was closed since the last call: deregisters and closes
    /// the descriptor and returns the reason for `ConnectionLost`.
    pub fn take_lost(&mut self, registry: &mio::Registry) -> Option<Option<TransportError>> {
        if self.phase != Phase::Dying {
            return None;
        }
        if let Some(fd) = self.fd.take() {
            let _ = registry.deregister(&mut SourceFd(&fd.as_raw_fd()));
        }
        self.phase = Phase::Gone;
        Some(self.reason.take())
    }

    /// The next watermark event for the protocol, if any.
    pub fn take_raised(&mut self) -> Option<FlowSignal> {
        self.raised.pop_front()
    }

    /// True once the loss was reported.
    pub fn is_gone(&self) -> bool {
        self.phase == Phase::Gone
    }

    /// Applies a command from a handle; read commands are ignored.
    pub fn command(&mut self, cmd: PipeCommand) -> Result<(), String> {
        match cmd {
            PipeCommand::Write(b) => self.write_bytes(b).map_err(|e| e.to_string()),
            PipeCommand::WriteEof | PipeCommand::Close => {
                self.close();
                Ok(())
            }
            PipeCommand::Abort => {
                self.abort();
                Ok(())
            }
            PipeCommand::SetWriteBufferLimits { high, low } => self
                .set_write_buffer_limits(high, low)
                .map_err(|e| e.to_string()),
            _ => Ok(()),
        }
    }

    /// True to write `len` bytes, false to drop them (empty, or after close,
    /// abort or loss: dropped and warned about the first time, then at each
    /// power of two, as stream transports do; asyncio waits for the fifth).
    fn admit(&mut self, len: usize) -> bool {
        if len == 0 {
            return false;
        }
        if self.phase >= Phase::Closing {
            self.dropped_writes = self.dropped_writes.saturating_add(1);
            let n = self.dropped_writes;
            if n.is_power_of_two() {
                crate::diag::warning!(
                    "pipe fd={:?} closed: {n} writes dropped so far",
                    self.fileno()
                );
            }
            return false;
        }
        true
    }

    /// With nothing queued, writes what the pipe takes of `data` now;
    /// returns how much (0 when bytes are queued, to keep the order), or
    /// `None` when the write failed and the pipe died.
    fn write_direct(&mut self, data: &[u8]) -> Option<usize> {
        if !self.buffer.is_empty() {
            return Some(0);
        }
        let fd = self.fd.as_ref()?;
        loop {
            match sys::write(fd.as_fd(), data, self.socket) {
                Ok(n) => {
                    self.written.add(n as u64);
                    return Some(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Some(0),
                Err(e) => {
                    self.die(Some(TransportError::from_io("write", e)));
                    return None;
                }
            }
        }
    }

    fn enqueue(&mut self, rest: Bytes) {
        self.buffered += rest.len();
        self.buffer.push_back(rest);
        if let Some(cap) = self.max_buffer {
            if self.buffered > cap {
                self.die(Some(TransportError::BufferOverflow { cap }));
                return;
            }
        }
        if let Some(FlowSignal::Pause) = self.flow.after_grow(self.buffered) {
            self.raised.push_back(FlowSignal::Pause);
        }
    }

    /// Writes queued bytes until the pipe pushes back; then resume, or the
    /// end of a close.
    fn flush(&mut self) {
        while !self.buffer.is_empty() {
            let Some(fd) = self.fd.as_ref() else {
                return;
            };
            let mut slices = [IoSlice::new(&[]); MAX_IOV];
            let mut n = 0;
            for (slot, b) in slices.iter_mut().zip(self.buffer.iter()) {
                *slot = IoSlice::new(b);
                n += 1;
            }
            let offered: usize = slices[..n].iter().map(|s| s.len()).sum();
            match sys::writev(fd.as_fd(), &slices[..n], self.socket) {
                Ok(mut written) => {
                    self.written.add(written as u64);
                    let full = written < offered;
                    self.buffered -= written;
                    while written > 0 {
                        let Some(front) = self.buffer.front_mut() else {
                            break;
                        };
                        if written >= front.len() {
                            written -= front.len();
                            self.buffer.pop_front();
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
                    self.die(Some(TransportError::from_io("write", e)));
                    return;
                }
            }
        }
        let resume = self.flow.after_drain(self.buffered) == Some(FlowSignal::Resume);
        if self.buffered == 0 && self.phase == Phase::Closing {
            self.die(None);
        }
        // A close that just completed still resumes before the loss (as
        // streams do, G4); a failure, whose `die` dropped the buffer, not.
        if resume && (self.phase < Phase::Dying || self.reason.is_none()) {
            self.raised.push_back(FlowSignal::Resume);
        }
    }
}

impl WritePipeTransport for PipeWriter {
    fn write(&mut self, data: &[u8]) -> Result<(), WriteError> {
        if !self.admit(data.len()) {
            return Ok(());
        }
        if let Some(off) = self.write_direct(data) {
            if off < data.len() {
                self.enqueue(Bytes::copy_from_slice(&data[off..]));
            }
        }
        Ok(())
    }

    fn write_bytes(&mut self, mut data: Bytes) -> Result<(), WriteError> {
        if !self.admit(data.len()) {
            return Ok(());
        }
        if let Some(off) = self.write_direct(&data) {
            if off < data.len() {
                data.advance(off);
                self.enqueue(data);
            }
        }
        Ok(())
    }

    fn write_eof(&mut self) -> Result<(), WriteError> {
        self.close();
        Ok(())
    }

    fn close(&mut self) {
        if self.phase != Phase::Open {
            return;
        }
        if self.buffered == 0 {
            self.die(None);
        } else {
            self.phase = Phase::Closing;
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
        if let Some(sig) = self.flow.set_limits(high, low, self.buffered)? {
            self.raised.push_back(sig);
        }
        Ok(())
    }

    fn fileno(&self) -> Option<RawFd> {
        self.fd.as_ref().map(|f| f.as_raw_fd())
    }
}
