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
