//! A handle on a datagram transport, held outside the loop's actors.

use std::fmt;
use std::rc::Rc;

use bytes::Bytes;
use switchboard_actors::datagram::DATAGRAM_HEADER_SIZE;
use switchboard_actors::stream::StreamInfo;
use switchboard_protocols::{ActorId, Addr, Address, DatagramCommand, WriteError};

use crate::event_loop::EventLoop;

/// A handle on a datagram transport the loop owns (asyncio's
/// `DatagramTransport` seen from outside its protocol). Each method is a
/// command the loop applies on its thread, in order, after the current
/// callback returns; queries answer as asyncio's would right after the call
/// (`is_closing()` at once after `close()`, the write-buffer size counting
/// datagrams not yet taken by the transport).
#[derive(Clone)]
pub struct DatagramHandle {
    pub(crate) lp: EventLoop,
    pub(crate) id: ActorId,
    /// The endpoint's incarnation in row `id`: once it ended, commands are
    /// dropped, never given to a later tenant of the row.
    pub(crate) gen: u64,
    pub(crate) info: Rc<StreamInfo>,
}

impl DatagramHandle {
    fn command(&self, cmd: DatagramCommand) {
        if !self.lp.is_closed() && !self.info.is_lost() {
            crate::routing::deliver(&self.lp.core, self.id, self.gen, Box::new(cmd));
        }
    }

    /// `transport.sendto(data, addr)`: one datagram to `addr`, or to the
    /// connected peer with `None`. On a connected endpoint an address other
    /// than the peer's is [`WriteError::InvalidAddress`], as is `None` on an
    /// unconnected one. An empty datagram is sent too. After `close()` or
    /// `abort()` the datagram is dropped (with a warning for the first one).
    /// OS errors reach the protocol as `ErrorReceived`.
    pub fn sendto(&self, data: impl Into<Bytes>, addr: Option<&Address>) -> Result<(), WriteError> {
        let to = match (self.info.peername.as_ref(), addr) {
            (Some(_), None) => None,
            (Some(p), Some(a)) if a == p => None,
            (Some(_), Some(_)) => {
                return Err(WriteError::InvalidAddress {
                    reason: "must be None or the connected peer's address",
                })
            }
            (None, None) => {
                return Err(WriteError::InvalidAddress {
                    reason: "an address is required on an unconnected endpoint",
                })
            }
            (None, Some(a)) => Some(a.clone()),
        };
        let data = data.into();
        if self.info.is_closing() {
            self.info.drop_write(data.len(), || format!("{self:?}"));
            return Ok(());
        }
        self.info.add_pending(data.len() + DATAGRAM_HEADER_SIZE);
        self.command(DatagramCommand::SendTo { data, addr: to });
        Ok(())
    }

    /// `transport.close()`: flush the queued datagrams, then
    /// `ConnectionLost(None)`. Closing at once.
    pub fn close(&self) {
        self.info.mark_closing();
        self.command(DatagramCommand::Close);
    }

    /// `transport.abort()`: drop the queue; `ConnectionLost(None)` follows.
    pub fn abort(&self) {
        self.info.mark_closing();
        self.command(DatagramCommand::Abort);
    }

    /// `transport.is_closing()`.
    pub fn is_closing(&self) -> bool {
        self.info.is_closing()
    }

    /// True once `ConnectionLost` was delivered to the protocol.
    pub fn is_lost(&self) -> bool {
        self.info.is_lost()
    }

    /// `transport.get_write_buffer_size()`: each queued datagram counts its
    /// length plus 8.
    pub fn get_write_buffer_size(&self) -> usize {
        self.info.write_buffer_size()
    }

    /// `transport.set_write_buffer_limits(high, low)`.
    pub fn set_write_buffer_limits(&self, high: Option<usize>, low: Option<usize>) {
        self.command(DatagramCommand::SetWriteBufferLimits { high, low });
    }

    /// `get_extra_info('peername')`: the connected peer, if any.
    pub fn peername(&self) -> Option<Address> {
        self.info.peername.clone()
    }

    /// `get_extra_info('sockname')`.
    pub fn sockname(&self) -> Option<Address> {
        self.info.sockname.clone()
    }

    /// `get_extra_info('socket')`: the descriptor while the socket is open.
    pub fn fileno(&self) -> Option<std::os::fd::RawFd> {
        self.info.fileno()
    }

    /// The transport actor's id.
    pub fn id(&self) -> ActorId {
        self.id
    }
}

impl fmt::Debug for DatagramHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatagramHandle")
            .field("id", &self.id)
            .field("local", &self.info.sockname)
            .field("peer", &self.info.peername)
            .field("closing", &self.info.is_closing())
            .finish()
    }
}

/// What `create_datagram_endpoint` gives: the transport handle and the
/// address of the protocol (asyncio's `(transport, protocol)`).
#[derive(Debug, Clone)]
pub struct DatagramEndpoint<M> {
    /// The transport.
    pub transport: DatagramHandle,
    /// Sends `DatagramEvent::Message`s to the protocol.
    pub protocol: Addr<M>,
}
