//! Datagram transports (UDP, Unix datagram): the actor, the state a
//! protocol reaches, and the socket kinds it runs on.

mod core;
mod socket;
mod transport;

pub use socket::DatagramSocket;
pub use transport::{DatagramSocketTransport, UdpTransport, UnixDatagramTransport};

/// The default hard cap on a datagram transport's write buffer: 1 MiB, 16
/// times the default high-water mark. A `sendto` that would take the buffer
/// past the cap drops that datagram and reports `ErrorReceived(ENOBUFS)`,
/// as a kernel does when its own queue is full; the endpoint stays open.
pub const DEFAULT_MAX_WRITE_BUFFER: usize = 1024 * 1024;

/// What each queued datagram adds to the write-buffer size beyond its
/// length, so empty datagrams count too (asyncio 3.13's `_header_size`).
pub const DATAGRAM_HEADER_SIZE: usize = 8;
