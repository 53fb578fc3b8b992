//! What a pipe transport shows to handles held outside it.

use std::cell::Cell;
use std::os::fd::RawFd;

/// A pipe transport's public facts, shared on the loop thread between the
/// actor and its handles.
#[derive(Debug)]
pub struct PipeInfo {
    /// The descriptor, as it was when the transport was made.
    pub fd: RawFd,
    open: Cell<bool>,
    closing: Cell<bool>,
    lost: Cell<bool>,
    reading: Cell<bool>,
    buffered: Cell<usize>,
    /// Bytes written through handles that the transport has not taken yet.
    pending: Cell<usize>,
}

impl PipeInfo {
    /// Facts of a fresh, open pipe.
    pub fn new(fd: RawFd) -> Self {
        PipeInfo {
            fd,
            open: Cell::new(true),
            closing: Cell::new(false),
            lost: Cell::new(false),
            reading: Cell::new(true),
            buffered: Cell::new(0),
            pending: Cell::new(0),
        }
    }
    /// The descriptor while the pipe is open.
    pub fn fileno(&self) -> Option<RawFd> {
        self.open.get().then_some(self.fd)
    }
    /// `is_closing()`.
    pub fn is_closing(&self) -> bool {
        self.closing.get()
    }
    /// True once `ConnectionLost` was delivered.
    pub fn is_lost(&self) -> bool {
        self.lost.get()
    }
    /// `is_reading()` (read pipes).
    pub fn is_reading(&self) -> bool {
        self.reading.get() && !self.closing.get()
    }
    /// `get_write_buffer_size()` (write pipes).
    pub fn write_buffer_size(&self) -> usize {
        self.buffered.get() + self.pending.get()
    }
    /// A handle wrote `len` bytes: counted until the transport takes them.
    pub fn add_pending(&self, len: usize) {
        self.pending.set(self.pending.get() + len);
    }
    /// The transport took `len` bytes a handle wrote.
    pub fn take_pending(&self, len: usize) {
        self.pending.set(self.pending.get().saturating_sub(len));
    }
    /// A handle asked for close or abort.
    pub fn mark_closing(&self) {
        self.closing.set(true);
    }
    /// A handle asked to pause or resume reading.
    pub fn mark_reading(&self, on: bool) {
        self.reading.set(on);
    }
    pub(crate) fn set_buffered(&self, n: usize) {
        self.buffered.set(n);
    }
    pub(crate) fn set_closed(&self) {
        self.open.set(false);
        self.closing.set(true);
    }
    pub(crate) fn set_lost(&self) {
        self.set_closed();
        self.lost.set(true);
    }
}
