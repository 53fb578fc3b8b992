//! Stream transports (TCP, Unix): the actor, the state a protocol reaches, the
//! facts shown to outside handles, and the TLS layer a transport may hold
//! between its socket and its protocol (`tls`).

mod calls;
mod cold;
mod core;
mod event;
mod facts;
mod info;
mod limits;
mod linger;
mod options;
mod socket;
pub mod tls;
mod transport;
mod upper;

pub use calls::DEFAULT_MAX_CALLS_IN_FLIGHT;
pub use info::StreamInfo;
pub use limits::{StreamLimits, DEFAULT_MAX_WRITE_BUFFER};
pub use options::{Socket2Ops, SOCKET_OPS};
pub(crate) use socket::unix_address;
pub use socket::StreamSocket;
pub use transport::{Hooks, SocketTransport, Start, TcpTransport, UnixTransport, UpgradeTls};
