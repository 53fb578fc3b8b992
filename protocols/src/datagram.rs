//! Datagram (UDP, Unix datagram) protocols: the events a datagram protocol
//! receives and the transport it may call.
//!
//! # Grammar
//!
//! For every endpoint a protocol sees exactly this sequence:
//!
//! ```text
//! ConnectionMade (DatagramReceived | ErrorReceived | PauseWriting | ResumeWriting | Message)*
//!     ConnectionLost
//! ```
//!
//! `ConnectionMade` and `ConnectionLost` come exactly once each; nothing comes
//! after `ConnectionLost`. `ErrorReceived` is never fatal: the endpoint stays
//! open and goes on receiving. `PauseWriting` and `ResumeWriting` alternate,
//! starting with `PauseWriting`. No event is delivered while the protocol is
//! still handling another: an event raised inside a handler (an
//! `ErrorReceived` from a `sendto` that failed at once, a `PauseWriting`) is
//! queued and delivered right after the handler returns.

use std::io;
use std::os::fd::RawFd;

use bytes::Bytes;

use crate::addr::Addr;
use crate::address::Address;
use crate::error::{LimitsError, ProtocolError, TransportError, WriteError};
use crate::limits::WriteLimits;
use crate::message::NoMessage;
use crate::socket::SocketRef;

/// An event for a datagram protocol, sent by the datagram transport that
/// owns it, on the loop thread, in the order of the module's grammar.
#[derive(Debug)]
#[non_exhaustive]
pub enum DatagramEvent<M = NoMessage> {
    /// The endpoint is ready; sent once, first.
    /// [asyncio: `connection_made`](https://docs.python.org/3/library/asyncio-protocol.html#asyncio.BaseProtocol.connection_made)
    ConnectionMade,
    /// One datagram, whole (boundaries are kept; it may be empty), and the
    /// address it came from ([`Address::Unnamed`] for an unbound Unix peer).
    /// [asyncio: `datagram_received`](https://docs.python.org/3/library/asyncio-protocol.html#asyncio.DatagramProtocol.datagram_received)
    DatagramReceived {
        /// The datagram.
        data: Bytes,
        /// The sender.
        addr: Address,
    },
    /// A send or receive failed (an ICMP "port unreachable" on a connected
    /// endpoint as `ConnectionRefused`, `EMSGSIZE` for a datagram too big to
    /// send, a full write buffer as `ENOBUFS`). Not fatal: the endpoint stays
    /// open, and nothing of a failed datagram was sent.
    /// [asyncio: `error_received`](https://docs.python.org/3/library/asyncio-protocol.html#asyncio.DatagramProtocol.error_received)
    ErrorReceived(io::Error),
    /// The write buffer went strictly above the high-water mark.
    /// [asyncio: `pause_writing`](https://docs.python.org/3/library/asyncio-protocol.html#asyncio.BaseProtocol.pause_writing)
    PauseWriting,
    /// The write buffer drained to the low-water mark or below after a pause.
    /// [asyncio: `resume_writing`](https://docs.python.org/3/library/asyncio-protocol.html#asyncio.BaseProtocol.resume_writing)
    ResumeWriting,
    /// The endpoint is closed; sent exactly once, last.
    /// [asyncio: `connection_lost`](https://docs.python.org/3/library/asyncio-protocol.html#asyncio.BaseProtocol.connection_lost)
    ConnectionLost(Option<TransportError>),
    /// An application message sent to this endpoint's address by another
    /// actor (switchboard's own).
    Message(M),
}

