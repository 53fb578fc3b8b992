//! An in-memory [`StreamTransport`] that records what a protocol did to it.

use std::fmt;
use std::os::fd::RawFd;
use std::time::Duration;

use bytes::{Bytes, BytesMut};

use crate::address::Address;
use crate::error::{LimitsError, WriteError};
use crate::limits::WriteLimits;
use crate::message::NoMessage;
use crate::socket::SocketRef;
use crate::stream::{AnyStreamProtocol, StreamTransport};

/// Where a [`FakeTransport`] is in its life. Moves only forward.
///
/// # `Open`
/// Writes are recorded; reading may be paused and resumed.
///
/// # `Closing`
/// `close()` was called. The fake has no buffer, so the flush is instant;
/// later writes are dropped.
///
/// # `Aborted`
/// `abort()` was called (possibly after `close()`); later writes are dropped.
///
/// # `Lost`
/// The test declared the connection lost ([`FakeTransport::lose`]) while it
/// was still open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FakeLifecycle {
    /// Open for writing.
    Open,
    /// `close()` was called.
    Closing,
    /// `abort()` was called.
    Aborted,
    /// Lost without a close or abort.
    Lost,
}

/// A [`StreamTransport`] without a socket, like twisted's `StringTransport`:
/// every write lands in an in-memory buffer, every call is recorded, and
/// nothing is ever delivered to the protocol (the fake never calls it).
///
/// The fake's "kernel" takes every byte, so the write buffer is always empty
/// and writing never pauses.
///
/// ```
/// use switchboard::{StreamTransport, WriteError};
/// use switchboard::testing::FakeTransport;
///
/// let mut t = FakeTransport::new();
/// t.write(b"hello ")?;
/// t.write(b"world")?;
/// t.write_eof()?;
/// assert_eq!(t.written(), b"hello world");
/// assert!(t.is_eof_written());
/// assert_eq!(t.write(b"late"), Err(WriteError::AfterWriteEof));
/// t.close();
/// assert!(t.closed() && !t.aborted());
/// # Ok::<(), WriteError>(())
/// ```
pub struct FakeTransport<M: 'static = NoMessage> {
    written: BytesMut,
    lifecycle: FakeLifecycle,
    eof_written: bool,
    reading: bool,
    limits: WriteLimits,
    kept_open: bool,
    new_protocol: Option<AnyStreamProtocol<M>>,
    peername: Option<Address>,
    sockname: Option<Address>,
    timers: Vec<(Duration, u32)>,
}

impl FakeTransport {
    /// An open fake for protocols without application messages; for another
    /// message type use `FakeTransport::<M>::default()`.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<M: 'static> Default for FakeTransport<M> {
    fn default() -> Self {
        FakeTransport {
            written: BytesMut::new(),
            lifecycle: FakeLifecycle::Open,
            eof_written: false,
            reading: true,
            limits: WriteLimits::DEFAULT,
            kept_open: false,
            new_protocol: None,
            peername: None,
            sockname: None,
            timers: Vec::new(),
        }
    }
}

impl<M: 'static> fmt::Debug for FakeTransport<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeTransport")
            .field("written", &self.written.len())
            .field("lifecycle", &self.lifecycle)
            .field("eof_written", &self.eof_written)
            .field("reading", &self.reading)
            .field("limits", &self.limits)
            .field("kept_open", &self.kept_open)
            .field("new_protocol", &self.new_protocol)
            .finish()
    }
}

