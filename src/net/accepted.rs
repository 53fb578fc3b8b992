//! `connect_accepted_socket`.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::Duration;

use switchboard_actors::stream::StreamLimits;
use switchboard_protocols::{AnyStreamProtocol, StreamProtocol};

use crate::event_loop::EventLoop;
use crate::net::connect::adopt;
use crate::net::error::NetError;
use crate::net::start::start_transport;
use crate::net::tls::TlsServerConfig;
use crate::net::transport_handle::Connection;

/// The builder [`EventLoop::connect_accepted_socket`] returns; await it (it
/// implements `IntoFuture`).
#[must_use = "a ConnectAcceptedSocket does nothing until awaited"]
pub struct ConnectAcceptedSocket<M: 'static> {
    lp: EventLoop,
    protocol: AnyStreamProtocol<M>,
    sock: std::net::TcpStream,
    ssl: Option<TlsServerConfig>,
    ssl_handshake_timeout: Option<Duration>,
    ssl_shutdown_timeout: Option<Duration>,
}

impl<M: 'static> std::fmt::Debug for ConnectAcceptedSocket<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectAcceptedSocket")
            .field("sock", &self.sock)
            .field("ssl", &self.ssl.is_some())
            .finish()
    }
}

impl EventLoop {
    /// Wraps an already accepted (or otherwise connected) TCP socket into a
    /// transport and protocol (asyncio's `loop.connect_accepted_socket`).
    /// With [`ssl`](ConnectAcceptedSocket::ssl) this end is the TLS server,
    /// and the protocol gets `ConnectionMade` once the handshake is done.
    pub fn connect_accepted_socket<P, M>(
        &self,
        factory: impl FnOnce() -> P + 'static,
        sock: std::net::TcpStream,
    ) -> ConnectAcceptedSocket<M>
    where
        P: StreamProtocol<M>,
        M: Send + 'static,
    {
        ConnectAcceptedSocket {
            lp: self.clone(),
            protocol: AnyStreamProtocol::Stream(Box::new(factory())),
            sock,
            ssl: None,
            ssl_handshake_timeout: None,
            ssl_shutdown_timeout: None,
        }
    }
}

impl<M: Send + 'static> ConnectAcceptedSocket<M> {
    /// TLS over the connection, this end the server (asyncio's `ssl=`).
    pub fn ssl(mut self, config: impl Into<TlsServerConfig>) -> Self {
        self.ssl = Some(config.into());
        self
    }
    /// How long the TLS handshake may take (60 s by default).
    pub fn ssl_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.ssl_handshake_timeout = Some(timeout);
        self
    }
    /// How long `close()` may wait for the close_notify exchange and the
    /// flush (30 s by default).
    pub fn ssl_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.ssl_shutdown_timeout = Some(timeout);
        self
    }

    async fn run(self) -> Result<Connection<M>, NetError> {
        let tls = match &self.ssl {
            Some(c) => Some(c.setup(self.ssl_handshake_timeout, self.ssl_shutdown_timeout)),
            None if self.ssl_handshake_timeout.is_some() || self.ssl_shutdown_timeout.is_some() => {
                return Err(NetError::InvalidArgs(
                    "the ssl timeouts are only meaningful with ssl",
                ))
            }
            None => None,
        };
        let stream = adopt(self.sock)?;
        start_transport(
            &self.lp,
            stream,
            self.protocol,
            StreamLimits::default(),
            tls,
        )
        .await
    }
}

impl<M: Send + 'static> IntoFuture for ConnectAcceptedSocket<M> {
    type Output = Result<Connection<M>, NetError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output>>>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}
