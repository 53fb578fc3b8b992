//! What a stream transport needs of its socket: TCP and Unix streams both fit.

use std::io;
use std::os::fd::{AsFd, AsRawFd};

use switchboard_protocols::Address;

/// A connected, non-blocking stream socket registered with mio.
pub trait StreamSocket:
    mio::event::Source + io::Read + io::Write + AsRawFd + AsFd + 'static
{
    /// The transport's name in descriptions (`"TcpTransport"`).
    const KIND: &'static str;
    /// The peer's address.
    fn peer(&self) -> Option<Address>;
    /// The local address.
    fn local(&self) -> Option<Address>;
}

impl StreamSocket for mio::net::TcpStream {
    const KIND: &'static str = "TcpTransport";
    fn peer(&self) -> Option<Address> {
        self.peer_addr().ok().map(Address::Inet)
    }
    fn local(&self) -> Option<Address> {
        self.local_addr().ok().map(Address::Inet)
    }
}

pub(crate) fn unix_address(a: &std::os::unix::net::SocketAddr) -> Address {
    #[cfg(target_os = "linux")]
    {
        use std::os::linux::net::SocketAddrExt;
        if let Some(name) = a.as_abstract_name() {
            return Address::Abstract(name.to_vec());
        }
    }
    match a.as_pathname() {
        Some(p) => Address::Unix(p.to_path_buf()),
        None => Address::Unnamed,
    }
}

impl StreamSocket for mio::net::UnixStream {
    const KIND: &'static str = "UnixTransport";
    fn peer(&self) -> Option<Address> {
        self.peer_addr().ok().map(|a| unix_address(&a))
    }
    fn local(&self) -> Option<Address> {
        self.local_addr().ok().map(|a| unix_address(&a))
    }
}
