//! `create_connection`.

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use switchboard_actors::stream::StreamLimits;
use switchboard_protocols::{AnyStreamProtocol, BufferedProtocol, StreamProtocol};

use crate::event_loop::EventLoop;
use crate::net::attempts::connect_any;
use crate::net::dns::{interleave, Family};
use crate::net::error::NetError;
use crate::net::start::start_transport;
use crate::net::tls::{client_setup, TlsClientConfig};
use crate::net::transport_handle::Connection;

type ProtocolMaker<M> = Box<dyn FnOnce() -> AnyStreamProtocol<M>>;

/// The builder [`EventLoop::create_connection`] returns; each asyncio keyword
/// argument is a method. Await it (it implements `IntoFuture`).
///
/// Addresses are tried in the resolver's order (or interleaved by family with
/// [`interleave`](Self::interleave)); with
/// [`happy_eyeballs_delay`](Self::happy_eyeballs_delay) the next attempt
/// starts when the delay passes even if the previous one is still pending (RFC
/// 8305), and the first to connect wins. When all fail, every error is
/// reported. TCP_NODELAY is on. The future resolves after the protocol got
/// `ConnectionMade`.
#[must_use = "a CreateConnection does nothing until awaited"]
pub struct CreateConnection<M: 'static> {
    lp: EventLoop,
    factory: ProtocolMaker<M>,
    host: Option<String>,
    port: Option<u16>,
    family: Family,
    local_addr: Option<SocketAddr>,
    sock: Option<std::net::TcpStream>,
    happy_eyeballs_delay: Option<Duration>,
    interleave: Option<usize>,
    limits: StreamLimits,
    ssl: Option<TlsClientConfig>,
    server_hostname: Option<String>,
    ssl_handshake_timeout: Option<Duration>,
    ssl_shutdown_timeout: Option<Duration>,
}

impl<M: 'static> std::fmt::Debug for CreateConnection<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateConnection")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("family", &self.family)
            .field("ssl", &self.ssl.is_some())
            .finish()
    }
}

impl EventLoop {
    /// Opens a TCP connection whose events go to the protocol `factory` makes
    /// (asyncio's `loop.create_connection`).
    ///
    /// ```
    /// use switchboard::ready_made::Echo;
    /// let lp = switchboard::new_event_loop()?;
    /// let l2 = lp.clone();
    /// lp.run_until_complete(async move {
    ///     let server = l2.create_server(|| Echo).host("127.0.0.1").port(0).await?;
    ///     let port = server.sockets()[0].port();
    ///     let conn = l2.create_connection(|| Echo).host("127.0.0.1").port(port).await?;
    ///     assert!(conn.transport.peername().is_some());
    ///     conn.transport.close();
    ///     server.close();
    ///     Ok::<(), switchboard::Error>(())
    /// })??;
    /// # Ok::<(), switchboard::Error>(())
    /// ```
    pub fn create_connection<P, M>(
        &self,
        factory: impl FnOnce() -> P + 'static,
    ) -> CreateConnection<M>
    where
        P: StreamProtocol<M>,
        M: Send + 'static,
    {
        self.connection_builder(Box::new(move || {
            AnyStreamProtocol::Stream(Box::new(factory()))
        }))
    }

    /// [`create_connection`](Self::create_connection) for a [`BufferedProtocol`].
    pub fn create_buffered_connection<P, M>(
        &self,
        factory: impl FnOnce() -> P + 'static,
    ) -> CreateConnection<M>
    where
        P: BufferedProtocol<M>,
        M: Send + 'static,
    {
        self.connection_builder(Box::new(move || {
            AnyStreamProtocol::Buffered(Box::new(factory()))
        }))
    }

    fn connection_builder<M>(&self, factory: ProtocolMaker<M>) -> CreateConnection<M> {
        CreateConnection {
            lp: self.clone(),
            factory,
            host: None,
            port: None,
            family: Family::Unspec,
            local_addr: None,
            sock: None,
            happy_eyeballs_delay: None,
            interleave: None,
            limits: StreamLimits::default(),
            ssl: None,
            server_hostname: None,
            ssl_handshake_timeout: None,
            ssl_shutdown_timeout: None,
        }
    }
}

