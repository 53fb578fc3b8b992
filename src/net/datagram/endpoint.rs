//! `create_datagram_endpoint`.

use std::future::{Future, IntoFuture};
use std::os::fd::OwnedFd;
use std::pin::Pin;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use switchboard_actors::datagram::DEFAULT_MAX_WRITE_BUFFER;
use switchboard_protocols::{Address, DatagramProtocol};

use crate::event_loop::EventLoop;
use crate::net::datagram::handle::DatagramEndpoint;
use crate::net::datagram::start::start_datagram;
use crate::net::dns::Family;
use crate::net::error::NetError;
use crate::net::unix::remove_stale_socket;

type ProtocolMaker<M> = Box<dyn FnOnce() -> Box<dyn DatagramProtocol<M>>>;

/// The builder [`EventLoop::create_datagram_endpoint`] returns; each asyncio
/// keyword argument is a method. Await it (it implements `IntoFuture`).
///
/// The family comes from the addresses given ([`Address::Inet`] for UDP,
/// [`Address::Unix`] or [`Address::Abstract`] for Unix datagrams), or from
/// [`family`](Self::family) when there is none. With a
/// [`remote_addr`](Self::remote_addr) the socket is connected: `sendto`
/// with no address goes to that peer, and only datagrams from it arrive.
///
/// The write buffer has a hard cap of 1 MiB by default
/// ([`max_write_buffer`](Self::max_write_buffer)): past it a datagram is
/// dropped and the protocol gets `ErrorReceived(ENOBUFS)`.
#[must_use = "a CreateDatagramEndpoint does nothing until awaited"]
pub struct CreateDatagramEndpoint<M: 'static> {
    lp: EventLoop,
    factory: ProtocolMaker<M>,
    local: Option<Address>,
    remote: Option<Address>,
    family: Family,
    reuse_address: bool,
    reuse_port: bool,
    allow_broadcast: bool,
    sock: Option<OwnedFd>,
    max_write_buffer: Option<usize>,
}

impl<M: 'static> std::fmt::Debug for CreateDatagramEndpoint<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateDatagramEndpoint")
            .field("local", &self.local)
            .field("remote", &self.remote)
            .field("family", &self.family)
            .finish()
    }
}

impl EventLoop {
    /// A datagram endpoint (UDP or Unix datagram) whose events go to the
    /// protocol `factory` makes (asyncio's `loop.create_datagram_endpoint`).
    ///
    /// ```
    /// use switchboard::{DatagramEvent, DatagramProtocol, DatagramTransport, ProtocolError};
    ///
    /// struct Echo;
    /// impl DatagramProtocol for Echo {
    ///     fn handle(&mut self, ev: DatagramEvent, t: &mut dyn DatagramTransport) -> Result<(), ProtocolError> {
    ///         if let DatagramEvent::DatagramReceived { data, addr } = ev {
    ///             t.sendto(&data, Some(&addr))?;
    ///         }
    ///         Ok(())
    ///     }
    /// }
    ///
    /// switchboard::run(|lp| async move {
    ///     let local: std::net::SocketAddr = "127.0.0.1:0".parse().expect("address");
    ///     let server = lp.create_datagram_endpoint(|| Echo).local_addr(local).await?;
    ///     let at = server.transport.sockname().expect("bound");
    ///     assert!(matches!(at, switchboard::Address::Inet(a) if a.port() != 0));
    ///     server.transport.close();
    ///     Ok::<(), switchboard::Error>(())
    /// })?;
    /// # Ok::<(), switchboard::Error>(())
    /// ```
    pub fn create_datagram_endpoint<P, M>(
        &self,
        factory: impl FnOnce() -> P + 'static,
    ) -> CreateDatagramEndpoint<M>
    where
        P: DatagramProtocol<M>,
        M: Send + 'static,
    {
        CreateDatagramEndpoint {
            lp: self.clone(),
            factory: Box::new(move || Box::new(factory())),
            local: None,
            remote: None,
            family: Family::Unspec,
            reuse_address: false,
            reuse_port: false,
            allow_broadcast: false,
            sock: None,
            max_write_buffer: Some(DEFAULT_MAX_WRITE_BUFFER),
        }
    }
}

