//! What a server's listening socket must do: TCP and Unix listeners both fit.

use std::io;
use std::os::fd::OwnedFd;

use switchboard_protocols::Address;

use crate::stream::StreamSocket;

/// A listening, non-blocking socket that accepts stream connections.
pub trait StreamListener: mio::event::Source + Sized + 'static {
    /// The connections it accepts.
    type Stream: StreamSocket;
    /// What `accept` says about the peer.
    type Peer;
    /// The listener's name in descriptions (`"TcpListener"`).
    const KIND: &'static str;
    /// Wraps a bound socket that is already listening and non-blocking.
    fn from_listening(sock: socket2::Socket) -> Self;
    /// Accepts one connection (non-blocking).
    fn accept_stream(&self) -> io::Result<(Self::Stream, Self::Peer)>;
    /// Wraps a connected socket accepted elsewhere (made non-blocking here).
    fn stream_from_fd(fd: OwnedFd) -> Self::Stream;
    /// Sets up an accepted connection before its transport starts.
    fn configure(stream: &mut Self::Stream) {
        let _ = stream;
    }
    /// The bound address of a socket of this kind.
    fn local_address(sock: &socket2::Socket) -> Option<Address>;
}

impl StreamListener for mio::net::TcpListener {
    type Stream = mio::net::TcpStream;
    type Peer = std::net::SocketAddr;
    const KIND: &'static str = "TcpListener";
    fn from_listening(sock: socket2::Socket) -> Self {
        mio::net::TcpListener::from_std(std::net::TcpListener::from(sock))
    }
    fn accept_stream(&self) -> io::Result<(Self::Stream, Self::Peer)> {
        self.accept()
    }
    fn stream_from_fd(fd: OwnedFd) -> Self::Stream {
        let s = std::net::TcpStream::from(fd);
        let _ = s.set_nonblocking(true);
        mio::net::TcpStream::from_std(s)
    }
    fn configure(stream: &mut Self::Stream) {
        // asyncio sets TCP_NODELAY on every TCP transport.
        let _ = stream.set_nodelay(true);
    }
    fn local_address(sock: &socket2::Socket) -> Option<Address> {
        sock.local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .map(Address::Inet)
    }
}

impl StreamListener for mio::net::UnixListener {
    type Stream = mio::net::UnixStream;
    type Peer = std::os::unix::net::SocketAddr;
    const KIND: &'static str = "UnixListener";
    fn from_listening(sock: socket2::Socket) -> Self {
        let fd = OwnedFd::from(sock);
        mio::net::UnixListener::from_std(std::os::unix::net::UnixListener::from(fd))
    }
    fn accept_stream(&self) -> io::Result<(Self::Stream, Self::Peer)> {
        self.accept()
    }
    fn stream_from_fd(fd: OwnedFd) -> Self::Stream {
        let s = std::os::unix::net::UnixStream::from(fd);
        let _ = s.set_nonblocking(true);
        mio::net::UnixStream::from_std(s)
    }
    fn local_address(sock: &socket2::Socket) -> Option<Address> {
        let addr = sock.local_addr().ok()?;
        if let Some(name) = addr.as_abstract_namespace() {
            return Some(Address::Abstract(name.to_vec()));
        }
        Some(match addr.as_pathname() {
            Some(p) => Address::Unix(p.to_path_buf()),
            None => Address::Unnamed,
        })
    }
}
