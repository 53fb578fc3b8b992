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
    /// Receives one datagram into the spare capacity of `buf` (the loop's
    /// shared read buffer), with its sender.
    fn recv_datagram(&self, buf: &mut bytes::BytesMut) -> io::Result<(usize, Address)> {
        let (n, from) =
            crate::sys::unix::socket::recv_from_spare(self.as_fd(), buf, Self::MAX_DATAGRAM)?;
        Ok((n, address_of(&from)))
    }
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

/// The address a received datagram came from.
fn address_of(a: &SockAddr) -> Address {
    if let Some(inet) = a.as_socket() {
        return Address::Inet(inet);
    }
    if let Some(name) = a.as_abstract_namespace() {
        return Address::Abstract(name.to_vec());
    }
    match a.as_pathname() {
        Some(p) => Address::Unix(p.to_path_buf()),
        None => Address::Unnamed,
    }
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
    fn send_datagram_to(&self, data: &[u8], to: &Address) -> io::Result<usize> {
        match to {
            Address::Inet(a) => self.send_to(data, *a),
            other => SockRef::from(self).send_to(data, &sock_addr(other)?),
        }
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
