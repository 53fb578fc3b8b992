//! The transport state a subprocess protocol reaches through
//! `&mut dyn SubprocessTransport`: the child and its pipes.

use std::os::fd::RawFd;

use switchboard_protocols::{
    PipeTransportMut, ProcessError, ReadPipeTransport, Signal, SubprocessTransport,
    WritePipeTransport,
};

use crate::pipe::{PipeReader, PipeWriter};
use crate::subprocess::child::Child;

/// The child and its pipes.
#[derive(Debug)]
pub(crate) struct ProcCore {
    pub(crate) child: Child,
    pub(crate) stdin: Option<PipeWriter>,
    pub(crate) stdout: Option<PipeReader>,
    pub(crate) stderr: Option<PipeReader>,
    pub(crate) closing: bool,
}

impl ProcCore {
    /// The read pipe for the child's `fd` (1 or 2).
    pub(crate) fn reader(&mut self, fd: RawFd) -> Option<&mut PipeReader> {
        match fd {
            1 => self.stdout.as_mut(),
            2 => self.stderr.as_mut(),
            _ => None,
        }
    }

    /// True once every pipe was reported lost.
    pub(crate) fn pipes_gone(&self) -> bool {
        self.stdin.as_ref().is_none_or(|p| p.is_gone())
            && self.stdout.as_ref().is_none_or(|p| p.is_gone())
            && self.stderr.as_ref().is_none_or(|p| p.is_gone())
    }
}

impl SubprocessTransport for ProcCore {
    fn get_pid(&self) -> u32 {
        self.child.info.pid
    }

    fn get_returncode(&self) -> Option<i32> {
        self.child.info.returncode()
    }

    fn get_pipe_transport(&mut self, fd: RawFd) -> Option<PipeTransportMut<'_>> {
        match fd {
            0 => self
                .stdin
                .as_mut()
                .filter(|p| !p.is_gone())
                .map(|p| PipeTransportMut::Write(p as &mut dyn WritePipeTransport)),
            1 | 2 => self
                .reader(fd)
                .filter(|p| !p.is_gone())
                .map(|p| PipeTransportMut::Read(p as &mut dyn ReadPipeTransport)),
            _ => None,
        }
    }

    fn send_signal(&mut self, sig: Signal) -> Result<(), ProcessError> {
        self.child.signal(sig)
    }

    fn close(&mut self) {
        if self.closing {
            return;
        }
        self.closing = true;
        self.child.info.mark_closing();
        if let Some(p) = self.stdin.as_mut() {
            p.close();
        }
        for p in [self.stdout.as_mut(), self.stderr.as_mut()]
            .into_iter()
            .flatten()
        {
            p.close();
        }
        // A child that exited but is not reaped yet is reaped here, and
        // never killed (Q5).
        if self.child.try_reap(None).is_none() {
            let _ = self.child.signal(Signal::SIGKILL);
        }
    }

    fn is_closing(&self) -> bool {
        self.closing
    }
}
