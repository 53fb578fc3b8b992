//! `create_server` and the `Server` object.

use std::future::{Future, IntoFuture};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use socket2::{Domain, Protocol, Socket, Type};
use switchboard_actors::server::{Factory, ServerCommand, ServerShared, TcpListenerActor};
use switchboard_actors::stream::StreamLimits;
use switchboard_protocols::internal::Mailer;
use switchboard_protocols::{ActorId, Address, AnyStreamProtocol, StreamCommand, StreamProtocol};

use crate::event_loop::EventLoop;
use crate::net::dns::Family;
use crate::net::error::NetError;
use crate::net::tls::TlsServerConfig;
use crate::routing;

/// The builder [`EventLoop::create_server`] returns; each asyncio keyword
/// argument is a method. Await it (it implements `IntoFuture`).
///
/// Defaults follow asyncio: every interface (IPv4 and IPv6, one socket each)
/// when no host is given, backlog 100, `SO_REUSEADDR` on, `SO_REUSEPORT` off,
/// serving at once.
#[must_use = "a CreateServer does nothing until awaited"]
pub struct CreateServer<M: 'static> {
    pub(crate) lp: EventLoop,
    pub(crate) factory: Factory<M>,
    pub(crate) hosts: Vec<String>,
    pub(crate) port: u16,
    pub(crate) family: Family,
    pub(crate) backlog: i32,
    reuse_address: bool,
    reuse_port: bool,
    pub(crate) sock: Option<std::net::TcpListener>,
    pub(crate) start_serving: bool,
    pub(crate) limits: StreamLimits,
    ssl: Option<TlsServerConfig>,
    ssl_handshake_timeout: Option<std::time::Duration>,
    ssl_shutdown_timeout: Option<std::time::Duration>,
    /// One listener for the whole loop group (`balanced`).
    pub(crate) balanced: bool,
    /// Its name in introspection (`name`).
    pub(crate) name: Option<String>,
}

impl<M: 'static> std::fmt::Debug for CreateServer<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateServer")
            .field("hosts", &self.hosts)
            .field("port", &self.port)
            .finish()
    }
}

