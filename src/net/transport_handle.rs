//! Handles on a stream transport and its protocol, held outside the loop's actors.

use std::fmt;
use std::rc::Rc;

use bytes::Bytes;
use switchboard_actors::stream::StreamInfo;
use switchboard_protocols::{ActorId, Addr, Address, PeerCredentials, StreamCommand, WriteError};

use crate::event_loop::EventLoop;

/// A handle on a stream transport the loop owns (asyncio's `Transport` seen from
/// outside its protocol). Over TLS, its commands go through the TLS layer
/// like the protocol's own calls: a write is encrypted, a close sends
/// close_notify first. Each method is a command the loop applies on its
/// thread, in order, after the current callback returns; queries read facts the
/// transport keeps current. Inside its handler a protocol calls its transport
/// directly instead.
///
/// Queries answer as asyncio's do right after a call, before the loop has
/// applied it: `is_closing()` is true at once after [`close`](Self::close) or
/// [`abort`](Self::abort), [`is_reading`](Self::is_reading) follows
/// `pause_reading`/`resume_reading`, and
/// [`get_write_buffer_size`](Self::get_write_buffer_size) counts what
/// [`write`](Self::write) was given until the transport takes it.
///
/// A handle names one connection, not a row of the loop's table: once its
/// connection is lost, every method does nothing (queries answer for the
/// lost connection), and no command reaches a later connection that got the
/// same [`ActorId`].
///
/// The verbs it shares with [`StreamTransport`](crate::StreamTransport) take
/// the same arguments and fail the same way, so code moves between a handler
/// and a handle unchanged:
///
/// ```
/// # #[allow(dead_code)]
/// # fn demo(h: &switchboard::TransportHandle) -> Result<(), switchboard::WriteError> {
/// h.write(b"hello\r\n")?;                       // &[u8], as `t.write`
/// h.write_bytes(switchboard::Bytes::from("x"))?; // owned, as `t.write_bytes`
/// h.write_eof()?;                                // Err over TLS, as `t.write_eof`
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct TransportHandle {
    pub(crate) lp: EventLoop,
    pub(crate) id: ActorId,
    /// The connection's incarnation in row `id`.
    pub(crate) gen: u64,
    pub(crate) info: Rc<StreamInfo>,
}

impl TransportHandle {
    fn command(&self, cmd: StreamCommand) {
        // On a closed loop the transport is gone already; the command is moot.
        // The incarnation goes with it: a command applied after this
        // connection ended is dropped, never given to the row's next tenant.
        if !self.lp.is_closed() && !self.info.is_lost() {
            crate::routing::deliver(&self.lp.core, self.id, self.gen, Box::new(cmd));
        }
    }

    /// `transport.write(data)`, as [`StreamTransport::write`]: empty data
    /// does nothing; after `close()`, `abort()` or loss the data is dropped
    /// (with a warning for the first such write, and each later one whose
    /// count is a power of two) and this is still `Ok`; after
    /// [`write_eof`](Self::write_eof) it is [`WriteError::AfterWriteEof`],
    /// and while `loop.sendfile` runs on the transport
    /// [`WriteError::SendfileInProgress`]. The bytes are copied once; see
    /// [`write_bytes`](Self::write_bytes) to hand over owned bytes.
    ///
    /// [`StreamTransport::write`]: crate::StreamTransport::write
    pub fn write(&self, data: &[u8]) -> Result<(), WriteError> {
        if data.is_empty() {
            return Ok(());
        }
        self.write_bytes(Bytes::copy_from_slice(data))
    }

    /// `write` with owned bytes (no copy), as
    /// [`StreamTransport::write_bytes`](crate::StreamTransport::write_bytes).
    pub fn write_bytes(&self, data: Bytes) -> Result<(), WriteError> {
        if data.is_empty() {
            return Ok(());
        }
        if self.info.is_closing() || self.info.is_lost() {
            self.info.drop_write(data.len(), || format!("{self:?}"));
            return Ok(());
        }
        if self.info.is_eof_written() {
            return Err(WriteError::AfterWriteEof);
        }
        if self.info.is_sendfile() {
            return Err(WriteError::SendfileInProgress);
        }
        self.info.add_pending(data.len());
        self.command(StreamCommand::Write(data));
        Ok(())
    }

    /// [`write_bytes`](Self::write_bytes), applied at once when the
    /// transport is not being called and no write of a handle is still
    /// queued for it (so the order of writes holds): the bytes reach the
    /// socket now, as asyncio's `write` sends at once, not a loop turn
    /// later. For the streams layer, whose writers run in tasks between the
    /// transport's events.
    pub(crate) fn write_now(&self, data: Bytes) -> Result<(), WriteError> {
        if data.is_empty() || !self.info.is_pending_taken() || self.lp.is_closed() {
            return self.write_bytes(data);
        }
        if self.info.is_closing() || self.info.is_lost() {
            self.info.drop_write(data.len(), || format!("{self:?}"));
            return Ok(());
        }
        if self.info.is_eof_written() {
            return Err(WriteError::AfterWriteEof);
        }
        if self.info.is_sendfile() {
            return Err(WriteError::SendfileInProgress);
        }
        self.info.add_pending(data.len());
        let cmd: Box<dyn std::any::Any> = Box::new(StreamCommand::Write(data));
        if let Err(cmd) = crate::routing::deliver_now(&self.lp.core, self.id, self.gen, cmd) {
            crate::routing::deliver(&self.lp.core, self.id, self.gen, cmd);
        }
        Ok(())
    }