/// Puts a connected std socket in non-blocking mode under mio, TCP_NODELAY on.
pub(crate) fn adopt(sock: std::net::TcpStream) -> Result<mio::net::TcpStream, NetError> {
    sock.set_nonblocking(true)
        .map_err(|source| NetError::Socket {
            op: "set_nonblocking",
            source,
        })?;
    let stream = mio::net::TcpStream::from_std(sock);
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

impl<M: Send + 'static> CreateConnection<M> {
    /// The host name or address to connect to.
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }
    /// The port.
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }
    /// Shortcut for `.host(addr.ip()).port(addr.port())`.
    pub fn addr(self, addr: SocketAddr) -> Self {
        self.host(addr.ip().to_string()).port(addr.port())
    }
    /// Only addresses of this family.
    pub fn family(mut self, family: Family) -> Self {
        self.family = family;
        self
    }
    /// Binds the socket locally before connecting.
    pub fn local_addr(mut self, addr: SocketAddr) -> Self {
        self.local_addr = Some(addr);
        self
    }
    /// Uses an already connected socket (no host or port then).
    pub fn sock(mut self, sock: std::net::TcpStream) -> Self {
        self.sock = Some(sock);
        self
    }
    /// Starts the next attempt after this delay (RFC 8305; 0.25 s is the RFC's
    /// recommendation). Off by default: attempts are sequential.
    pub fn happy_eyeballs_delay(mut self, delay: Duration) -> Self {
        self.happy_eyeballs_delay = Some(delay);
        self
    }
    /// Interleaves address families, `first_count` of the first family first.
    pub fn interleave(mut self, first_count: usize) -> Self {
        self.interleave = Some(first_count.max(1));
        self
    }
    /// Beyond asyncio (fault scenario 4, slow consumer): the hard cap on the
    /// transport's write buffer. A write that takes it past `cap` bytes
    /// aborts the transport with
    /// `ConnectionLost(Some(TransportError::BufferOverflow { cap }))`; the
    /// write itself does not fail. Default
    /// `Some(`[`DEFAULT_MAX_WRITE_BUFFER`](crate::DEFAULT_MAX_WRITE_BUFFER)`)`
    /// (64 MiB), so writes that do not come from reading (a broadcast to a
    /// peer that never reads) cannot grow the buffer without end; `None`
    /// disables the cap (asyncio has none). Keep it well above the
    /// high-water mark.
    pub fn max_write_buffer(mut self, cap: impl Into<Option<usize>>) -> Self {
        self.limits = self.limits.max_write_buffer(cap.into());
        self
    }
    /// Beyond asyncio (fault scenario 5): if the buffer has not drained
    /// `timeout` after `close()`, the transport aborts with
    /// `ConnectionLost(Some(TransportError::CloseTimedOut { pending }))`. Off
    /// by default: a close then waits for the peer as long as it takes.
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.limits = self.limits.close_timeout(Some(timeout));
        self
    }
    /// Beyond asyncio: read-side backpressure, on by default. While the
    /// write buffer is above its high-water mark (from the write that took
    /// it strictly above high until it drains to low or below), the
    /// transport reads nothing from its socket, so a protocol that answers
    /// what it reads and ignores `PauseWriting` cannot grow its buffer
    /// without end under a peer that sends and never reads.
    /// `TransportHandle::is_reading()` and the protocol's `is_reading()` do
    /// not show this hold. `false` reads on regardless, as asyncio does.
    pub fn read_backpressure(mut self, on: bool) -> Self {
        self.limits = self.limits.read_backpressure(on);
        self
    }

    /// Beyond asyncio: the most calls a protocol may have in flight (made
    /// with `t.call` and not yet answered to it) before its transport stops
    /// reading, until answers are handed over; 64 by default, at least 1.
    /// This bounds what a peer that pipelines requests and never reads the
    /// answers can queue in actors on its connection's behalf.
    pub fn max_calls_in_flight(mut self, n: usize) -> Self {
        self.limits = self.limits.max_calls_in_flight(n);
        self
    }

    /// TLS over the connection (asyncio's `ssl=`): the handshake runs before
    /// the protocol's `ConnectionMade`, and the connection's future resolves
    /// after it, or fails with [`NetError::Tls`] (a refused certificate, a
    /// wrong name, a timeout). The server's certificate is checked against
    /// [`server_hostname`](Self::server_hostname), by default the host.
    /// [`TlsClientConfig::system_roots`] is asyncio's `ssl=True`.
    ///
    /// ```
    /// use switchboard::{TlsClientConfig, TlsServerConfig};
    ///
    /// let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// let (cert_pem, key_pem) = (cert.cert.pem(), cert.key_pair.serialize_pem());
    /// switchboard::run(|lp| async move {
    ///     let server_tls = TlsServerConfig::from_pem(cert_pem.as_bytes(), key_pem.as_bytes())?;
    ///     let server = lp
    ///         .create_server(|| switchboard::ready_made::Echo)
    ///         .host("127.0.0.1")
    ///         .port(0)
    ///         .ssl(server_tls)
    ///         .await?;
    ///     let client_tls = TlsClientConfig::from_root_pem(cert_pem.as_bytes())?;
    ///     let conn = lp
    ///         .create_connection(|| switchboard::ready_made::Echo)
    ///         .host("127.0.0.1")
    ///         .port(server.sockets()[0].port())
    ///         .ssl(client_tls)
    ///         .server_hostname("localhost")
    ///         .await?;
    ///     let tls = conn.transport.tls().expect("the handshake is done");
    ///     assert_eq!(tls.version, switchboard::TlsVersion::Tls13);
    ///     conn.transport.close();
    ///     server.close();
    ///     Ok::<(), switchboard::Error>(())
    /// })?;
    /// # Ok::<(), switchboard::Error>(())
    /// ```
    pub fn ssl(mut self, config: impl Into<TlsClientConfig>) -> Self {
        self.ssl = Some(config.into());
        self
    }
    /// The name the server's certificate is checked against (and sent as
    /// SNI), instead of the host. Required with `ssl` and `sock`. An empty
    /// name turns the name check off (the chain is still checked): a
    /// serious risk, allowing man-in-the-middle attacks, only ever done
    /// when asked for like this.
    pub fn server_hostname(mut self, name: impl Into<String>) -> Self {
        self.server_hostname = Some(name.into());
        self
    }
    /// How long the TLS handshake may take before the connection is aborted
    /// with [`TlsError::HandshakeTimedOut`](crate::TlsError::HandshakeTimedOut)
    /// (60 s by default).
    pub fn ssl_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.ssl_handshake_timeout = Some(timeout);
        self
    }
    /// How long `close()` may wait for the close_notify exchange and the
    /// flush before the connection is aborted with
    /// [`TlsError::ShutdownTimedOut`](crate::TlsError::ShutdownTimedOut)
    /// (30 s by default).
    pub fn ssl_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.ssl_shutdown_timeout = Some(timeout);
        self
    }

    /// The TLS setup for a connection to `peer`, if `ssl` was given.
    fn tls_setup(
        &self,
        peer: Option<std::net::IpAddr>,
    ) -> Result<Option<switchboard_actors::stream::tls::TlsSetup>, NetError> {
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
        let Some(name) = self.server_hostname.as_ref().or(self.host.as_ref()) else {
            return Err(NetError::InvalidArgs(
                "you must set server_hostname when using ssl without a host",
            ));
        };
        Ok(Some(client_setup(
            config,
            name,
            peer,
            self.ssl_handshake_timeout,
            self.ssl_shutdown_timeout,
        )?))
    }

    async fn run(self) -> Result<Connection<M>, NetError> {
        let lp = self.lp.clone();
        if let Some(sock) = self.sock {
            if self.host.is_some() || self.port.is_some() {
                return Err(NetError::InvalidArgs(
                    "host/port and sock can not be specified at the same time",
                ));
            }
            let peer = sock.peer_addr().ok().map(|a| a.ip());
            let this = CreateConnection { sock: None, ..self };
            let tls = this.tls_setup(peer)?;
            let stream = adopt(sock)?;
            return start_transport(&lp, stream, (this.factory)(), this.limits, tls).await;
        }
        // Checked before connecting: a bad name or config fails at once.
        self.tls_setup(None)?;
        let (Some(host), Some(port)) = (self.host.clone(), self.port) else {
            return Err(NetError::InvalidArgs(
                "host and port was not specified and no sock specified",
            ));
        };
        let mut addrs = lp.resolve(&host, port, self.family).await?;
        let delay = match self.happy_eyeballs_delay {
            Some(d) => {
                addrs = interleave(addrs, self.interleave.unwrap_or(1));
                Some(d)
            }
            None => {
                if let Some(n) = self.interleave {
                    addrs = interleave(addrs, n);
                }
                None
            }
        };
        let stream = connect_any(&lp, addrs, self.local_addr, delay).await?;
        let _ = stream.set_nodelay(true);
        let tls = self.tls_setup(stream.peer_addr().ok().map(|a| a.ip()))?;
        start_transport(&lp, stream, (self.factory)(), self.limits, tls).await
    }
}

impl<M: Send + 'static> IntoFuture for CreateConnection<M> {
    type Output = Result<Connection<M>, NetError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output>>>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}
