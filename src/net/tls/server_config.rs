//! The server side's TLS configuration (asyncio's server `SSLContext`).

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use switchboard_actors::stream::tls::{TlsSetup, TlsSide};
use switchboard_protocols::internal;
use switchboard_protocols::TlsUpgrade;

use crate::net::tls::error::TlsConfigError;
use crate::net::tls::provider;

/// A TLS server configuration: the certificate chain and key the server
/// presents, what it offers (asyncio's server `ssl.SSLContext` with
/// `load_cert_chain`). Cheap to clone. Any `rustls::ServerConfig` converts
/// into one (`.into()`), for client certificates and the rest.
///
/// ```
/// use switchboard::TlsServerConfig;
///
/// let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
/// let config = TlsServerConfig::from_pem(
///     cert.cert.pem().as_bytes(),
///     cert.key_pair.serialize_pem().as_bytes(),
/// )?;
/// # let _ = config;
/// # Ok::<(), switchboard::Error>(())
/// ```
#[derive(Clone)]
pub struct TlsServerConfig {
    config: Arc<rustls::ServerConfig>,
}

impl fmt::Debug for TlsServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsServerConfig")
            .field("alpn", &self.config.alpn_protocols)
            .finish()
    }
}

impl TlsServerConfig {
    /// Presents the certificate chain in `cert_chain_pem` (leaf first) with
    /// the private key in `key_pem` (PKCS#8, PKCS#1 or SEC1); TLS 1.2 and
    /// 1.3, no client certificates.
    pub fn from_pem(cert_chain_pem: &[u8], key_pem: &[u8]) -> Result<Self, TlsConfigError> {
        let chain = CertificateDer::pem_slice_iter(cert_chain_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsConfigError::Pem {
                what: "certificate",
                reason: e.to_string(),
            })?;
        if chain.is_empty() {
            return Err(TlsConfigError::Missing {
                what: "certificate",
            });
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| match e {
            rustls::pki_types::pem::Error::NoItemsFound => TlsConfigError::Missing {
                what: "private key",
            },
            e => TlsConfigError::Pem {
                what: "private key",
                reason: e.to_string(),
            },
        })?;
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(TlsConfigError::Rustls)?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(TlsConfigError::Rustls)?;
        Ok(TlsServerConfig {
            config: Arc::new(config),
        })
    }

    /// [`from_pem`](Self::from_pem) with the contents of two files
    /// (asyncio's `load_cert_chain(certfile, keyfile)`).
    pub fn from_pem_files(
        cert_chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<Self, TlsConfigError> {
        let read = |what, path: &Path| {
            std::fs::read(path).map_err(|source| TlsConfigError::File {
                what,
                path: path.to_path_buf(),
                source,
            })
        };
        let cert = read("certificate", cert_chain.as_ref())?;
        let key = read("private key", key.as_ref())?;
        Self::from_pem(&cert, &key)
    }

    /// Accepts these application protocols with ALPN, in order of
    /// preference.
    pub fn alpn<I>(mut self, protocols: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let mut config = (*self.config).clone();
        config.alpn_protocols = protocols.into_iter().map(|p| p.as_ref().to_vec()).collect();
        self.config = Arc::new(config);
        self
    }

    /// The rustls configuration inside.
    pub fn rustls(&self) -> &Arc<rustls::ServerConfig> {
        &self.config
    }

    /// A [`TlsUpgrade`] to hand to
    /// [`StreamTransport::start_tls`](crate::StreamTransport::start_tls):
    /// this end becomes the TLS server.
    pub fn upgrade(&self) -> TlsUpgrade {
        internal::tls_upgrade(Box::new(self.side()))
    }

    pub(crate) fn side(&self) -> TlsSide {
        TlsSide::Server {
            config: self.config.clone(),
        }
    }

    /// The setup of a server session.
    pub(crate) fn setup(
        &self,
        handshake_timeout: Option<Duration>,
        shutdown_timeout: Option<Duration>,
    ) -> TlsSetup {
        let mut setup = TlsSetup::new(self.side());
        if let Some(t) = handshake_timeout {
            setup.handshake_timeout = t;
        }
        if let Some(t) = shutdown_timeout {
            setup.shutdown_timeout = t;
        }
        setup
    }
}

impl From<Arc<rustls::ServerConfig>> for TlsServerConfig {
    fn from(config: Arc<rustls::ServerConfig>) -> Self {
        TlsServerConfig { config }
    }
}

impl From<rustls::ServerConfig> for TlsServerConfig {
    fn from(config: rustls::ServerConfig) -> Self {
        Arc::new(config).into()
    }
}
