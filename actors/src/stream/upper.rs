//! What sits above a stream transport's socket: the application's protocol,
//! or a TLS session wrapping it (see `tls`).

use switchboard_protocols::{
    AnyStreamProtocol, ProtocolError, StreamCommand, StreamEvent, StreamProtocol, StreamTransport,
};

use crate::context::LoopContext;
use crate::stream::core::Core;
use crate::stream::event::{dispatch, Ev};
use crate::stream::socket::StreamSocket;
use crate::stream::tls::{TlsSession, TlsView};

/// The protocol slot of a stream transport.
pub(crate) enum Upper<M: 'static> {
    /// The application's protocol, straight on the socket.
    Plain(AnyStreamProtocol<M>),
    /// A TLS session, with the application's protocol above it.
    Tls(Box<TlsSession<M>>),
}

/// Stands in for a protocol while it is moved into a TLS session.
struct Detached;

impl<M: 'static> StreamProtocol<M> for Detached {
    fn handle(
        &mut self,
        _event: StreamEvent<M>,
        _t: &mut dyn StreamTransport<M>,
    ) -> Result<(), ProtocolError> {
        Ok(())
    }
}

impl<M: 'static> Upper<M> {
    /// Delivers one event from the socket's side.
    pub(crate) fn dispatch<S: StreamSocket>(
        &mut self,
        ev: Ev<M>,
        core: &mut Core<S, M>,
        cx: &mut dyn LoopContext,
    ) -> Result<(), ProtocolError> {
        match self {
            Upper::Plain(p) => dispatch(p, ev, core),
            Upper::Tls(s) => {
                let r = s.handle(ev, core, cx);
                // The end of the step: what it wrote leaves in one go.
                s.st.flush(core);
                r
            }
        }
    }

    /// The application's protocol (under the TLS session, if any).
    pub(crate) fn app(&self) -> &AnyStreamProtocol<M> {
        match self {
            Upper::Plain(p) => p,
            Upper::Tls(s) => &s.app,
        }
    }

    /// `set_protocol`: the application's protocol changes, the TLS session
    /// (if any) stays.
    pub(crate) fn set_app(&mut self, protocol: AnyStreamProtocol<M>) {
        match self {
            Upper::Plain(p) => *p = protocol,
            Upper::Tls(s) => s.app = protocol,
        }
    }

    /// The application's protocol, taken out of a plain slot (which is left
    /// with a stand-in until a TLS session is put there).
    pub(crate) fn take_plain(&mut self) -> Option<AnyStreamProtocol<M>> {
        match self {
            Upper::Plain(p) => Some(std::mem::replace(
                p,
                AnyStreamProtocol::Stream(Box::new(Detached) as Box<dyn StreamProtocol<M>>),
            )),
            Upper::Tls(_) => None,
        }
    }

    /// Applies a command from a handle held outside the actor to the
    /// transport the protocol sees; returns why it was refused, if it was.
    pub(crate) fn command<S: StreamSocket>(
        &mut self,
        cmd: StreamCommand,
        core: &mut Core<S, M>,
    ) -> Option<String> {
        match self {
            Upper::Plain(_) => apply(cmd, core),
            Upper::Tls(s) => {
                let refused = apply(cmd, &mut TlsView::new(&mut s.st, core));
                s.st.flush(core);
                refused
            }
        }
    }
}

fn apply<M: 'static>(cmd: StreamCommand, t: &mut dyn StreamTransport<M>) -> Option<String> {
    match cmd {
        StreamCommand::Write(b) => t.write_bytes(b).err().map(|e| e.to_string()),
        StreamCommand::WriteEof => t.write_eof().err().map(|e| e.to_string()),
        StreamCommand::Close => {
            t.close();
            None
        }
        StreamCommand::Abort => {
            t.abort();
            None
        }
        StreamCommand::PauseReading => {
            t.pause_reading();
            None
        }
        StreamCommand::ResumeReading => {
            t.resume_reading();
            None
        }
        StreamCommand::SetWriteBufferLimits { high, low } => t
            .set_write_buffer_limits(high, low)
            .err()
            .map(|e| e.to_string()),
        _ => None,
    }
}
