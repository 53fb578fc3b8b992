//! The transport a protocol sees over TLS: the same `StreamTransport` as over
//! a plain socket, with writes encrypted on their way to the socket's write
//! buffer and `close` preceded by close_notify.

use std::io::Write;
use std::os::fd::RawFd;
use std::time::Duration;

use bytes::Bytes;
use switchboard_protocols::{
    Addr, Address, AnyStreamProtocol, LimitsError, SocketRef, StreamTransport, TlsError, TlsInfo,
    TlsUpgrade, WriteError, WriteLimits,
};

use crate::stream::core::{Core, Phase};
use crate::stream::socket::StreamSocket;
use crate::stream::tls::state::{TlsPhase, TlsState, EAGER_FLUSH};

/// A TLS session and its socket's core, seen as one transport.
pub(crate) struct TlsView<'a, S: StreamSocket, M: 'static> {
    st: &'a mut TlsState,
    core: &'a mut Core<S, M>,
}

impl<'a, S: StreamSocket, M: 'static> TlsView<'a, S, M> {
    pub(crate) fn new(st: &'a mut TlsState, core: &'a mut Core<S, M>) -> Self {
        TlsView { st, core }
    }

    /// Whether a write of `len` bytes goes through: dropped (with the same
    /// warning as a plain transport) once closing.
    fn admit(&mut self, len: usize) -> bool {
        if len == 0 {
            return false;
        }
        if self.st.closing() || self.core.phase >= Phase::Closing {
            self.core.drop_write(len);
            return false;
        }
        true
    }

    fn encrypt(&mut self, data: &[u8]) {
        // rustls' buffer limit is lifted, so it takes every byte.
        let _ = self.st.conn.writer().write_all(data);
        self.count(data.len());
    }

    /// Counts `len` bytes just handed to rustls; sends the records once
    /// there are many (the end of the step sends the rest).
    fn count(&mut self, len: usize) {
        if matches!(self.st.phase, TlsPhase::Handshaking { .. }) {
            self.st.early += len;
        } else {
            self.st.unflushed += len;
            if self.st.unflushed >= EAGER_FLUSH {
                self.st.flush(self.core);
            }
        }
    }
}

impl<S: StreamSocket, M: 'static> StreamTransport<M> for TlsView<'_, S, M> {
    fn calls_in_flight(&self) -> usize {
        self.core.calls_in_flight()
    }

    fn max_calls_in_flight(&self) -> usize {
        self.core.max_calls_in_flight()
    }

    fn call_ticket(
        &mut self,
        convert: switchboard_protocols::internal::Convert<M>,
    ) -> Option<switchboard_protocols::internal::Ticket> {
        if self.st.closing() {
            return None;
        }
        self.core.call_ticket(convert)
    }

    fn call_refused(&mut self, seq: u64, error: switchboard_protocols::CallError) {
        self.core.call_refused(seq, error);
    }

    fn write(&mut self, data: &[u8]) -> Result<(), WriteError> {
        if self.admit(data.len()) {
            self.encrypt(data);
        }
        Ok(())
    }

    fn write_bytes(&mut self, data: Bytes) -> Result<(), WriteError> {
        self.write(&data)
    }

    fn writelines(&mut self, list: &[&[u8]]) -> Result<(), WriteError> {
        let total: usize = list.iter().map(|b| b.len()).sum();
        if self.admit(total) {
            for part in list {
                let _ = self.st.conn.writer().write_all(part);
            }
            self.count(total);
        }
        Ok(())
    }

    fn write_eof(&mut self) -> Result<(), WriteError> {
        Err(WriteError::EofNotSupported)
    }

    fn can_write_eof(&self) -> bool {
        false
    }

    fn close(&mut self) {
        if self.core.phase < Phase::Closing {
            self.st.begin_shutdown(self.core);
        }
    }

    fn abort(&mut self) {
        self.st.phase = TlsPhase::Over;
        self.core.abort();
    }

    fn is_closing(&self) -> bool {
        self.st.closing() || self.core.is_closing()
    }

    fn pause_reading(&mut self) {
        self.core.pause_reading();
    }

    fn resume_reading(&mut self) {
        self.core.resume_reading();
    }

    fn is_reading(&self) -> bool {
        self.core.is_reading() && !self.st.closing()
    }

    fn get_write_buffer_size(&self) -> usize {
        self.core.get_write_buffer_size() + self.st.early + self.st.unflushed
    }

    fn get_write_buffer_limits(&self) -> WriteLimits {
        self.core.get_write_buffer_limits()
    }

    fn set_write_buffer_limits(
        &mut self,
        high: Option<usize>,
        low: Option<usize>,
    ) -> Result<(), LimitsError> {
        self.core.set_write_buffer_limits(high, low)
    }

    fn keep_open(&mut self) {
        // TLS cannot half-close: the connection closes after EofReceived
        // whatever the protocol answers (asyncio ignores eof_received's
        // return value over SSL too).
    }

    fn set_protocol(&mut self, protocol: AnyStreamProtocol<M>) {
        self.core.set_protocol(protocol);
    }

    fn peername(&self) -> Option<Address> {
        self.core.peername()
    }

    fn sockname(&self) -> Option<Address> {
        self.core.sockname()
    }

    fn fileno(&self) -> Option<RawFd> {
        self.core.fileno()
    }

    fn socket(&self) -> Option<SocketRef<'_>> {
        self.core.socket()
    }

    fn call_later(&mut self, delay: Duration, token: u32) {
        self.core.call_later(delay, token);
    }

    fn addr(&self) -> Option<Addr<M>>
    where
        M: Send,
    {
        self.core.addr()
    }

    fn tls(&self) -> Option<&TlsInfo> {
        self.st.info.as_ref()
    }

    fn start_tls(&mut self, upgrade: TlsUpgrade) -> Result<(), TlsError> {
        let _ = upgrade;
        Err(TlsError::AlreadyTls)
    }

    fn share_facts(
        &mut self,
    ) -> Option<(
        switchboard_protocols::ActorId,
        std::rc::Rc<dyn std::any::Any>,
    )> {
        let tls = Some((self.st.closing(), self.st.info.clone()));
        let info: std::rc::Rc<dyn std::any::Any> = self.core.share_facts(tls);
        Some((self.core.id, info))
    }
}
