//! Stream transports (TCP, Unix): the actor, the state a protocol reaches, the
//! facts shown to outside handles.

mod core;
mod info;
mod socket;
mod transport;

pub use info::StreamInfo;
pub use socket::StreamSocket;
pub use transport::{Hooks, SocketTransport, Start, StreamLimits, TcpTransport, UnixTransport};
