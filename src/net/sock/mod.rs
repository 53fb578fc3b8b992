//! The loop's low-level socket methods: `sock_recv`, `sock_recv_into`,
//! `sock_recvfrom`, `sock_recvfrom_into`, `sock_sendall`, `sock_sendto`,
//! `sock_connect`, `sock_accept`: futures over non-blocking sockets the
//! caller owns.
//! <https://docs.python.org/3/library/asyncio-eventloop.html#working-with-socket-objects-directly>

mod error;
mod wait;

pub use error::SockError;
pub(crate) use wait::wait_ready;

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use bytes::Bytes;
use socket2::{SockAddr, SockRef};
use switchboard_actors::sys::unix::{fd, socket as sys};
use switchboard_protocols::Address;

use crate::event_loop::EventLoop;

/// The address a socket address names, as [`Address`].
pub(crate) fn address_of(a: &SockAddr) -> Address {
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

/// The socket address `a` names.
pub(crate) fn sock_addr_of(a: &Address) -> io::Result<SockAddr> {
    use std::os::unix::ffi::OsStrExt;
    match a {
        Address::Inet(addr) => Ok(SockAddr::from(*addr)),
        Address::Unix(path) => SockAddr::unix(path),
        Address::Abstract(name) => {
            let mut bytes = vec![0u8];
            bytes.extend_from_slice(name);
            SockAddr::unix(std::ffi::OsStr::from_bytes(&bytes))
        }
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "an unnamed address names no socket",
        )),
    }
}

impl EventLoop {
    /// Checks what every `sock_*` method needs: an open loop, a
    /// non-blocking socket, one no transport of this loop owns.
    pub(crate) fn check_sock(&self, fd: BorrowedFd<'_>) -> Result<RawFd, SockError> {
        self.core.check_open()?;
        let raw = fd.as_raw_fd();
        let nonblocking = sys::is_nonblocking(fd).map_err(|source| SockError::Io {
            op: "fcntl",
            fd: raw,
            source,
        })?;
        if !nonblocking {
            return Err(SockError::Blocking { fd: raw });
        }
        if crate::fd_watch::owned_by_transport(&self.core, raw) {
            return Err(SockError::OwnedByTransport { fd: raw });
        }
        Ok(raw)
    }

