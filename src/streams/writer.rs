//! `StreamWriter`: asyncio's writing half of a stream.

use std::future::poll_fn;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use bytes::Bytes;
use switchboard_protocols::{Address, TlsInfo, WriteError};

use crate::net::{NetError, TlsConfig};
use crate::pipes::PipeHandle;
use crate::streams::state::StreamState;
use crate::streams::StreamError;
use crate::TransportHandle;

/// Where a writer's bytes go.
#[derive(Debug)]
pub(crate) enum Sink {
    Socket(TransportHandle),
    Pipe(PipeHandle),
}

/// The writing half of a stream (asyncio's `StreamWriter`), from
/// [`open_connection`](crate::EventLoop::open_connection),
/// [`start_server`](crate::EventLoop::start_server) or a
/// [`Process`](crate::Process)'s `stdin`.
///
/// [`write`](Self::write) buffers and returns at once, as asyncio's does;
/// [`drain`](Self::drain) is where a writer waits for a slow peer. Call it
/// after writes: it returns at once while the transport's write buffer is at
/// or below its high-water mark (64 KiB by default), and otherwise waits
/// until the buffer is back down to the low mark. A write the transport
/// refuses (after [`write_eof`](Self::write_eof)) is reported by the next
/// `drain`, since `write` returns nothing.
///
/// A connection whose reader and writer are both dropped without `close`
/// is closed (what was written is still sent first), so a connection whose
/// task ended does not linger; either one alone keeps it open, so a
/// callback that only reads (`|mut reader, _writer| async move { .. }`,
/// where the writer is dropped at once) keeps its connection. A pipe's
/// writer (a child's stdin) closes its pipe when dropped. It also
/// implements `futures-io`'s `AsyncWrite`.
///
/// A write goes to the socket at once when the loop is not inside this
/// transport's own events and no earlier write waits (asyncio's `write`
/// tries the socket at once too); otherwise it is queued in order.
///
/// ```
/// switchboard::run(|lp| async move {
///     let server = lp
///         .start_server(|mut r, mut w| async move {
///             let n = r.read(1024).await?.len();
///             w.writelines(&[b"got ", n.to_string().as_bytes(), b" bytes\n"]);
///             w.drain().await?; // at once: far below the high-water mark
///             assert!(w.can_write_eof());
///             w.write_eof()?; // the peer reads EOF; we could still read
///             w.close();
///             w.wait_closed().await?;
///             Ok::<(), switchboard::Error>(())
///         })
///         .host("127.0.0.1")
///         .port(0)
///         .await?;
///     let port = server.sockets()[0].port();
///     let (mut r, mut w) = lp.open_connection().host("127.0.0.1").port(port).await?;
///     assert!(w.peername().is_some() && w.tls().is_none());
///     w.write(b"hello");
///     assert_eq!(&r.readline().await?[..], b"got 5 bytes\n");
///     assert!(r.at_eof() || r.read(1).await?.is_empty());
///     server.close();
///     Ok::<(), switchboard::Error>(())
/// })?;
/// # Ok::<(), switchboard::Error>(())
/// ```
#[derive(Debug)]
pub struct StreamWriter {
    state: Rc<StreamState>,
    sink: Sink,
    refused: Option<WriteError>,
}

impl StreamWriter {
    pub(crate) fn new(state: Rc<StreamState>, sink: Sink) -> Self {
        if matches!(sink, Sink::Socket(_)) {
            state.hold();
        }
        StreamWriter {
            state,
            sink,
            refused: None,
        }
    }

    /// Buffers `data` to be sent (asyncio's `write`); copies it once.
    pub fn write(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        self.write_bytes(Bytes::copy_from_slice(data));
    }

    /// [`write`](Self::write) with owned bytes (no copy).
    pub fn write_bytes(&mut self, data: Bytes) {
        let r = match &self.sink {
            Sink::Socket(h) => h.write_now(data),
            Sink::Pipe(h) => h.write_bytes(data),
        };
        if let Err(e) = r {
            self.refused.get_or_insert(e);
        }
    }

    /// Every buffer, in order, as one write (asyncio's `writelines`).
    pub fn writelines(&mut self, list: &[&[u8]]) {
        let total = list.iter().map(|b| b.len()).sum();
        let mut all = bytes::BytesMut::with_capacity(total);
        for b in list {
            all.extend_from_slice(b);
        }
        self.write_bytes(all.freeze());
    }

    fn write_buffer_size(&self) -> usize {
        match &self.sink {
            Sink::Socket(h) => h.get_write_buffer_size(),
            Sink::Pipe(h) => h.get_write_buffer_size(),
        }
    }