impl EventLoop {
    /// A TCP server whose connections each get a protocol from `factory`
    /// (asyncio's `loop.create_server`).
    pub fn create_server<P, M>(&self, factory: impl Fn() -> P + 'static) -> CreateServer<M>
    where
        P: StreamProtocol<M>,
        M: Send + 'static,
    {
        self.server_builder(Rc::new(move || {
            AnyStreamProtocol::Stream(Box::new(factory()))
        }))
    }

    /// [`create_server`](Self::create_server) for a buffered protocol.
    pub fn create_buffered_server<P, M>(&self, factory: impl Fn() -> P + 'static) -> CreateServer<M>
    where
        P: switchboard_protocols::BufferedProtocol<M>,
        M: Send + 'static,
    {
        self.server_builder(Rc::new(move || {
            AnyStreamProtocol::Buffered(Box::new(factory()))
        }))
    }

    fn server_builder<M>(&self, factory: Factory<M>) -> CreateServer<M> {
        CreateServer {
            lp: self.clone(),
            factory,
            hosts: Vec::new(),
            port: 0,
            family: Family::Unspec,
            backlog: 100,
            reuse_address: true,
            reuse_port: false,
            sock: None,
            start_serving: true,
            limits: StreamLimits::default(),
            ssl: None,
            ssl_handshake_timeout: None,
            ssl_shutdown_timeout: None,
            balanced: false,
            name: None,
        }
    }
}

impl<M: Send + 'static> CreateServer<M> {
    /// The host to bind ("" means every interface), as on
    /// [`create_connection`](EventLoop::create_connection): replaces any host
    /// given before. For several, use [`hosts`](Self::hosts).
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.hosts = vec![host.into()];
        self
    }
    /// Several hosts to bind, one socket each (asyncio's `host` as a
    /// sequence); replaces any host given before.
    pub fn hosts<I>(mut self, hosts: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.hosts = hosts.into_iter().map(Into::into).collect();
        self
    }
    /// Shortcut for `.host(addr.ip()).port(addr.port())`.
    pub fn addr(self, addr: SocketAddr) -> Self {
        self.host(addr.ip().to_string()).port(addr.port())
    }
    /// The port (0 picks a free one).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }
    /// Only addresses of this family.
    pub fn family(mut self, family: Family) -> Self {
        self.family = family;
        self
    }
    /// The listen backlog, also the most connections accepted per readiness event.
    pub fn backlog(mut self, backlog: i32) -> Self {
        self.backlog = backlog.max(1);
        self
    }
    /// `SO_REUSEADDR` (on by default).
    pub fn reuse_address(mut self, on: bool) -> Self {
        self.reuse_address = on;
        self
    }
    /// `SO_REUSEPORT`: several servers (or loops) share the port.
    pub fn reuse_port(mut self, on: bool) -> Self {
        self.reuse_port = on;
        self
    }
    /// Serves on an existing listening socket (the same fd is kept).
    pub fn sock(mut self, sock: std::net::TcpListener) -> Self {
        self.sock = Some(sock);
        self
    }
    /// With `false`, the sockets are bound but not listening until
    /// [`Server::start_serving`]: connects are refused meanwhile.
    pub fn start_serving(mut self, on: bool) -> Self {
        self.start_serving = on;
        self
    }
    /// Beyond asyncio (fault scenario 4, slow consumer): the hard cap on each
    /// accepted connection's write buffer. A write that takes it past `cap`
    /// bytes aborts that transport with
    /// `ConnectionLost(Some(TransportError::BufferOverflow { cap }))`; the
    /// write itself does not fail. Default
    /// `Some(`[`DEFAULT_MAX_WRITE_BUFFER`](crate::DEFAULT_MAX_WRITE_BUFFER)`)`
    /// (64 MiB), so writes that do not come from reading (a broadcast to a
    /// client that never reads) cannot grow the server without end; `None`
    /// disables the cap (asyncio has none). Keep it well above the
    /// high-water mark.
    pub fn max_write_buffer(mut self, cap: impl Into<Option<usize>>) -> Self {
        self.limits = self.limits.max_write_buffer(cap.into());
        self
    }
    /// Beyond asyncio (fault scenario 5): if an accepted connection's buffer
    /// has not drained `timeout` after its `close()`, that transport aborts
    /// with `ConnectionLost(Some(TransportError::CloseTimedOut { pending }))`.
    /// Off by default.
    pub fn close_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.limits = self.limits.close_timeout(Some(timeout));
        self
    }
    /// Beyond asyncio: read-side backpressure for every accepted
    /// connection, on by default. While a connection's write buffer is above
    /// its high-water mark (from the write that took it strictly above high
    /// until it drains to low or below), its transport reads nothing from
    /// the socket, so a protocol that answers what it reads and ignores
    /// `PauseWriting` cannot grow the server without end under a client that
    /// sends and never reads. `is_reading()` does not show this hold. `false`
    /// reads on regardless, as asyncio does.
    pub fn read_backpressure(mut self, on: bool) -> Self {
        self.limits = self.limits.read_backpressure(on);
        self
    }

    /// Beyond asyncio: the most calls a protocol may have in flight (made
    /// with `t.call` and not yet answered to it) before its transport stops
    /// reading, until answers are handed over; 64 by default, at least 1.
    /// This bounds what a peer that pipelines requests and never reads the
    /// answers can queue in actors on its connection's behalf. At most
    /// 65,535.
    ///
    /// ```no_run
    /// # use switchboard::prelude::*;
    /// # struct P;
    /// # impl StreamProtocol for P {
    /// #     fn handle(&mut self, _: StreamEvent, _: &mut dyn StreamTransport) -> Result<(), ProtocolError> { Ok(()) }
    /// # }
    /// switchboard::run(|lp| async move {
    ///     let server = lp
    ///         .create_server(|| P)
    ///         .host("127.0.0.1")
    ///         .port(6379)
    ///         .max_calls_in_flight(16) // a connection stops reading at 16 unanswered
    ///         .await?;
    ///     server.serve_forever().await?;
    ///     Ok::<(), switchboard::Error>(())
    /// })?;
    /// # Ok::<(), switchboard::Error>(())
    /// ```
    pub fn max_calls_in_flight(mut self, n: usize) -> Self {
        self.limits = self.limits.max_calls_in_flight(n);
        self
    }

    /// TLS on every accepted connection (asyncio's `ssl=`): each protocol
    /// gets `ConnectionMade` once its handshake is done. A failed handshake
    /// ends that connection alone, and is reported to the exception handler
    /// ("SSL handshake failed"), except for a peer that left or stalled
    /// (then only in debug mode).
    pub fn ssl(mut self, config: impl Into<TlsServerConfig>) -> Self {
        self.ssl = Some(config.into());
        self
    }
    /// How long each connection's TLS handshake may take (60 s by default).
    pub fn ssl_handshake_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.ssl_handshake_timeout = Some(timeout);
        self
    }
    /// How long each connection's `close()` may wait for the close_notify
    /// exchange and the flush (30 s by default).
    pub fn ssl_shutdown_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.ssl_shutdown_timeout = Some(timeout);
        self
    }

    pub(crate) async fn bind_addrs(&self) -> Result<Vec<SocketAddr>, NetError> {
        let wildcard = self.hosts.is_empty() || self.hosts.iter().all(|h| h.is_empty());
        let mut addrs = Vec::new();
        if wildcard {
            if self.family != Family::Inet6 {
                addrs.push(SocketAddr::new(
                    IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                    self.port,
                ));
            }
            if self.family != Family::Inet {
                addrs.push(SocketAddr::new(
                    IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                    self.port,
                ));
            }
            return Ok(addrs);
        }
        for h in self.hosts.iter().filter(|h| !h.is_empty()) {
            for a in self.lp.resolve(h, self.port, self.family).await? {
                if !addrs.contains(&a) {
                    addrs.push(a);
                }
            }
        }
        Ok(addrs)
    }

    pub(crate) fn bind(&self, addr: SocketAddr, dual: bool) -> Result<Socket, NetError> {
        let sock_err = |op| move |source| NetError::Socket { op, source };
        let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
            .map_err(sock_err("socket"))?;
        if self.reuse_address {
            sock.set_reuse_address(true)
                .map_err(sock_err("SO_REUSEADDR"))?;
        }
        if self.reuse_port {
            sock.set_reuse_port(true)
                .map_err(sock_err("SO_REUSEPORT"))?;
        }
        if addr.is_ipv6() && dual {
            sock.set_only_v6(true).map_err(sock_err("IPV6_V6ONLY"))?;
        }
        sock.bind(&addr.into())
            .map_err(|source| NetError::Bind { addr, source })?;
        Ok(sock)
    }

    /// The TLS every accepted connection gets, if any.
    pub(crate) fn tls_setup(
        &self,
    ) -> Result<Option<switchboard_actors::stream::tls::TlsSetup>, NetError> {
        match &self.ssl {
            Some(c) => Ok(Some(
                c.setup(self.ssl_handshake_timeout, self.ssl_shutdown_timeout),
            )),
            None if self.ssl_handshake_timeout.is_some() || self.ssl_shutdown_timeout.is_some() => {
                Err(NetError::InvalidArgs(
                    "the ssl timeouts are only meaningful with ssl",
                ))
            }
            None => Ok(None),
        }
    }

    async fn run(mut self) -> Result<Server, NetError> {
        self.lp.core.check_open()?;
        if self.balanced {
            return crate::group::balance::create(self).await;
        }
        let tls = self.tls_setup()?;
        let sockets: Vec<Socket> = match self.sock.take() {
            Some(s) => vec![Socket::from(s)],
            None => {
                let addrs = self.bind_addrs().await?;
                let dual = addrs.iter().any(|a| a.is_ipv4()) && addrs.iter().any(|a| a.is_ipv6());
                let wildcard = self.hosts.iter().all(|h| h.is_empty());
                let mut out = Vec::new();
                for a in addrs {
                    match self.bind(a, dual) {
                        Ok(s) => out.push(s),
                        // No IPv6 on this host: serve IPv4 only, as asyncio does.
                        Err(NetError::Bind { source, .. } | NetError::Socket { source, .. })
                            if wildcard && a.is_ipv6() && ipv6_unavailable(&source) => {}
                        Err(e) => return Err(e),
                    }
                }
                out
            }
        };
        let shared = Rc::new(ServerShared::default());
        let mailer: std::sync::Arc<dyn Mailer> = std::sync::Arc::new(self.lp.handle());
        let mut listeners = Vec::new();
        for s in sockets {
            let local = s
                .local_addr()
                .ok()
                .and_then(|a| a.as_socket())
                .map(Address::Inet);
            let fd = std::os::fd::AsRawFd::as_raw_fd(&s);
            let actor = TcpListenerActor::new(
                s,
                self.backlog,
                self.factory.clone(),
                shared.clone(),
                mailer.clone(),
            )
            .with_limits(self.limits)
            .with_tls(tls.clone());
            let (id, gen) = routing::reserve_gen(&self.lp.core);
            routing::insert(&self.lp.core, id, Box::new(actor));
            listeners.push(Listening { id, gen, local, fd });
        }
        Ok(Server::new(&self.lp, shared, listeners, self.start_serving))
    }
}

