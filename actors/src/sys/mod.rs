//! Every raw syscall the actors make.
//!
//! A backend (today only `unix`, for Linux and the BSDs) provides:
//!
//! - `signal::install(sig, write_fd)` / `signal::uninstall(sig, write_fd)`:
//!   route a signal to a self-pipe (the handler writes one byte) and back to
//!   `SIG_DFL`;
//! - `fd::read_to_spare(fd, buf)`: read into a `BytesMut`'s spare capacity
//!   without zeroing it first;
//! - `fd::shutdown_write(fd)`: half-close a stream socket;
//! - `fd::raise_nofile_soft(n)` / `fd::nofile_limit()`: read and set
//!   RLIMIT_NOFILE (for EMFILE handling and its tests);
//! - `socket::peer_credentials(fd)`: the peer process of a Unix-domain
//!   stream socket (`SO_PEERCRED`), or `Unsupported`;
//! - `socket::is_nonblocking(fd)`, `socket::recv(fd, buf)`,
//!   `socket::recv_from(fd, buf)`: for the loop's `sock_*` methods;
//! - `fd::sendfile(sock, file, offset, count)` / `fd::dup_raw(fd)`: for
//!   `loop.sendfile` and `sock_sendfile`;
//! - `dns::getaddrinfo(..)` / `dns::getnameinfo(..)`: the resolver, blocking
//!   (the loop calls them on its executor).
//!
//! Code outside `sys/` sees only `io::Result` and safe types.
#![allow(unsafe_code)]

pub mod unix;
