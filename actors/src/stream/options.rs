//! Socket options behind `SocketRef`, through socket2 on a borrowed descriptor.

use std::io;
use std::os::fd::BorrowedFd;
use std::time::Duration;

use socket2::SockRef;
use switchboard_protocols::{PeerCredentials, SocketOps};

/// The socket-option calls of every stream socket.
#[derive(Debug)]
pub struct Socket2Ops;

/// The one instance `SocketRef`s point at.
pub static SOCKET_OPS: Socket2Ops = Socket2Ops;

impl SocketOps for Socket2Ops {
    fn set_nodelay(&self, fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
        SockRef::from(&fd).set_tcp_nodelay(on)
    }
    fn nodelay(&self, fd: BorrowedFd<'_>) -> io::Result<bool> {
        SockRef::from(&fd).tcp_nodelay()
    }
    fn set_keepalive(&self, fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
        SockRef::from(&fd).set_keepalive(on)
    }
    fn keepalive(&self, fd: BorrowedFd<'_>) -> io::Result<bool> {
        SockRef::from(&fd).keepalive()
    }
    fn set_linger(&self, fd: BorrowedFd<'_>, linger: Option<Duration>) -> io::Result<()> {
        SockRef::from(&fd).set_linger(linger)
    }
    fn linger(&self, fd: BorrowedFd<'_>) -> io::Result<Option<Duration>> {
        SockRef::from(&fd).linger()
    }
    fn set_send_buffer_size(&self, fd: BorrowedFd<'_>, size: usize) -> io::Result<()> {
        SockRef::from(&fd).set_send_buffer_size(size)
    }
    fn send_buffer_size(&self, fd: BorrowedFd<'_>) -> io::Result<usize> {
        SockRef::from(&fd).send_buffer_size()
    }
    fn set_recv_buffer_size(&self, fd: BorrowedFd<'_>, size: usize) -> io::Result<()> {
        SockRef::from(&fd).set_recv_buffer_size(size)
    }
    fn recv_buffer_size(&self, fd: BorrowedFd<'_>) -> io::Result<usize> {
        SockRef::from(&fd).recv_buffer_size()
    }
    fn peer_credentials(&self, fd: BorrowedFd<'_>) -> io::Result<PeerCredentials> {
        // On other families Linux answers with made-up ids: refuse instead.
        if !SockRef::from(&fd).local_addr()?.is_unix() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "peer credentials exist only for unix-domain sockets",
            ));
        }
        crate::sys::unix::socket::peer_credentials(fd)
    }
}