fn ipv6_unavailable(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::AddrNotAvailable | std::io::ErrorKind::Unsupported
    ) || e.raw_os_error() == Some(97) // EAFNOSUPPORT
}

impl<M: Send + 'static> IntoFuture for CreateServer<M> {
    type Output = Result<Server, NetError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output>>>;
    fn into_future(mut self) -> Self::IntoFuture {
        let name = self.name.take();
        Box::pin(crate::introspect::named(self.run(), name))
    }
}

pub(crate) struct ServerInner {
    lp: EventLoop,
    shared: Rc<ServerShared>,
    listeners: Vec<Listening>,
}

/// One listening socket of a server: its actor, address and descriptor.
pub(crate) struct Listening {
    pub(crate) id: ActorId,
    /// The listener's incarnation: commands reach it and no later tenant.
    pub(crate) gen: u64,
    pub(crate) local: Option<Address>,
    pub(crate) fd: std::os::fd::RawFd,
}

/// A running server (asyncio's `asyncio.Server`). Cloning gives another handle
/// on the same server. The loop keeps serving after every handle is dropped,
/// until [`close`](Self::close).
#[derive(Clone)]
pub struct Server(pub(crate) Rc<ServerInner>);

impl Server {
    /// The row of its first listener actor (introspection's tree).
    pub(crate) fn first_row(&self) -> Option<usize> {
        self.0.listeners.first().map(|l| l.id.index())
    }