impl<M: 'static> FakeTransport<M> {
    /// The timers the protocol set with `call_later`, in order: `(delay,
    /// token)`. The fake never fires them; a test delivers
    /// `StreamEvent::TimerFired(token)` itself.
    pub fn timers(&self) -> &[(Duration, u32)] {
        &self.timers
    }

    /// Every byte written so far, in order.
    pub fn written(&self) -> &[u8] {
        &self.written
    }

    /// Takes the bytes written so far, leaving the record empty.
    pub fn take_written(&mut self) -> Bytes {
        self.written.split().freeze()
    }

    /// True once `write_eof()` took effect.
    pub fn is_eof_written(&self) -> bool {
        self.eof_written
    }

    /// True once `close()`, `abort()` or [`lose`](Self::lose) happened (the
    /// same as `is_closing()`).
    pub fn closed(&self) -> bool {
        self.lifecycle > FakeLifecycle::Open
    }

    /// True once `abort()` was called.
    pub fn aborted(&self) -> bool {
        self.lifecycle == FakeLifecycle::Aborted
    }

    /// Where the fake is in its life.
    pub fn lifecycle(&self) -> FakeLifecycle {
        self.lifecycle
    }

    /// True once `keep_open()` was called.
    pub fn kept_open(&self) -> bool {
        self.kept_open
    }

    /// Takes the protocol passed to the last `set_protocol()`, if any.
    pub fn take_new_protocol(&mut self) -> Option<AnyStreamProtocol<M>> {
        self.new_protocol.take()
    }

    /// Sets what `peername()` answers.
    pub fn set_peername(&mut self, address: Option<Address>) {
        self.peername = address;
    }

    /// Sets what `sockname()` answers.
    pub fn set_sockname(&mut self, address: Option<Address>) {
        self.sockname = address;
    }

    /// Marks the connection lost (as a reset would), unless it is already
    /// closing; later writes are dropped.
    pub fn lose(&mut self) {
        if self.lifecycle == FakeLifecycle::Open {
            self.lifecycle = FakeLifecycle::Lost;
        }
    }
}