/// A datagram protocol: one entry point that receives every event of its
/// endpoint, with direct access to its own transport.
///
/// ```
/// use switchboard_protocols::{DatagramEvent, DatagramProtocol, DatagramTransport, ProtocolError};
///
/// /// Sends every datagram back to where it came from.
/// struct Echo;
///
/// impl DatagramProtocol for Echo {
///     fn handle(&mut self, ev: DatagramEvent, t: &mut dyn DatagramTransport) -> Result<(), ProtocolError> {
///         if let DatagramEvent::DatagramReceived { data, addr } = ev {
///             t.sendto(&data, Some(&addr))?;
///         }
///         Ok(())
///     }
/// }
/// # let _ = Echo;
/// ```
pub trait DatagramProtocol<M: 'static = NoMessage>: 'static {
    /// Handles one event. Returning `Err` (or panicking) is reported to the
    /// loop's exception handler and the endpoint stays open, as asyncio's
    /// datagram transports keep going when `datagram_received()` raises:
    /// one bad datagram does not end the endpoint. Close it yourself if it
    /// should.
    fn handle(
        &mut self,
        event: DatagramEvent<M>,
        transport: &mut dyn DatagramTransport<M>,
    ) -> Result<(), ProtocolError>;
}

/// What a datagram protocol may do to its own transport (asyncio's
/// `DatagramTransport`).
pub trait DatagramTransport<M: 'static = NoMessage> {
    /// Sends one datagram to `addr`, or to the connected peer with `None`.
    /// Tries the socket at once; queues the datagram whole when the kernel
    /// has no room. An empty datagram is sent too. On a connected endpoint
    /// an `addr` other than the peer's is
    /// [`WriteError::InvalidAddress`], as is `None` on an unconnected one.
    /// An OS error (`EMSGSIZE`, `ECONNREFUSED`…) comes back as
    /// `ErrorReceived` after the handler returns. After `close`/`abort` the
    /// datagram is dropped silently (a warning for the first and then each
    /// power-of-two count).
    fn sendto(&mut self, data: &[u8], addr: Option<&Address>) -> Result<(), WriteError>;

    /// Flushes what is queued, then closes; `ConnectionLost(None)` follows
    /// on a later loop iteration.
    fn close(&mut self);

    /// Closes at once, dropping what is queued; `ConnectionLost(None)`
    /// follows.
    fn abort(&mut self);

    /// True once `close`, `abort` or loss began.
    fn is_closing(&self) -> bool;

    /// Bytes queued in user space: each datagram counts its length plus 8
    /// (so empty datagrams count too, as in asyncio 3.13).
    fn get_write_buffer_size(&self) -> usize;

    /// The current watermarks.
    fn get_write_buffer_limits(&self) -> WriteLimits;

    /// Sets the watermarks and re-evaluates them at once, which may queue a
    /// `PauseWriting`.
    fn set_write_buffer_limits(
        &mut self,
        high: Option<usize>,
        low: Option<usize>,
    ) -> Result<(), LimitsError>;

    /// `get_extra_info('peername')`: the connected peer, if any.
    fn peername(&self) -> Option<Address>;

    /// `get_extra_info('sockname')`.
    fn sockname(&self) -> Option<Address>;

    /// `get_extra_info('socket')`: the raw descriptor while it is open.
    fn fileno(&self) -> Option<RawFd>;

    /// The socket, borrowed for typed option access; `None` once closed.
    fn socket(&self) -> Option<SocketRef<'_>>;

    /// The address other actors can use to send this endpoint's protocol
    /// `DatagramEvent::Message`s.
    fn addr(&self) -> Option<Addr<M>>
    where
        M: Send,
    {
        None
    }
}

/// A command to a datagram transport from outside its protocol, applied on
/// the loop thread in the order sent.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum DatagramCommand {
    /// `transport.sendto(data, addr)` (checked by the handle already).
    SendTo {
        /// The datagram.
        data: Bytes,
        /// Where to, or `None` for the connected peer.
        addr: Option<Address>,
    },
    /// `transport.close()`.
    Close,
    /// `transport.abort()`.
    Abort,
    /// `transport.set_write_buffer_limits(high, low)`.
    SetWriteBufferLimits {
        /// The high-water mark.
        high: Option<usize>,
        /// The low-water mark.
        low: Option<usize>,
    },
}