    /// A server over listener actors already in the table; starts them
    /// serving if `serving`.
    pub(crate) fn new(
        lp: &EventLoop,
        shared: Rc<ServerShared>,
        listeners: Vec<Listening>,
        serving: bool,
    ) -> Server {
        let server = Server(Rc::new(ServerInner {
            lp: lp.clone(),
            shared,
            listeners,
        }));
        {
            // Known to the loop's `shutdown`, which drains every server.
            let mut servers = lp.core.servers.borrow_mut();
            servers.retain(|w| w.strong_count() > 0);
            servers.push(Rc::downgrade(&server.0));
        }
        if serving {
            server.start_serving();
        }
        server
    }

    fn command(&self, cmd: ServerCommand) {
        for l in &self.0.listeners {
            // Applied at once, so close() refuses new connects immediately (V3).
            routing::dispatch(&self.0.lp.core, l.id, Some(l.gen), |a, cx| {
                a.deliver(Box::new(cmd), cx)
            });
        }
    }

    /// Stops listening at once; accepted connections stay open. Idempotent.
    pub fn close(&self) {
        if !self.0.shared.is_closed() {
            self.command(ServerCommand::Close);
            self.0.shared.mark_closed();
        }
    }

    /// The start of a drain: accepts what the kernel already queued, then
    /// closes the listening sockets.
    pub(crate) fn close_for_drain(&self) {
        if !self.0.shared.is_closed() {
            self.command(ServerCommand::Drain);
            self.0.shared.mark_closed();
        }
    }

    /// True once closed (a drained server is not drained again).
    pub(crate) fn is_closed_for_drain(&self) -> bool {
        self.0.shared.is_closed() && self.0.shared.connection_count() == 0
    }

    /// How many accepted connections are open now.
    pub fn connection_count(&self) -> usize {
        self.0.shared.connection_count()
    }

    /// Starts listening and accepting; idempotent.
    pub fn start_serving(&self) {
        if !self.0.shared.is_closed() && !self.0.shared.is_serving() {
            self.command(ServerCommand::StartServing);
        }
    }

    /// True while accepting.
    pub fn is_serving(&self) -> bool {
        self.0.shared.is_serving()
    }

