//! TLS as a protocol sees it: the facts of a TLS session ([`TlsInfo`]), the
//! errors of the TLS layer ([`TlsError`]) and the upgrade a protocol asks its
//! transport for ([`TlsUpgrade`], asyncio's `start_tls`).
//!
//! This crate knows nothing of the TLS library: the TLS layer lives in the
//! loop's transports, between the socket and the protocol, so a protocol
//! written for TCP runs unchanged over TLS. What it may want to know about the
//! session is plain data here.

use std::any::Any;
use std::fmt;
use std::time::Duration;

use bytes::Bytes;

/// A TLS protocol version (asyncio: `ssl_object.version()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum TlsVersion {
    /// TLS 1.2.
    Tls12,
    /// TLS 1.3.
    Tls13,
}

impl TlsVersion {
    /// The name Python's `SSLObject.version()` gives: `"TLSv1.2"`, `"TLSv1.3"`.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsVersion::Tls12 => "TLSv1.2",
            TlsVersion::Tls13 => "TLSv1.3",
        }
    }
}

impl fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a TLS transport knows of its session once the handshake is complete:
/// the typed form of the SSL keys of asyncio's `transport.get_extra_info()`.
///
/// | asyncio `get_extra_info` | here |
/// | --- | --- |
/// | `'ssl_object'.version()` | [`version`](Self::version) |
/// | `'cipher'` | [`cipher`](Self::cipher) |
/// | `'peercert'` | [`peer_certificates`](Self::peer_certificates) (DER, leaf first) |
/// | `'ssl_object'.selected_alpn_protocol()` | [`alpn_protocol`](Self::alpn_protocol) |
/// | `'ssl_object'.server_hostname` / SNI | [`server_name`](Self::server_name) |
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsInfo {
    /// The negotiated protocol version.
    pub version: TlsVersion,
    /// The negotiated cipher suite, by its IANA name (for example
    /// `"TLS13_AES_256_GCM_SHA384"`).
    pub cipher: String,
    /// The peer's certificate chain in DER, leaf first; empty when the peer
    /// sent none (a client without a certificate).
    pub peer_certificates: Vec<Bytes>,
    /// The application protocol agreed with ALPN, if any.
    pub alpn_protocol: Option<Bytes>,
    /// The server name (SNI): on a client, the name it asked for; on a
    /// server, the name the client asked for. `None` when none was sent (an
    /// IP address, or no name).
    pub server_name: Option<String>,
}

impl TlsInfo {
    /// The facts of a finished handshake.
    pub fn new(version: TlsVersion, cipher: impl Into<String>) -> Self {
        TlsInfo {
            version,
            cipher: cipher.into(),
            peer_certificates: Vec::new(),
            alpn_protocol: None,
            server_name: None,
        }
    }
}

/// Why the TLS layer of a connection failed, as `ConnectionLost` carries it
/// (in [`TransportError::Tls`](crate::TransportError::Tls)) and as
/// `create_connection` and `start_tls` return it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The handshake failed: the peer sent an alert, spoke something that is
    /// not TLS, or the two sides agreed on nothing.
    #[error("tls handshake failed: {reason}")]
    Handshake {
        /// The TLS library's account of it.
        reason: String,
    },
    /// The peer's certificate was refused (unknown issuer, expired, not
    /// valid for the name checked, …).
    #[error("tls certificate verification failed: {reason}")]
    Certificate {
        /// What was wrong with it.
        reason: String,
    },
    /// The handshake did not finish within `ssl_handshake_timeout`
    /// (asyncio's `ConnectionAbortedError`; 60 s by default).
    #[error("tls handshake did not complete within {timeout:?}")]
    HandshakeTimedOut {
        /// The timeout.
        timeout: Duration,
    },
    /// After `close()`, the close_notify exchange and the flush did not
    /// finish within the shutdown timeout (asyncio's `ssl_shutdown_timeout`,
    /// 30 s by default); the connection was aborted.
    #[error("tls shutdown did not complete within {timeout:?}")]
    ShutdownTimedOut {
        /// The timeout.
        timeout: Duration,
    },
    /// The peer closed the connection without a TLS close_notify: the
    /// stream may have been cut short by an attacker, so this is not a clean
    /// EOF.
    #[error("the peer closed the connection without a tls close_notify (truncated stream)")]
    Truncated,
    /// A TLS error after the handshake: a corrupted record, an alert.
    #[error("tls error: {reason}")]
    Protocol {
        /// The TLS library's account of it.
        reason: String,
    },
    /// `start_tls` on a connection that is already TLS.
    #[error("the connection already uses tls")]
    AlreadyTls,
    /// `start_tls` on a connection that is closing or gone.
    #[error("cannot start tls on a closing connection")]
    Closing,
    /// `start_tls` on a transport that cannot carry TLS.
    #[error("this transport does not support tls")]
    Unsupported,
}

