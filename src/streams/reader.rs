//! `StreamReader`: asyncio's reading half of a stream.

use std::future::poll_fn;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};

use crate::pipes::PipeHandle;
use crate::streams::state::StreamState;
use crate::streams::StreamError;
use crate::TransportHandle;

/// What lifts the feeder's pause: the transport the bytes come from.
#[derive(Debug)]
pub(crate) enum ReadControl {
    Socket(TransportHandle),
    Pipe(PipeHandle),
}

impl ReadControl {
    fn resume(&self) {
        match self {
            ReadControl::Socket(h) => h.resume_reading(),
            ReadControl::Pipe(h) => h.resume_reading(),
        }
    }
}

/// The reading half of a stream (asyncio's `StreamReader`), from
/// [`open_connection`](crate::EventLoop::open_connection),
/// [`start_server`](crate::EventLoop::start_server) or a
/// [`Process`](crate::Process)'s `stdout`/`stderr`.
///
/// Its methods wait on the loop that owns the connection, so call them from
/// tasks of that loop. Memory is bounded by `limit` (64 KiB unless the
/// builder's `limit` says otherwise): once more than 2 × `limit` bytes are
/// waiting unread, the transport stops reading until the reader takes them
/// down to `limit`; and no separator search looks further than `limit`.
/// Only [`readexactly`](Self::readexactly) of more than that buffers more,
/// because it was asked to.
///
/// Bytes that arrived before the connection failed are read first; the
/// failure ([`StreamError::ConnectionLost`]) comes once they are taken.
/// (asyncio raises the failure at once and drops them.)
///
/// It also implements `futures-io`'s `AsyncRead` and `AsyncBufRead`, so
/// readers built on those traits work on it.
///
/// A connection closes when both its reader and its writer are dropped
/// (see [`StreamWriter`](crate::StreamWriter)); either alone keeps it open.
#[derive(Debug)]
pub struct StreamReader {
    state: Rc<StreamState>,
    /// Bytes pulled from the feeder and not yet consumed.
    buf: BytesMut,
    /// How far `readuntil` has searched `buf` without finding its separator.
    scanned: usize,
    control: ReadControl,
}

impl StreamReader {
    pub(crate) fn new(state: Rc<StreamState>, control: ReadControl) -> Self {
        if matches!(control, ReadControl::Socket(_)) {
            state.hold();
        }
        StreamReader {
            state,
            buf: BytesMut::new(),
            scanned: 0,
            control,
        }
    }

    /// Takes `n` buffered bytes.
    fn take(&mut self, n: usize) -> Bytes {
        self.scanned = 0;
        let out = self.buf.split_to(n).freeze();
        self.release(n);
        out
    }

    /// `n` buffered bytes were consumed: lifts the pause at `limit`.
    fn release(&mut self, n: usize) {
        if self.state.consumed(n) {
            self.control.resume();
        }
    }

    /// Waits for more data (lifting a pause, as asyncio's `_wait_for_data`).
    fn wait<T>(&self, cx: &Context<'_>) -> Poll<T> {
        if self.state.wait_for_data(cx) {
            self.control.resume();
        }
        Poll::Pending
    }

    /// How a read that needs more ends at EOF: the connection's failure if
    /// nothing is left to give, else what `incomplete` makes of the rest.
    fn at_end(&mut self, expected: Option<usize>) -> StreamError {
        if self.buf.is_empty() {
            if let Some(e) = self.state.read_error() {
                return e;
            }
        }
        let partial = self.take(self.buf.len());
        StreamError::IncompleteRead { partial, expected }
    }

    fn poll_chunk(&mut self, cx: &Context<'_>, n: usize) -> Poll<Result<Bytes, StreamError>> {
        if n == 0 {
            return Poll::Ready(Ok(Bytes::new()));
        }
        self.state.pull(&mut self.buf);
        if !self.buf.is_empty() {
            let k = n.min(self.buf.len());
            return Poll::Ready(Ok(self.take(k)));
        }
        if self.state.is_eof() {
            return Poll::Ready(self.state.read_error().map_or(Ok(Bytes::new()), Err));
        }
        self.wait(cx)
    }

