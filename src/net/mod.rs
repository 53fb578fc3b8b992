//! Networking: `create_connection`, `create_server`, `connect_accepted_socket`,
//! `getaddrinfo`, `start_tls`, and the handles they return.

mod accepted;
mod attempts;
mod connect;
mod dns;
mod error;
mod race;
mod server;
mod start;
mod tls;
mod transport_handle;
mod writable;

pub use accepted::ConnectAcceptedSocket;
pub use connect::CreateConnection;
pub use dns::Family;
pub use error::NetError;
pub use server::{CreateServer, ServeForever, Server, WaitClosed};
pub use tls::{StartTls, TlsClientConfig, TlsConfig, TlsConfigError, TlsServerConfig};
pub use transport_handle::{Connection, TransportHandle};
