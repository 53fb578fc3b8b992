//! The two ways a file goes out: `sendfile(2)` on a socket, and reading the
//! file to write it (the fallback).

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, RawFd};

use switchboard_actors::sys::unix::fd;

use crate::event_loop::EventLoop;
use crate::net::sendfile::SendfileError;
use crate::net::sock::wait_ready;

/// The most one `sendfile(2)` call is asked for (Linux caps a call near
/// 2 GiB anyway; smaller calls let other actors run in between).
const NATIVE_CHUNK: usize = 16 * 1024 * 1024;
/// The size of a read in the fallback (asyncio reads up to 256 KiB).
pub(crate) const FALLBACK_CHUNK: usize = 256 * 1024;

/// How a native attempt ended.
pub(crate) enum Native {
    /// Sent this many bytes (fewer than asked only at the end of the file).
    Sent(u64),
    /// `sendfile(2)` cannot serve this pair, and nothing was sent.
    Unsupported(io::Error),
}

/// Sends `count` bytes (or up to the end of the file) of `file` from
/// `offset` over `sock` with `sendfile(2)`, waiting for writability on
/// `sock` (registered only while waiting).
pub(crate) async fn native(
    lp: &EventLoop,
    sock: BorrowedFd<'_>,
    raw: RawFd,
    file: &File,
    offset: u64,
    count: Option<u64>,
) -> Result<Native, SendfileError> {
    let mut at = offset;
    let mut sent = 0u64;
    loop {
        let want = match count {
            Some(c) if sent >= c => break,
            Some(c) => ((c - sent).min(NATIVE_CHUNK as u64)) as usize,
            None => NATIVE_CHUNK,
        };
        match fd::sendfile(sock, file.as_fd(), &mut at, want) {
            Ok(0) => break,
            Ok(n) => sent += n as u64,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                wait_ready(lp, raw, mio::Interest::WRITABLE).await?;
            }
            Err(e) if sent == 0 && fd::is_sendfile_unsupported(&e) => {
                return Ok(Native::Unsupported(e));
            }
            Err(source) => return Err(SendfileError::Io { sent, source }),
        }
    }
    Ok(Native::Sent(sent))
}

/// Reads `file` from `offset` in chunks (without moving its position) and
/// hands each chunk to `write`, which waits as long as the receiving side
/// needs; stops after `count` bytes or at the end of the file.
pub(crate) async fn fallback<W, Fut>(
    file: &File,
    offset: u64,
    count: Option<u64>,
    mut write: W,
) -> Result<u64, SendfileError>
where
    W: FnMut(bytes::Bytes) -> Fut,
    Fut: std::future::Future<Output = Result<(), SendfileError>>,
{
    let mut sent = 0u64;
    // Chunks are views of one buffer: once the receiving side has dropped a
    // chunk, its space is reused, with no zeroing and no new allocation.
    let mut buf = bytes::BytesMut::new();
    loop {
        let want = match count {
            Some(c) if sent >= c => break,
            Some(c) => ((c - sent).min(FALLBACK_CHUNK as u64)) as usize,
            None => FALLBACK_CHUNK,
        };
        buf.clear();
        let n = loop {
            match fd::pread_to_spare(file.as_fd(), &mut buf, want, offset + sent) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        }
        .map_err(|source| SendfileError::Io { sent, source })?;
        if n == 0 {
            break;
        }
        write(buf.split().freeze()).await.map_err(|e| match e {
            SendfileError::Io { source, .. } => SendfileError::Io { sent, source },
            other => other,
        })?;
        sent += n as u64;
    }
    Ok(sent)
}
