//! The read half of a pipe: what a read-pipe transport and a child's stdout
//! and stderr share. The owner (an actor) drives reads and turns them into
//! events; the protocol reaches it as `&mut dyn ReadPipeTransport`.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use bytes::{Bytes, BytesMut};
use mio::unix::SourceFd;
use switchboard_protocols::{PipeCommand, ReadPipeTransport, TransportError};

/// How much one read asks the kernel for.
pub(crate) const READ_SIZE: usize = 64 * 1024;

/// Where a pipe half is in its life; it only moves forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Phase {
    Open,
    /// Flushing before the close (write halves only).
    Closing,
    /// Closed; the owner still has to deregister it and report it lost.
    Dying,
    /// Reported lost.
    Gone,
}

/// What one read gave.
#[derive(Debug)]
pub enum ReadStep {
    /// Bytes, and whether the read was short of what was offered (the pipe
    /// is then empty for now).
    Data(Bytes, bool),
    /// Every writer closed its end (or a PTY's `EIO`).
    Eof,
    /// A read error.
    Failed(TransportError),
    /// Nothing to read now, or not reading.
    Idle,
}

/// The read half of a pipe.
#[derive(Debug)]
pub struct PipeReader {
    fd: Option<OwnedFd>,
    phase: Phase,
    reason: Option<TransportError>,
    paused: bool,
    /// Reading was resumed; the owner reads once the handler returns (no new
    /// edge will come for data already waiting).
    pub(crate) read_again: bool,
    /// Bytes read (introspection).
    read: crate::inspect::Counter,
}

impl PipeReader {
    /// What introspection shows of a read pipe's transport.
    pub fn inspect(&self) -> crate::inspect::TransportInfo {
        crate::inspect::TransportInfo {
            bytes_in: self.read.get(),
            reading_paused: self.paused,
            ..Default::default()
        }
    }

    /// Takes a non-blocking, pipe-like descriptor.
    pub fn new(fd: OwnedFd) -> Self {
        PipeReader {
            fd: Some(fd),
            phase: Phase::Open,
            reason: None,
            paused: false,
            read_again: false,
            read: Default::default(),
        }
    }

    /// Registers the descriptor for readability under `token`.
    pub fn register(&self, registry: &mio::Registry, token: mio::Token) -> io::Result<()> {
        match &self.fd {
            Some(fd) => registry.register(
                &mut SourceFd(&fd.as_raw_fd()),
                token,
                mio::Interest::READABLE,
            ),
            None => Ok(()),
        }
    }

    /// One `read(2)` into `buf` (cleared by the caller).
    pub fn read_step(&mut self, buf: &mut BytesMut) -> ReadStep {
        if self.phase != Phase::Open || self.paused {
            return ReadStep::Idle;
        }
        let Some(fd) = self.fd.as_ref().map(|f| f.as_raw_fd()) else {
            return ReadStep::Idle;
        };
        loop {
            return match crate::sys::unix::fd::read_to_spare(fd, buf, READ_SIZE) {
                Ok(0) => ReadStep::Eof,
                Ok(n) => {
                    self.read.add(n as u64);
                    let offered = buf.capacity();
                    ReadStep::Data(buf.split().freeze(), n < offered)
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => ReadStep::Idle,
                // A PTY master whose slave closed says EIO: that is EOF (P1).
                Err(e) if e.raw_os_error() == Some(nix::libc::EIO) => ReadStep::Eof,
                Err(e) => ReadStep::Failed(TransportError::from_io("read", e)),
            };
        }
    }

    /// Closes the pipe (the owner deregisters it and reports it lost);
    /// the first reason wins.
    pub fn die(&mut self, reason: Option<TransportError>) {
        if self.phase < Phase::Dying {
            self.phase = Phase::Dying;
            self.reason = reason;
        }
    }

    /// If the pipe was closed since the last call: deregisters and closes the
    /// descriptor and returns the reason for `ConnectionLost`.
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

    /// True once the loss was reported.
    pub fn is_gone(&self) -> bool {
        self.phase == Phase::Gone
    }

    /// Applies a command from a handle; write commands are ignored.
    pub fn command(&mut self, cmd: PipeCommand) {
        match cmd {
            PipeCommand::Close | PipeCommand::Abort => self.close(),
            PipeCommand::PauseReading => self.pause_reading(),
            PipeCommand::ResumeReading => self.resume_reading(),
            _ => {}
        }
    }
}

impl ReadPipeTransport for PipeReader {
    fn close(&mut self) {
        self.die(None);
    }
    fn is_closing(&self) -> bool {
        self.phase >= Phase::Dying
    }
    fn pause_reading(&mut self) {
        if self.phase == Phase::Open {
            self.paused = true;
        }
    }
    fn resume_reading(&mut self) {
        if self.phase == Phase::Open && self.paused {
            self.paused = false;
            self.read_again = true;
        }
    }
    fn is_reading(&self) -> bool {
        self.phase == Phase::Open && !self.paused
    }
    fn fileno(&self) -> Option<RawFd> {
        self.fd.as_ref().map(|f| f.as_raw_fd())
    }
}
