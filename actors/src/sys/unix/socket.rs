//! Socket calls that socket2 and mio do not offer.

use std::io;
use std::os::fd::BorrowedFd;

use switchboard_protocols::PeerCredentials;

/// `SO_PEERCRED` of a connected Unix-domain stream socket.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn peer_credentials(fd: BorrowedFd<'_>) -> io::Result<PeerCredentials> {
    use nix::sys::socket::{getsockopt, sockopt};
    let cred = getsockopt(&fd, sockopt::PeerCredentials).map_err(io::Error::from)?;
    Ok(PeerCredentials {
        pid: (cred.pid() > 0).then_some(cred.pid()),
        uid: cred.uid(),
        gid: cred.gid(),
    })
}

/// `SO_PEERCRED` is Linux's; other systems do not tell here.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn peer_credentials(fd: BorrowedFd<'_>) -> io::Result<PeerCredentials> {
    let _ = fd;
    Err(io::ErrorKind::Unsupported.into())
}

/// [`peer_credentials`] of a descriptor known only by number.
pub fn peer_credentials_of(fd: std::os::fd::RawFd) -> io::Result<PeerCredentials> {
    if fd < 0 {
        return Err(io::Error::from_raw_os_error(nix::libc::EBADF));
    }
    // SAFETY: the borrow lasts for one getsockopt(2) call, which reads no
    // memory through the descriptor; a descriptor closed meanwhile gives
    // EBADF, never undefined behaviour.
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    peer_credentials(fd)
}

/// True if `fd` has `O_NONBLOCK` set.
pub fn is_nonblocking(fd: BorrowedFd<'_>) -> io::Result<bool> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let flags = fcntl(fd, FcntlArg::F_GETFL).map_err(io::Error::from)?;
    Ok(OFlag::from_bits_truncate(flags).contains(OFlag::O_NONBLOCK))
}

/// `recv(2)` into an initialised buffer.
pub fn recv(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    socket2::SockRef::from(&fd).recv(as_uninit(buf))
}

/// `recvfrom(2)` into an initialised buffer.
pub fn recv_from(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<(usize, socket2::SockAddr)> {
    socket2::SockRef::from(&fd).recv_from(as_uninit(buf))
}

fn as_uninit(buf: &mut [u8]) -> &mut [std::mem::MaybeUninit<u8>] {
    // SAFETY: `MaybeUninit<u8>` has the layout of `u8`, and the callee
    // (recv/recvfrom) only writes initialised bytes into it, so the slice
    // stays initialised when the borrow ends.
    unsafe { &mut *(buf as *mut [u8] as *mut [std::mem::MaybeUninit<u8>]) }
}

/// `recvfrom(2)` into the spare capacity of `buf` (at least `min_spare`
/// bytes of it, reserved first), growing `buf` by the datagram.
pub fn recv_from_spare(
    fd: BorrowedFd<'_>,
    buf: &mut bytes::BytesMut,
    min_spare: usize,
) -> io::Result<(usize, socket2::SockAddr)> {
    buf.reserve(min_spare);
    let (n, from) = socket2::SockRef::from(&fd).recv_from(buf.spare_capacity_mut())?;
    // SAFETY: recvfrom(2) initialised the first `n` bytes of the spare
    // capacity (it never reports more than it was offered).
    unsafe { buf.set_len(buf.len() + n) };
    Ok((n, from))
}