    /// `transport.writelines(list)`: every buffer, in order, as one write.
    pub fn writelines(&self, list: &[&[u8]]) -> Result<(), WriteError> {
        let total = list.iter().map(|b| b.len()).sum();
        let mut all = bytes::BytesMut::with_capacity(total);
        for b in list {
            all.extend_from_slice(b);
        }
        self.write_bytes(all.freeze())
    }

    /// `transport.write_eof()`, as
    /// [`StreamTransport::write_eof`](crate::StreamTransport::write_eof):
    /// flushes, then shuts the write side once; a second call or a call
    /// after close does nothing. Over TLS, which cannot half-close, it is
    /// [`WriteError::EofNotSupported`] and the connection goes on; close it
    /// instead.
    pub fn write_eof(&self) -> Result<(), WriteError> {
        if self.info.has_tls_layer() {
            return Err(WriteError::EofNotSupported);
        }
        if self.info.is_closing() || self.info.is_lost() || self.info.is_eof_written() {
            return Ok(());
        }
        self.info.mark_eof_written();
        self.command(StreamCommand::WriteEof);
        Ok(())
    }

    /// `transport.can_write_eof()`: false over TLS.
    pub fn can_write_eof(&self) -> bool {
        !self.info.has_tls_layer()
    }

    /// `transport.close()`: flush, then `ConnectionLost(None)`. Closing at
    /// once.
    pub fn close(&self) {
        self.info.mark_closing();
        self.command(StreamCommand::Close);
    }

    /// `transport.abort()`. Closing at once.
    pub fn abort(&self) {
        self.info.mark_closing();
        self.command(StreamCommand::Abort);
    }

    /// `transport.pause_reading()`.
    pub fn pause_reading(&self) {
        self.info.mark_reading(false);
        self.command(StreamCommand::PauseReading);
    }

    /// `transport.resume_reading()`; no effect once closing or after EOF.
    pub fn resume_reading(&self) {
        self.info.mark_reading(true);
        self.command(StreamCommand::ResumeReading);
    }

    /// `transport.set_write_buffer_limits(high, low)`.
    pub fn set_write_buffer_limits(&self, high: Option<usize>, low: Option<usize>) {
        self.command(StreamCommand::SetWriteBufferLimits { high, low });
    }

    /// `transport.is_closing()`.
    pub fn is_closing(&self) -> bool {
        self.info.is_closing()
    }

    /// `transport.is_reading()`: what was asked for. A transport whose write
    /// buffer is above its high-water mark also holds reading on its own
    /// (read-side backpressure), which does not show here.
    pub fn is_reading(&self) -> bool {
        self.info.is_reading()
    }

    /// True once `ConnectionLost` was delivered to the protocol.
    pub fn is_lost(&self) -> bool {
        self.info.is_lost()
    }

    /// `transport.get_write_buffer_size()`, including what was written
    /// through a handle and not yet taken by the transport.
    pub fn get_write_buffer_size(&self) -> usize {
        self.info.write_buffer_size()
    }

    /// `get_extra_info('peername')`; still readable after close.
    pub fn peername(&self) -> Option<Address> {
        self.info.peername.clone()
    }

    /// `get_extra_info('sockname')`; still readable after close.
    pub fn sockname(&self) -> Option<Address> {
        self.info.sockname.clone()
    }

    /// `get_extra_info('socket')`: the socket's descriptor while it is open
    /// (for socket options or inspection), `None` once the transport closed it.
    pub fn fileno(&self) -> Option<std::os::fd::RawFd> {
        self.info.fileno()
    }

    /// The peer process of a Unix-domain connection (`SO_PEERCRED`: pid,
    /// uid, gid), while the socket is open; `None` for TCP or where the OS
    /// does not tell. Inside a handler: `t.socket()?.peer_credentials()`.
    pub fn peer_credentials(&self) -> Option<PeerCredentials> {
        self.info.peer_credentials()
    }

    /// The TLS session's facts (asyncio's SSL keys of `get_extra_info`:
    /// version, cipher, peer certificates, ALPN, SNI): `Some` on a TLS
    /// transport once its handshake is complete.
    pub fn tls(&self) -> Option<switchboard_protocols::TlsInfo> {
        self.info.tls()
    }

    /// The transport actor's id.
    pub fn id(&self) -> ActorId {
        self.id
    }
}

impl fmt::Debug for TransportHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportHandle")
            .field("id", &self.id)
            .field("peer", &self.info.peername)
            .field("closing", &self.info.is_closing())
            .finish()
    }
}

/// What `create_connection` and `connect_accepted_socket` give: the transport
/// handle and the address of the protocol (asyncio's `(transport, protocol)`).
#[derive(Debug, Clone)]
pub struct Connection<M> {
    /// The transport.
    pub transport: TransportHandle,
    /// Sends `StreamEvent::Message`s to the protocol.
    pub protocol: Addr<M>,
}
