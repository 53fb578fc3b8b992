//! TLS on connections and servers (`ssl=`, `server_hostname=`,
//! `ssl_handshake_timeout=`) and `start_tls`, with rustls.
//!
//! The TLS layer runs inside each connection's transport actor, between the
//! socket and the protocol, so a protocol written for TCP runs unchanged over
//! TLS: the same [`StreamEvent`](crate::StreamEvent)s, the same
//! [`StreamTransport`](crate::StreamTransport) methods. What changes:
//!
//! * `ConnectionMade` comes once the handshake is done, and
//!   `create_connection` resolves then; a failed handshake is its error
//!   ([`NetError::Tls`](crate::NetError::Tls)). On a server, a failed
//!   handshake is reported to the exception handler (quietly for a peer that
//!   left or stalled) and touches no other connection.
//! * `can_write_eof()` is false and `write_eof()` is
//!   [`WriteError::EofNotSupported`](crate::WriteError::EofNotSupported):
//!   TLS cannot half-close. The peer's close_notify arrives as
//!   `EofReceived`, after which the connection closes whatever the protocol
//!   answers; an EOF without close_notify is
//!   `ConnectionLost(Some(TransportError::Tls(TlsError::Truncated)))`.
//! * `close()` sends close_notify and waits (up to the shutdown timeout,
//!   30 s by default) for the peer's before closing the socket.
//! * [`StreamTransport::tls`](crate::StreamTransport::tls) and
//!   [`TransportHandle::tls`](crate::TransportHandle::tls) give the
//!   session's facts ([`TlsInfo`](crate::TlsInfo)).
//! * Flow control counts the TLS records waiting in the socket's write
//!   buffer, so `PauseWriting`/`ResumeWriting` and the buffer cap work as
//!   over TCP.

mod client_config;
mod error;
mod server_config;
mod start_tls;
mod verifier;

pub use client_config::TlsClientConfig;
pub use error::TlsConfigError;
pub use server_config::TlsServerConfig;
pub use start_tls::{StartTls, TlsConfig};

pub(crate) use client_config::client_setup;
pub(crate) use start_tls::handshake_error;

use std::sync::Arc;

/// The crypto provider of every configuration switchboard makes: ring.
///
/// rustls 0.23.48 deprecates ring's provider because it has no
/// post-quantum key exchange; its alternative, aws-lc-rs, needs cmake and a
/// C toolchain to build, which switchboard does not ask of its users. The
/// choice is deliberate, so the deprecation is allowed here and a user's
/// build prints no warning from inside switchboard. What is lost: the
/// hybrid X25519MLKEM768 key exchange; X25519, P-256 and P-384 remain.
#[allow(deprecated)]
pub(crate) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}