    fn poll_drain(&mut self, cx: &Context<'_>) -> Poll<Result<(), StreamError>> {
        if let Some(e) = self.refused.take() {
            return Poll::Ready(Err(e.into()));
        }
        if self.state.is_lost() {
            return Poll::Ready(Err(self.state.lost_error()));
        }
        let high = self.state.high.get();
        match &self.sink {
            Sink::Socket(h) => {
                let info = &h.info;
                if info.is_lost() {
                    return Poll::Ready(Err(self.state.lost_error()));
                }
                if info.is_writing_paused() || info.write_buffer_size() > high {
                    // Woken as the buffer shrinks, writing resumes or the
                    // socket closes, and when the protocol hears of the loss.
                    info.wait_drain(cx.waker());
                    self.state.wait_other(cx);
                    return Poll::Pending;
                }
            }
            Sink::Pipe(h) => {
                if self.state.writing_paused.get() {
                    // Woken by `ResumeWriting` or the pipe's loss.
                    self.state.wait_other(cx);
                    return Poll::Pending;
                }
                if h.get_write_buffer_size() > high {
                    // Written, not yet taken by the pipe: look again after
                    // the loop has applied the writes.
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Waits until the write buffer is down to its low-water mark, if it is
    /// above the high one (asyncio's `drain`). Fails once the connection is
    /// lost ([`StreamError::Closed`], or [`StreamError::ConnectionLost`]
    /// with the reason), and with a write the transport refused since the
    /// last `drain`.
    pub async fn drain(&mut self) -> Result<(), StreamError> {
        poll_fn(|cx| self.poll_drain(cx)).await
    }

    /// True unless the transport is TLS, which cannot half-close.
    pub fn can_write_eof(&self) -> bool {
        match &self.sink {
            Sink::Socket(h) => h.can_write_eof(),
            Sink::Pipe(_) => true,
        }
    }

    /// Sends what is buffered, then shuts the write side (asyncio's
    /// `write_eof`); over TLS this is [`WriteError::EofNotSupported`]. On a
    /// pipe it closes the pipe, which is how a child sees EOF.
    pub fn write_eof(&mut self) -> Result<(), WriteError> {
        match &self.sink {
            Sink::Socket(h) => h.write_eof(),
            Sink::Pipe(h) => h.write_eof(),
        }
    }

    /// Closes the stream: what is buffered is sent first (asyncio's
    /// `close`). [`wait_closed`](Self::wait_closed) waits for the end.
    pub fn close(&mut self) {
        match &self.sink {
            Sink::Socket(h) => h.close(),
            Sink::Pipe(h) => h.close(),
        }
    }

    /// True once [`close`](Self::close) was called or the stream was lost.
    pub fn is_closing(&self) -> bool {
        match &self.sink {
            Sink::Socket(h) => h.is_closing() || h.is_lost(),
            Sink::Pipe(h) => h.is_closing() || h.is_lost(),
        }
    }

    /// Waits until the connection is gone (asyncio's `wait_closed`): `Ok` if
    /// it ended cleanly, [`StreamError::ConnectionLost`] with the reason if
    /// not.
    pub async fn wait_closed(&self) -> Result<(), StreamError> {
        poll_fn(|cx| self.state.poll_lost(cx)).await;
        self.state.read_error().map_or(Ok(()), Err)
    }

    /// The peer's address (`get_extra_info('peername')`); `None` on a pipe.
    pub fn peername(&self) -> Option<Address> {
        self.transport()?.peername()
    }

    /// The local address (`get_extra_info('sockname')`); `None` on a pipe.
    pub fn sockname(&self) -> Option<Address> {
        self.transport()?.sockname()
    }

    /// The TLS session's facts, on a TLS connection once its handshake is
    /// done.
    pub fn tls(&self) -> Option<TlsInfo> {
        self.transport()?.tls()
    }

    /// The connection's transport handle (asyncio's `writer.transport`), for
    /// what the stream does not wrap: pausing, buffer limits, the socket's
    /// descriptor. `None` for a subprocess pipe.
    pub fn transport(&self) -> Option<&TransportHandle> {
        match &self.sink {
            Sink::Socket(h) => Some(h),
            Sink::Pipe(_) => None,
        }
    }

    /// Upgrades the connection to TLS (asyncio's `writer.start_tls`): the
    /// reader then reads the decrypted stream. `server_hostname` is needed
    /// with a client config. A subprocess pipe cannot be upgraded
    /// ([`NetError::InvalidArgs`]).
    pub async fn start_tls(
        &mut self,
        config: impl Into<TlsConfig>,
        server_hostname: Option<&str>,
    ) -> Result<(), NetError> {
        let Sink::Socket(h) = &self.sink else {
            return Err(NetError::InvalidArgs(
                "start_tls needs a socket, not a pipe",
            ));
        };
        let mut upgrade = h.lp.start_tls(h.clone(), config);
        if let Some(name) = server_hostname {
            upgrade = upgrade.server_hostname(name);
        }
        upgrade.await.map(drop)
    }
}

impl Drop for StreamWriter {
    /// A pipe's writer closes its pipe (how a child sees EOF on stdin); a
    /// connection's closes it if the reader is gone too.
    fn drop(&mut self) {
        let last = match &self.sink {
            Sink::Socket(_) => self.state.release_holder(),
            Sink::Pipe(_) => true,
        };
        if last && !self.is_closing() {
            self.close();
        }
    }
}

impl futures_io::AsyncWrite for StreamWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        std::task::ready!(this.poll_drain(cx))?;
        this.write(buf);
        Poll::Ready(Ok(buf.len()))
    }

    /// Waits until every byte written has gone to the kernel.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if let Some(e) = this.refused.take() {
            return Poll::Ready(Err(StreamError::from(e).into()));
        }
        if this.state.is_lost() {
            return Poll::Ready(Err(this.state.lost_error().into()));
        }
        if this.write_buffer_size() == 0 {
            return Poll::Ready(Ok(()));
        }
        match &this.sink {
            Sink::Socket(h) => h.info.wait_drain(cx.waker()),
            Sink::Pipe(_) => cx.waker().wake_by_ref(),
        }
        Poll::Pending
    }

    /// Closes the stream and waits until it is gone.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if !this.is_closing() {
            this.close();
        }
        std::task::ready!(this.state.poll_lost(cx));
        Poll::Ready(this.state.read_error().map_or(Ok(()), |e| Err(e.into())))
    }
}
