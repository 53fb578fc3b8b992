//! Every raw syscall the actors make.
//!
//! A backend (today only `unix`, for Linux and the BSDs) provides:
//!
//! - `signal::install(sig, write_fd)` / `signal::uninstall(sig, write_fd)`:
//!   route a signal to a self-pipe (the handler writes one byte) and back to
//!   `SIG_DFL`;
//! - `fd::read_to_spare(fd, buf)`: receive from a stream socket into a
//!   `BytesMut`'s spare capacity without zeroing it first;
//! - `fd::shutdown_write(fd)`: half-close a stream socket;
//! - `fd::raise_nofile_soft(n)` / `fd::nofile_limit()`: read and set
//!   RLIMIT_NOFILE (for EMFILE handling and its tests).
//!
//! Code outside `sys/` sees only `io::Result` and safe types.
#![allow(unsafe_code)]

pub mod unix;
