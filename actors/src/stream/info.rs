//! What a stream transport shows to handles held outside it.

use std::cell::{Cell, RefCell};
use std::task::Waker;

use switchboard_protocols::{Address, PeerCredentials, TlsInfo};

/// A transport's public facts, shared (on the loop thread) between the actor and
/// the handles returned by `create_connection` and friends. Addresses stay
/// readable after the connection is closed (S2).
///
/// A handle's commands reach the actor later, on the loop's turn; until then
/// the facts already read as asyncio's would right after the call:
/// `is_closing()` is true once `close()` or `abort()` was asked for,
/// `is_reading()` follows `pause_reading()`/`resume_reading()`, and the write
/// buffer size counts bytes written through a handle that the actor has not
/// taken yet.
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
    /// EOF was received: reading is over whatever the protocol asks.
    read_over: Cell<bool>,
    buffered: Cell<usize>,
    /// Bytes written through handles that the actor has not taken yet.
    pending: Cell<usize>,
    dropped_writes: Cell<u32>,
    /// Above the high-water mark: `PauseWriting` raised, not yet resumed.
    writing_paused: Cell<bool>,
    /// [`SENDFILE`], [`TLS_LAYER`] and [`EOF_WRITTEN`], in one byte.
    flags: Cell<u8>,
    /// Woken whenever the write buffer shrinks or the transport closes.
    /// Boxed, and made only when someone waits: idle connections pay a
    /// pointer, not a `Vec`'s three words (the extra allocation is only paid
    /// by a `sendfile` waiting to drain).
    #[allow(clippy::box_collection)]
    drain_waiters: RefCell<Option<Box<Vec<Waker>>>>,
    /// The TLS session's facts, once its handshake is complete.
    /// Boxed: a pointer is all plain connections pay.
    tls: RefCell<Option<Box<TlsInfo>>>,
}

