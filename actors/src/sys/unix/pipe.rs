//! Pipes and pipe-like descriptors: creating them, checking what a given
//! descriptor is, non-blocking mode, and writes that never raise SIGPIPE.

use std::io::{self, IoSlice};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use nix::libc;

use crate::sys::unix::signal;

/// What kind of file a descriptor refers to, as far as pipes care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FdKind {
    /// A pipe or a FIFO.
    Fifo,
    /// A socket.
    Socket,
    /// A character device (a terminal, a PTY).
    CharDevice,
    /// Anything else (a regular file, a directory, a block device).
    Other,
}

/// What `fd` refers to (`fstat(2)`).
pub fn kind(fd: BorrowedFd<'_>) -> io::Result<FdKind> {
    let st = nix::sys::stat::fstat(fd).map_err(io::Error::from)?;
    Ok(match st.st_mode & libc::S_IFMT {
        libc::S_IFIFO => FdKind::Fifo,
        libc::S_IFSOCK => FdKind::Socket,
        libc::S_IFCHR => FdKind::CharDevice,
        _ => FdKind::Other,
    })
}

/// Puts `fd` in non-blocking mode (`O_NONBLOCK`).
pub fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    let raw = fd.as_raw_fd();
    // SAFETY: fcntl(F_GETFL) takes no pointer; a bad fd is EBADF.
    let flags = syscall!(fcntl(raw, libc::F_GETFL))?;
    if flags & libc::O_NONBLOCK == 0 {
        // SAFETY: as above.
        syscall!(fcntl(raw, libc::F_SETFL, flags | libc::O_NONBLOCK))?;
    }
    Ok(())
}

/// A new pipe, both ends close-on-exec: (read end, write end).
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(io::Error::from)
}

/// Writes `data` to the pipe `fd`; a reader that has gone is `EPIPE`
/// (`ErrorKind::BrokenPipe`), never a SIGPIPE anyone sees. For a socket,
/// `send(MSG_NOSIGNAL)` does the same on its own.
pub fn write(fd: BorrowedFd<'_>, data: &[u8], socket: bool) -> io::Result<usize> {
    let raw = fd.as_raw_fd();
    if socket {
        // SAFETY: `data` is valid for `data.len()` bytes for the call.
        return syscall!(send(
            raw,
            data.as_ptr().cast(),
            data.len(),
            libc::MSG_NOSIGNAL
        ))
        .map(|n| n as usize);
    }
    signal::write_without_sigpipe(|| {
        // SAFETY: `data` is valid for `data.len()` bytes for the call.
        syscall!(write(raw, data.as_ptr().cast(), data.len())).map(|n| n as usize)
    })
}

/// Vectored [`write()`].
pub fn writev(fd: BorrowedFd<'_>, bufs: &[IoSlice<'_>], socket: bool) -> io::Result<usize> {
    let raw = fd.as_raw_fd();
    let count = bufs.len().min(libc::c_int::MAX as usize) as libc::c_int;
    if socket {
        // SAFETY: an all-zero msghdr is valid (no name, no control data).
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        // IoSlice is ABI-compatible with iovec; sendmsg only reads the buffers.
        msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
        msg.msg_iovlen = count as _;
        // SAFETY: `msg` points at `count` valid iovecs that outlive the call.
        return syscall!(sendmsg(raw, &msg, libc::MSG_NOSIGNAL)).map(|n| n as usize);
    }
    signal::write_without_sigpipe(|| {
        // SAFETY: IoSlice is ABI-compatible with iovec (std guarantees it);
        // the `count` buffers are valid for reads for the call.
        syscall!(writev(raw, bufs.as_ptr().cast(), count)).map(|n| n as usize)
    })
}
