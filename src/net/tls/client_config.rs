//! The client side's TLS configuration (asyncio's client `SSLContext`).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::RootCertStore;
use switchboard_actors::stream::tls::{TlsSetup, TlsSide};
use switchboard_protocols::internal;
use switchboard_protocols::TlsUpgrade;

use crate::net::tls::error::TlsConfigError;
use crate::net::tls::provider;
use crate::net::tls::verifier::AnyName;

/// A TLS client configuration: which servers to trust and what to offer
/// (asyncio's client `ssl.SSLContext`). Cheap to clone; one configuration
/// serves any number of connections.
///
/// [`system_roots`](Self::system_roots) is asyncio's `ssl=True`
/// (`ssl.create_default_context()`): the system's root certificates, TLS 1.2
/// and 1.3, the server's certificate checked against the host name. For a
/// private CA (or a self-signed test certificate), use
/// [`from_root_pem`](Self::from_root_pem). Any `rustls::ClientConfig`
/// converts into one (`.into()`), for full control.
///
/// ```
/// use switchboard::TlsClientConfig;
///
/// let ca = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
/// let config = TlsClientConfig::from_root_pem(ca.cert.pem().as_bytes())?
///     .alpn(["http/1.1"]);
/// assert_eq!(config.rustls().alpn_protocols, vec![b"http/1.1".to_vec()]);
/// # Ok::<(), switchboard::Error>(())
/// ```
#[derive(Clone)]
pub struct TlsClientConfig {
    config: Arc<rustls::ClientConfig>,
    /// The trusted roots, when switchboard built the configuration: needed to
    /// check a chain without its name (`server_hostname("")`).
    roots: Option<Arc<RootCertStore>>,
}

impl fmt::Debug for TlsClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsClientConfig")
            .field("alpn", &self.config.alpn_protocols)
            .field("roots", &self.roots.as_ref().map(|r| r.len()))
            .finish()
    }
}

impl TlsClientConfig {
    /// The default configuration (asyncio's `ssl=True`): the system's root
    /// certificates, loaded once per process, with hostname verification.
    pub fn system_roots() -> Result<Self, TlsConfigError> {
        static SYSTEM: OnceLock<Result<TlsClientConfig, String>> = OnceLock::new();
        SYSTEM
            .get_or_init(|| {
                let found = rustls_native_certs::load_native_certs();
                let mut roots = RootCertStore::empty();
                let (added, _) = roots.add_parsable_certificates(found.certs);
                if added == 0 {
                    let why = found
                        .errors
                        .first()
                        .map(|e| e.to_string())
                        .unwrap_or_else(|| "no root certificate found".into());
                    return Err(why);
                }
                TlsClientConfig::from_roots(roots).map_err(|e| e.to_string())
            })
            .clone()
            .map_err(|reason| TlsConfigError::SystemRoots { reason })
    }

    /// Trusts the CA certificates in `pem` (and no others).
    pub fn from_root_pem(pem: &[u8]) -> Result<Self, TlsConfigError> {
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| TlsConfigError::Pem {
                what: "certificate",
                reason: e.to_string(),
            })?;
            roots.add(cert).map_err(TlsConfigError::Rustls)?;
        }
        if roots.is_empty() {
            return Err(TlsConfigError::Missing {
                what: "certificate",
            });
        }
        Self::from_roots(roots)
    }

    /// [`from_root_pem`](Self::from_root_pem) with the contents of a file.
    pub fn from_root_pem_file(path: impl AsRef<Path>) -> Result<Self, TlsConfigError> {
        let path = path.as_ref();
        let pem = std::fs::read(path).map_err(|source| TlsConfigError::File {
            what: "certificate",
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_root_pem(&pem)
    }

    fn from_roots(roots: RootCertStore) -> Result<Self, TlsConfigError> {
        let roots = Arc::new(roots);
        let config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(TlsConfigError::Rustls)?
            .with_root_certificates(roots.clone())
            .with_no_client_auth();
        Ok(TlsClientConfig {
            config: Arc::new(config),
            roots: Some(roots),
        })
    }

    /// Offers these application protocols with ALPN, in order of preference
    /// (asyncio: `set_alpn_protocols`).
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
    pub fn rustls(&self) -> &Arc<rustls::ClientConfig> {
        &self.config
    }

    /// A [`TlsUpgrade`] to hand to
    /// [`StreamTransport::start_tls`](crate::StreamTransport::start_tls):
    /// this end becomes the TLS client, checking `server_hostname` (an empty
    /// name checks the chain but not the name).
    pub fn upgrade(&self, server_hostname: &str) -> Result<TlsUpgrade, TlsConfigError> {
        let side = self.side(server_hostname, None)?;
        Ok(internal::tls_upgrade(Box::new(side)))
    }

    /// The client side of a handshake that checks `name` (`peer` stands in
    /// for an empty name).
    pub(crate) fn side(&self, name: &str, peer: Option<IpAddr>) -> Result<TlsSide, TlsConfigError> {
        if name.is_empty() {
            // asyncio's server_hostname='': the chain is checked, the name
            // is not, and no SNI is sent.
            let roots = self.roots.clone().ok_or(TlsConfigError::NoRoots)?;
            let inner = WebPkiServerVerifier::builder_with_provider(roots, provider())
                .build()
                .map_err(|e| TlsConfigError::Rustls(rustls::Error::General(e.to_string())))?;
            let mut config = (*self.config).clone();
            config
                .dangerous()
                .set_certificate_verifier(Arc::new(AnyName(inner)));
            let ip = peer.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
            return Ok(TlsSide::Client {
                config: Arc::new(config),
                server_name: ServerName::IpAddress(ip.into()),
            });
        }
        let server_name =
            ServerName::try_from(name.to_owned()).map_err(|_| TlsConfigError::ServerName {
                name: name.to_owned(),
            })?;
        Ok(TlsSide::Client {
            config: self.config.clone(),
            server_name,
        })
    }
}

impl From<Arc<rustls::ClientConfig>> for TlsClientConfig {
    fn from(config: Arc<rustls::ClientConfig>) -> Self {
        TlsClientConfig {
            config,
            roots: None,
        }
    }
}

impl From<rustls::ClientConfig> for TlsClientConfig {
    fn from(config: rustls::ClientConfig) -> Self {
        Arc::new(config).into()
    }
}

/// The setup of a client session checking `name`.
pub(crate) fn client_setup(
    config: &TlsClientConfig,
    name: &str,
    peer: Option<IpAddr>,
    handshake_timeout: Option<Duration>,
    shutdown_timeout: Option<Duration>,
) -> Result<TlsSetup, TlsConfigError> {
    let mut setup = TlsSetup::new(config.side(name, peer)?);
    if let Some(t) = handshake_timeout {
        setup.handshake_timeout = t;
    }
    if let Some(t) = shutdown_timeout {
        setup.shutdown_timeout = t;
    }
    Ok(setup)
}
