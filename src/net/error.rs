//! Errors of connecting, serving and resolving.

use std::io;
use std::net::SocketAddr;

use switchboard_protocols::Address;

use crate::error::LoopError;

/// Why `create_connection`, `create_server` or `getaddrinfo` failed.
///
/// A variant with an OS error prints it after a colon (`cannot connect to
/// 127.0.0.1:9: Connection refused (os error 111)`) and returns it from
/// `source()`; [`AllFailed`](Self::AllFailed) lists every address with its
/// own reason.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// The loop refused (closed, …).
    #[error(transparent)]
    Loop(#[from] LoopError),
    /// Name resolution failed.
    #[error("cannot resolve {host}:{port}: {source}")]
    Resolve {
        /// The host asked for.
        host: String,
        /// The port asked for.
        port: u16,
        /// The resolver's error.
        #[source]
        source: io::Error,
    },
    /// `getnameinfo` failed.
    #[error("cannot look up the name of {addr}: {source}")]
    NameInfo {
        /// The address.
        addr: SocketAddr,
        /// The resolver's error.
        #[source]
        source: io::Error,
    },
    /// Resolution gave no address of the requested family.
    #[error("no address found for {host}:{port}")]
    NoAddress {
        /// The host asked for.
        host: String,
        /// The port asked for.
        port: u16,
    },
    /// Connecting to `addr` failed (refused, unreachable, timed out…).
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// The address tried.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Every address failed; each error is listed (asyncio's "Multiple exceptions").
    #[error("cannot connect to any address: {}", list(.errors))]
    AllFailed {
        /// One error per address tried, in order.
        errors: Vec<(SocketAddr, io::Error)>,
    },
    /// Binding `addr` failed (EADDRINUSE names the address, as asyncio does).
    #[error("error while attempting to bind on address {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Binding a Unix socket to `address` failed. A file that is not a
    /// socket at the path gives `AddrInUse` (asyncio: "Address '…' is
    /// already in use"); a stale socket file is removed first.
    #[error("error while attempting to bind on address {address}: {source}")]
    BindUnix {
        /// The path or abstract name.
        address: Address,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Connecting a Unix socket to `address` failed (a missing path gives
    /// `NotFound`, asyncio's `FileNotFoundError`).
    #[error("cannot connect to {address}: {source}")]
    ConnectUnix {
        /// The path or abstract name.
        address: Address,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A socket operation on a given or new socket failed.
    #[error("{op} failed: {source}")]
    Socket {
        /// The operation.
        op: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// `reuse_address(true)` on a datagram endpoint: refused, as asyncio
    /// refuses it (`SO_REUSEADDR` on UDP lets another process take the
    /// port's datagrams); `reuse_port` is the safe way to share a port.
    #[error("reuse_address=true is not supported for datagram endpoints: use reuse_port")]
    ReuseAddressUnsupported,
    /// The arguments do not fit together (asyncio's `ValueError`).
    #[error("invalid arguments: {0}")]
    InvalidArgs(&'static str),
    /// The TLS handshake failed or timed out (`create_connection` with
    /// `ssl`, `start_tls`).
    #[error(transparent)]
    Tls(#[from] switchboard_protocols::TlsError),
    /// The TLS configuration or `server_hostname` is unusable.
    #[error(transparent)]
    TlsConfig(#[from] crate::net::tls::TlsConfigError),
    /// The server is closed (`serve_forever` on a closed server).
    #[error("server {0} is closed")]
    ServerClosed(String),
}

fn list(errors: &[(SocketAddr, io::Error)]) -> String {
    errors
        .iter()
        .map(|(a, e)| format!("[{a}] {e}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl NetError {
    /// The OS error kind behind this error, if there is a single one.
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        match self {
            NetError::Resolve { source, .. }
            | NetError::NameInfo { source, .. }
            | NetError::Connect { source, .. }
            | NetError::Bind { source, .. }
            | NetError::BindUnix { source, .. }
            | NetError::ConnectUnix { source, .. }
            | NetError::Socket { source, .. } => Some(source.kind()),
            NetError::AllFailed { errors } if errors.len() == 1 => Some(errors[0].1.kind()),
            _ => None,
        }
    }
}
