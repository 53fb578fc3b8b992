//! What a TLS session is made from: one side's rustls configuration and the
//! timeouts.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use switchboard_protocols::TlsError;

/// asyncio's default `ssl_handshake_timeout`.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);
/// asyncio's default `ssl_shutdown_timeout`.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// Which side of the handshake this end plays, with its configuration.
#[derive(Debug, Clone)]
pub enum TlsSide {
    /// A client: verifies the server's certificate for `server_name` (as the
    /// configuration's verifier decides) and sends it as SNI when it is a
    /// DNS name.
    Client {
        /// The client configuration.
        config: Arc<rustls::ClientConfig>,
        /// The name checked (and sent as SNI).
        server_name: ServerName<'static>,
    },
    /// A server.
    Server {
        /// The server configuration.
        config: Arc<rustls::ServerConfig>,
    },
}

impl TlsSide {
    /// A fresh rustls connection for this side. rustls' own send buffer
    /// limit is lifted: the transport's write buffer, with its watermarks
    /// and cap, bounds what is queued.
    pub(crate) fn connect(&self) -> Result<rustls::Connection, TlsError> {
        let mut conn: rustls::Connection = match self {
            TlsSide::Client {
                config,
                server_name,
            } => rustls::ClientConnection::new(config.clone(), server_name.clone())
                .map_err(|e| TlsError::Handshake {
                    reason: e.to_string(),
                })?
                .into(),
            TlsSide::Server { config } => rustls::ServerConnection::new(config.clone())
                .map_err(|e| TlsError::Handshake {
                    reason: e.to_string(),
                })?
                .into(),
        };
        conn.set_buffer_limit(None);
        Ok(conn)
    }

    /// The SNI name a client sends.
    pub(crate) fn sni(&self) -> Option<String> {
        match self {
            TlsSide::Client {
                server_name: ServerName::DnsName(name),
                ..
            } => Some(name.as_ref().to_owned()),
            _ => None,
        }
    }
}

/// A TLS session to start on a transport: the side, and the timeouts.
#[derive(Debug, Clone)]
pub struct TlsSetup {
    /// Client or server, with the configuration.
    pub side: TlsSide,
    /// `ssl_handshake_timeout`.
    pub handshake_timeout: Duration,
    /// The shutdown timeout.
    pub shutdown_timeout: Duration,
}

impl TlsSetup {
    /// A setup with asyncio's default timeouts.
    pub fn new(side: TlsSide) -> Self {
        TlsSetup {
            side,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
        }
    }
}
