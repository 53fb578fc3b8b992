//! Networking: `create_connection`, `create_server`, `connect_accepted_socket`,
//! `create_unix_connection`, `create_unix_server`, `create_datagram_endpoint`,
//! `getaddrinfo`, `start_tls`, and the handles they return.

mod accepted;
mod attempts;
mod connect;
mod datagram;
mod dns;
mod drain;
mod error;
mod race;
mod sendfile;
mod server;
mod sock;
mod start;
mod tls;
mod transport_handle;
mod unix;
mod writable;

pub use accepted::ConnectAcceptedSocket;
pub use connect::CreateConnection;
pub use datagram::{CreateDatagramEndpoint, DatagramEndpoint, DatagramHandle};
pub use dns::{AddrInfo, AddrInfoFlags, Family, GetAddrInfo, GetNameInfo, NameInfoFlags, SockType};
pub use drain::{Drain, DrainReport, DrainState, Reached, DEFAULT_CLOSE_GRACE};
pub use error::NetError;
pub use sendfile::{Sendfile, SendfileError, SockSendfile};
pub use server::{CreateServer, ServeForever, Server, WaitClosed};
pub(crate) use server::{Listening, ServerInner};
pub use sock::SockError;
pub use tls::{StartTls, TlsClientConfig, TlsConfig, TlsConfigError, TlsServerConfig};
pub use transport_handle::{Connection, TransportHandle};
pub use unix::{CreateUnixConnection, CreateUnixServer};
