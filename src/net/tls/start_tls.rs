//! `loop.start_tls`: upgrading an open connection, from outside its protocol.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use switchboard_actors::stream::UpgradeTls;
use switchboard_protocols::{TlsError, TransportError};

use crate::event_loop::EventLoop;
use crate::net::error::NetError;
use crate::net::tls::{TlsClientConfig, TlsServerConfig};
use crate::net::transport_handle::TransportHandle;

/// Either side's configuration, for [`EventLoop::start_tls`]: a
/// [`TlsServerConfig`] makes this end the server (asyncio's
/// `server_side=True`), a [`TlsClientConfig`] the client.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum TlsConfig {
    /// This end is the TLS client.
    Client(TlsClientConfig),
    /// This end is the TLS server.
    Server(TlsServerConfig),
}

impl From<TlsClientConfig> for TlsConfig {
    fn from(c: TlsClientConfig) -> Self {
        TlsConfig::Client(c)
    }
}

impl From<TlsServerConfig> for TlsConfig {
    fn from(c: TlsServerConfig) -> Self {
        TlsConfig::Server(c)
    }
}

/// The builder [`EventLoop::start_tls`] returns; await it (it implements
/// `IntoFuture`). It resolves once the handshake is done, with the handle of
/// the upgraded transport.
#[must_use = "a StartTls does nothing until awaited"]
#[derive(Debug)]
pub struct StartTls {
    transport: TransportHandle,
    config: TlsConfig,
    server_hostname: Option<String>,
    handshake_timeout: Option<Duration>,
    shutdown_timeout: Option<Duration>,
    leftover: Bytes,
}

impl EventLoop {
    /// Upgrades an open connection to TLS (asyncio's `loop.start_tls`).
    ///
    /// The protocol stays: from the moment the loop applies the upgrade,
    /// every byte from the socket goes through TLS and the protocol receives
    /// the decrypted stream (no second `ConnectionMade`); bytes written
    /// before leave in plaintext, ahead of the handshake, and a transport
    /// paused for writing stays paused until its buffer drains. The
    /// `transport` handle is consumed: the one returned (the same actor)
    /// writes through TLS, and so would any clone of the old one, since
    /// every command goes to the transport the protocol sees; nothing can
    /// reach the plaintext stream any more. A failed or timed-out handshake
    /// is the error, and the protocol gets
    /// `ConnectionLost(Some(TransportError::Tls(..)))`.
    ///
    /// `server_side` is which configuration is given; bytes the protocol
    /// already received past the upgrade point go in
    /// [`leftover`](StartTls::leftover). Inside a handler, a protocol
    /// upgrades at an exact point of the stream with
    /// [`StreamTransport::start_tls`](crate::StreamTransport::start_tls)
    /// instead.
    pub fn start_tls(&self, transport: TransportHandle, config: impl Into<TlsConfig>) -> StartTls {
        StartTls {
            transport,
            config: config.into(),
            server_hostname: None,
            handshake_timeout: None,
            shutdown_timeout: None,
            leftover: Bytes::new(),
        }
    }
}

impl StartTls {
    /// The name the server's certificate is checked against (a client
    /// needs one; `""` checks the chain but not the name).
    pub fn server_hostname(mut self, name: impl Into<String>) -> Self {
        self.server_hostname = Some(name.into());
        self
    }
    /// `ssl_handshake_timeout` (60 s by default).
    pub fn ssl_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = Some(timeout);
        self
    }
    /// `ssl_shutdown_timeout` (30 s by default).
    pub fn ssl_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = Some(timeout);
        self
    }
    /// Bytes the protocol already received past the upgrade point: TLS reads
    /// them first.
    pub fn leftover(mut self, bytes: impl Into<Bytes>) -> Self {
        self.leftover = bytes.into();
        self
    }

    async fn run(self) -> Result<TransportHandle, NetError> {
        let transport = self.transport;
        let lp = transport.lp.clone();
        lp.core.check_open()?;
        let mut upgrade = match &self.config {
            TlsConfig::Server(c) => {
                if self.server_hostname.is_some() {
                    return Err(NetError::InvalidArgs(
                        "server_hostname is only meaningful with ssl",
                    ));
                }
                c.upgrade()
            }
            TlsConfig::Client(c) => {
                let Some(name) = &self.server_hostname else {
                    return Err(NetError::InvalidArgs(
                        "you must set server_hostname when using ssl without a host",
                    ));
                };
                c.upgrade(name)?
            }
        };
        upgrade = upgrade.leftover(self.leftover);
        if let Some(t) = self.handshake_timeout {
            upgrade = upgrade.handshake_timeout(t);
        }
        if let Some(t) = self.shutdown_timeout {
            upgrade = upgrade.shutdown_timeout(t);
        }
        let done = lp.create_fallible_future::<(), TransportError>();
        let settle = done.clone();
        let msg = UpgradeTls {
            upgrade,
            on_done: Box::new(move |r| {
                let _ = match r {
                    Ok(()) => settle.set_result(()),
                    Err(e) => settle.set_exception(e),
                };
            }),
        };
        crate::routing::deliver(&lp.core, transport.id, transport.gen, Box::new(msg));
        match done.await {
            Ok(()) => Ok(transport),
            Err(crate::FutureError::Failed(e)) => Err(NetError::Tls(handshake_error(e))),
            Err(_) => Err(NetError::Loop(crate::LoopError::Closed)),
        }
    }
}

/// The TLS error of a connection lost during its handshake.
pub(crate) fn handshake_error(e: TransportError) -> TlsError {
    match e {
        TransportError::Tls(t) => t,
        other => TlsError::Handshake {
            reason: other.to_string(),
        },
    }
}

impl IntoFuture for StartTls {
    type Output = Result<TransportHandle, NetError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output>>>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}
