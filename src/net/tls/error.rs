//! Errors of building a TLS configuration.

use std::io;
use std::path::PathBuf;

/// Why a [`TlsClientConfig`](crate::TlsClientConfig) or
/// [`TlsServerConfig`](crate::TlsServerConfig) could not be made, or a name
/// could not be checked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsConfigError {
    /// A PEM file could not be read.
    #[error("cannot read the {what} file {path}: {source}")]
    File {
        /// What the file should hold (`"certificate"`, `"private key"`).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// PEM data that does not parse.
    #[error("invalid {what} pem: {reason}")]
    Pem {
        /// What the data should hold.
        what: &'static str,
        /// The parser's account.
        reason: String,
    },
    /// PEM data without the expected item.
    #[error("no {what} found in the pem data")]
    Missing {
        /// What was looked for.
        what: &'static str,
    },
    /// rustls refused the configuration (a key that does not match, a
    /// certificate it cannot use, …).
    #[error("invalid tls configuration: {0}")]
    Rustls(#[source] rustls::Error),
    /// The system's root certificates could not be loaded.
    #[error("cannot load the system root certificates: {reason}")]
    SystemRoots {
        /// What went wrong.
        reason: String,
    },
    /// `server_hostname` is not a DNS name or an IP address.
    #[error("invalid server_hostname {name:?}")]
    ServerName {
        /// The name given.
        name: String,
    },
    /// `server_hostname("")` (no hostname check) with a configuration
    /// switchboard did not make from root certificates: it cannot build a
    /// verifier that still checks the chain.
    #[error("server_hostname \"\" needs a TlsClientConfig made from root certificates")]
    NoRoots,
}
