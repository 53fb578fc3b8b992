//! Every raw syscall the actors make.
//!
//! A backend (today only `unix`, for Linux and the BSDs) provides:
//!
//! - `signal::install(sig, write_fd)` / `signal::uninstall(sig, write_fd)`:
//!   route a signal to the self-pipes of the loops that listen (the handler
//!   writes one byte to each) and, with the last, back to the disposition it
//!   had; `signal::write_without_sigpipe` keeps the runtime's own broken-pipe
//!   writes from raising a SIGPIPE anyone sees;
//! - `pipe::{kind, set_nonblocking, pipe, write, writev}`: pipe-like
//!   descriptors and writes that fail with `EPIPE` instead of signalling;
//! - `process::{pidfd_open, try_wait, wait, kill}`: children, reaped one pid
//!   at a time (never `waitpid(-1)`);
//! - `fd::recv_to_spare(fd, buf)` (stream sockets) / `fd::read_to_spare(fd,
//!   buf)` (any descriptor): read into a `BytesMut`'s spare capacity without
//!   zeroing it first;
//! - `fd::shutdown_write(fd)`: half-close a stream socket;
//! - `socket::send(fd, buf)` / `socket::send_vectored(fd, bufs)`: send on a
//!   stream socket without ever raising SIGPIPE;
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
//! And, for any backend, `cpu::prefetch(&value)`: a cache hint (the timer
//! queue asks for its due callbacks' captures before running them).
//!
//! Code outside `sys/` sees only `io::Result` and safe types.
#![allow(unsafe_code)]

pub mod cpu;
pub mod unix;