/// A native `sendfile` owns the socket: writes are refused meanwhile.
const SENDFILE: u8 = 1;
/// A TLS session sits between the socket and the protocol (from the moment
/// it is installed, before its handshake completes): the socket carries
/// records, so nothing may write plaintext to it directly.
const TLS_LAYER: u8 = 2;
/// `write_eof()` was called (through a handle or by the protocol): later
/// writes are refused.
const EOF_WRITTEN: u8 = 4;

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
            read_over: Cell::new(false),
            buffered: Cell::new(0),
            pending: Cell::new(0),
            dropped_writes: Cell::new(0),
            writing_paused: Cell::new(false),
            flags: Cell::new(0),
            drain_waiters: RefCell::new(None),
            tls: RefCell::new(None),
        }
    }
    /// `get_extra_info('socket')`: the descriptor while the socket is open,
    /// `None` once the transport closed it (close flushed, abort, or loss).
    pub fn fileno(&self) -> Option<i32> {
        self.socket_open.get().then_some(self.fd)
    }
    /// The credentials of the peer process of a Unix-domain connection
    /// (`SO_PEERCRED`), while the socket is open; `None` for TCP or where
    /// the OS does not tell.
    pub fn peer_credentials(&self) -> Option<PeerCredentials> {
        if matches!(self.sockname, Some(Address::Inet(_)) | None) {
            return None;
        }
        let fd = self.fileno()?;
        crate::sys::unix::socket::peer_credentials_of(fd).ok()
    }
    /// `is_closing()`.
    pub fn is_closing(&self) -> bool {
        self.closing.get()
    }
    /// True once `ConnectionLost` was delivered.
    pub fn is_lost(&self) -> bool {
        self.lost.get()
    }
    /// `is_reading()`: what the protocol (or a handle) asked for. The
    /// transport may also hold reading on its own while its write buffer is
    /// above the high-water mark (read-side backpressure); that does not
    /// show here, as asyncio's `is_reading()` knows nothing of it.
    pub fn is_reading(&self) -> bool {
        self.reading.get()
    }
    /// `get_write_buffer_size()`: the bytes in the write buffer, plus those
    /// written through a handle that the transport has not taken yet.
    pub fn write_buffer_size(&self) -> usize {
        self.buffered.get() + self.pending.get()
    }
    /// A handle wrote `len` bytes: counted until the transport takes them
    /// ([`take_pending`](Self::take_pending)).
    pub fn add_pending(&self, len: usize) {
        self.pending.set(self.pending.get().saturating_add(len));
    }
    /// The transport took `len` bytes a handle wrote.
    pub fn take_pending(&self, len: usize) {
        self.pending.set(self.pending.get().saturating_sub(len));
        self.wake_drain();
    }
    /// True once the transport has taken every byte written through a
    /// handle (they are in its buffer or sent).
    pub fn is_pending_taken(&self) -> bool {
        self.pending.get() == 0
    }
    /// True while the write buffer is above its high-water mark (between
    /// `PauseWriting` and `ResumeWriting`).
    pub fn is_writing_paused(&self) -> bool {
        self.writing_paused.get()
    }
    /// Marks a native `sendfile` in progress (writes are refused with
    /// `WriteError::SendfileInProgress`) or over.
    pub fn set_sendfile(&self, on: bool) {
        self.set_flag(SENDFILE, on);
    }
    /// True while a native `sendfile` owns the socket.
    pub fn is_sendfile(&self) -> bool {
        self.flags.get() & SENDFILE != 0
    }
    /// True once a TLS session sits between the socket and the protocol: a
    /// native `sendfile` would put plaintext on the wire, so it must not run.
    pub fn has_tls_layer(&self) -> bool {
        self.flags.get() & TLS_LAYER != 0
    }
    pub(crate) fn set_tls_layer(&self) {
        self.set_flag(TLS_LAYER, true);
    }
    /// Wakes `waker` the next time the write buffer shrinks, the transport
    /// resumes writing, or it closes (then look again).
    pub fn wait_drain(&self, waker: &Waker) {
        let mut ws = self.drain_waiters.borrow_mut();
        let ws = ws.get_or_insert_with(Box::default);
        if !ws.iter().any(|w| w.will_wake(waker)) {
            ws.push(waker.clone());
        }
    }
    fn wake_drain(&self) {
        let ws = self.drain_waiters.borrow_mut().take();
        for w in ws.into_iter().flat_map(|b| *b) {
            w.wake();
        }
    }
    /// A new descriptor for the transport's socket while it is open (for a
    /// native `sendfile`, which waits for writability on its own
    /// registration).
    pub fn dup_socket(&self) -> Option<std::io::Result<std::os::fd::OwnedFd>> {
        let fd = self.fileno()?;
        Some(crate::sys::unix::fd::dup_raw(fd))
    }
    /// A handle asked for `close()` or `abort()`: closing from now on.
    pub fn mark_closing(&self) {
        self.set_closing();
    }
    /// A handle asked for `pause_reading()` (`resume` false) or
    /// `resume_reading()` (`resume` true); the transport does the same when
    /// the command reaches it. Resuming does nothing once closing or after
    /// EOF.
    pub fn mark_reading(&self, resume: bool) {
        if !resume {
            self.reading.set(false);
        } else if !self.closing.get() && !self.read_over.get() {
            self.reading.set(true);
        }
    }
    /// Counts a write of `len` bytes dropped because the transport is
    /// closing or gone, by the protocol or through a handle, and warns about
    /// it (naming the transport `who` describes): the first dropped write
    /// always, since a protocol that answers after `EofReceived` would
    /// otherwise lose its answers silently, then each one whose count is a
    /// power of two, so the log stays short however many follow and a
    /// growing loss stays visible. (asyncio says nothing before the fifth.)
    pub fn drop_write(&self, len: usize, who: impl FnOnce() -> String) {
        warn_dropped(self.count_dropped(), len, who);
    }
    /// Counts one more dropped write; returns the count.
    pub(crate) fn count_dropped(&self) -> u32 {
        let n = self.dropped_writes.get().saturating_add(1);
        self.dropped_writes.set(n);
        n
    }
    pub(crate) fn set_dropped(&self, n: u32) {
        self.dropped_writes.set(n);
    }
    /// The TLS session's facts: `Some` once a TLS handshake is complete.
    pub fn tls(&self) -> Option<TlsInfo> {
        self.tls.borrow().as_deref().cloned()
    }
    pub(crate) fn set_tls(&self, info: TlsInfo) {
        *self.tls.borrow_mut() = Some(Box::new(info));
    }
    pub(crate) fn set_socket_closed(&self) {
        self.socket_open.set(false);
        self.wake_drain();
    }
    pub(crate) fn set_writing_paused(&self, on: bool) {
        self.writing_paused.set(on);
        self.wake_drain();
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
        self.pending.set(0);
    }
    /// True once `write_eof()` was called on the transport or a handle.
    pub fn is_eof_written(&self) -> bool {
        self.flags.get() & EOF_WRITTEN != 0
    }
    /// Records a `write_eof()` asked for through a handle, so the handle's
    /// later writes fail as the transport's would.
    pub fn mark_eof_written(&self) {
        self.set_flag(EOF_WRITTEN, true);
    }
    fn set_flag(&self, flag: u8, on: bool) {
        let f = self.flags.get();
        self.flags.set(if on { f | flag } else { f & !flag });
    }
    pub(crate) fn set_read_over(&self) {
        self.read_over.set(true);
        self.reading.set(false);
    }
    pub(crate) fn set_reading(&self, on: bool) {
        self.reading.set(on);
    }
    pub(crate) fn set_buffered(&self, n: usize) {
        let shrank = n < self.buffered.get();
        self.buffered.set(n);
        if shrank {
            self.wake_drain();
        }
    }
}

/// Warns about the `n`th dropped write, of `len` bytes, if `n` is 1 or a
/// power of two (see [`StreamInfo::drop_write`]).
pub(crate) fn warn_dropped(n: u32, len: usize, who: impl FnOnce() -> String) {
    if n.is_power_of_two() {
        let writes = if n == 1 { "write" } else { "writes" };
        crate::diag::warning!(
            "{}: write() after close: {len} bytes dropped ({n} {writes} dropped so far)",
            who()
        );
    }
}
