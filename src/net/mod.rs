//! Networking: `create_connection`, `create_server`, `connect_accepted_socket`,
//! `getaddrinfo`, and the handles they return.

mod attempts;
mod connect;
mod dns;
mod drain;
mod error;
mod race;
mod server;
mod start;
mod transport_handle;
mod writable;

pub use connect::CreateConnection;
pub use dns::Family;
pub use drain::{Drain, DrainReport, DrainState, Reached, DEFAULT_CLOSE_GRACE};
pub use error::NetError;
pub(crate) use server::ServerInner;
pub use server::{CreateServer, ServeForever, Server, WaitClosed};
pub use transport_handle::{Connection, TransportHandle};
