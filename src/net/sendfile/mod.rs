//! `loop.sendfile` and `loop.sock_sendfile`: a file over a stream transport
//! or a socket with the OS's `sendfile(2)`, falling back to reading and
//! writing when the OS call cannot serve.
//! <https://docs.python.org/3/library/asyncio-eventloop.html#transferring-files>

mod copy;
mod drained;
mod error;

pub use error::SendfileError;

use std::fs::File;
use std::future::{Future, IntoFuture};
use std::io::{self, Seek, SeekFrom};
use std::os::fd::{AsFd, AsRawFd};
use std::pin::Pin;

use crate::event_loop::EventLoop;
use crate::net::transport_handle::TransportHandle;
use copy::{fallback, native, Native};
use drained::Drained;

/// The builder [`EventLoop::sendfile`] returns; asyncio's arguments are
/// methods. Awaited, it gives the number of bytes sent.
#[must_use = "a Sendfile does nothing until awaited"]
pub struct Sendfile<'a> {
    lp: EventLoop,
    transport: &'a TransportHandle,
    file: &'a mut File,
    offset: u64,
    count: Option<u64>,
    fallback: bool,
    native: bool,
}

impl std::fmt::Debug for Sendfile<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sendfile")
            .field("transport", &self.transport)
            .field("offset", &self.offset)
            .field("count", &self.count)
            .field("fallback", &self.fallback)
            .finish()
    }
}

/// The builder [`EventLoop::sock_sendfile`] returns.
#[must_use = "a SockSendfile does nothing until awaited"]
pub struct SockSendfile<'a, S: AsFd> {
    lp: EventLoop,
    sock: &'a S,
    file: &'a mut File,
    offset: u64,
    count: Option<u64>,
    fallback: bool,
    native: bool,
}

impl<S: AsFd> std::fmt::Debug for SockSendfile<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SockSendfile")
            .field("fd", &self.sock.as_fd())
            .field("offset", &self.offset)
            .field("count", &self.count)
            .finish()
    }
}

impl EventLoop {
    /// Sends `file` over a stream transport (asyncio's `loop.sendfile`),
    /// with `sendfile(2)` when the OS can, else by reading the file and
    /// writing it through the transport if [`fallback`](Sendfile::fallback)
    /// allows (the default). Returns the bytes sent.
    ///
    /// The file is sent from [`offset`](Sendfile::offset) (0 by default, not
    /// the file's position) for [`count`](Sendfile::count) bytes (default:
    /// to its end); afterwards the file's position is `offset` plus the bytes
    /// sent, also after a failure. Bytes written before the call go first:
    /// the native path waits for the transport's buffer to drain, holds
    /// reading meanwhile, and refuses writes until it is done
    /// ([`WriteError::SendfileInProgress`](crate::WriteError::SendfileInProgress)).
    /// The fallback writes a chunk at a time and waits whenever the
    /// transport is above its high-water mark, as `PauseWriting` asks. Over
    /// TLS the file always goes through the fallback (its bytes must be
    /// encrypted); with `fallback(false)` that is
    /// [`SendfileError::NotAvailable`].
    ///
    /// ```
    /// use std::io::Write;
    /// use switchboard::ready_made::Echo;
    /// switchboard::run(|lp| async move {
    ///     let server = lp.create_server(|| Echo).host("127.0.0.1").port(0).await?;
    ///     let port = server.sockets()[0].port();
    ///     let conn = lp.create_connection(|| Echo).host("127.0.0.1").port(port).await?;
    ///     let mut file = tempfile_with(b"0123456789")?;
    ///     let sent = lp.sendfile(&conn.transport, &mut file).offset(2).count(5).await?;
    ///     assert_eq!(sent, 5);
    ///     use std::io::Seek;
    ///     assert_eq!(file.stream_position()?, 7);
    ///     conn.transport.close();
    ///     server.close();
    ///     Ok::<(), switchboard::Error>(())
    /// })?;
    /// # fn tempfile_with(data: &[u8]) -> std::io::Result<std::fs::File> {
    /// #     let path = std::env::temp_dir().join(format!("sb-doc-sendfile-{}", std::process::id()));
    /// #     std::fs::File::create(&path)?.write_all(data)?;
    /// #     let f = std::fs::File::open(&path)?;
    /// #     std::fs::remove_file(&path)?;
    /// #     Ok(f)
    /// # }
    /// # Ok::<(), switchboard::Error>(())
    /// ```
    pub fn sendfile<'a>(&self, transport: &'a TransportHandle, file: &'a mut File) -> Sendfile<'a> {
        Sendfile {
            lp: self.clone(),
            transport,
            file,
            offset: 0,
            count: None,
            fallback: true,
            native: true,
        }
    }

