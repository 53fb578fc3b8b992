//! `getaddrinfo` with family, type, protocol and flags, on the executor.

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::pin::Pin;

use switchboard_actors::sys::unix::dns as sys;

use crate::event_loop::EventLoop;
use crate::net::dns::flags::{AddrInfoFlags, SockType};
use crate::net::dns::Family;
use crate::net::error::NetError;

/// One answer of `getaddrinfo` (asyncio's 5-tuple `(family, type, proto,
/// canonname, sockaddr)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddrInfo {
    /// The address family.
    pub family: Family,
    /// The socket type.
    pub socktype: SockType,
    /// The protocol number (`IPPROTO_TCP` is 6, `IPPROTO_UDP` 17).
    pub protocol: i32,
    /// The canonical name: on the first answer, with
    /// [`AddrInfoFlags::CANONNAME`].
    pub canonname: Option<String>,
    /// The address.
    pub addr: SocketAddr,
}

/// The builder [`EventLoop::getaddrinfo`] returns; asyncio's keyword
/// arguments are methods. Awaited, it gives the addresses, in the
/// resolver's order, without duplicates; [`entries`](Self::entries) gives
/// every answer with its family, type, protocol and canonical name.
#[must_use = "a GetAddrInfo does nothing until awaited"]
#[derive(Debug)]
pub struct GetAddrInfo {
    lp: EventLoop,
    host: String,
    port: u16,
    family: Family,
    socktype: SockType,
    protocol: i32,
    flags: AddrInfoFlags,
}

impl EventLoop {
    /// Resolves `host` and `port` (asyncio's `loop.getaddrinfo`), on the
    /// default executor so the loop never blocks; a numeric host with no
    /// other option is parsed at once. An empty host with
    /// [`AddrInfoFlags::PASSIVE`] gives the wildcard address.
    ///
    /// ```
    /// use switchboard::{AddrInfoFlags, Family, SockType};
    /// switchboard::run(|lp| async move {
    ///     let addrs = lp.getaddrinfo("127.0.0.1", 8888).await?;
    ///     assert_eq!(addrs, vec!["127.0.0.1:8888".parse().expect("address")]);
    ///     let entries = lp
    ///         .getaddrinfo("127.0.0.1", 53)
    ///         .family(Family::Inet)
    ///         .socktype(SockType::Datagram)
    ///         .flags(AddrInfoFlags::NUMERICHOST)
    ///         .entries()
    ///         .await?;
    ///     assert_eq!(entries.len(), 1);
    ///     assert_eq!(entries[0].protocol, 17);
    ///     Ok::<(), switchboard::Error>(())
    /// })?;
    /// # Ok::<(), switchboard::Error>(())
    /// ```
    pub fn getaddrinfo(&self, host: &str, port: u16) -> GetAddrInfo {
        GetAddrInfo {
            lp: self.clone(),
            host: host.to_string(),
            port,
            family: Family::Unspec,
            socktype: SockType::Any,
            protocol: 0,
            flags: AddrInfoFlags::NONE,
        }
    }
}

impl GetAddrInfo {
    /// Only this family (`family=`).
    pub fn family(mut self, family: Family) -> Self {
        self.family = family;
        self
    }
    /// Only this socket type (`type=`).
    pub fn socktype(mut self, socktype: SockType) -> Self {
        self.socktype = socktype;
        self
    }
    /// Only this protocol (`proto=`).
    pub fn protocol(mut self, protocol: i32) -> Self {
        self.protocol = protocol;
        self
    }
    /// `AI_*` flags (`flags=`).
    pub fn flags(mut self, flags: AddrInfoFlags) -> Self {
        self.flags = flags;
        self
    }

    /// Every answer, in the resolver's order.
    pub async fn entries(self) -> Result<Vec<AddrInfo>, NetError> {
        let family = match self.family {
            Family::Unspec => sys::AF_UNSPEC,
            Family::Inet => sys::AF_INET,
            Family::Inet6 => sys::AF_INET6,
            Family::Unix => sys::AF_UNIX,
        };
        let (host, port) = (self.host.clone(), self.port);
        let (socktype, protocol, flags) = (self.socktype.raw(), self.protocol, self.flags.bits());
        let job = self.lp.run_in_executor(None, move || {
            let name = host.trim_start_matches('[').trim_end_matches(']');
            let name = (!name.is_empty()).then_some(name);
            sys::getaddrinfo(
                name,
                Some(&port.to_string()),
                family,
                socktype,
                protocol,
                flags,
            )
        })?;
        let raw = match job.await {
            Ok(Ok(v)) => v,
            Ok(Err(source)) => {
                return Err(NetError::Resolve {
                    host: self.host,
                    port,
                    source,
                })
            }
            Err(e) => return Err(NetError::Loop(e.into())),
        };
        Ok(raw
            .into_iter()
            .filter_map(|r| {
                let family = match r.family {
                    f if f == sys::AF_INET => Family::Inet,
                    f if f == sys::AF_INET6 => Family::Inet6,
                    _ => Family::Unspec,
                };
                Some(AddrInfo {
                    family,
                    socktype: SockType::from_raw(r.socktype),
                    protocol: r.protocol,
                    canonname: r.canonname,
                    addr: r.addr?,
                })
            })
            .collect())
    }

    async fn run(self) -> Result<Vec<SocketAddr>, NetError> {
        let plain = self.socktype == SockType::Any
            && self.protocol == 0
            && self.flags == AddrInfoFlags::NONE
            && self.family != Family::Unix;
        if plain {
            return self.lp.resolve(&self.host, self.port, self.family).await;
        }
        let (host, port) = (self.host.clone(), self.port);
        let mut out: Vec<SocketAddr> = Vec::new();
        for e in self.entries().await? {
            if !out.contains(&e.addr) {
                out.push(e.addr);
            }
        }
        if out.is_empty() {
            return Err(NetError::NoAddress { host, port });
        }
        Ok(out)
    }
}

impl IntoFuture for GetAddrInfo {
    type Output = Result<Vec<SocketAddr>, NetError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output>>>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}
