//! What a datagram transport needs of its socket: UDP and Unix datagram
//! sockets both fit.

use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::ffi::OsStrExt;

use socket2::{SockAddr, SockRef};
use switchboard_protocols::Address;

use crate::stream::unix_address;

/// A non-blocking datagram socket registered with mio.
pub trait DatagramSocket: mio::event::Source + AsRawFd + AsFd + Sized + 'static {
    /// The transport's name in descriptions (`"UdpTransport"`).
    const KIND: &'static str;
    /// The largest datagram a read takes whole (asyncio's `max_size`).
    const MAX_DATAGRAM: usize;
    /// Receives one datagram into `buf`, with its sender.
    fn recv_datagram(&self, buf: &mut [u8]) -> io::Result<(usize, Address)>;
    /// Sends one datagram to the connected peer.
    fn send_datagram(&self, data: &[u8]) -> io::Result<usize>;
    /// Sends one datagram to `to`.
    fn send_datagram_to(&self, data: &[u8], to: &Address) -> io::Result<usize> {
        let target = sock_addr(to)?;
        SockRef::from(self).send_to(data, &target)
    }
    /// The connected peer's address.
    fn peer(&self) -> Option<Address>;
    /// The local address.
    fn local(&self) -> Option<Address>;
}

/// The socket address `to` names; `Unnamed` names none.
pub(crate) fn sock_addr(to: &Address) -> io::Result<SockAddr> {
    match to {
        Address::Inet(a) => Ok(SockAddr::from(*a)),
        Address::Unix(p) => SockAddr::unix(p),
        Address::Abstract(name) => {
            let mut bytes = Vec::with_capacity(name.len() + 1);
            bytes.push(0);
            bytes.extend_from_slice(name);
            SockAddr::unix(std::ffi::OsStr::from_bytes(&bytes))
        }
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "an unnamed address cannot be sent to",
        )),
    }
}

impl DatagramSocket for mio::net::UdpSocket {
    const KIND: &'static str = "UdpTransport";
    /// The largest UDP payload.
    const MAX_DATAGRAM: usize = 64 * 1024;
    fn recv_datagram(&self, buf: &mut [u8]) -> io::Result<(usize, Address)> {
        self.recv_from(buf).map(|(n, a)| (n, Address::Inet(a)))
    }
    fn send_datagram(&self, data: &[u8]) -> io::Result<usize> {
        self.send(data)
    }
    fn peer(&self) -> Option<Address> {
        self.peer_addr().ok().map(Address::Inet)
    }
    fn local(&self) -> Option<Address> {
        self.local_addr().ok().map(Address::Inet)
    }
}

impl DatagramSocket for mio::net::UnixDatagram {
    const KIND: &'static str = "UnixDatagramTransport";
    /// asyncio's `max_size` for datagram transports.
    const MAX_DATAGRAM: usize = 256 * 1024;
    fn recv_datagram(&self, buf: &mut [u8]) -> io::Result<(usize, Address)> {
        self.recv_from(buf).map(|(n, a)| (n, unix_address(&a)))
    }
    fn send_datagram(&self, data: &[u8]) -> io::Result<usize> {
        self.send(data)
    }
    fn peer(&self) -> Option<Address> {
        self.peer_addr().ok().map(|a| unix_address(&a))
    }
    fn local(&self) -> Option<Address> {
        self.local_addr().ok().map(|a| unix_address(&a))
    }
}