    /// Sends `file` over a connected, non-blocking stream socket the caller
    /// owns (asyncio's `loop.sock_sendfile`), as
    /// [`sendfile`](Self::sendfile) does over a transport; the fallback uses
    /// [`sock_sendall`](Self::sock_sendall).
    pub fn sock_sendfile<'a, S: AsFd>(
        &self,
        sock: &'a S,
        file: &'a mut File,
    ) -> SockSendfile<'a, S> {
        SockSendfile {
            lp: self.clone(),
            sock,
            file,
            offset: 0,
            count: None,
            fallback: true,
            native: true,
        }
    }
}

macro_rules! sendfile_options {
    () => {
        /// Where in the file to start (0 by default, whatever the file's
        /// position).
        pub fn offset(mut self, offset: u64) -> Self {
            self.offset = offset;
            self
        }
        /// How many bytes to send at most (default: up to the end of the
        /// file); 0 is [`SendfileError::InvalidCount`].
        pub fn count(mut self, count: u64) -> Self {
            self.count = Some(count);
            self
        }
        /// Whether to read and write the file when `sendfile(2)` cannot
        /// serve (default true); with false that case is
        /// [`SendfileError::NotAvailable`].
        pub fn fallback(mut self, on: bool) -> Self {
            self.fallback = on;
            self
        }
        /// Beyond asyncio: with false, skips `sendfile(2)` and reads and
        /// writes the file at once, as the fallback does (for file systems
        /// whose `sendfile` misbehaves, or to compare the two); true by
        /// default.
        pub fn native(mut self, on: bool) -> Self {
            self.native = on;
            self
        }
    };
}

impl Sendfile<'_> {
    sendfile_options!();

    async fn run(self) -> Result<u64, SendfileError> {
        self.lp.core.check_open()?;
        if self.count == Some(0) {
            return Err(SendfileError::InvalidCount);
        }
        let (lp, t, file) = (self.lp, self.transport, self.file);
        if t.is_closing() {
            return Err(SendfileError::TransportClosing);
        }
        if self.native && t.info.has_tls_layer() {
            // The socket carries TLS records: the file's bytes must go
            // through the session (asyncio falls back the same way).
            if !self.fallback {
                return Err(SendfileError::NotAvailable {
                    reason: "the transport is TLS: its bytes must be encrypted".into(),
                });
            }
        } else if self.native {
            // What was written before goes first.
            Drained::new(&t.info, |i| i.write_buffer_size() == 0 || i.is_closing()).await;
            let Some(dup) = t.info.dup_socket().filter(|_| !t.is_closing()) else {
                return Err(SendfileError::TransportClosing);
            };
            let dup = dup.map_err(|source| SendfileError::Io { sent: 0, source })?;
            let attempt = {
                let _hold = Exclusive::new(t);
                native(
                    &lp,
                    dup.as_fd(),
                    dup.as_raw_fd(),
                    file,
                    self.offset,
                    self.count,
                )
                .await
            };
            let reason = match attempt {
                Ok(Native::Sent(n)) => return settle(file, self.offset, Ok(n)),
                Ok(Native::Unsupported(e)) => e,
                Err(e) => return settle(file, self.offset, Err(e)),
            };
            if !self.fallback {
                return Err(SendfileError::NotAvailable {
                    reason: reason.to_string(),
                });
            }
        }
        let info = &t.info;
        let sent = fallback(file, self.offset, self.count, |chunk| async move {
            if info.is_closing() {
                return Err(closed());
            }
            t.write_bytes(chunk).map_err(|e| SendfileError::Io {
                sent: 0,
                source: io::Error::other(e),
            })?;
            // Flow control: the transport has taken the chunk and is not
            // above its high-water mark (or has resumed since).
            Drained::new(info, |i| {
                (i.is_pending_taken() && !i.is_writing_paused()) || i.is_closing()
            })
            .await;
            Ok(())
        })
        .await;
        settle(file, self.offset, sent)
    }
}

