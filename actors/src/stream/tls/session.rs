//! The TLS session of one connection: a rustls connection between the
//! socket's events (ciphertext) and the application protocol's (plaintext).

use std::io::{self, BufRead, IoSlice, Read};
use std::time::Duration;

use bytes::{Buf, Bytes};
use switchboard_protocols::{
    AnyStreamProtocol, Exception, ExceptionContext, ProtocolError, StreamTransport, TlsError,
    TlsInfo, TlsVersion, TransportError,
};

use crate::context::LoopContext;
use crate::stream::core::{Core, Phase, Raised, ReadSide};
use crate::stream::event::{dispatch, Ev};
use crate::stream::socket::StreamSocket;
use crate::stream::tls::setup::TlsSetup;
use crate::stream::tls::view::TlsView;
use crate::stream::tls::MadeHook;

/// The most plaintext one `DataReceived` carries.
const PLAINTEXT_CHUNK: usize = 64 * 1024;
/// rustls takes no more input once it holds more plaintext than this.
const PLAINTEXT_HELD: usize = 16 * 1024;
/// Records of this much plaintext are sent at once rather than at the end
/// of the step.
pub(crate) const EAGER_FLUSH: usize = 64 * 1024;

/// Where the TLS session is; it only moves forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TlsPhase {
    /// Handshake under way; `close_requested` when the application closed
    /// meanwhile (the shutdown starts once the handshake is done, so what it
    /// wrote before is not lost).
    Handshaking { close_requested: bool },
    /// Application data flows.
    Open,
    /// Our close_notify is sent; waiting for the peer's (or its EOF).
    ShuttingDown,
    /// The socket is closing or gone.
    Over,
}

/// The TLS state the application's transport view reaches.
pub(crate) struct TlsState {
    pub(crate) conn: rustls::Connection,
    pub(crate) phase: TlsPhase,
    /// The application got `ConnectionMade` (at once after `start_tls`).
    pub(crate) app_made: bool,
    eof_delivered: bool,
    /// Ciphertext received and not yet taken by rustls (held while the
    /// application has paused reading).
    input: Bytes,
    handshake_timeout: Duration,
    shutdown_timeout: Duration,
    /// The live TLS timer's generation; a timer of another one is stale.
    timer_gen: u32,
    /// Fires once the handshake is done (Ok) or failed (Err).
    pub(crate) on_made: Option<MadeHook>,
    pub(crate) info: Option<TlsInfo>,
    /// Plaintext written before the handshake completed, which rustls keeps
    /// until it can encrypt it (counted in the write buffer size).
    pub(crate) early: usize,
    /// Plaintext encrypted since the last flush: its records wait in rustls
    /// until the end of the current step (or until there are
    /// [`EAGER_FLUSH`] bytes of them), so that what one step writes leaves in
    /// one vectored write. Counted in the write buffer size.
    pub(crate) unflushed: usize,
    /// Decrypted bytes rustls holds, as of the last processing.
    plaintext: usize,
    /// The SNI name a client sent.
    sni: Option<String>,
}

/// A TLS session and the application protocol above it.
pub(crate) struct TlsSession<M: 'static> {
    pub(crate) app: AnyStreamProtocol<M>,
    pub(crate) st: TlsState,
}

/// What one read of decrypted data gave.
enum Plain {
    Nothing,
    Data(Bytes),
    Updated(usize),
    CloseNotify,
    Truncated,
    EmptyBuffer,
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
            core.info.set_tls(info.clone());
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

fn end_of(e: &io::Error) -> Plain {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => Plain::Truncated,
        _ => Plain::Nothing,
    }
}