    /// Up to `n` bytes, as soon as any are there; empty at EOF (asyncio's
    /// `read(n)`; `read(0)` is empty at once).
    ///
    /// ```
    /// switchboard::run(|lp| async move {
    ///     let server = lp
    ///         .start_server(|_r, mut w| async move {
    ///             w.write(b"hello");
    ///             w.close();
    ///             Ok::<(), switchboard::Error>(())
    ///         })
    ///         .host("127.0.0.1")
    ///         .port(0)
    ///         .await?;
    ///     let port = server.sockets()[0].port();
    ///     let (mut r, _w) = lp.open_connection().host("127.0.0.1").port(port).await?;
    ///     let mut got = Vec::new();
    ///     loop {
    ///         let chunk = r.read(2).await?;
    ///         if chunk.is_empty() { break; }
    ///         assert!(chunk.len() <= 2);
    ///         got.extend_from_slice(&chunk);
    ///     }
    ///     assert_eq!(got, b"hello");
    ///     server.close();
    ///     Ok::<(), switchboard::Error>(())
    /// })?;
    /// # Ok::<(), switchboard::Error>(())
    /// ```
    pub async fn read(&mut self, n: usize) -> Result<Bytes, StreamError> {
        poll_fn(|cx| self.poll_chunk(cx, n)).await
    }

    fn poll_until(&mut self, cx: &Context<'_>, sep: &[u8]) -> Poll<Result<Bytes, StreamError>> {
        if sep.is_empty() {
            return Poll::Ready(Err(StreamError::EmptySeparator));
        }
        let limit = self.state.limit;
        self.state.pull(&mut self.buf);
        let len = self.buf.len();
        let from = self.scanned.min(len);
        if let Some(i) = find(&self.buf[from..], sep).map(|i| i + from) {
            if i > limit {
                self.scanned = 0;
                return Poll::Ready(Err(StreamError::LimitOverrun { consumed: i, limit }));
            }
            return Poll::Ready(Ok(self.take(i + sep.len())));
        }
        let offset = (len + 1).saturating_sub(sep.len());
        if offset > limit {
            self.scanned = 0;
            return Poll::Ready(Err(StreamError::LimitOverrun {
                consumed: offset,
                limit,
            }));
        }
        self.scanned = offset;
        if self.state.is_eof() {
            return Poll::Ready(Err(self.at_end(None)));
        }
        self.wait(cx)
    }

    /// The bytes up to and including the first `sep` (asyncio's
    /// `readuntil`). At EOF first: [`StreamError::IncompleteRead`] with what
    /// was left. No `sep` within `limit` bytes:
    /// [`StreamError::LimitOverrun`], the data left in the buffer.
    ///
    /// ```
    /// use switchboard::StreamError;
    /// switchboard::run(|lp| async move {
    ///     let server = lp
    ///         .start_server(|_r, mut w| async move {
    ///             w.write(b"HEAD\r\n\r\n\x00\x05hello\x00\x09cut");
    ///             w.close();
    ///             Ok::<(), switchboard::Error>(())
    ///         })
    ///         .host("127.0.0.1")
    ///         .port(0)
    ///         .await?;
    ///     let port = server.sockets()[0].port();
    ///     let (mut r, _w) = lp.open_connection().host("127.0.0.1").port(port).await?;
    ///     assert_eq!(&r.readuntil(b"\r\n\r\n").await?[..], b"HEAD\r\n\r\n");
    ///     // A length-prefixed frame: two bytes of length, then the body.
    ///     let len = r.readexactly(2).await?;
    ///     let n = u16::from_be_bytes([len[0], len[1]]) as usize;
    ///     assert_eq!(&r.readexactly(n).await?[..], b"hello");
    ///     let len = r.readexactly(2).await?;
    ///     let n = u16::from_be_bytes([len[0], len[1]]) as usize;
    ///     match r.readexactly(n).await {
    ///         Err(StreamError::IncompleteRead { partial, expected }) => {
    ///             assert_eq!((&partial[..], expected), (&b"cut"[..], Some(9)));
    ///         }
    ///         other => panic!("{other:?}"),
    ///     }
    ///     server.close();
    ///     Ok::<(), switchboard::Error>(())
    /// })?;
    /// # Ok::<(), switchboard::Error>(())
    /// ```
    pub async fn readuntil(&mut self, sep: &[u8]) -> Result<Bytes, StreamError> {
        poll_fn(|cx| self.poll_until(cx, sep)).await
    }

