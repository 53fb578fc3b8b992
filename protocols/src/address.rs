//! Addresses as `get_extra_info('peername' | 'sockname')` gives them.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

/// The address of one end of a stream or datagram socket.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Address {
    /// An IPv4 or IPv6 address with its port.
    Inet(SocketAddr),
    /// A Unix-domain socket bound to a path.
    Unix(PathBuf),
    /// A Linux abstract Unix-domain name (without the leading NUL byte).
    Abstract(Vec<u8>),
    /// An unnamed Unix-domain socket (a socketpair end, or an unbound client);
    /// asyncio returns `''` or `None` for these.
    Unnamed,
}

impl Address {
    /// The IP socket address, if this is one.
    pub fn as_inet(&self) -> Option<SocketAddr> {
        match self {
            Address::Inet(a) => Some(*a),
            _ => None,
        }
    }
}

impl From<SocketAddr> for Address {
    fn from(a: SocketAddr) -> Self {
        Address::Inet(a)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Inet(a) => write!(f, "{a}"),
            Address::Unix(p) => write!(f, "{}", p.display()),
            Address::Abstract(n) => write!(f, "@{}", String::from_utf8_lossy(n)),
            Address::Unnamed => f.write_str("(unnamed)"),
        }
    }
}
