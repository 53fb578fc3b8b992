//! `create_unix_server`.

use std::future::{Future, IntoFuture};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use socket2::{Domain, SockAddr, Socket, Type};
use switchboard_actors::server::{Factory, ServerShared, SocketFile, UnixListenerActor};

use crate::net::tls::TlsServerConfig;
use switchboard_actors::stream::StreamLimits;
use switchboard_protocols::internal::Mailer;
use switchboard_protocols::{Address, AnyStreamProtocol, StreamProtocol};

use crate::event_loop::EventLoop;
use crate::net::error::NetError;
use crate::net::server::{Listening, Server};
use crate::net::unix::address_of;
use crate::routing;

/// The builder [`EventLoop::create_unix_server`] returns; each asyncio
/// keyword argument is a method. Await it (it implements `IntoFuture`).
///
/// Give either a [`path`](Self::path) or a bound [`sock`](Self::sock), not
/// both. Defaults follow asyncio: backlog 100, serving at once, and the
/// socket file removed when the server closes.
///
/// Binding a path first removes a stale socket file left there (asyncio
/// does the same, whether or not a server still listens on it); a file of
/// any other kind is left alone and the bind fails with
/// [`NetError::BindUnix`] (`AddrInUse`). On [`Server::close`] the file is
/// removed only if the path still holds the socket this server made (same
/// device and inode), so a server started since at the same path keeps its
/// file.
#[must_use = "a CreateUnixServer does nothing until awaited"]
pub struct CreateUnixServer<M: 'static> {
    lp: EventLoop,
    factory: Factory<M>,
    path: Option<PathBuf>,
    sock: Option<std::os::unix::net::UnixListener>,
    backlog: i32,
    start_serving: bool,
    cleanup_socket: bool,
    limits: StreamLimits,
    ssl: Option<TlsServerConfig>,
    ssl_handshake_timeout: Option<std::time::Duration>,
    ssl_shutdown_timeout: Option<std::time::Duration>,
    /// Its name in introspection (`name`).
    pub(crate) name: Option<String>,
}

impl<M: 'static> std::fmt::Debug for CreateUnixServer<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateUnixServer")
            .field("path", &self.path)
            .field("backlog", &self.backlog)
            .finish()
    }
}

impl EventLoop {
    /// A Unix-domain stream server whose connections each get a protocol
    /// from `factory` (asyncio's `loop.create_unix_server`).
    ///
    /// ```
    /// use switchboard::ready_made::Echo;
    /// switchboard::run(|lp| async move {
    ///     // A Linux abstract name: no file at all.
    ///     let name = format!("\0sb-doc-us-{}", std::process::id());
    ///     let server = lp.create_unix_server(|| Echo).path(&name).backlog(10).await?;
    ///     assert_eq!(server.to_string(), format!("<Server sockets=[@{}]>", &name[1..]));
    ///     server.close();
    ///     Ok::<(), switchboard::Error>(())
    /// })?;
    /// # Ok::<(), switchboard::Error>(())
    /// ```
    pub fn create_unix_server<P, M>(&self, factory: impl Fn() -> P + 'static) -> CreateUnixServer<M>
    where
        P: StreamProtocol<M>,
        M: Send + 'static,
    {
        CreateUnixServer {
            lp: self.clone(),
            factory: Rc::new(move || AnyStreamProtocol::Stream(Box::new(factory()))),
            path: None,
            sock: None,
            backlog: 100,
            start_serving: true,
            cleanup_socket: true,
            limits: StreamLimits::default(),
            ssl: None,
            ssl_handshake_timeout: None,
            ssl_shutdown_timeout: None,
            name: None,
        }
    }
}

impl<M: Send + 'static> CreateUnixServer<M> {
    /// The path to bind, or a Linux abstract name as `"\0name"`.
    pub fn path(mut self, path: impl AsRef<Path>) -> Self {
        self.path = Some(path.as_ref().to_path_buf());
        self
    }
    /// Serves on an existing bound (or listening) Unix stream socket.
    pub fn sock(mut self, sock: std::os::unix::net::UnixListener) -> Self {
        self.sock = Some(sock);
        self
    }
    /// The listen backlog, also the most connections accepted per readiness
    /// event.
    pub fn backlog(mut self, backlog: i32) -> Self {
        self.backlog = backlog.max(1);
        self
    }
    /// With `false`, the socket is bound but not listening until
    /// [`Server::start_serving`].
    pub fn start_serving(mut self, on: bool) -> Self {
        self.start_serving = on;
        self
    }
    /// With `false`, closing the server leaves its socket file (asyncio
    /// 3.13's `cleanup_socket`); on by default.
    pub fn cleanup_socket(mut self, on: bool) -> Self {
        self.cleanup_socket = on;
        self
    }
    /// Beyond asyncio: a hard cap on each connection's write buffer, as
    /// [`CreateServer::max_write_buffer`](crate::CreateServer::max_write_buffer).
    pub fn max_write_buffer(mut self, cap: usize) -> Self {
        self.limits = self.limits.max_write_buffer(Some(cap));
        self
    }

