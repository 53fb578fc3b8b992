//! A close that lingers: when `close()` finds input the peer sent and
//! nobody read, closing the socket at once would make the kernel answer
//! with a reset and destroy what the peer has not received yet. The
//! transport drops that input, shuts its write side after the last byte
//! written, and reads and drops until the peer's EOF (or a timeout) before
//! it closes the socket.

use crate::stream::core::{Core, WriteSide};
use crate::stream::socket::StreamSocket;

/// The most unread input a `close()` drops at once before it decides
/// whether to linger (see `Core::finish_close`).
pub(crate) const LINGER_DISCARD: usize = 1024 * 1024;

/// How long a close lingers for a peer that goes on sending (see
/// `Core::finish_close`).
pub(crate) const LINGER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// A close that waits for the peer to stop sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Linger {
    /// Not lingering.
    No,
    /// Lingering; the timeout is not armed yet.
    Start,
    /// Lingering, the timeout armed.
    Armed,
}

impl<S: StreamSocket, M: 'static> Core<S, M> {
    /// The end of a `close()` (not an `abort()`), once the buffer is out.
    ///
    /// Closing a socket whose receive queue holds unread bytes makes the
    /// kernel answer with a reset instead of a FIN, and a reset destroys
    /// what the peer has not received yet: the last answer written before
    /// the close (an `ERR line too long` for the line that made the
    /// protocol close, say). So what the peer sent and nobody read is
    /// dropped first; if there was any, the peer is still sending, and the
    /// transport lingers: it shuts its write side (the FIN follows the
    /// answer) and keeps reading and dropping until the peer's EOF, or
    /// [`LINGER_TIMEOUT`], before it closes the socket (as web servers do
    /// with a lingering close). `ConnectionLost` follows the socket's close.
    pub(crate) fn finish_close(&mut self) {
        let Some(fd) = self.socket.as_ref().map(|s| s.as_raw_fd()) else {
            return self.die(None);
        };
        let (dropped, over) = crate::sys::unix::fd::discard_unread(fd, LINGER_DISCARD);
        if dropped == 0 || over || self.linger != Linger::No {
            return self.die(None);
        }
        self.linger = Linger::Start;
        if self.write != WriteSide::EofSent {
            self.shutdown_write();
        }
        // The budget may have stopped the drop with more (and the peer's
        // EOF) already here, and no edge will come for it.
        self.read_again = dropped >= LINGER_DISCARD;
    }

    /// While lingering: drops what arrived, [`LINGER_DISCARD`] bytes at most
    /// per call (the rest on the next turn); closes at the peer's EOF.
    pub(crate) fn linger_read(&mut self) {
        let Some(fd) = self.socket.as_ref().map(|s| s.as_raw_fd()) else {
            return;
        };
        let (dropped, over) = crate::sys::unix::fd::discard_unread(fd, LINGER_DISCARD);
        if over {
            self.die(None);
        } else if dropped >= LINGER_DISCARD {
            self.read_again = true;
        }
    }
}
