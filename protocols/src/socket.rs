//! A typed, borrowed view of a connection's socket, for the options a user
//! expects to set (`TCP_NODELAY`, keepalive, `SO_LINGER`, buffer sizes).

use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

/// The socket-option calls behind a [`SocketRef`]; the transport layer
/// implements it (this crate makes no syscalls).
#[doc(hidden)]
pub trait SocketOps: Sync {
    fn set_nodelay(&self, fd: BorrowedFd<'_>, on: bool) -> io::Result<()>;
    fn nodelay(&self, fd: BorrowedFd<'_>) -> io::Result<bool>;
    fn set_keepalive(&self, fd: BorrowedFd<'_>, on: bool) -> io::Result<()>;
    fn keepalive(&self, fd: BorrowedFd<'_>) -> io::Result<bool>;
    fn set_linger(&self, fd: BorrowedFd<'_>, linger: Option<Duration>) -> io::Result<()>;
    fn linger(&self, fd: BorrowedFd<'_>) -> io::Result<Option<Duration>>;
    fn set_send_buffer_size(&self, fd: BorrowedFd<'_>, size: usize) -> io::Result<()>;
    fn send_buffer_size(&self, fd: BorrowedFd<'_>) -> io::Result<usize>;
    fn set_recv_buffer_size(&self, fd: BorrowedFd<'_>, size: usize) -> io::Result<()>;
    fn recv_buffer_size(&self, fd: BorrowedFd<'_>) -> io::Result<usize>;
    fn peer_credentials(&self, fd: BorrowedFd<'_>) -> io::Result<PeerCredentials> {
        let _ = fd;
        Err(io::ErrorKind::Unsupported.into())
    }
}

/// The process at the other end of a Unix-domain socket, as the kernel saw
/// it when the connection was made (`SO_PEERCRED` on Linux).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeerCredentials {
    /// The peer's process id, where the OS tells it.
    pub pid: Option<i32>,
    /// The peer's effective user id.
    pub uid: u32,
    /// The peer's effective group id.
    pub gid: u32,
}

/// A connection's socket, borrowed from its transport for as long as the
/// handler runs: asyncio's `get_extra_info('socket')`, typed. The transport
/// keeps owning the descriptor; this view can set options but not close it.
///
/// Options that are not meaningful for the socket's family (`TCP_NODELAY` on a
/// Unix socket) fail with the OS's error.
#[derive(Clone, Copy)]
pub struct SocketRef<'a> {
    fd: BorrowedFd<'a>,
    ops: &'static dyn SocketOps,
}

impl<'a> SocketRef<'a> {
    #[doc(hidden)]
    pub fn new(fd: BorrowedFd<'a>, ops: &'static dyn SocketOps) -> Self {
        SocketRef { fd, ops }
    }

    /// The descriptor, borrowed.
    pub fn fd(&self) -> BorrowedFd<'a> {
        self.fd
    }

    /// `TCP_NODELAY` (on by default for switchboard's TCP transports).
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        self.ops.set_nodelay(self.fd, on)
    }
    /// Reads `TCP_NODELAY`.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.ops.nodelay(self.fd)
    }
    /// `SO_KEEPALIVE`.
    pub fn set_keepalive(&self, on: bool) -> io::Result<()> {
        self.ops.set_keepalive(self.fd, on)
    }
    /// Reads `SO_KEEPALIVE`.
    pub fn keepalive(&self) -> io::Result<bool> {
        self.ops.keepalive(self.fd)
    }
    /// `SO_LINGER`: `Some(d)` makes close wait up to `d` for unsent data
    /// (`Some(Duration::ZERO)` makes a close send a reset); `None` turns it off.
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        self.ops.set_linger(self.fd, linger)
    }
    /// Reads `SO_LINGER`.
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        self.ops.linger(self.fd)
    }
    /// `SO_SNDBUF` (the kernel may round or double it).
    pub fn set_send_buffer_size(&self, size: usize) -> io::Result<()> {
        self.ops.set_send_buffer_size(self.fd, size)
    }
    /// Reads `SO_SNDBUF`.
    pub fn send_buffer_size(&self) -> io::Result<usize> {
        self.ops.send_buffer_size(self.fd)
    }
    /// `SO_RCVBUF` (the kernel may round or double it).
    pub fn set_recv_buffer_size(&self, size: usize) -> io::Result<()> {
        self.ops.set_recv_buffer_size(self.fd, size)
    }
    /// Reads `SO_RCVBUF`.
    pub fn recv_buffer_size(&self) -> io::Result<usize> {
        self.ops.recv_buffer_size(self.fd)
    }
    /// The credentials of the process at the other end of a Unix-domain
    /// stream socket (`SO_PEERCRED`); an error on other sockets or where the
    /// OS does not tell.
    pub fn peer_credentials(&self) -> io::Result<PeerCredentials> {
        self.ops.peer_credentials(self.fd)
    }
}

impl AsRawFd for SocketRef<'_> {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl fmt::Debug for SocketRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SocketRef").field("fd", &self.fd).finish()
    }
}