    /// The bound IP addresses; empty once closed (and for a Unix server,
    /// whose addresses [`addresses`](Self::addresses) gives).
    pub fn sockets(&self) -> Vec<SocketAddr> {
        self.addresses()
            .iter()
            .filter_map(Address::as_inet)
            .collect()
    }

    /// The bound addresses of every kind (`sock.getsockname()` of each of
    /// `server.sockets`): IP addresses, or a Unix server's path or abstract
    /// name. Empty once closed.
    pub fn addresses(&self) -> Vec<Address> {
        if self.0.shared.is_closed() {
            return Vec::new();
        }
        self.0
            .listeners
            .iter()
            .filter_map(|l| l.local.clone())
            .collect()
    }

    /// The listening sockets' descriptors (`server.sockets[i].fileno()`); a
    /// socket passed with `sock` keeps its descriptor. Empty once closed.
    pub fn filenos(&self) -> Vec<std::os::fd::RawFd> {
        if self.0.shared.is_closed() {
            return Vec::new();
        }
        self.0.listeners.iter().map(|l| l.fd).collect()
    }

    /// The listener actors' rows and incarnations (for supervisors).
    pub(crate) fn listener_rows(&self) -> Vec<(ActorId, u64)> {
        let actors = self.0.lp.core.actors.borrow();
        self.0
            .listeners
            .iter()
            .filter(|l| {
                actors
                    .get(l.id.index())
                    .is_some_and(|slot| slot.gen == l.gen)
            })
            .map(|l| (l.id, l.gen))
            .collect()
    }

    /// The loop serving this server.
    pub fn get_loop(&self) -> EventLoop {
        self.0.lp.clone()
    }

    fn each_connection(&self, cmd: StreamCommand) {
        let core = &self.0.lp.core;
        for (id, gen) in self.0.shared.connections() {
            routing::deliver(core, id, gen, Box::new(cmd.clone()));
        }
    }

    /// Closes every accepted connection (flushing first).
    pub fn close_clients(&self) {
        self.each_connection(StreamCommand::Close);
    }

    /// Aborts every accepted connection.
    pub fn abort_clients(&self) {
        self.each_connection(StreamCommand::Abort);
    }

    /// Resolves once the server is closed and every accepted connection has
    /// ended (asyncio 3.12.1+).
    pub fn wait_closed(&self) -> WaitClosed {
        WaitClosed(self.0.shared.clone())
    }

    /// Serves until the returned future is dropped (cancelled), which closes
    /// the server; resolves as soon as the server is closed by someone else
    /// (a signal handler calling [`close`](Self::close), say), whether or not
    /// connections are still open, as asyncio's does: those stay open until
    /// closed themselves ([`close_clients`](Self::close_clients)) or until
    /// the loop closes. On a closed server it resolves at once to
    /// [`NetError::ServerClosed`].
    pub fn serve_forever(&self) -> ServeForever {
        let closed_already = self.0.shared.is_closed();
        if !closed_already {
            self.start_serving();
        }
        ServeForever {
            server: self.clone(),
            closed_already,
        }
    }
}

/// asyncio's repr: `<Server sockets=[127.0.0.1:8888]>`.
impl std::fmt::Display for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown: Vec<String> = self.addresses().iter().map(|a| a.to_string()).collect();
        write!(f, "<Server sockets=[{}]>", shown.join(", "))
    }
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("sockets", &self.addresses())
            .field("serving", &self.is_serving())
            .field("connections", &self.0.shared.connection_count())
            .finish()
    }
}

/// The future of [`Server::wait_closed`].
#[derive(Debug)]
pub struct WaitClosed(Rc<ServerShared>);

impl Future for WaitClosed {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0.is_done() {
            Poll::Ready(())
        } else {
            self.0.add_waiter(cx.waker());
            Poll::Pending
        }
    }
}

/// The future of [`Server::serve_forever`].
#[derive(Debug)]
pub struct ServeForever {
    server: Server,
    closed_already: bool,
}

impl Future for ServeForever {
    type Output = Result<(), NetError>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.closed_already {
            return Poll::Ready(Err(NetError::ServerClosed(format!("{:?}", self.server))));
        }
        if self.server.0.shared.is_closed() {
            return Poll::Ready(Ok(()));
        }
        self.server.0.shared.add_waiter(cx.waker());
        Poll::Pending
    }
}

impl Drop for ServeForever {
    fn drop(&mut self) {
        self.server.close();
    }
}
