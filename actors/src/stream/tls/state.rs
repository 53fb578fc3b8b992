//! The TLS state the application's transport view reaches: the rustls
//! connection, the session's phase, and the steps on it (feed ciphertext,
//! gather plaintext, send records, shut down, fail, time out).

use std::io::{self, BufRead, IoSlice};
use std::time::Duration;

use bytes::{Buf, Bytes};
use switchboard_protocols::{
    Exception, ExceptionContext, StreamTransport, TlsError, TlsInfo, TlsVersion, TransportError,
};

use crate::context::LoopContext;
use crate::stream::cold::Raised;
use crate::stream::core::{Core, Phase};
use crate::stream::info::StreamInfo;
use crate::stream::linger::Linger;
use crate::stream::socket::StreamSocket;
use crate::stream::tls::MadeHook;

/// The most plaintext one `DataReceived` carries.
pub(crate) const PLAINTEXT_CHUNK: usize = 64 * 1024;
/// rustls takes no more input once it holds more plaintext than this.
pub(crate) const PLAINTEXT_HELD: usize = 16 * 1024;
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
    pub(crate) eof_delivered: bool,
    /// Ciphertext received and not yet taken by rustls (held while the
    /// application has paused reading).
    pub(crate) input: Bytes,
    pub(crate) handshake_timeout: Duration,
    pub(crate) shutdown_timeout: Duration,
    /// The live TLS timer's generation; a timer of another one is stale.
    pub(crate) timer_gen: u32,
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
    pub(crate) plaintext: usize,
    /// The SNI name a client sent.
    pub(crate) sni: Option<String>,
}

/// What one read of decrypted data gave.
pub(crate) enum Plain {
    Nothing,
    Data(Bytes),
    Updated(usize),
    CloseNotify,
    Truncated,
    EmptyBuffer,
}

pub(crate) fn end_of(e: &io::Error) -> Plain {
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
    pub(crate) fn arm<S: StreamSocket, M: 'static>(
        &mut self,
        core: &mut Core<S, M>,
        delay: Duration,
    ) {
        self.timer_gen = self.timer_gen.wrapping_add(1);
        core.cold.raise(Raised::TlsTimer {
            delay,
            gen: self.timer_gen,
        });
    }

    /// Gives rustls held ciphertext and processes it; false if that failed
    /// (the session is over then).
    pub(crate) fn feed<S: StreamSocket, M: 'static>(
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
    pub(crate) fn read_chunk(&mut self, cx: &mut dyn LoopContext) -> Plain {
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
                core.facts.tell(StreamInfo::set_closing);
            }
            TlsPhase::Open => {
                self.conn.send_close_notify();
                self.flush(core);
                self.phase = TlsPhase::ShuttingDown;
                core.facts.tell(StreamInfo::set_closing);
                let timeout = self.shutdown_timeout;
                self.arm(core, timeout);
            }
            TlsPhase::ShuttingDown | TlsPhase::Over => {}
        }
    }

    /// Both close_notify are exchanged (or the peer left): close the socket
    /// once the records are flushed, within the shutdown timeout.
    pub(crate) fn finish<S: StreamSocket, M: 'static>(&mut self, core: &mut Core<S, M>) {
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
    pub(crate) fn fail<S: StreamSocket, M: 'static>(
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

    pub(crate) fn on_timer<S: StreamSocket, M: 'static>(
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
            TlsPhase::ShuttingDown | TlsPhase::Over if core.linger != Linger::No => {
                // The records are out; the socket lingers only for the
                // peer's input: not a failed shutdown.
                self.phase = TlsPhase::Over;
                core.die(None);
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
    pub(crate) fn session_info(&self) -> Option<TlsInfo> {
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