    /// Runs `op` until it does not say `WouldBlock`, waiting for `interest`
    /// in between.
    async fn retry<T>(
        &self,
        fd: RawFd,
        interest: mio::Interest,
        name: &'static str,
        mut op: impl FnMut() -> io::Result<T>,
    ) -> Result<T, SockError> {
        loop {
            match op() {
                Ok(v) => return Ok(v),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    wait_ready(self, fd, interest).await?;
                }
                Err(source) => {
                    return Err(SockError::Io {
                        op: name,
                        fd,
                        source,
                    })
                }
            }
        }
    }

    /// Receives up to `n` bytes (asyncio's `loop.sock_recv`); empty at EOF.
    /// The socket must be non-blocking ([`SockError::Blocking`] otherwise).
    ///
    /// ```
    /// use std::io::Write;
    /// switchboard::run(|lp| async move {
    ///     let (a, mut b) = std::os::unix::net::UnixStream::pair()?;
    ///     a.set_nonblocking(true)?;
    ///     b.write_all(b"ping")?;
    ///     assert_eq!(&lp.sock_recv(&a, 100).await?[..], b"ping");
    ///     Ok::<(), switchboard::Error>(())
    /// })?;
    /// # Ok::<(), switchboard::Error>(())
    /// ```
    pub async fn sock_recv(&self, sock: &impl AsFd, n: usize) -> Result<Bytes, SockError> {
        let fd = self.check_sock(sock.as_fd())?;
        let mut buf = vec![0u8; n];
        let got = self
            .retry(fd, mio::Interest::READABLE, "recv", || {
                sys::recv(sock.as_fd(), &mut buf)
            })
            .await?;
        buf.truncate(got);
        Ok(Bytes::from(buf))
    }

    /// Receives into `buf` and returns how many bytes came (asyncio's
    /// `loop.sock_recv_into`); 0 at EOF.
    pub async fn sock_recv_into(
        &self,
        sock: &impl AsFd,
        buf: &mut [u8],
    ) -> Result<usize, SockError> {
        let fd = self.check_sock(sock.as_fd())?;
        self.retry(fd, mio::Interest::READABLE, "recv", || {
            sys::recv(sock.as_fd(), buf)
        })
        .await
    }

    /// Receives one datagram of up to `n` bytes and its sender (asyncio's
    /// `loop.sock_recvfrom`).
    pub async fn sock_recvfrom(
        &self,
        sock: &impl AsFd,
        n: usize,
    ) -> Result<(Bytes, Address), SockError> {
        let mut buf = vec![0u8; n];
        let (got, from) = self.sock_recvfrom_into(sock, &mut buf).await?;
        buf.truncate(got);
        Ok((Bytes::from(buf), from))
    }

    /// Receives one datagram into `buf`; returns its length and its sender
    /// (asyncio's `loop.sock_recvfrom_into`).
    pub async fn sock_recvfrom_into(
        &self,
        sock: &impl AsFd,
        buf: &mut [u8],
    ) -> Result<(usize, Address), SockError> {
        let fd = self.check_sock(sock.as_fd())?;
        let (n, from) = self
            .retry(fd, mio::Interest::READABLE, "recvfrom", || {
                sys::recv_from(sock.as_fd(), buf)
            })
            .await?;
        Ok((n, address_of(&from)))
    }

    /// Sends all of `data`, waiting for room as often as needed (asyncio's
    /// `loop.sock_sendall`). On an error, how much was sent is unknown, as
    /// in asyncio.
    pub async fn sock_sendall(&self, sock: &impl AsFd, data: &[u8]) -> Result<(), SockError> {
        let fd = self.check_sock(sock.as_fd())?;
        let mut sent = 0;
        while sent < data.len() {
            let rest = &data[sent..];
            sent += self
                .retry(fd, mio::Interest::WRITABLE, "send", || {
                    SockRef::from(&sock.as_fd()).send(rest)
                })
                .await?;
        }
        Ok(())
    }

    /// Sends one datagram to `addr`; returns the bytes sent (asyncio's
    /// `loop.sock_sendto`).
    pub async fn sock_sendto(
        &self,
        sock: &impl AsFd,
        data: &[u8],
        addr: &Address,
    ) -> Result<usize, SockError> {
        let fd = self.check_sock(sock.as_fd())?;
        let target = sock_addr_of(addr).map_err(|source| SockError::Io {
            op: "sendto",
            fd,
            source,
        })?;
        self.retry(fd, mio::Interest::WRITABLE, "sendto", || {
            SockRef::from(&sock.as_fd()).send_to(data, &target)
        })
        .await
    }

    /// Connects the socket to `addr` (asyncio's `loop.sock_connect` with a
    /// resolved address): starts a non-blocking connect and waits until it
    /// completes. For a host name, see
    /// [`sock_connect_host`](Self::sock_connect_host).
    pub async fn sock_connect(&self, sock: &impl AsFd, addr: &Address) -> Result<(), SockError> {
        let fd = self.check_sock(sock.as_fd())?;
        let target = sock_addr_of(addr).map_err(|source| SockError::Io {
            op: "connect",
            fd,
            source,
        })?;
        let fail = |source| SockError::Io {
            op: "connect",
            fd,
            source,
        };
        loop {
            match SockRef::from(&sock.as_fd()).connect(&target) {
                Ok(()) => return Ok(()),
                Err(e) if fd::is_connected_already(&e) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if in_progress(&e) => {
                    wait_ready(self, fd, mio::Interest::WRITABLE).await?;
                    if let Some(e) = SockRef::from(&sock.as_fd()).take_error().map_err(fail)? {
                        return Err(fail(e));
                    }
                    // Connected (the next connect says EISCONN), or a Unix
                    // listener's full backlog to try again.
                }
                Err(e) => return Err(fail(e)),
            }
        }
    }

    /// [`sock_connect`](Self::sock_connect) to `host:port`, resolving the
    /// host with [`getaddrinfo`](Self::getaddrinfo) for the socket's family
    /// first, and trying the addresses in order (asyncio's `sock_connect`
    /// with an unresolved address).
    pub async fn sock_connect_host(
        &self,
        sock: &impl AsFd,
        host: &str,
        port: u16,
    ) -> Result<(), SockError> {
        let fd = self.check_sock(sock.as_fd())?;
        let local = SockRef::from(&sock.as_fd())
            .local_addr()
            .map_err(|source| SockError::Io {
                op: "getsockname",
                fd,
                source,
            })?;
        let family = match local.as_socket() {
            Some(a) if a.is_ipv4() => crate::Family::Inet,
            Some(_) => crate::Family::Inet6,
            None => crate::Family::Unspec,
        };
        let addrs = self.resolve(host, port, family).await?;
        let mut last = None;
        for a in addrs {
            match self.sock_connect(sock, &Address::Inet(a)).await {
                Ok(()) => return Ok(()),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(SockError::Io {
            op: "connect",
            fd,
            source: io::ErrorKind::AddrNotAvailable.into(),
        }))
    }

    /// Accepts one connection on a listening socket (asyncio's
    /// `loop.sock_accept`): the new socket, non-blocking, and the peer's
    /// address.
    pub async fn sock_accept(&self, sock: &impl AsFd) -> Result<(OwnedFd, Address), SockError> {
        let fd = self.check_sock(sock.as_fd())?;
        let (conn, peer) = self
            .retry(fd, mio::Interest::READABLE, "accept", || {
                SockRef::from(&sock.as_fd()).accept()
            })
            .await?;
        conn.set_nonblocking(true).map_err(|source| SockError::Io {
            op: "set_nonblocking",
            fd,
            source,
        })?;
        Ok((OwnedFd::from(conn), address_of(&peer)))
    }
}

/// `EINPROGRESS`, `EALREADY`, or `EAGAIN` (a Unix listener whose backlog is
/// full): wait for the socket to be writable, then look again.
fn in_progress(e: &io::Error) -> bool {
    fd::is_connect_in_progress(e) || fd::is_connect_already_started(e)
}