impl TlsError {
    /// True for the two timeouts (handshake, shutdown).
    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            TlsError::HandshakeTimedOut { .. } | TlsError::ShutdownTimedOut { .. }
        )
    }
}

/// An upgrade to TLS that a protocol hands its transport with
/// [`StreamTransport::start_tls`](crate::StreamTransport::start_tls): asyncio's
/// `loop.start_tls` asked for from inside the protocol, at the exact point in
/// the byte stream where TLS begins.
///
/// Make one from a TLS configuration (`switchboard::TlsServerConfig::upgrade`,
/// `switchboard::TlsClientConfig::upgrade`); this crate only carries it.
/// Bytes the protocol already received past the upgrade point (a client that
/// pipelined its TLS hello right behind the `STARTTLS` line) go in
/// [`leftover`](Self::leftover): TLS reads them first, so none are lost.
pub struct TlsUpgrade {
    setup: Box<dyn Any>,
    leftover: Bytes,
    handshake_timeout: Option<Duration>,
    shutdown_timeout: Option<Duration>,
}

impl fmt::Debug for TlsUpgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsUpgrade")
            .field("leftover", &self.leftover.len())
            .field("handshake_timeout", &self.handshake_timeout)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .finish()
    }
}

impl TlsUpgrade {
    /// Bytes already received after the upgrade point: TLS reads them before
    /// anything else from the socket.
    pub fn leftover(mut self, bytes: impl Into<Bytes>) -> Self {
        self.leftover = bytes.into();
        self
    }
    /// `ssl_handshake_timeout` (60 s when not given).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = Some(timeout);
        self
    }
    /// The shutdown timeout (30 s when not given).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = Some(timeout);
        self
    }
}

/// The parts of a [`TlsUpgrade`], for the transport that applies it.
#[derive(Debug)]
pub struct TlsUpgradeParts {
    /// What the TLS layer needs (its configuration), type-erased here.
    pub setup: Box<dyn Any>,
    /// Bytes received past the upgrade point.
    pub leftover: Bytes,
    /// The handshake timeout asked for.
    pub handshake_timeout: Option<Duration>,
    /// The shutdown timeout asked for.
    pub shutdown_timeout: Option<Duration>,
}

/// Makes an upgrade around the TLS layer's own setup (see `internal`).
pub(crate) fn upgrade(setup: Box<dyn Any>) -> TlsUpgrade {
    TlsUpgrade {
        setup,
        leftover: Bytes::new(),
        handshake_timeout: None,
        shutdown_timeout: None,
    }
}

/// Takes an upgrade apart (see `internal`).
pub(crate) fn into_parts(u: TlsUpgrade) -> TlsUpgradeParts {
    TlsUpgradeParts {
        setup: u.setup,
        leftover: u.leftover,
        handshake_timeout: u.handshake_timeout,
        shutdown_timeout: u.shutdown_timeout,
    }
}
