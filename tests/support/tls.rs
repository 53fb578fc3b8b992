//! Certificates and TLS configurations for the TLS tests, made fresh with
//! rcgen: a CA, and a leaf for `localhost` and `127.0.0.1` that it signed.

use std::sync::OnceLock;

use switchboard::testing::{EventLog, RecordingProtocol};
use switchboard::{Connection, EventLoop, NoMessage, Server, StreamProtocol};
use switchboard::{TlsClientConfig, TlsServerConfig};

/// A CA and a server certificate it signed, in PEM.
#[derive(Debug, Clone)]
pub struct TestPki {
    /// The CA's certificate (what clients trust).
    pub ca_pem: String,
    /// The server's chain: its certificate, then the CA's.
    pub chain_pem: String,
    /// The server's private key.
    pub key_pem: String,
}

/// The test PKI, made once per test binary.
pub fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| make_pki(&["localhost", "127.0.0.1"]))
}

/// A CA and a leaf for `names`.
pub fn make_pki(names: &[&str]) -> TestPki {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "switchboard test CA");
    let ca = ca_params.self_signed(&ca_key).expect("CA cert");
    let key = KeyPair::generate().expect("leaf key");
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let leaf = CertificateParams::new(names)
        .expect("leaf params")
        .signed_by(&key, &ca, &ca_key)
        .expect("leaf cert");
    TestPki {
        ca_pem: ca.pem(),
        chain_pem: format!("{}{}", leaf.pem(), ca.pem()),
        key_pem: key.serialize_pem(),
    }
}

/// The server's configuration.
pub fn server_config() -> TlsServerConfig {
    let p = pki();
    TlsServerConfig::from_pem(p.chain_pem.as_bytes(), p.key_pem.as_bytes()).expect("server config")
}

/// A client configuration that trusts the test CA.
pub fn client_config() -> TlsClientConfig {
    TlsClientConfig::from_root_pem(pki().ca_pem.as_bytes()).expect("client config")
}

/// A TLS server on `127.0.0.1:0` whose connections get `factory()`.
pub async fn tls_serve<P, M>(lp: &EventLoop, factory: impl Fn() -> P + 'static) -> (Server, u16)
where
    P: StreamProtocol<M>,
    M: Send + 'static,
{
    let server = lp
        .create_server(factory)
        .host("127.0.0.1")
        .port(0)
        .ssl(server_config())
        .await
        .expect("bind loopback");
    let port = server.sockets()[0].port();
    (server, port)
}

/// A TLS echo server recording into `log`.
pub async fn tls_echo_server(lp: &EventLoop, log: &EventLog) -> (Server, u16) {
    let log = log.clone();
    tls_serve::<_, NoMessage>(lp, move || {
        RecordingProtocol::with_log(log.clone()).echo(true)
    })
    .await
}

/// A TLS connection to `127.0.0.1:port`, checking the name `localhost`.
pub async fn tls_connect<P, M>(
    lp: &EventLoop,
    port: u16,
    factory: impl FnOnce() -> P + 'static,
) -> Connection<M>
where
    P: StreamProtocol<M>,
    M: Send + 'static,
{
    lp.create_connection(factory)
        .host("127.0.0.1")
        .port(port)
        .ssl(client_config())
        .server_hostname("localhost")
        .await
        .expect("tls connect")
}
