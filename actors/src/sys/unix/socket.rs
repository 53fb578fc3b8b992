//! Socket calls that socket2 and mio do not offer: peer credentials,
//! `O_NONBLOCK` checks, receives into initialised or spare buffers, and sends
//! on stream sockets that never raise SIGPIPE.
//!
//! A send to a peer that has gone fails with `EPIPE`; without
//! `MSG_NOSIGNAL` the kernel also sends the process SIGPIPE, which kills it
//! by default and wakes a user's SIGPIPE watcher for the runtime's own write
//! (fault scenario 2). `write(2)` and `writev(2)` take no flags, so every
//! stream-transport send goes through [`send`] or [`send_vectored`].

use std::io::{self, IoSlice};
use std::os::fd::{BorrowedFd, RawFd};

use nix::sys::socket::MsgFlags;
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

/// The flag that keeps a failed send from raising SIGPIPE. Apple systems
/// have none (they use the `SO_NOSIGPIPE` socket option instead).
#[cfg(not(any(target_os = "macos", target_os = "ios")))]
const NO_SIGNAL: MsgFlags = MsgFlags::MSG_NOSIGNAL;
#[cfg(any(target_os = "macos", target_os = "ios"))]
const NO_SIGNAL: MsgFlags = MsgFlags::empty();

/// `send(fd, buf, MSG_NOSIGNAL)`: how much the kernel took.
pub fn send(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    nix::sys::socket::send(fd, buf, NO_SIGNAL).map_err(io::Error::from)
}

/// `sendmsg(fd, bufs, MSG_NOSIGNAL)`: one vectored send, how much the kernel
/// took.
pub fn send_vectored(fd: RawFd, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    nix::sys::socket::sendmsg::<()>(fd, bufs, &[], NO_SIGNAL, None).map_err(io::Error::from)
}

#[cfg(test)]
mod tests {
    use std::io::IoSlice;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    use nix::sys::signal::{SigSet, SigmaskHow, Signal};

    use super::*;

    /// Blocks SIGPIPE on this thread only (no process-wide change), so a
    /// SIGPIPE the kernel sends this thread stays pending where we can see
    /// it; restores the mask and discards such a signal on drop.
    struct SigpipeWatch(SigSet);

    impl SigpipeWatch {
        fn start() -> SigpipeWatch {
            let mut only = SigSet::empty();
            only.add(Signal::SIGPIPE);
            let mut old = SigSet::empty();
            nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&only), Some(&mut old))
                .expect("block SIGPIPE");
            SigpipeWatch(old)
        }
        fn raised(&self) -> bool {
            let mut set = std::mem::MaybeUninit::<nix::libc::sigset_t>::uninit();
            // SAFETY: sigpending(2) fills the set it is given.
            let rc = unsafe { nix::libc::sigpending(set.as_mut_ptr()) };
            assert_eq!(rc, 0, "sigpending");
            // SAFETY: initialised by sigpending above.
            let set = unsafe { set.assume_init() };
            // SAFETY: sigismember(3) only reads the initialised set.
            unsafe { nix::libc::sigismember(&set, nix::libc::SIGPIPE) == 1 }
        }
    }

    impl Drop for SigpipeWatch {
        fn drop(&mut self) {
            if self.raised() {
                let mut only = SigSet::empty();
                only.add(Signal::SIGPIPE);
                let _ = only.wait();
            }
            let _ = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&self.0), None);
        }
    }

    #[test]
    fn fault_2_sends_to_a_gone_peer_are_epipe_without_sigpipe() {
        let (a, b) = UnixStream::pair().expect("socketpair");
        drop(b);
        let watch = SigpipeWatch::start();
        let e = send(a.as_raw_fd(), b"x").expect_err("the peer is gone");
        assert_eq!(e.raw_os_error(), Some(nix::libc::EPIPE));
        let bufs = [IoSlice::new(b"a"), IoSlice::new(b"b")];
        let e = send_vectored(a.as_raw_fd(), &bufs).expect_err("the peer is gone");
        assert_eq!(e.raw_os_error(), Some(nix::libc::EPIPE));
        assert!(!watch.raised(), "a send raised SIGPIPE");
        // The control: write(2) on the same socket does raise it.
        let e = nix::unistd::write(&a, b"x").expect_err("the peer is gone");
        assert_eq!(e, nix::errno::Errno::EPIPE);
        assert!(watch.raised(), "write(2) raises SIGPIPE: the watch works");
    }
}
