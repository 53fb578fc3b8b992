//! Reads and half-closes on raw descriptors.

use std::io;
use std::os::fd::RawFd;

use bytes::BytesMut;

/// Receives from the stream socket `fd` into the spare capacity of `buf` (at
/// least `min_spare` bytes of it, reserved first) and grows `buf` by what was
/// read. Returns the count; 0 is EOF.
///
/// `recv(2)` with no flags, not `read(2)`: the same bytes, without the VFS
/// layer `read` goes through first (position lock check, permission hook,
/// fsnotify), a few percent of a small read's kernel time.
pub fn read_to_spare(fd: RawFd, buf: &mut BytesMut, min_spare: usize) -> io::Result<usize> {
    buf.reserve(min_spare);
    let spare = buf.spare_capacity_mut();
    let len = spare.len();
    // SAFETY: `spare` is valid for writes of `len` bytes and stays borrowed for
    // the call; recv(2) writes at most `len` bytes into it.
    let n = syscall!(recv(fd, spare.as_mut_ptr().cast(), len, 0))?;
    let n = n as usize;
    // SAFETY: recv(2) initialised the first `n` (<= len) spare bytes.
    unsafe { buf.set_len(buf.len() + n) };
    Ok(n)
}

/// `shutdown(fd, SHUT_WR)`.
pub fn shutdown_write(fd: RawFd) -> io::Result<()> {
    // SAFETY: shutdown(2) takes no pointers; a bad fd is reported as EBADF.
    syscall!(shutdown(fd, nix::libc::SHUT_WR)).map(|_| ())
}

/// The (soft, hard) RLIMIT_NOFILE.
pub fn nofile_limit() -> io::Result<(u64, u64)> {
    nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .map_err(io::Error::from)
}

/// Sets the soft RLIMIT_NOFILE (the hard limit stays).
pub fn set_nofile_soft(soft: u64) -> io::Result<()> {
    let (_, hard) = nofile_limit()?;
    nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, soft, hard)
        .map_err(io::Error::from)
}

/// True for the error a non-blocking `connect` gives while it proceeds
/// (`EINPROGRESS`, or `EAGAIN`/`EWOULDBLOCK`).
pub fn is_connect_in_progress(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock || e.raw_os_error() == Some(nix::libc::EINPROGRESS)
}
