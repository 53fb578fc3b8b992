//! A stand-in for the loop: drives one protocol through a [`FakeTransport`].

use std::fmt;

use bytes::Bytes;

use super::fake_transport::FakeTransport;
use crate::error::{ProtocolError, TransportError};
use crate::message::NoMessage;
use crate::stream::{
    AnyStreamProtocol, BufferedEvent, BufferedProtocol, StreamEvent, StreamProtocol,
    StreamTransport,
};

/// How far the fake connection got. Moves only forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    /// Before `connect()`.
    Idle,
    /// `ConnectionMade` was delivered.
    Connected,
    /// `EofReceived` was delivered.
    EofReceived,
    /// `ConnectionLost` was delivered; nothing more will be.
    Lost,
}

/// An event that both protocol kinds share.
enum Shared<M> {
    Made,
    Eof,
    Pause,
    Resume,
    Lost(Option<TransportError>),
    Message(M),
}

/// Drives one protocol the way a stream transport and the loop would, but
/// synchronously and in memory, so a protocol can be unit-tested without a
/// socket (twisted's `StringTransport` plus a tiny loop).
///
/// It keeps the stream grammar whatever the test asks: a call that would break
/// it (data before `connect`, anything after the loss) does nothing. Like the
/// real transport it
/// - closes after `EofReceived` unless the handler called `keep_open()` (H3);
/// - delivers `ConnectionLost(None)` once, right after the handler that
///   closed or aborted returns (G2: never inside `close()`);
/// - stops delivering data once the transport is closing (G1);
/// - on a handler error, aborts and delivers
///   `ConnectionLost(Some(ProtocolFailed))`, then returns the error (S6);
/// - honours `set_protocol()` after the handler returns (S8);
/// - hands a buffered protocol the data through `get_buffer(-1)` in as many
///   reads as its buffer needs (B1, B4); an empty buffer is fatal (B3).
///
/// It does not hold data back while reading is paused: the test decides what
/// arrives.
///
/// ```
/// use switchboard::ready_made::Echo;
/// use switchboard::testing::FakeConnection;
///
/// let mut conn = FakeConnection::new(Echo);
/// conn.connect()?;
/// conn.receive_bytewise(b"hello")?; // five DataReceived events
/// assert_eq!(conn.transport().written(), b"hello");
/// conn.receive_eof()?;              // Echo does not keep the write side open
/// assert!(conn.is_lost());
/// # Ok::<(), switchboard::ProtocolError>(())
/// ```
pub struct FakeConnection<M: 'static = NoMessage> {
    protocol: AnyStreamProtocol<M>,
    transport: FakeTransport<M>,
    phase: Phase,
    writing_paused: bool,
}

impl<M: 'static> fmt::Debug for FakeConnection<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeConnection")
            .field("protocol", &self.protocol)
            .field("transport", &self.transport)
            .field("phase", &self.phase)
            .field("writing_paused", &self.writing_paused)
            .finish()
    }
}

impl FakeConnection {
    /// A connection for a [`StreamProtocol`] without application messages.
    pub fn new(protocol: impl StreamProtocol) -> Self {
        Self::from_protocol(AnyStreamProtocol::Stream(Box::new(protocol)))
    }

    /// A connection for a [`BufferedProtocol`] without application messages.
    pub fn buffered(protocol: impl BufferedProtocol) -> Self {
        Self::from_protocol(AnyStreamProtocol::Buffered(Box::new(protocol)))
    }
}