impl<S: AsFd> SockSendfile<'_, S> {
    sendfile_options!();

    async fn run(self) -> Result<u64, SendfileError> {
        if self.count == Some(0) {
            return Err(SendfileError::InvalidCount);
        }
        let (lp, sock, file) = (self.lp, self.sock, self.file);
        let raw = lp.check_sock(sock.as_fd())?;
        if self.native {
            let reason = match native(&lp, sock.as_fd(), raw, file, self.offset, self.count).await {
                Ok(Native::Sent(n)) => return settle(file, self.offset, Ok(n)),
                Ok(Native::Unsupported(e)) => e,
                Err(e) => return settle(file, self.offset, Err(e)),
            };
            if !self.fallback {
                return Err(SendfileError::NotAvailable {
                    reason: reason.to_string(),
                });
            }
        }
        let l = &lp;
        let sent = fallback(file, self.offset, self.count, |chunk| async move {
            l.sock_sendall(sock, &chunk).await.map_err(|e| match e {
                crate::net::sock::SockError::Io { source, .. } => {
                    SendfileError::Io { sent: 0, source }
                }
                other => SendfileError::Sock(other),
            })
        })
        .await;
        settle(file, self.offset, sent)
    }
}

/// The error the fallback gives when the transport closes under it.
fn closed() -> SendfileError {
    SendfileError::Io {
        sent: 0,
        source: io::Error::new(
            io::ErrorKind::BrokenPipe,
            "the transport closed during sendfile",
        ),
    }
}

/// Sets the file position to `offset` plus what was sent, success or not.
fn settle(
    file: &mut File,
    offset: u64,
    result: Result<u64, SendfileError>,
) -> Result<u64, SendfileError> {
    let sent = match &result {
        Ok(n) => *n,
        Err(SendfileError::Io { sent, .. }) => *sent,
        Err(_) => return result,
    };
    file.seek(SeekFrom::Start(offset + sent))
        .map_err(|source| SendfileError::Io { sent, source })?;
    result
}

/// While a native sendfile owns the socket: writes are refused and reading
/// is held (asyncio pauses reading too), until dropped, also on
/// cancellation.
struct Exclusive<'a> {
    transport: &'a TransportHandle,
    resume: bool,
}

impl<'a> Exclusive<'a> {
    fn new(transport: &'a TransportHandle) -> Self {
        let resume = transport.is_reading();
        if resume {
            transport.pause_reading();
        }
        transport.info.set_sendfile(true);
        Exclusive { transport, resume }
    }
}

impl Drop for Exclusive<'_> {
    fn drop(&mut self) {
        self.transport.info.set_sendfile(false);
        if self.resume {
            self.transport.resume_reading();
        }
    }
}

impl<'a> IntoFuture for Sendfile<'a> {
    type Output = Result<u64, SendfileError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + 'a>>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

impl<'a, S: AsFd> IntoFuture for SockSendfile<'a, S> {
    type Output = Result<u64, SendfileError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + 'a>>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}
