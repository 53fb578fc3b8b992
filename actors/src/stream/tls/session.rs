//! The TLS session of one connection: a rustls connection between the
//! socket's events (ciphertext) and the application protocol's (plaintext).

use std::io::{self, Read};

use bytes::Bytes;
use switchboard_protocols::{
    AnyStreamProtocol, Exception, ExceptionContext, ProtocolError, TlsError, TransportError,
};

use crate::context::LoopContext;
use crate::stream::core::{Core, Phase, ReadSide};
use crate::stream::event::{dispatch, Ev};
use crate::stream::socket::StreamSocket;
use crate::stream::tls::setup::TlsSetup;
use crate::stream::tls::state::{end_of, Plain, TlsPhase, TlsState, PLAINTEXT_HELD};
use crate::stream::tls::view::TlsView;
use crate::stream::tls::MadeHook;

/// A TLS session and the application protocol above it.
pub(crate) struct TlsSession<M: 'static> {
    pub(crate) app: AnyStreamProtocol<M>,
    pub(crate) st: TlsState,
}

impl<M: 'static> TlsSession<M> {
    /// A session for `app`; `app_made` when the application has already seen
    /// `ConnectionMade` (`start_tls`). `leftover` is ciphertext received past
    /// the upgrade point.
    pub(crate) fn new(
        app: AnyStreamProtocol<M>,
        setup: TlsSetup,
        app_made: bool,
        leftover: Bytes,
        on_made: Option<MadeHook>,
    ) -> Result<Self, TlsError> {
        let conn = setup.side.connect()?;
        Ok(TlsSession {
            app,
            st: TlsState {
                conn,
                phase: TlsPhase::Handshaking {
                    close_requested: false,
                },
                app_made,
                eof_delivered: false,
                input: leftover,
                handshake_timeout: setup.handshake_timeout,
                shutdown_timeout: setup.shutdown_timeout,
                timer_gen: 0,
                on_made,
                info: None,
                early: 0,
                unflushed: 0,
                plaintext: 0,
                sni: setup.side.sni(),
            },
        })
    }

    /// Handles one event from the socket's side.
    pub(crate) fn handle<S: StreamSocket>(
        &mut self,
        ev: Ev<M>,
        core: &mut Core<S, M>,
        cx: &mut dyn LoopContext,
    ) -> Result<(), ProtocolError> {
        match ev {
            Ev::Made => {
                // The socket is up: start the handshake (a client's hello).
                self.st.flush(core);
                let timeout = self.st.handshake_timeout;
                self.st.arm(core, timeout);
                self.pump(core, cx)
            }
            Ev::Data(b) => {
                if self.st.input.is_empty() {
                    self.st.input = b;
                } else {
                    let mut all = bytes::BytesMut::with_capacity(self.st.input.len() + b.len());
                    all.extend_from_slice(&self.st.input);
                    all.extend_from_slice(&b);
                    self.st.input = all.freeze();
                }
                self.pump(core, cx)
            }
            Ev::Pump => self.pump(core, cx),
            Ev::Updated(_) => Ok(()),
            Ev::Eof => self.on_socket_eof(core, cx),
            Ev::TlsTimer(gen) => {
                self.st.on_timer(gen, core, cx);
                Ok(())
            }
            Ev::Lost(reason) => {
                self.st.phase = TlsPhase::Over;
                if let Some(hook) = self.st.on_made.take() {
                    hook(Err(reason.clone().unwrap_or_else(|| {
                        TransportError::Tls(TlsError::Handshake {
                            reason: "the connection closed during the handshake".into(),
                        })
                    })));
                }
                if self.st.app_made {
                    self.deliver_app(Ev::Lost(reason), core)
                } else {
                    Ok(())
                }
            }
            ev @ (Ev::Pause | Ev::Resume | Ev::Message(_) | Ev::Timer(_)) => {
                if self.st.app_made {
                    self.deliver_app(ev, core)
                } else {
                    Ok(())
                }
            }
        }
    }

    fn deliver_app<S: StreamSocket>(
        &mut self,
        ev: Ev<M>,
        core: &mut Core<S, M>,
    ) -> Result<(), ProtocolError> {
        let mut view = TlsView::new(&mut self.st, core);
        dispatch(&mut self.app, ev, &mut view)
    }

    /// Feeds held ciphertext to rustls and delivers what it decrypts, until
    /// the input is used up, reading is paused, or the session is over.
    fn pump<S: StreamSocket>(
        &mut self,
        core: &mut Core<S, M>,
        cx: &mut dyn LoopContext,
    ) -> Result<(), ProtocolError> {
        loop {
            // Decrypt as much as rustls holds at once (two records or so)
            // before delivering: fewer, larger `DataReceived`.
            while !self.st.input.is_empty() && self.st.plaintext <= PLAINTEXT_HELD {
                if core.phase >= Phase::Dying
                    || self.st.phase == TlsPhase::Over
                    || core.read == ReadSide::Paused
                {
                    break;
                }
                if !self.st.feed(core, cx) {
                    return Ok(());
                }
                if matches!(self.st.phase, TlsPhase::Handshaking { .. })
                    && !self.st.conn.is_handshaking()
                {
                    self.handshake_done(core)?;
                }
            }
            self.deliver_plaintext(core, cx)?;
            if core.phase >= Phase::Dying
                || self.st.phase == TlsPhase::Over
                || core.read == ReadSide::Paused
                || self.st.input.is_empty()
            {
                return Ok(());
            }
        }
    }

    fn handshake_done<S: StreamSocket>(
        &mut self,
        core: &mut Core<S, M>,
    ) -> Result<(), ProtocolError> {
        let close_requested = matches!(
            self.st.phase,
            TlsPhase::Handshaking {
                close_requested: true
            }
        );
        self.st.phase = TlsPhase::Open;
        self.st.early = 0;
        // The handshake timer is stale from now on.
        self.st.timer_gen = self.st.timer_gen.wrapping_add(1);
        let info = self.st.session_info();
        if let Some(info) = &info {
            core.facts.tell(|i| i.set_tls(info.clone()));
        }
        self.st.info = info;
        self.st.flush(core);
        if let Some(hook) = self.st.on_made.take() {
            hook(Ok(()));
        }
        if close_requested {
            self.st.begin_shutdown(core);
        }
        if !self.st.app_made {
            self.st.app_made = true;
            self.deliver_app(Ev::Made, core)?;
        }
        Ok(())
    }

    /// Delivers decrypted data while the application reads; handles the
    /// peer's close_notify and a truncated stream.
    fn deliver_plaintext<S: StreamSocket>(
        &mut self,
        core: &mut Core<S, M>,
        cx: &mut dyn LoopContext,
    ) -> Result<(), ProtocolError> {
        loop {
            if core.phase >= Phase::Dying {
                return Ok(());
            }
            let discard = match self.st.phase {
                TlsPhase::Handshaking { .. } | TlsPhase::Over => return Ok(()),
                TlsPhase::ShuttingDown => true,
                TlsPhase::Open => false,
            };
            if !discard && core.read == ReadSide::Paused {
                return Ok(());
            }
            let got = match &mut self.app {
                AnyStreamProtocol::Buffered(p) if !discard => {
                    let buf = p.get_buffer(-1);
                    if buf.is_empty() {
                        Plain::EmptyBuffer
                    } else {
                        match self.st.conn.reader().read(buf) {
                            Ok(0) => Plain::CloseNotify,
                            Ok(n) => {
                                self.st.plaintext = self.st.plaintext.saturating_sub(n);
                                Plain::Updated(n)
                            }
                            Err(e) => end_of(&e),
                        }
                    }
                }
                _ => self.st.read_chunk(cx),
            };
            match got {
                Plain::Nothing => return Ok(()),
                Plain::Data(b) => {
                    if !discard {
                        self.deliver_app(Ev::Data(b), core)?;
                    }
                }
                Plain::Updated(n) => self.deliver_app(Ev::Updated(n), core)?,
                Plain::CloseNotify => return self.on_close_notify(core),
                Plain::Truncated => {
                    if self.st.phase == TlsPhase::ShuttingDown {
                        // We were closing anyway: the EOF answers our close_notify.
                        self.st.finish(core);
                    } else {
                        self.st.fail(core, cx, TlsError::Truncated, true);
                    }
                    return Ok(());
                }
                Plain::EmptyBuffer => {
                    cx.report(
                        ExceptionContext::new("Fatal error: protocol.get_buffer() call failed.")
                            .with_exception(Exception::Error(
                                "get_buffer() returned an empty buffer".into(),
                            ))
                            .with_transport(core.describe()),
                    );
                    self.st.phase = TlsPhase::Over;
                    core.die(Some(TransportError::EmptyBuffer));
                    return Ok(());
                }
            }
        }
    }

    /// The peer's close_notify: `EofReceived` for the application (TLS cannot
    /// half-close, so whatever it answers the connection closes), then our
    /// own close_notify and the close.
    fn on_close_notify<S: StreamSocket>(
        &mut self,
        core: &mut Core<S, M>,
    ) -> Result<(), ProtocolError> {
        if self.st.phase == TlsPhase::Open {
            if self.st.app_made && !self.st.eof_delivered {
                self.st.eof_delivered = true;
                self.deliver_app(Ev::Eof, core)?;
            }
            if self.st.phase == TlsPhase::Open {
                self.st.conn.send_close_notify();
                self.st.flush(core);
            }
        }
        self.st.finish(core);
        Ok(())
    }

    /// The socket hit EOF (the actor closes it after this returns).
    fn on_socket_eof<S: StreamSocket>(
        &mut self,
        core: &mut Core<S, M>,
        cx: &mut dyn LoopContext,
    ) -> Result<(), ProtocolError> {
        match self.st.phase {
            TlsPhase::Handshaking { .. } => {
                let err = TlsError::Handshake {
                    reason: "the peer closed the connection during the handshake".into(),
                };
                self.st.fail(core, cx, err, true);
                Ok(())
            }
            TlsPhase::Open | TlsPhase::ShuttingDown => {
                self.pump(core, cx)?;
                if core.phase >= Phase::Dying || self.st.phase == TlsPhase::Over {
                    return Ok(());
                }
                // Tell rustls the stream ended: the reader then says whether
                // it ended cleanly (close_notify) or was cut short.
                let _ = self.st.conn.read_tls(&mut io::empty());
                self.deliver_plaintext(core, cx)
            }
            TlsPhase::Over => Ok(()),
        }
    }
}