/// The kind of socket an endpoint gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Udp,
    Unix,
}

fn kind_of(a: &Address) -> Kind {
    match a {
        Address::Inet(_) => Kind::Udp,
        _ => Kind::Unix,
    }
}

fn sock_err(op: &'static str) -> impl Fn(std::io::Error) -> NetError {
    move |source| NetError::Socket { op, source }
}

impl<M: Send + 'static> CreateDatagramEndpoint<M> {
    /// Binds the socket to this address (a Unix path: a stale socket file
    /// there is removed first).
    pub fn local_addr(mut self, addr: impl Into<Address>) -> Self {
        self.local = Some(addr.into());
        self
    }
    /// Connects the socket to this peer.
    pub fn remote_addr(mut self, addr: impl Into<Address>) -> Self {
        self.remote = Some(addr.into());
        self
    }
    /// The family, when no address tells it ([`Family::Unix`] for an
    /// unbound Unix datagram socket).
    pub fn family(mut self, family: Family) -> Self {
        self.family = family;
        self
    }
    /// `SO_REUSEADDR`: `true` is refused with
    /// [`NetError::ReuseAddressUnsupported`], as asyncio refuses it (on UDP
    /// it lets another process steal the port's datagrams); use
    /// [`reuse_port`](Self::reuse_port).
    pub fn reuse_address(mut self, on: bool) -> Self {
        self.reuse_address = on;
        self
    }
    /// `SO_REUSEPORT`: several endpoints share the port.
    pub fn reuse_port(mut self, on: bool) -> Self {
        self.reuse_port = on;
        self
    }
    /// `SO_BROADCAST`: may send to broadcast addresses.
    pub fn allow_broadcast(mut self, on: bool) -> Self {
        self.allow_broadcast = on;
        self
    }
    /// Uses an existing datagram socket (a `std::net::UdpSocket`, a
    /// `std::os::unix::net::UnixDatagram`, or any datagram socket's
    /// descriptor), as it is bound and connected; no other socket option may
    /// be given then.
    pub fn sock(mut self, sock: impl Into<OwnedFd>) -> Self {
        self.sock = Some(sock.into());
        self
    }
    /// The hard cap on the write buffer; `None` lifts it. 1 MiB by default.
    pub fn max_write_buffer(mut self, cap: Option<usize>) -> Self {
        self.max_write_buffer = cap;
        self
    }

    fn given_socket(&mut self, fd: OwnedFd) -> Result<(Socket, Kind), NetError> {
        if self.local.is_some()
            || self.remote.is_some()
            || self.family != Family::Unspec
            || self.reuse_port
            || self.allow_broadcast
        {
            return Err(NetError::InvalidArgs(
                "socket modifier keyword arguments can not be used when sock is specified",
            ));
        }
        let sock = Socket::from(fd);
        if sock.r#type().map_err(sock_err("getsockopt"))? != Type::DGRAM {
            return Err(NetError::InvalidArgs("a datagram socket was expected"));
        }
        let local = sock.local_addr().map_err(sock_err("getsockname"))?;
        let kind = if local.is_unix() {
            Kind::Unix
        } else {
            Kind::Udp
        };
        Ok((sock, kind))
    }

    fn new_socket(&self) -> Result<(Socket, Kind), NetError> {
        let kinds: Vec<Kind> = self.local.iter().chain(&self.remote).map(kind_of).collect();
        let kind = match (kinds.first(), self.family) {
            (Some(k), _) if kinds.iter().any(|x| x != k) => {
                return Err(NetError::InvalidArgs(
                    "local_addr and remote_addr are of different families",
                ))
            }
            (Some(Kind::Udp), Family::Unix) | (Some(Kind::Unix), Family::Inet | Family::Inet6) => {
                return Err(NetError::InvalidArgs(
                    "the addresses do not match the family given",
                ))
            }
            (Some(k), _) => *k,
            (None, Family::Unix) => Kind::Unix,
            (None, Family::Inet | Family::Inet6) => Kind::Udp,
            (None, Family::Unspec) => {
                return Err(NetError::InvalidArgs("unexpected address family"))
            }
        };
        let sock = match kind {
            Kind::Unix => Socket::new(Domain::UNIX, Type::DGRAM, None),
            Kind::Udp => {
                let inet: Vec<_> = self
                    .local
                    .iter()
                    .chain(&self.remote)
                    .filter_map(Address::as_inet)
                    .collect();
                if inet.len() == 2 && inet[0].is_ipv4() != inet[1].is_ipv4() {
                    return Err(NetError::InvalidArgs(
                        "local_addr and remote_addr are of different families",
                    ));
                }
                let domain = match inet.first() {
                    Some(a) => Domain::for_address(*a),
                    None if self.family == Family::Inet6 => Domain::IPV6,
                    None => Domain::IPV4,
                };
                Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))
            }
        }
        .map_err(sock_err("socket"))?;
        if self.reuse_port {
            sock.set_reuse_port(true)
                .map_err(sock_err("SO_REUSEPORT"))?;
        }
        if self.allow_broadcast {
            sock.set_broadcast(true).map_err(sock_err("SO_BROADCAST"))?;
        }
        if let Some(local) = &self.local {
            if let Address::Unix(path) = local {
                remove_stale_socket(path);
            }
            let target = sock_addr(local).map_err(sock_err("bind"))?;
            sock.bind(&target).map_err(|source| match local {
                Address::Inet(addr) => NetError::Bind {
                    addr: *addr,
                    source,
                },
                other => NetError::BindUnix {
                    address: other.clone(),
                    source,
                },
            })?;
        }
        if let Some(remote) = &self.remote {
            let target = sock_addr(remote).map_err(sock_err("connect"))?;
            sock.connect(&target).map_err(|source| match remote {
                Address::Inet(addr) => NetError::Connect {
                    addr: *addr,
                    source,
                },
                other => NetError::ConnectUnix {
                    address: other.clone(),
                    source,
                },
            })?;
        }
        Ok((sock, kind))
    }

    async fn run(mut self) -> Result<DatagramEndpoint<M>, NetError> {
        self.lp.core.check_open()?;
        if self.reuse_address {
            return Err(NetError::ReuseAddressUnsupported);
        }
        let (sock, kind) = match self.sock.take() {
            Some(fd) => self.given_socket(fd)?,
            None => self.new_socket()?,
        };
        sock.set_nonblocking(true)
            .map_err(sock_err("set_nonblocking"))?;
        let protocol = (self.factory)();
        match kind {
            Kind::Udp => {
                let s = mio::net::UdpSocket::from_std(sock.into());
                start_datagram(&self.lp, s, protocol, self.max_write_buffer).await
            }
            Kind::Unix => {
                let std_sock = std::os::unix::net::UnixDatagram::from(OwnedFd::from(sock));
                let s = mio::net::UnixDatagram::from_std(std_sock);
                start_datagram(&self.lp, s, protocol, self.max_write_buffer).await
            }
        }
    }
}

/// The socket address `a` names (an abstract name as `"\0name"`).
fn sock_addr(a: &Address) -> std::io::Result<SockAddr> {
    use std::os::unix::ffi::OsStrExt;
    match a {
        Address::Inet(addr) => Ok(SockAddr::from(*addr)),
        Address::Unix(path) => SockAddr::unix(path),
        Address::Abstract(name) => {
            let mut bytes = vec![0u8];
            bytes.extend_from_slice(name);
            SockAddr::unix(std::ffi::OsStr::from_bytes(&bytes))
        }
        _ => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "an unnamed address names no socket",
        )),
    }
}

impl<M: Send + 'static> IntoFuture for CreateDatagramEndpoint<M> {
    type Output = Result<DatagramEndpoint<M>, NetError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output>>>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}
