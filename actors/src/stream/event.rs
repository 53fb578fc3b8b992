//! One event on its way to a stream protocol, and its delivery to whichever
//! kind of protocol (plain or buffered) the transport holds right now.

use bytes::Bytes;
use switchboard_protocols::{
    AnyStreamProtocol, BufferedEvent, ProtocolError, StreamEvent, StreamTransport, TransportError,
};

/// One event on its way to the protocol, whichever kind it is.
pub(crate) enum Ev<M> {
    Made,
    Data(Bytes),
    Updated(usize),
    Eof,
    Pause,
    Resume,
    Lost(Option<TransportError>),
    Message(M),
    Timer(u32),
    /// TLS only: process what the TLS layer holds (input it could not take
    /// while reading was paused, plaintext not yet delivered).
    Pump,
    /// TLS only: the TLS layer's own timer (generation `u32`) fired.
    TlsTimer(u32),
}

impl<M> Ev<M> {
    /// asyncio's callback name, for error reports.
    pub(crate) fn callback(&self) -> &'static str {
        match self {
            Ev::Made => "connection_made",
            Ev::Data(_) => "data_received",
            Ev::Updated(_) => "buffer_updated",
            Ev::Eof => "eof_received",
            Ev::Pause => "pause_writing",
            Ev::Resume => "resume_writing",
            Ev::Lost(_) => "connection_lost",
            Ev::Message(_) => "message",
            Ev::Timer(_) => "timer_fired",
            Ev::Pump => "data_received",
            Ev::TlsTimer(_) => "tls_timer",
        }
    }
}

/// Delivers `ev` to the application's protocol, which sees `core` as its
/// transport (the socket's own, or the TLS layer's).
pub(crate) fn dispatch<M: 'static>(
    protocol: &mut AnyStreamProtocol<M>,
    ev: Ev<M>,
    core: &mut dyn StreamTransport<M>,
) -> Result<(), ProtocolError> {
    match protocol {
        AnyStreamProtocol::Stream(p) => {
            let ev = match ev {
                Ev::Made => StreamEvent::ConnectionMade,
                Ev::Data(b) => StreamEvent::DataReceived(b),
                // A buffered read raced a switch to a plain protocol: nothing to say.
                Ev::Updated(_) => return Ok(()),
                Ev::Eof => StreamEvent::EofReceived,
                Ev::Pause => StreamEvent::PauseWriting,
                Ev::Resume => StreamEvent::ResumeWriting,
                Ev::Lost(r) => StreamEvent::ConnectionLost(r),
                Ev::Message(m) => StreamEvent::Message(m),
                Ev::Timer(t) => StreamEvent::TimerFired(t),
                Ev::Pump | Ev::TlsTimer(_) => return Ok(()),
            };
            p.handle(ev, core)
        }
        AnyStreamProtocol::Buffered(p) => {
            let ev = match ev {
                Ev::Made => BufferedEvent::ConnectionMade,
                // Data read for a plain protocol that then switched: hand it over
                // through the new protocol's buffer.
                Ev::Data(b) => return feed_buffered(p.as_mut(), b, core),
                Ev::Updated(n) => BufferedEvent::BufferUpdated(n),
                Ev::Eof => BufferedEvent::EofReceived,
                Ev::Pause => BufferedEvent::PauseWriting,
                Ev::Resume => BufferedEvent::ResumeWriting,
                Ev::Lost(r) => BufferedEvent::ConnectionLost(r),
                Ev::Message(m) => BufferedEvent::Message(m),
                Ev::Timer(t) => BufferedEvent::TimerFired(t),
                Ev::Pump | Ev::TlsTimer(_) => return Ok(()),
            };
            p.handle(ev, core)
        }
    }
}

/// Copies `data` through a buffered protocol's buffers, chunk by chunk.
fn feed_buffered<M: 'static>(
    p: &mut dyn switchboard_protocols::BufferedProtocol<M>,
    mut data: Bytes,
    core: &mut dyn StreamTransport<M>,
) -> Result<(), ProtocolError> {
    while !data.is_empty() {
        let buf = p.get_buffer(-1);
        if buf.is_empty() {
            return Err(ProtocolError::failed(
                "get_buffer() returned an empty buffer",
            ));
        }
        let n = buf.len().min(data.len());
        buf[..n].copy_from_slice(&data[..n]);
        let _ = data.split_to(n);
        p.handle(BufferedEvent::BufferUpdated(n), core)?;
    }
    Ok(())
}
