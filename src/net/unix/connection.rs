//! `create_unix_connection`.

use std::future::{Future, IntoFuture};
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::Duration;

use socket2::{Domain, SockAddr, Socket, Type};
use switchboard_actors::stream::tls::TlsSetup;
use switchboard_actors::stream::StreamLimits;
use switchboard_protocols::{AnyStreamProtocol, StreamProtocol};

use crate::event_loop::EventLoop;
use crate::net::error::NetError;
use crate::net::start::start_transport;
use crate::net::tls::{client_setup, TlsClientConfig};
use crate::net::transport_handle::Connection;
use crate::net::unix::address_of;

type ProtocolMaker<M> = Box<dyn FnOnce() -> AnyStreamProtocol<M>>;

/// How often a connect to a listener whose backlog is full is retried (the
/// kernel answers `EAGAIN` instead of waiting), and the first pause.
const FULL_BACKLOG_RETRIES: u32 = 200;
const FULL_BACKLOG_PAUSE: Duration = Duration::from_millis(1);

/// The builder [`EventLoop::create_unix_connection`] returns; each asyncio
/// keyword argument is a method. Await it (it implements `IntoFuture`).
///
/// Give either a [`path`](Self::path) (a filesystem path, or a Linux
/// abstract name starting with a NUL byte, `"\0name"`) or a connected
/// [`sock`](Self::sock), not both. The future resolves after the protocol got
/// `ConnectionMade`; the transport is the same stream transport as TCP's.
#[must_use = "a CreateUnixConnection does nothing until awaited"]
pub struct CreateUnixConnection<M: 'static> {
    lp: EventLoop,
    factory: ProtocolMaker<M>,
    path: Option<PathBuf>,
    sock: Option<std::os::unix::net::UnixStream>,
    limits: StreamLimits,
    ssl: Option<TlsClientConfig>,
    server_hostname: Option<String>,
    ssl_handshake_timeout: Option<Duration>,
    ssl_shutdown_timeout: Option<Duration>,
}

impl<M: 'static> std::fmt::Debug for CreateUnixConnection<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateUnixConnection")
            .field("path", &self.path)
            .finish()
    }
}

impl EventLoop {
    /// Opens a Unix-domain stream connection whose events go to the protocol
    /// `factory` makes (asyncio's `loop.create_unix_connection`).
    ///
    /// ```
    /// use switchboard::ready_made::Echo;
    /// let dir = std::env::temp_dir().join(format!("sb-doc-uc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// let path = dir.join("echo.sock");
    /// switchboard::run(|lp| async move {
    ///     let server = lp.create_unix_server(|| Echo).path(&path).await?;
    ///     let conn = lp.create_unix_connection(|| Echo).path(&path).await?;
    ///     assert_eq!(conn.transport.peername(), Some(switchboard::Address::Unix(path.clone())));
    ///     conn.transport.close();
    ///     server.close(); // removes the socket file
    ///     assert!(!path.exists());
    ///     Ok::<(), switchboard::Error>(())
    /// })?;
    /// # Ok::<(), switchboard::Error>(())
    /// ```
    pub fn create_unix_connection<P, M>(
        &self,
        factory: impl FnOnce() -> P + 'static,
    ) -> CreateUnixConnection<M>
    where
        P: StreamProtocol<M>,
        M: Send + 'static,
    {
        CreateUnixConnection {
            lp: self.clone(),
            factory: Box::new(move || AnyStreamProtocol::Stream(Box::new(factory()))),
            path: None,
            sock: None,
            limits: StreamLimits::default(),
            ssl: None,
            server_hostname: None,
            ssl_handshake_timeout: None,
            ssl_shutdown_timeout: None,
        }
    }
}

