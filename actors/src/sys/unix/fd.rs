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
/// fsnotify), a few percent of a small read's kernel time. Sockets only
/// (anything else fails with `ENOTSOCK`): pipes use [`read_to_spare`].
pub fn recv_to_spare(fd: RawFd, buf: &mut BytesMut, min_spare: usize) -> io::Result<usize> {
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

/// Reads from any descriptor `fd` (a pipe, a character device, a socket)
/// into the spare capacity of `buf` (at least `min_spare` bytes of it,
/// reserved first) and grows `buf` by what was read. Returns the count; 0 is
/// EOF.
pub fn read_to_spare(fd: RawFd, buf: &mut BytesMut, min_spare: usize) -> io::Result<usize> {
    buf.reserve(min_spare);
    let spare = buf.spare_capacity_mut();
    let len = spare.len();
    // SAFETY: `spare` is valid for writes of `len` bytes and stays borrowed for
    // the call; read(2) writes at most `len` bytes into it.
    let n = syscall!(read(fd, spare.as_mut_ptr().cast(), len))?;
    let n = n as usize;
    // SAFETY: read(2) initialised the first `n` (<= len) spare bytes.
    unsafe { buf.set_len(buf.len() + n) };
    Ok(n)
}

/// Reads and drops what the non-blocking stream socket `fd` holds unread,
/// up to `limit` bytes; stops at `WouldBlock`, EOF or an error. Returns how
/// much was dropped, and whether the peer's side is over (EOF or an error
/// other than `WouldBlock`/`EINTR`).
pub fn discard_unread(fd: RawFd, limit: usize) -> (usize, bool) {
    let mut scratch = [0u8; 16 * 1024];
    let mut dropped = 0;
    while dropped < limit {
        // SAFETY: `scratch` is valid for writes of its length for the call.
        let n = syscall!(recv(fd, scratch.as_mut_ptr().cast(), scratch.len(), 0));
        match n {
            Ok(0) => return (dropped, true),
            Ok(n) => dropped += n as usize,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (dropped, e.kind() != io::ErrorKind::WouldBlock),
        }
    }
    (dropped, false)
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

/// True for the error a repeated `connect` gives once the socket is
/// connected (`EISCONN`), and [`is_connect_in_progress`] also for
/// `EALREADY` (a connect still going on).
pub fn is_connected_already(e: &io::Error) -> bool {
    e.raw_os_error() == Some(nix::libc::EISCONN)
}

/// True for `EALREADY`: a non-blocking connect is still going on.
pub fn is_connect_already_started(e: &io::Error) -> bool {
    e.raw_os_error() == Some(nix::libc::EALREADY)
}

/// A new descriptor (close-on-exec) for the open file `fd` names.
pub fn dup_raw(fd: RawFd) -> io::Result<std::os::fd::OwnedFd> {
    if fd < 0 {
        return Err(io::Error::from_raw_os_error(nix::libc::EBADF));
    }
    // SAFETY: the borrow lasts for one fcntl(F_DUPFD_CLOEXEC) call; a
    // descriptor closed meanwhile gives EBADF, never undefined behaviour.
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    fd.try_clone_to_owned()
}

/// `sendfile(2)`: sends up to `count` bytes of `file` from `*offset` to
/// `sock`, advancing `*offset` by what was sent; the file's own position is
/// untouched. Linux only; elsewhere `Unsupported`.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn sendfile(
    sock: std::os::fd::BorrowedFd<'_>,
    file: std::os::fd::BorrowedFd<'_>,
    offset: &mut u64,
    count: usize,
) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    let mut off =
        i64::try_from(*offset).map_err(|_| io::Error::from_raw_os_error(nix::libc::EINVAL))?;
    // SAFETY: both descriptors are open for the call (borrowed); `off` is a
    // valid i64 the kernel reads and updates.
    let n = syscall!(sendfile64(
        sock.as_raw_fd(),
        file.as_raw_fd(),
        &mut off,
        count
    ))?;
    *offset = off as u64;
    Ok(n as usize)
}

/// `sendfile(2)` is Linux's here; other systems fall back.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn sendfile(
    sock: std::os::fd::BorrowedFd<'_>,
    file: std::os::fd::BorrowedFd<'_>,
    offset: &mut u64,
    count: usize,
) -> io::Result<usize> {
    let _ = (sock, file, offset, count);
    Err(io::ErrorKind::Unsupported.into())
}

/// True for the errors that say `sendfile(2)` cannot serve this pair of
/// descriptors at all (as opposed to a failure of the connection): the
/// caller falls back to reading and writing.
pub fn is_sendfile_unsupported(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::Unsupported
        || matches!(
            e.raw_os_error(),
            Some(nix::libc::EINVAL | nix::libc::ENOSYS | nix::libc::EOPNOTSUPP | nix::libc::ESPIPE)
        )
}

/// `pread(2)` of up to `len` bytes at `offset` into the spare capacity of
/// `buf` (reserved first), growing `buf` by what was read; 0 is the end of
/// the file.
pub fn pread_to_spare(
    file: std::os::fd::BorrowedFd<'_>,
    buf: &mut BytesMut,
    len: usize,
    offset: u64,
) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    buf.reserve(len);
    let spare = buf.spare_capacity_mut();
    let want = spare.len().min(len);
    let off = i64::try_from(offset).map_err(|_| io::Error::from_raw_os_error(nix::libc::EINVAL))?;
    // SAFETY: `spare` is valid for writes of `want` bytes and stays borrowed
    // for the call; pread(2) writes at most `want` bytes into it.
    let n = syscall!(pread64(
        file.as_raw_fd(),
        spare.as_mut_ptr().cast(),
        want,
        off
    ))?;
    let n = n as usize;
    // SAFETY: pread(2) initialised the first `n` (<= want) spare bytes.
    unsafe { buf.set_len(buf.len() + n) };
    Ok(n)
}