/// Hands rustls' records to the socket's write path.
struct RecordSink<'a, S: StreamSocket, M: 'static>(&'a mut Core<S, M>);

impl<S: StreamSocket, M: 'static> io::Write for RecordSink<'_, S, M> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.send_records(&[IoSlice::new(buf)]);
        Ok(buf.len())
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.0.send_records(bufs);
        Ok(bufs.iter().map(|b| b.len()).sum())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl TlsState {
    /// Sends every record rustls has ready. Called at the end of every step
    /// (see `Upper`), and wherever the order against a close matters.
    pub(crate) fn flush<S: StreamSocket, M: 'static>(&mut self, core: &mut Core<S, M>) {
        self.unflushed = 0;
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut RecordSink(core)) {
                Ok(n) if n > 0 => {}
                _ => break,
            }
        }
    }

    /// True once the application closed (or the session ended).
    pub(crate) fn closing(&self) -> bool {
        !matches!(
            self.phase,
            TlsPhase::Open
                | TlsPhase::Handshaking {
                    close_requested: false
                }
        )
    }

    /// Sets the TLS timer: a later one makes this one stale.
    fn arm<S: StreamSocket, M: 'static>(&mut self, core: &mut Core<S, M>, delay: Duration) {
        self.timer_gen = self.timer_gen.wrapping_add(1);
        core.raised.push_back(Raised::TlsTimer {
            delay,
            gen: self.timer_gen,
        });
    }

    /// Gives rustls held ciphertext and processes it; false if that failed
    /// (the session is over then).
    fn feed<S: StreamSocket, M: 'static>(
        &mut self,
        core: &mut Core<S, M>,
        cx: &mut dyn LoopContext,
    ) -> bool {
        let mut rd: &[u8] = &self.input;
        match self.conn.read_tls(&mut rd) {
            // After a close_notify rustls takes nothing more: drop the rest.
            Ok(0) => self.input = Bytes::new(),
            Ok(n) if n == self.input.len() => self.input = Bytes::new(),
            Ok(n) => self.input.advance(n),
            Err(e) => {
                let err = TlsError::Protocol {
                    reason: e.to_string(),
                };
                self.fail(core, cx, err, false);
                return false;
            }
        }
        match self.conn.process_new_packets() {
            // What rustls has to answer (handshake messages) leaves at the
            // end of the step, with whatever the protocol writes meanwhile.
            Ok(io) => {
                self.plaintext = io.plaintext_bytes_to_read();
                true
            }
            Err(e) => {
                // rustls queued an alert for the peer: send it first.
                self.flush(core);
                let handshaking = matches!(self.phase, TlsPhase::Handshaking { .. });
                let reason = e.to_string();
                let err = match e {
                    rustls::Error::InvalidCertificate(_) => TlsError::Certificate { reason },
                    _ if handshaking => TlsError::Handshake { reason },
                    _ => TlsError::Protocol { reason },
                };
                self.fail(core, cx, err, false);
                false
            }
        }
    }

    /// Gathers up to [`PLAINTEXT_CHUNK`] decrypted bytes into the loop's
    /// shared read buffer.
    fn read_chunk(&mut self, cx: &mut dyn LoopContext) -> Plain {
        let buf = cx.read_buffer();
        buf.clear();
        let mut reader = self.conn.reader();
        let mut end = Plain::Nothing;
        while buf.len() < PLAINTEXT_CHUNK {
            match reader.fill_buf() {
                Ok([]) => {
                    end = Plain::CloseNotify;
                    break;
                }
                Ok(chunk) => {
                    let n = chunk.len().min(PLAINTEXT_CHUNK - buf.len());
                    buf.extend_from_slice(&chunk[..n]);
                    reader.consume(n);
                }
                Err(e) => {
                    end = end_of(&e);
                    break;
                }
            }
        }
        self.plaintext = self.plaintext.saturating_sub(buf.len());
        if buf.is_empty() {
            end
        } else {
            Plain::Data(buf.split().freeze())
        }
    }

    /// The application closed: send close_notify and wait (bounded by the
    /// shutdown timeout) for the peer's, reading on meanwhile. During the
    /// handshake, the shutdown waits for it to finish.
    pub(crate) fn begin_shutdown<S: StreamSocket, M: 'static>(&mut self, core: &mut Core<S, M>) {
        match self.phase {
            TlsPhase::Handshaking { .. } => {
                self.phase = TlsPhase::Handshaking {
                    close_requested: true,
                };
                core.info.set_closing();
            }
            TlsPhase::Open => {
                self.conn.send_close_notify();
                self.flush(core);
                self.phase = TlsPhase::ShuttingDown;
                core.info.set_closing();
                let timeout = self.shutdown_timeout;
                self.arm(core, timeout);
            }
            TlsPhase::ShuttingDown | TlsPhase::Over => {}
        }
    }

    /// Both close_notify are exchanged (or the peer left): close the socket
    /// once the records are flushed, within the shutdown timeout.
    fn finish<S: StreamSocket, M: 'static>(&mut self, core: &mut Core<S, M>) {
        if self.phase != TlsPhase::ShuttingDown {
            let timeout = self.shutdown_timeout;
            self.arm(core, timeout);
        }
        self.phase = TlsPhase::Over;
        self.flush(core);
        core.close();
    }

    /// The session failed: the socket is aborted with `err`. Reported to the
    /// exception handler when no one else hears of it (a server's failed
    /// handshake), unless `quiet` (a peer that left or stalled), and always
    /// in debug mode.
    fn fail<S: StreamSocket, M: 'static>(
        &mut self,
        core: &mut Core<S, M>,
        cx: &mut dyn LoopContext,
        err: TlsError,
        quiet: bool,
    ) {
        let handshaking = matches!(self.phase, TlsPhase::Handshaking { .. });
        self.phase = TlsPhase::Over;
        let reason = TransportError::Tls(err);
        let unheard = !self.app_made && self.on_made.is_none();
        if (unheard && !quiet) || cx.debug() {
            let what = if handshaking {
                "SSL handshake failed"
            } else {
                "Fatal error on SSL transport"
            };
            cx.report(
                ExceptionContext::new(what)
                    .with_exception(Exception::Transport(reason.clone()))
                    .with_transport(core.describe()),
            );
        }
        core.die(Some(reason.clone()));
        if let Some(hook) = self.on_made.take() {
            hook(Err(reason));
        }
    }

    fn on_timer<S: StreamSocket, M: 'static>(
        &mut self,
        gen: u32,
        core: &mut Core<S, M>,
        cx: &mut dyn LoopContext,
    ) {
        if gen != self.timer_gen || core.phase >= Phase::Dying {
            return;
        }
        match self.phase {
            TlsPhase::Handshaking { .. } => {
                let timeout = self.handshake_timeout;
                self.fail(core, cx, TlsError::HandshakeTimedOut { timeout }, true);
            }
            TlsPhase::ShuttingDown | TlsPhase::Over => {
                self.phase = TlsPhase::Over;
                let timeout = self.shutdown_timeout;
                core.die(Some(TransportError::Tls(TlsError::ShutdownTimedOut {
                    timeout,
                })));
            }
            TlsPhase::Open => {}
        }
    }

    /// The facts of the finished handshake.
    fn session_info(&self) -> Option<TlsInfo> {
        let version = match self.conn.protocol_version()? {
            rustls::ProtocolVersion::TLSv1_3 => TlsVersion::Tls13,
            rustls::ProtocolVersion::TLSv1_2 => TlsVersion::Tls12,
            _ => return None,
        };
        let cipher = self
            .conn
            .negotiated_cipher_suite()
            .map(|s| {
                let suite = s.suite();
                suite
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("{suite:?}"))
            })
            .unwrap_or_default();
        let mut info = TlsInfo::new(version, cipher);
        info.peer_certificates = self
            .conn
            .peer_certificates()
            .map(|chain| {
                chain
                    .iter()
                    .map(|c| Bytes::copy_from_slice(c.as_ref()))
                    .collect()
            })
            .unwrap_or_default();
        info.alpn_protocol = self.conn.alpn_protocol().map(Bytes::copy_from_slice);
        info.server_name = match &self.conn {
            rustls::Connection::Server(s) => s.server_name().map(str::to_owned),
            rustls::Connection::Client(_) => self.sni.clone(),
        };
        Some(info)
    }
}