    /// One line, `\n` included; at EOF what is left, and empty once nothing
    /// is (asyncio's `readline`). A line longer than `limit` is dropped
    /// (through its `\n` if it has arrived, else what is buffered) and
    /// reported as [`StreamError::LimitOverrun`]; the next call goes on
    /// after it.
    ///
    /// ```
    /// switchboard::run(|lp| async move {
    ///     let server = lp
    ///         .start_server(|mut r, mut w| async move {
    ///             loop {
    ///                 let line = r.readline().await?;
    ///                 if line.is_empty() { break; }
    ///                 w.write(&line.to_ascii_uppercase());
    ///                 w.drain().await?;
    ///             }
    ///             w.close();
    ///             Ok::<(), switchboard::Error>(())
    ///         })
    ///         .host("127.0.0.1")
    ///         .port(0)
    ///         .await?;
    ///     let port = server.sockets()[0].port();
    ///     let (mut r, mut w) = lp.open_connection().host("127.0.0.1").port(port).await?;
    ///     w.write(b"one\ntwo\n");
    ///     assert_eq!(&r.readline().await?[..], b"ONE\n");
    ///     assert_eq!(&r.readline().await?[..], b"TWO\n");
    ///     w.write_eof()?;
    ///     assert!(r.readline().await?.is_empty());
    ///     server.close();
    ///     Ok::<(), switchboard::Error>(())
    /// })?;
    /// # Ok::<(), switchboard::Error>(())
    /// ```
    pub async fn readline(&mut self) -> Result<Bytes, StreamError> {
        match self.readuntil(b"\n").await {
            Ok(line) => Ok(line),
            Err(StreamError::IncompleteRead { partial, .. }) => Ok(partial),
            Err(StreamError::LimitOverrun { consumed, limit }) => {
                let drop = if self.buf.get(consumed) == Some(&b'\n') {
                    consumed + 1
                } else {
                    self.buf.len()
                };
                self.take(drop);
                Err(StreamError::LimitOverrun { consumed, limit })
            }
            Err(e) => Err(e),
        }
    }

    fn poll_exactly(&mut self, cx: &Context<'_>, n: usize) -> Poll<Result<Bytes, StreamError>> {
        self.state.pull(&mut self.buf);
        if self.buf.len() >= n {
            return Poll::Ready(Ok(self.take(n)));
        }
        if self.state.is_eof() {
            return Poll::Ready(Err(self.at_end(Some(n))));
        }
        self.wait(cx)
    }

    /// Exactly `n` bytes (asyncio's `readexactly`); at EOF first,
    /// [`StreamError::IncompleteRead`] carrying the bytes read.
    pub async fn readexactly(&mut self, n: usize) -> Result<Bytes, StreamError> {
        poll_fn(|cx| self.poll_exactly(cx, n)).await
    }

    /// True once the peer sent EOF (or the connection was lost) and every
    /// byte was read (asyncio's `at_eof`).
    pub fn at_eof(&mut self) -> bool {
        self.state.pull(&mut self.buf);
        self.state.is_eof() && self.buf.is_empty()
    }

    /// The limit this reader was made with.
    pub fn limit(&self) -> usize {
        self.state.limit
    }
}

/// The first index of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    match needle {
        [b] => memchr::memchr(*b, hay),
        _ => memchr::memmem::find(hay, needle),
    }
}

impl Drop for StreamReader {
    /// The last of a connection's reader and writer to go closes it (what
    /// was written is sent first); a pipe's reader leaves its pipe alone.
    fn drop(&mut self) {
        if let ReadControl::Socket(h) = &self.control {
            if self.state.release_holder() && !h.is_closing() {
                h.close();
            }
        }
    }
}

impl futures_io::AsyncRead for StreamReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let chunk = std::task::ready!(this.poll_fill(cx))?;
        let k = chunk.min(out.len());
        out[..k].copy_from_slice(&this.buf[..k]);
        this.consume_buffered(k);
        Poll::Ready(Ok(k))
    }
}

impl StreamReader {
    /// Ready with how many bytes are buffered (0 at EOF).
    fn poll_fill(&mut self, cx: &Context<'_>) -> Poll<std::io::Result<usize>> {
        self.state.pull(&mut self.buf);
        if !self.buf.is_empty() {
            return Poll::Ready(Ok(self.buf.len()));
        }
        if self.state.is_eof() {
            return Poll::Ready(self.state.read_error().map_or(Ok(0), |e| Err(e.into())));
        }
        self.wait(cx)
    }

    fn consume_buffered(&mut self, n: usize) {
        let n = n.min(self.buf.len());
        self.scanned = 0;
        self.buf.advance(n);
        self.release(n);
    }
}

impl futures_io::AsyncBufRead for StreamReader {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<&[u8]>> {
        let this = self.get_mut();
        std::task::ready!(this.poll_fill(cx))?;
        Poll::Ready(Ok(&this.buf[..]))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        self.get_mut().consume_buffered(amt);
    }
}
