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
    /// The certificate chain, when it was given (or made) as PEM.
    cert_pem: Option<Arc<str>>,
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
            cert_pem: std::str::from_utf8(cert_chain_pem).ok().map(Arc::from),
        })
    }

    /// A fresh key and a self-signed certificate for `names` (DNS names or
    /// IP addresses, the first also its common name), for development and
    /// tests: an end-entity certificate (not a CA) with every name in its
    /// subjectAltName, which is what rustls asks of a server certificate. A
    /// client trusts it with [`TlsClientConfig::from_root_pem`] of
    /// [`certificate_pem`](Self::certificate_pem) (or of its file). Behind
    /// the `self-signed` cargo feature, on by default.
    ///
    /// To make one with `openssl` instead (both extensions matter: without
    /// the subjectAltName the name does not match; `openssl req -x509`
    /// alone makes a CA, which rustls refuses as a server's certificate):
    ///
    /// ```text
    /// openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    ///   -keyout key.pem -out cert.pem -days 365 -subj /CN=localhost \
    ///   -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    ///   -addext "basicConstraints=critical,CA:FALSE"
    /// ```
    ///
    /// ```
    /// use switchboard::{TlsClientConfig, TlsServerConfig};
    ///
    /// let server = TlsServerConfig::self_signed(["localhost", "127.0.0.1"])?;
    /// let pem = server.certificate_pem().expect("it made one");
    /// let client = TlsClientConfig::from_root_pem(pem.as_bytes())?;
    /// # let _ = client;
    /// # Ok::<(), switchboard::Error>(())
    /// ```
    ///
    /// [`TlsClientConfig::from_root_pem`]: crate::TlsClientConfig::from_root_pem
    #[cfg(feature = "self-signed")]
    pub fn self_signed<I>(names: I) -> Result<Self, TlsConfigError>
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        let names: Vec<String> = names.into_iter().map(Into::into).collect();
        let made = rcgen::generate_simple_self_signed(names).map_err(|e| TlsConfigError::Pem {
            what: "self-signed certificate",
            reason: e.to_string(),
        })?;
        let cert = made.cert.pem();
        let mut config = Self::from_pem(cert.as_bytes(), made.key_pair.serialize_pem().as_bytes())?;
        config.cert_pem = Some(Arc::from(cert));
        Ok(config)
    }

    /// The server's certificate chain in PEM, when this configuration was
    /// made from PEM ([`from_pem`](Self::from_pem), its files, or
    /// [`self_signed`](Self::self_signed)): what a client of a
    /// self-signed server trusts.
    pub fn certificate_pem(&self) -> Option<&str> {
        self.cert_pem.as_deref()
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
        TlsServerConfig {
            config,
            cert_pem: None,
        }
    }
}

impl From<rustls::ServerConfig> for TlsServerConfig {
    fn from(config: rustls::ServerConfig) -> Self {
        Arc::new(config).into()
    }
}