impl<M: 'static> StreamTransport<M> for FakeTransport<M> {
    fn write(&mut self, data: &[u8]) -> Result<(), WriteError> {
        // asyncio checks EOF before closing, so a write after write_eof()
        // then close() still raises.
        if self.eof_written {
            return Err(WriteError::AfterWriteEof);
        }
        if self.lifecycle == FakeLifecycle::Open {
            self.written.extend_from_slice(data);
        }
        Ok(())
    }

    fn write_bytes(&mut self, data: Bytes) -> Result<(), WriteError> {
        self.write(&data)
    }

    fn writelines(&mut self, list: &[&[u8]]) -> Result<(), WriteError> {
        list.iter().try_for_each(|data| self.write(data))
    }

    fn write_eof(&mut self) -> Result<(), WriteError> {
        if self.lifecycle == FakeLifecycle::Open {
            self.eof_written = true;
        }
        Ok(())
    }

    fn can_write_eof(&self) -> bool {
        true
    }

    fn close(&mut self) {
        if self.lifecycle == FakeLifecycle::Open {
            self.lifecycle = FakeLifecycle::Closing;
        }
    }

    fn abort(&mut self) {
        if self.lifecycle < FakeLifecycle::Aborted {
            self.lifecycle = FakeLifecycle::Aborted;
        }
    }

    fn is_closing(&self) -> bool {
        self.closed()
    }

    fn pause_reading(&mut self) {
        self.reading = false;
    }

    fn resume_reading(&mut self) {
        self.reading = true;
    }

    fn is_reading(&self) -> bool {
        self.reading && self.lifecycle == FakeLifecycle::Open
    }

    fn get_write_buffer_size(&self) -> usize {
        0
    }

    fn get_write_buffer_limits(&self) -> WriteLimits {
        self.limits
    }

    fn set_write_buffer_limits(
        &mut self,
        high: Option<usize>,
        low: Option<usize>,
    ) -> Result<(), LimitsError> {
        self.limits = WriteLimits::new(high, low)?;
        Ok(())
    }

    fn keep_open(&mut self) {
        self.kept_open = true;
    }

    fn set_protocol(&mut self, protocol: AnyStreamProtocol<M>) {
        self.new_protocol = Some(protocol);
    }

    fn peername(&self) -> Option<Address> {
        self.peername.clone()
    }

    fn sockname(&self) -> Option<Address> {
        self.sockname.clone()
    }

    fn fileno(&self) -> Option<RawFd> {
        None
    }

    fn socket(&self) -> Option<SocketRef<'_>> {
        None
    }

    fn call_later(&mut self, delay: Duration, token: u32) {
        self.timers.push((delay, token));
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;
    use crate::stream::{StreamEvent, StreamProtocol};
    use crate::ProtocolError;

    struct Nop;

    impl StreamProtocol for Nop {
        fn handle(
            &mut self,
            _: StreamEvent,
            _: &mut dyn StreamTransport,
        ) -> Result<(), ProtocolError> {
            Ok(())
        }
    }

    #[test]
    fn double_records_every_write_in_order() -> Result<(), WriteError> {
        let mut t = FakeTransport::new();
        t.write(b"a")?;
        t.write(b"")?;
        t.write_bytes(Bytes::from_static(b"bc"))?;
        t.writelines(&[b"d", b"", b"ef"])?;
        assert_eq!(t.written(), b"abcdef");
        assert_eq!(&t.take_written()[..], b"abcdef");
        assert!(t.written().is_empty());
        Ok(())
    }

    #[test]
    fn double_write_eof_once_then_write_fails() -> Result<(), WriteError> {
        let mut t = FakeTransport::new();
        assert!(t.can_write_eof());
        t.write_eof()?;
        t.write_eof()?;
        assert!(t.is_eof_written());
        assert_eq!(t.write(b"x"), Err(WriteError::AfterWriteEof));
        assert_eq!(t.write(b""), Err(WriteError::AfterWriteEof));
        t.close();
        assert_eq!(t.write(b"x"), Err(WriteError::AfterWriteEof));
        Ok(())
    }

    #[test]
    fn double_write_eof_after_close_does_nothing() -> Result<(), WriteError> {
        let mut t = FakeTransport::new();
        t.close();
        t.write_eof()?;
        assert!(!t.is_eof_written());
        Ok(())
    }

    #[test]
    fn double_writes_after_close_abort_or_loss_are_dropped() -> Result<(), WriteError> {
        for end in [
            FakeLifecycle::Closing,
            FakeLifecycle::Aborted,
            FakeLifecycle::Lost,
        ] {
            let mut t = FakeTransport::new();
            t.write(b"kept")?;
            match end {
                FakeLifecycle::Closing => t.close(),
                FakeLifecycle::Aborted => t.abort(),
                _ => t.lose(),
            }
            t.write(b"dropped")?;
            assert_eq!(t.written(), b"kept");
            assert!(t.is_closing() && t.closed());
            assert_eq!(t.lifecycle(), end);
        }
        Ok(())
    }

    #[test]
    fn double_close_then_abort_is_aborted() {
        let mut t = FakeTransport::new();
        t.close();
        assert!(!t.aborted());
        t.close();
        t.abort();
        assert!(t.aborted() && t.closed());
        t.close();
        t.lose();
        assert_eq!(t.lifecycle(), FakeLifecycle::Aborted);
    }

    #[test]
    fn double_pause_and_resume_reading_are_idempotent() {
        let mut t = FakeTransport::new();
        assert!(t.is_reading());
        t.pause_reading();
        t.pause_reading();
        assert!(!t.is_reading());
        t.resume_reading();
        t.resume_reading();
        assert!(t.is_reading());
        t.close();
        t.resume_reading();
        assert!(!t.is_reading());
    }

    #[test]
    fn double_limits_follow_asyncio_arithmetic() -> Result<(), LimitsError> {
        let mut t = FakeTransport::new();
        assert_eq!(t.get_write_buffer_limits(), WriteLimits::DEFAULT);
        t.set_write_buffer_limits(None, Some(16385))?;
        assert_eq!(
            t.get_write_buffer_limits(),
            WriteLimits {
                low: 16385,
                high: 65540
            }
        );
        assert!(t.set_write_buffer_limits(Some(1), Some(2)).is_err());
        assert_eq!(t.get_write_buffer_limits().high, 65540);
        assert_eq!(t.get_write_buffer_size(), 0);
        Ok(())
    }

    #[test]
    fn double_keep_open_is_recorded() {
        let mut t = FakeTransport::new();
        assert!(!t.kept_open());
        t.keep_open();
        assert!(t.kept_open());
    }

    #[test]
    fn double_set_protocol_is_taken_once() {
        let mut t = FakeTransport::new();
        assert!(t.take_new_protocol().is_none());
        t.set_protocol(AnyStreamProtocol::Stream(Box::new(Nop)));
        assert!(matches!(
            t.take_new_protocol(),
            Some(AnyStreamProtocol::Stream(_))
        ));
        assert!(t.take_new_protocol().is_none());
    }

    #[test]
    fn double_extra_info_is_settable_and_survives_close() {
        let mut t = FakeTransport::new();
        assert_eq!(t.peername(), None);
        let peer: SocketAddr = ([127, 0, 0, 1], 4000).into();
        t.set_peername(Some(peer.into()));
        t.set_sockname(Some(Address::Unnamed));
        t.close();
        assert_eq!(t.peername(), Some(Address::Inet(peer)));
        assert_eq!(t.sockname(), Some(Address::Unnamed));
        assert_eq!(t.fileno(), None);
        assert!(format!("{t:?}").contains("Closing"));
    }
}