impl<M: 'static> FakeConnection<M> {
    /// A connection for either kind of protocol, with any message type.
    pub fn from_protocol(protocol: AnyStreamProtocol<M>) -> Self {
        FakeConnection {
            protocol,
            transport: FakeTransport::default(),
            phase: Phase::Idle,
            writing_paused: false,
        }
    }

    /// The transport, to look at what the protocol did.
    pub fn transport(&self) -> &FakeTransport<M> {
        &self.transport
    }

    /// The transport, to set it up (peername, …) or take what was written.
    pub fn transport_mut(&mut self) -> &mut FakeTransport<M> {
        &mut self.transport
    }

    /// True once `ConnectionLost` was delivered.
    pub fn is_lost(&self) -> bool {
        self.phase == Phase::Lost
    }

    /// Delivers `ConnectionMade` (once).
    pub fn connect(&mut self) -> Result<(), ProtocolError> {
        if self.phase != Phase::Idle {
            return Ok(());
        }
        self.phase = Phase::Connected;
        self.deliver(Shared::Made)
    }

    /// Delivers `data` as one read: one `DataReceived`, or as many
    /// `get_buffer`/`BufferUpdated` rounds as the buffer needs. Empty data,
    /// data before `connect` or after EOF, and data after a close are dropped.
    pub fn receive(&mut self, data: &[u8]) -> Result<(), ProtocolError> {
        let mut rest = data;
        while !rest.is_empty() && self.phase == Phase::Connected && !self.transport.closed() {
            let result = match &mut self.protocol {
                AnyStreamProtocol::Stream(p) => {
                    let event = StreamEvent::DataReceived(Bytes::copy_from_slice(rest));
                    rest = &[];
                    p.handle(event, &mut self.transport)
                }
                AnyStreamProtocol::Buffered(p) => {
                    let buffer = p.get_buffer(-1);
                    if buffer.is_empty() {
                        self.transport.abort();
                        self.lost(Some(TransportError::EmptyBuffer))?;
                        return Err(ProtocolError::failed(
                            TransportError::EmptyBuffer.to_string(),
                        ));
                    }
                    let n = buffer.len().min(rest.len());
                    buffer[..n].copy_from_slice(&rest[..n]);
                    rest = &rest[n..];
                    p.handle(BufferedEvent::BufferUpdated(n), &mut self.transport)
                }
            };
            self.after(result)?;
        }
        Ok(())
    }

    /// Delivers `data` in reads of at most `chunk` bytes (0 counts as 1).
    pub fn receive_in_chunks(&mut self, data: &[u8], chunk: usize) -> Result<(), ProtocolError> {
        data.chunks(chunk.max(1))
            .try_for_each(|piece| self.receive(piece))
    }

    /// Delivers `data` one byte per read, the worst case for a framer.
    pub fn receive_bytewise(&mut self, data: &[u8]) -> Result<(), ProtocolError> {
        self.receive_in_chunks(data, 1)
    }

    /// Delivers `EofReceived` (once, while connected and not closing); then
    /// closes unless the handler called `keep_open()`.
    pub fn receive_eof(&mut self) -> Result<(), ProtocolError> {
        if self.phase != Phase::Connected || self.transport.closed() {
            return Ok(());
        }
        self.phase = Phase::EofReceived;
        self.deliver(Shared::Eof)
    }

    /// Delivers `PauseWriting`, if writing is not paused already.
    pub fn pause_writing(&mut self) -> Result<(), ProtocolError> {
        if self.writing_paused || !self.is_live() {
            return Ok(());
        }
        self.writing_paused = true;
        self.deliver(Shared::Pause)
    }

    /// Delivers `ResumeWriting`, if writing is paused.
    pub fn resume_writing(&mut self) -> Result<(), ProtocolError> {
        if !self.writing_paused || !self.is_live() {
            return Ok(());
        }
        self.writing_paused = false;
        self.deliver(Shared::Resume)
    }

    /// Delivers an application message.
    pub fn message(&mut self, message: M) -> Result<(), ProtocolError> {
        if !self.is_live() {
            return Ok(());
        }
        self.deliver(Shared::Message(message))
    }

    /// Loses the connection (a reset, say) and delivers
    /// `ConnectionLost(reason)`, unless it was delivered already.
    pub fn lose(&mut self, reason: Option<TransportError>) -> Result<(), ProtocolError> {
        if !self.is_live() {
            return Ok(());
        }
        self.transport.lose();
        self.lost(reason)
    }

    /// Closes the transport from outside (a handle's `close()`), then
    /// delivers `ConnectionLost(None)` unless it was delivered already.
    pub fn close(&mut self) -> Result<(), ProtocolError> {
        self.end(|t| t.close())
    }

    /// Aborts the transport from outside, then delivers `ConnectionLost(None)`
    /// unless it was delivered already.
    pub fn abort(&mut self) -> Result<(), ProtocolError> {
        self.end(|t| t.abort())
    }

    fn end(&mut self, how: impl FnOnce(&mut FakeTransport<M>)) -> Result<(), ProtocolError> {
        how(&mut self.transport);
        if self.is_live() {
            self.lost(None)?;
        }
        Ok(())
    }

    fn is_live(&self) -> bool {
        matches!(self.phase, Phase::Connected | Phase::EofReceived)
    }

    fn deliver(&mut self, event: Shared<M>) -> Result<(), ProtocolError> {
        let is_eof = matches!(event, Shared::Eof);
        let result = self.dispatch(event);
        if is_eof && result.is_ok() && !self.transport.kept_open() {
            self.transport.close();
        }
        self.after(result)
    }

    fn dispatch(&mut self, event: Shared<M>) -> Result<(), ProtocolError> {
        let t = &mut self.transport;
        match &mut self.protocol {
            AnyStreamProtocol::Stream(p) => p.handle(
                match event {
                    Shared::Made => StreamEvent::ConnectionMade,
                    Shared::Eof => StreamEvent::EofReceived,
                    Shared::Pause => StreamEvent::PauseWriting,
                    Shared::Resume => StreamEvent::ResumeWriting,
                    Shared::Lost(reason) => StreamEvent::ConnectionLost(reason),
                    Shared::Message(m) => StreamEvent::Message(m),
                },
                t,
            ),
            AnyStreamProtocol::Buffered(p) => p.handle(
                match event {
                    Shared::Made => BufferedEvent::ConnectionMade,
                    Shared::Eof => BufferedEvent::EofReceived,
                    Shared::Pause => BufferedEvent::PauseWriting,
                    Shared::Resume => BufferedEvent::ResumeWriting,
                    Shared::Lost(reason) => BufferedEvent::ConnectionLost(reason),
                    Shared::Message(m) => BufferedEvent::Message(m),
                },
                t,
            ),
        }
    }

    /// What the loop does when a handler returns: switch protocols, report a
    /// failure, and deliver the loss a close or abort queued.
    fn after(&mut self, result: Result<(), ProtocolError>) -> Result<(), ProtocolError> {
        if let Some(next) = self.transport.take_new_protocol() {
            self.protocol = next;
        }
        if let Err(err) = result {
            self.transport.abort();
            let reason = TransportError::ProtocolFailed {
                message: err.to_string(),
            };
            self.lost(Some(reason))?;
            return Err(err);
        }
        if self.transport.closed() {
            self.lost(None)?;
        }
        Ok(())
    }

    fn lost(&mut self, reason: Option<TransportError>) -> Result<(), ProtocolError> {
        if self.phase == Phase::Lost {
            return Ok(());
        }
        self.phase = Phase::Lost;
        // Protocol switch from inside ConnectionLost has nowhere to go.
        self.dispatch(Shared::Lost(reason))
    }
}

#[cfg(test)]
mod tests;
