//! What a stream transport shows to handles held outside it.

use std::cell::Cell;

use switchboard_protocols::Address;

/// A transport's public facts, shared (on the loop thread) between the actor and
/// the handles returned by `create_connection` and friends. Addresses stay
/// readable after the connection is closed (S2).
#[derive(Debug)]
pub struct StreamInfo {
    /// `get_extra_info('peername')`.
    pub peername: Option<Address>,
    /// `get_extra_info('sockname')`.
    pub sockname: Option<Address>,
    /// The socket's descriptor, as it was when the transport was made (for
    /// descriptions; see [`fileno`](Self::fileno) for a live one).
    pub fd: i32,
    socket_open: Cell<bool>,
    closing: Cell<bool>,
    lost: Cell<bool>,
    reading: Cell<bool>,
    buffered: Cell<usize>,
}

impl StreamInfo {
    /// Facts of a fresh, open transport.
    pub fn new(peername: Option<Address>, sockname: Option<Address>, fd: i32) -> Self {
        StreamInfo {
            peername,
            sockname,
            fd,
            socket_open: Cell::new(true),
            closing: Cell::new(false),
            lost: Cell::new(false),
            reading: Cell::new(true),
            buffered: Cell::new(0),
        }
    }
    /// `get_extra_info('socket')`: the descriptor while the socket is open,
    /// `None` once the transport closed it (close flushed, abort, or loss).
    pub fn fileno(&self) -> Option<i32> {
        self.socket_open.get().then_some(self.fd)
    }
    /// `is_closing()`.
    pub fn is_closing(&self) -> bool {
        self.closing.get()
    }
    /// True once `ConnectionLost` was delivered.
    pub fn is_lost(&self) -> bool {
        self.lost.get()
    }
    /// `is_reading()`.
    pub fn is_reading(&self) -> bool {
        self.reading.get()
    }
    /// `get_write_buffer_size()`.
    pub fn write_buffer_size(&self) -> usize {
        self.buffered.get()
    }
    pub(crate) fn set_socket_closed(&self) {
        self.socket_open.set(false);
    }
    pub(crate) fn set_closing(&self) {
        self.closing.set(true);
        self.reading.set(false);
    }
    pub(crate) fn set_lost(&self) {
        self.closing.set(true);
        self.reading.set(false);
        self.lost.set(true);
        self.buffered.set(0);
    }
    pub(crate) fn set_reading(&self, on: bool) {
        self.reading.set(on);
    }
    pub(crate) fn set_buffered(&self, n: usize) {
        self.buffered.set(n);
    }
}
