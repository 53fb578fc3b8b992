//! The read side of the stream transport actor: reads into the loop's shared
//! buffer (or a buffered protocol's own), a budget per readiness event, EOF,
//! and the reports of fatal read errors.

use std::io;

use switchboard_protocols::{AnyStreamProtocol, Exception, ExceptionContext, TransportError};

use super::*;

impl<S: StreamSocket, M: 'static> SocketTransport<S, M> {
    /// Reads until the socket is drained, EOF, an error, a pause (the
    /// protocol's, or read-side backpressure's), or the budget is spent.
    ///
    /// With `short_read_drains`, a read that returned fewer bytes than the
    /// space offered is taken to mean the socket is empty: under edge-triggered
    /// polling, new data raises a new edge, so the extra read that would only
    /// return `WouldBlock` is skipped. Callers pass it only for a readiness
    /// event that did not report a hangup; after a hangup (H4) or when there
    /// is no fresh edge (start, `ReadMore`, resume after a pause) reading goes
    /// on until `WouldBlock` or EOF.
    pub(super) fn read_loop(&mut self, cx: &mut dyn LoopContext, short_read_drains: bool) {
        if !short_read_drains && matches!(self.upper, Upper::Tls(_)) {
            // Deliver what TLS holds (input kept while paused, leftover of an
            // upgrade) before reading more.
            self.deliver(Ev::Pump, cx);
        }
        for _ in 0..READ_BUDGET {
            if self.core.read != ReadSide::Active || self.core.phase != Phase::Open {
                return;
            }
            if self.core.reading_held() {
                // The drain that releases the hold reads again.
                return;
            }
            if self.interrupted {
                // Data may be left in the socket, and no new edge will say
                // so: read on in the next run.
                break;
            }
            let Some(fd) = self.core.socket.as_ref().map(|s| s.as_raw_fd()) else {
                return;
            };
            let result = match &mut self.upper {
                Upper::Plain(AnyStreamProtocol::Stream(_)) | Upper::Tls(_) => {
                    let buf = cx.read_buffer();
                    buf.clear();
                    crate::sys::unix::fd::recv_to_spare(fd, buf, READ_SIZE).map(|n| {
                        // The buffer was empty, so its capacity is what was offered.
                        let offered = buf.capacity();
                        (n, offered, Some(buf.split().freeze()))
                    })
                }
                Upper::Plain(AnyStreamProtocol::Buffered(p)) => {
                    let Some(sock) = self.core.socket.as_mut() else {
                        return;
                    };
                    let got = catch_unwind(AssertUnwindSafe(|| {
                        let buf = p.get_buffer(-1);
                        if buf.is_empty() {
                            return Err(None);
                        }
                        let offered = buf.len();
                        sock.read(buf).map(|n| (n, offered)).map_err(Some)
                    }));
                    match got {
                        Ok(Ok((n, offered))) => Ok((n, offered, None)),
                        Ok(Err(Some(e))) => Err(e),
                        Ok(Err(None)) => {
                            self.fail_buffer(
                                cx,
                                Exception::Error("get_buffer() returned an empty buffer".into()),
                                TransportError::EmptyBuffer,
                            );
                            return;
                        }
                        Err(payload) if payload.is::<switchboard_protocols::Interrupt>() => {
                            self.interrupt(cx);
                            break;
                        }
                        Err(payload) => {
                            let exc = Exception::from_panic(&*payload);
                            let message = exc.to_string();
                            self.fail_buffer(cx, exc, TransportError::ProtocolFailed { message });
                            return;
                        }
                    }
                }
            };
            if let Ok((n, _, _)) = &result {
                self.core.bytes_in.add(*n as u64);
            }
            let drained = match result {
                Ok((0, _, _)) => return self.on_eof(cx),
                Ok((n, offered, Some(data))) => {
                    debug_assert_eq!(data.len(), n);
                    self.deliver(Ev::Data(data), cx);
                    n < offered
                }
                Ok((n, offered, None)) => {
                    self.deliver(Ev::Updated(n), cx);
                    n < offered
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    let err = TransportError::from_io("read", e);
                    self.report_fatal("Fatal read error on socket transport", &err, cx);
                    self.core.die(Some(err));
                    return;
                }
            };
            if drained && short_read_drains {
                return;
            }
        }
        // Budget spent with data maybe left: come back after others had a turn.
        if self.core.read == ReadSide::Active
            && self.core.phase == Phase::Open
            && !self.core.reading_held()
        {
            let me = cx.id();
            cx.send(me, Box::new(ReadMore));
        }
    }

    /// Reports a transport's fatal I/O error as asyncio's `_fatal_error`
    /// does: connection errors (reset, broken pipe, aborted) only in debug
    /// mode.
    pub(super) fn report_fatal(
        &self,
        message: &str,
        err: &TransportError,
        cx: &mut dyn LoopContext,
    ) {
        if !err.is_connection_error() || cx.debug() {
            let kind = match self.upper.app() {
                AnyStreamProtocol::Stream(_) => "StreamProtocol",
                AnyStreamProtocol::Buffered(_) => "BufferedProtocol",
            };
            cx.report(
                ExceptionContext::new(message)
                    .with_exception(Exception::Transport(err.clone()))
                    .with_transport(self.core.describe())
                    .with_protocol(format!("<{kind} of {}>", self.core.id)),
            );
        }
    }

    fn fail_buffer(&mut self, cx: &mut dyn LoopContext, exc: Exception, reason: TransportError) {
        cx.report(
            ExceptionContext::new("Fatal error: protocol.get_buffer() call failed.")
                .with_exception(exc)
                .with_transport(self.core.describe()),
        );
        self.core.die(Some(reason));
    }

    fn on_eof(&mut self, cx: &mut dyn LoopContext) {
        self.core.read = ReadSide::Done;
        self.core.facts.tell(StreamInfo::set_read_over);
        self.core.keep_open = false;
        self.deliver(Ev::Eof, cx);
        if !self.core.keep_open {
            if self.core.cold.calls_len() > 0 {
                // Nothing lost at EOF: the answers still on their way are
                // written first; the last one hands over closes.
                self.core.cold.calls().close_when_done = true;
            } else {
                self.core.close();
            }
        }
    }
}