impl<M: Send + 'static> CreateUnixConnection<M> {
    /// The server's path, or its abstract name as `"\0name"` (Linux).
    pub fn path(mut self, path: impl AsRef<Path>) -> Self {
        self.path = Some(path.as_ref().to_path_buf());
        self
    }
    /// Uses an already connected socket instead of a path.
    pub fn sock(mut self, sock: std::os::unix::net::UnixStream) -> Self {
        self.sock = Some(sock);
        self
    }
    /// Beyond asyncio: a hard cap on the write buffer, as
    /// [`CreateConnection::max_write_buffer`](crate::CreateConnection::max_write_buffer).
    pub fn max_write_buffer(mut self, cap: usize) -> Self {
        self.limits = self.limits.max_write_buffer(Some(cap));
        self
    }

    /// TLS over the connection, as
    /// [`CreateConnection::ssl`](crate::CreateConnection::ssl). A Unix path
    /// names no host, so [`server_hostname`](Self::server_hostname) is
    /// required with it.
    pub fn ssl(mut self, config: impl Into<TlsClientConfig>) -> Self {
        self.ssl = Some(config.into());
        self
    }
    /// The name the server's certificate must carry (and the SNI); an empty
    /// name checks the chain only.
    pub fn server_hostname(mut self, name: impl Into<String>) -> Self {
        self.server_hostname = Some(name.into());
        self
    }
    /// How long the TLS handshake may take (60 s by default).
    pub fn ssl_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.ssl_handshake_timeout = Some(timeout);
        self
    }
    /// How long a TLS close waits for the peer's close_notify (30 s by
    /// default).
    pub fn ssl_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.ssl_shutdown_timeout = Some(timeout);
        self
    }

    /// The TLS setup, if `ssl` was given.
    fn tls_setup(&self) -> Result<Option<TlsSetup>, NetError> {
        let Some(config) = &self.ssl else {
            if self.server_hostname.is_some()
                || self.ssl_handshake_timeout.is_some()
                || self.ssl_shutdown_timeout.is_some()
            {
                return Err(NetError::InvalidArgs(
                    "server_hostname and the ssl timeouts are only meaningful with ssl",
                ));
            }
            return Ok(None);
        };
        let Some(name) = self.server_hostname.as_ref() else {
            return Err(NetError::InvalidArgs(
                "you must set server_hostname when using ssl over a unix socket",
            ));
        };
        Ok(Some(client_setup(
            config,
            name,
            None,
            self.ssl_handshake_timeout,
            self.ssl_shutdown_timeout,
        )?))
    }

    async fn run(self) -> Result<Connection<M>, NetError> {
        let lp = self.lp.clone();
        lp.core.check_open()?;
        let tls = self.tls_setup()?;
        let std_stream = match (self.path, self.sock) {
            (Some(_), Some(_)) => {
                return Err(NetError::InvalidArgs(
                    "path and sock can not be specified at the same time",
                ))
            }
            (None, None) => return Err(NetError::InvalidArgs("no path and sock were specified")),
            (None, Some(sock)) => sock,
            (Some(path), None) => connect(&lp, &path).await?,
        };
        std_stream
            .set_nonblocking(true)
            .map_err(|source| NetError::Socket {
                op: "set_nonblocking",
                source,
            })?;
        let stream = mio::net::UnixStream::from_std(std_stream);
        start_transport(&lp, stream, (self.factory)(), self.limits, tls).await
    }
}

/// Connects a non-blocking Unix stream socket to `path`. A Unix connect
/// completes at once or fails, except when the listener's backlog is full:
/// then the kernel says `EAGAIN`, and the connect is retried after a pause
/// that doubles (up to 50 ms) without ever blocking the loop.
async fn connect(lp: &EventLoop, path: &Path) -> Result<std::os::unix::net::UnixStream, NetError> {
    let address = address_of(path);
    let fail = |source| NetError::ConnectUnix {
        address: address.clone(),
        source,
    };
    let target = SockAddr::unix(path).map_err(fail)?;
    let sock =
        Socket::new(Domain::UNIX, Type::STREAM, None).map_err(|source| NetError::Socket {
            op: "socket",
            source,
        })?;
    sock.set_nonblocking(true)
        .map_err(|source| NetError::Socket {
            op: "set_nonblocking",
            source,
        })?;
    let mut pause = FULL_BACKLOG_PAUSE;
    let mut tries = 0;
    loop {
        match sock.connect(&target) {
            Ok(()) => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && tries < FULL_BACKLOG_RETRIES => {
                tries += 1;
                lp.sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(e) => return Err(fail(e)),
        }
    }
    Ok(std::os::unix::net::UnixStream::from(OwnedFd::from(sock)))
}

impl<M: Send + 'static> IntoFuture for CreateUnixConnection<M> {
    type Output = Result<Connection<M>, NetError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output>>>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}