    /// TLS on every accepted connection, as
    /// [`CreateServer::ssl`](crate::CreateServer::ssl): a failed handshake
    /// ends that connection alone.
    pub fn ssl(mut self, config: impl Into<TlsServerConfig>) -> Self {
        self.ssl = Some(config.into());
        self
    }
    /// How long each TLS handshake may take (60 s by default).
    pub fn ssl_handshake_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.ssl_handshake_timeout = Some(timeout);
        self
    }
    /// How long a TLS close waits for the peer's close_notify (30 s by
    /// default).
    pub fn ssl_shutdown_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.ssl_shutdown_timeout = Some(timeout);
        self
    }

    async fn run(self) -> Result<Server, NetError> {
        let tls = match &self.ssl {
            Some(c) => Some(c.setup(self.ssl_handshake_timeout, self.ssl_shutdown_timeout)),
            None if self.ssl_handshake_timeout.is_some() || self.ssl_shutdown_timeout.is_some() => {
                return Err(NetError::InvalidArgs(
                    "the ssl timeouts are only meaningful with ssl",
                ))
            }
            None => None,
        };
        self.lp.core.check_open()?;
        let (sock, file) = match (self.path, self.sock) {
            (Some(_), Some(_)) => {
                return Err(NetError::InvalidArgs(
                    "path and sock can not be specified at the same time",
                ))
            }
            (None, None) => {
                return Err(NetError::InvalidArgs(
                    "path was not specified, and no sock specified",
                ))
            }
            (Some(path), None) => {
                let sock = bind(&path)?;
                let file = (self.cleanup_socket && is_path(&path))
                    .then(|| SocketFile::record(&path).ok())
                    .flatten();
                (sock, file)
            }
            (None, Some(listener)) => {
                let sock = Socket::from(OwnedFd::from(listener));
                let path = sock
                    .local_addr()
                    .ok()
                    .and_then(|a| a.as_pathname().map(Path::to_path_buf));
                let file = match path {
                    Some(p) if self.cleanup_socket => SocketFile::record(&p).ok(),
                    _ => None,
                };
                (sock, file)
            }
        };
        let fd = sock.as_raw_fd();
        let shared = Rc::new(ServerShared::default());
        let mailer: Arc<dyn Mailer> = Arc::new(self.lp.handle());
        let mut actor =
            UnixListenerActor::new(sock, self.backlog, self.factory, shared.clone(), mailer)
                .with_limits(self.limits)
                .with_tls(tls);
        if let Some(file) = file {
            actor = actor.with_socket_file(file);
        }
        let local = actor.local().cloned();
        let (id, gen) = routing::reserve_gen(&self.lp.core);
        routing::insert(&self.lp.core, id, Box::new(actor));
        let listening = Listening { id, gen, local, fd };
        Ok(Server::new(
            &self.lp,
            shared,
            vec![listening],
            self.start_serving,
        ))
    }
}

fn is_path(path: &Path) -> bool {
    matches!(address_of(path), Address::Unix(_))
}

/// Removes a socket file left at `path` by a server that is gone, as
/// asyncio does before binding; a file of another kind is left alone, and
/// an abstract name has no file.
pub(crate) fn remove_stale_socket(path: &Path) {
    if is_path(path) {
        match std::fs::metadata(path) {
            Ok(m) if m.file_type().is_socket() => {
                if let Err(e) = std::fs::remove_file(path) {
                    if e.kind() != io::ErrorKind::NotFound {
                        crate::diag::warning!(
                            "unable to remove the stale unix socket {}: {e}",
                            path.display()
                        );
                    }
                }
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => crate::diag::warning!(
                "unable to check the stale unix socket {}: {e}",
                path.display()
            ),
        }
    }
}

/// Binds a new Unix stream socket to `path`, removing a stale socket file
/// there first.
fn bind(path: &Path) -> Result<Socket, NetError> {
    let address = address_of(path);
    remove_stale_socket(path);
    let fail = |source| NetError::BindUnix {
        address: address.clone(),
        source,
    };
    let target = SockAddr::unix(path).map_err(fail)?;
    let sock =
        Socket::new(Domain::UNIX, Type::STREAM, None).map_err(|source| NetError::Socket {
            op: "socket",
            source,
        })?;
    // Dropping the socket on failure closes it (N4).
    sock.bind(&target).map_err(fail)?;
    Ok(sock)
}

impl<M: Send + 'static> IntoFuture for CreateUnixServer<M> {
    type Output = Result<Server, NetError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output>>>;
    fn into_future(mut self) -> Self::IntoFuture {
        let name = self.name.take();
        Box::pin(crate::introspect::named(self.run(), name))
    }
}
