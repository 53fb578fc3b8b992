//! Stream transports (TCP, Unix): the actor, the state a protocol reaches, the
//! facts shown to outside handles.

mod core;
mod event;
mod info;
mod limits;
mod options;
mod socket;
mod transport;

pub use info::StreamInfo;
pub use limits::{StreamLimits, DEFAULT_MAX_WRITE_BUFFER};
pub use options::{Socket2Ops, SOCKET_OPS};
pub(crate) use socket::unix_address;
pub use socket::StreamSocket;
pub use transport::{Hooks, SocketTransport, Start, TcpTransport, UnixTransport};
