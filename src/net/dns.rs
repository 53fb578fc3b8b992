//! DNS: `getaddrinfo` and `getnameinfo` on the executor, their flags, and
//! the address family filter.
//! <https://docs.python.org/3/library/asyncio-eventloop.html#dns>

mod flags;
mod getaddrinfo;
mod getnameinfo;

pub use flags::{AddrInfoFlags, NameInfoFlags, SockType};
pub use getaddrinfo::{AddrInfo, GetAddrInfo};
pub use getnameinfo::GetNameInfo;

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

use crate::event_loop::EventLoop;
use crate::net::error::NetError;

/// An address family (`socket.AF_UNSPEC`, `AF_INET`, `AF_INET6`, `AF_UNIX`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Family {
    /// Either IP family.
    #[default]
    Unspec,
    /// IPv4 only.
    Inet,
    /// IPv6 only.
    Inet6,
    /// Unix-domain: for datagram endpoints (`AF_UNIX`); admits no IP address.
    Unix,
}

impl Family {
    pub(crate) fn admits(self, a: &SocketAddr) -> bool {
        match self {
            Family::Unspec => true,
            Family::Inet => a.is_ipv4(),
            Family::Inet6 => a.is_ipv6(),
            Family::Unix => false,
        }
    }
}

impl EventLoop {
    /// Resolves for `create_connection` and friends: numeric hosts at once,
    /// names on the executor, filtered by family, without duplicates.
    pub(crate) async fn resolve(
        &self,
        host: &str,
        port: u16,
        family: Family,
    ) -> Result<Vec<SocketAddr>, NetError> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let found: Vec<SocketAddr> = if let Ok(ip) = bare.parse::<IpAddr>() {
            vec![SocketAddr::new(ip, port)]
        } else {
            let name = bare.to_string();
            let job = self.run_in_executor(None, move || {
                (name.as_str(), port)
                    .to_socket_addrs()
                    .map(|it| it.collect::<Vec<_>>())
            })?;
            match job.await {
                Ok(Ok(v)) => v,
                Ok(Err(source)) => {
                    return Err(NetError::Resolve {
                        host: host.to_string(),
                        port,
                        source,
                    })
                }
                Err(e) => return Err(NetError::Loop(e.into())),
            }
        };
        let mut out: Vec<SocketAddr> = Vec::with_capacity(found.len());
        for a in found.into_iter().filter(|a| family.admits(a)) {
            if !out.contains(&a) {
                out.push(a);
            }
        }
        if out.is_empty() {
            return Err(NetError::NoAddress {
                host: host.to_string(),
                port,
            });
        }
        Ok(out)
    }
}

/// RFC 8305 interleaving: alternate families, starting with the first one's,
/// taking `first_count` of the first family before alternating.
pub(crate) fn interleave(addrs: Vec<SocketAddr>, first_count: usize) -> Vec<SocketAddr> {
    let Some(first) = addrs.first().copied() else {
        return addrs;
    };
    let (mut a, mut b): (Vec<_>, Vec<_>) = addrs
        .into_iter()
        .partition(|x| x.is_ipv4() == first.is_ipv4());
    let mut out = Vec::with_capacity(a.len() + b.len());
    let head: Vec<_> = a
        .drain(..first_count.saturating_sub(1).min(a.len()))
        .collect();
    out.extend(head);
    let (mut ia, mut ib) = (a.into_iter(), b.drain(..));
    loop {
        match (ia.next(), ib.next()) {
            (None, None) => break,
            (x, y) => out.extend(x.into_iter().chain(y)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleave_alternates_families() {
        let v: Vec<SocketAddr> = ["[::1]:1", "[::2]:1", "127.0.0.1:1", "127.0.0.2:1"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let out = interleave(v.clone(), 1);
        assert_eq!(out, vec![v[0], v[2], v[1], v[3]]);
        let out2 = interleave(v.clone(), 2);
        assert_eq!(out2, vec![v[0], v[1], v[2], v[3]]);
    }
}
