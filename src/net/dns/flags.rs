//! The flags and socket types `getaddrinfo` and `getnameinfo` take.

use std::ops::BitOr;

use switchboard_actors::sys::unix::dns as sys;

/// `getaddrinfo` flags (`socket.AI_*`), combined with `|`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct AddrInfoFlags(i32);

impl AddrInfoFlags {
    /// No flag.
    pub const NONE: AddrInfoFlags = AddrInfoFlags(0);
    /// `AI_PASSIVE`: with no host, the wildcard address (for binding).
    pub const PASSIVE: AddrInfoFlags = AddrInfoFlags(sys::AI_PASSIVE);
    /// `AI_CANONNAME`: the first entry carries the host's canonical name.
    pub const CANONNAME: AddrInfoFlags = AddrInfoFlags(sys::AI_CANONNAME);
    /// `AI_NUMERICHOST`: the host must be a numeric address (no lookup).
    pub const NUMERICHOST: AddrInfoFlags = AddrInfoFlags(sys::AI_NUMERICHOST);
    /// `AI_NUMERICSERV`: the service must be a port number.
    pub const NUMERICSERV: AddrInfoFlags = AddrInfoFlags(sys::AI_NUMERICSERV);
    /// `AI_ADDRCONFIG`: only families the host has an address of.
    pub const ADDRCONFIG: AddrInfoFlags = AddrInfoFlags(sys::AI_ADDRCONFIG);
    /// `AI_V4MAPPED`: IPv4 addresses as IPv4-mapped IPv6 when asking for IPv6.
    pub const V4MAPPED: AddrInfoFlags = AddrInfoFlags(sys::AI_V4MAPPED);
    /// `AI_ALL`: with `V4MAPPED`, both IPv6 and mapped IPv4 addresses.
    pub const ALL: AddrInfoFlags = AddrInfoFlags(sys::AI_ALL);

    /// The raw value.
    pub fn bits(self) -> i32 {
        self.0
    }

    /// True if every flag of `other` is set.
    pub fn contains(self, other: AddrInfoFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for AddrInfoFlags {
    type Output = AddrInfoFlags;
    fn bitor(self, rhs: AddrInfoFlags) -> AddrInfoFlags {
        AddrInfoFlags(self.0 | rhs.0)
    }
}

/// `getnameinfo` flags (`socket.NI_*`), combined with `|`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct NameInfoFlags(i32);

impl NameInfoFlags {
    /// No flag.
    pub const NONE: NameInfoFlags = NameInfoFlags(0);
    /// `NI_NUMERICHOST`: the host as a numeric address.
    pub const NUMERICHOST: NameInfoFlags = NameInfoFlags(sys::NI_NUMERICHOST);
    /// `NI_NUMERICSERV`: the service as a port number.
    pub const NUMERICSERV: NameInfoFlags = NameInfoFlags(sys::NI_NUMERICSERV);
    /// `NI_NAMEREQD`: fail if the host has no name.
    pub const NAMEREQD: NameInfoFlags = NameInfoFlags(sys::NI_NAMEREQD);
    /// `NI_NOFQDN`: only the host part of a local name.
    pub const NOFQDN: NameInfoFlags = NameInfoFlags(sys::NI_NOFQDN);
    /// `NI_DGRAM`: look the port up as a UDP service.
    pub const DGRAM: NameInfoFlags = NameInfoFlags(sys::NI_DGRAM);

    /// The raw value.
    pub fn bits(self) -> i32 {
        self.0
    }
}

impl BitOr for NameInfoFlags {
    type Output = NameInfoFlags;
    fn bitor(self, rhs: NameInfoFlags) -> NameInfoFlags {
        NameInfoFlags(self.0 | rhs.0)
    }
}

/// A socket type (`socket.SOCK_*`), for `getaddrinfo`'s `type`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SockType {
    /// Any type (0).
    #[default]
    Any,
    /// `SOCK_STREAM`.
    Stream,
    /// `SOCK_DGRAM`.
    Datagram,
    /// `SOCK_RAW`.
    Raw,
}

impl SockType {
    pub(crate) fn raw(self) -> i32 {
        match self {
            SockType::Any => 0,
            SockType::Stream => sys::SOCK_STREAM,
            SockType::Datagram => sys::SOCK_DGRAM,
            SockType::Raw => sys::SOCK_RAW,
        }
    }

    pub(crate) fn from_raw(v: i32) -> SockType {
        match v {
            x if x == sys::SOCK_STREAM => SockType::Stream,
            x if x == sys::SOCK_DGRAM => SockType::Datagram,
            x if x == sys::SOCK_RAW => SockType::Raw,
            _ => SockType::Any,
        }
    }
}
