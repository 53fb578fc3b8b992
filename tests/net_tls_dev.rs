//! TLS for development: `TlsServerConfig::self_signed`, and a certificate
//! made with `openssl` the way the rustdoc says, each trusted by a client
//! that loads it as its root.
//!
//! `openssl` comes with Debian's `openssl` (`.ci/run` installs it): under
//! `CI=true` a missing `openssl` fails the test; elsewhere it prints a note
//! and passes.

mod support;

use std::process::Command;

use switchboard::testing::EventLog;
use switchboard::{NoMessage, TlsClientConfig, TlsServerConfig};

use support::net::until;
use support::{new_loop, run_with_deadline};

/// Serves an echo with `server`, connects with `client` to "localhost",
/// and checks the bytes come back; also what reached the exception handler.
fn round_trip(
    server: TlsServerConfig,
    client: TlsClientConfig,
) -> (Result<(), String>, Vec<String>) {
    let (lp, h) = new_loop();
    let l = lp.clone();
    let result = run_with_deadline(&lp, async move {
        let slog = EventLog::new();
        let s2 = slog.clone();
        let srv = l
            .create_server::<_, NoMessage>(move || {
                switchboard::testing::RecordingProtocol::with_log(s2.clone()).echo(true)
            })
            .host("127.0.0.1")
            .port(0)
            .ssl(server)
            .await
            .map_err(|e| e.to_string())?;
        let port = srv.sockets()[0].port();
        let p = switchboard::testing::RecordingProtocol::new();
        let log = p.log();
        let conn = l
            .create_connection::<_, NoMessage>(move || p)
            .host("127.0.0.1")
            .port(port)
            .ssl(client)
            .server_hostname("localhost")
            .await
            .map_err(|e| format!("{e}: {:?}", std::error::Error::source(&e)))?;
        conn.transport.write(b"over tls").unwrap();
        until(&l, || &log.data()[..] == b"over tls").await;
        conn.transport.close();
        srv.close();
        Ok(())
    });
    let reports = h.take().into_iter().map(|c| c.message).collect();
    (result, reports)
}

#[test]
#[cfg(feature = "self-signed")]
fn a_self_signed_server_is_trusted_by_a_client_given_its_certificate() {
    let server = TlsServerConfig::self_signed(["localhost", "127.0.0.1"]).expect("made");
    let pem = server.certificate_pem().expect("a certificate").to_owned();
    let client = TlsClientConfig::from_root_pem(pem.as_bytes()).expect("a root");
    let (result, reports) = round_trip(server, client);
    result.expect("the handshake and the echo");
    assert!(reports.is_empty(), "{reports:?}");
}

/// `openssl`, or `None` (skipped) where it is missing outside CI.
fn openssl() -> Option<&'static str> {
    support::tools::have("openssl", &["version"]).then_some("openssl")
}

/// `openssl req -x509` for a P-256 key in `key` and a certificate for
/// localhost in `cert`, with `extra` arguments.
fn make_cert(openssl: &str, key: &std::path::Path, cert: &std::path::Path, extra: &[&str]) {
    let out = Command::new(openssl)
        .args(["req", "-x509", "-newkey", "ec"])
        .args([
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
        ])
        .arg(key)
        .arg("-out")
        .arg(cert)
        .args(["-days", "365", "-subj", "/CN=localhost"])
        .args(extra)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_documented_openssl_command_makes_a_certificate_rustls_accepts() {
    let Some(openssl) = openssl() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (key, cert) = (dir.path().join("key.pem"), dir.path().join("cert.pem"));
    // The command in `TlsServerConfig::self_signed`'s rustdoc, word for word.
    let extensions = [
        "-addext",
        "subjectAltName=DNS:localhost,IP:127.0.0.1",
        "-addext",
        "basicConstraints=critical,CA:FALSE",
    ];
    make_cert(openssl, &key, &cert, &extensions);
    let server = TlsServerConfig::from_pem_files(&cert, &key).expect("loaded");
    let client = TlsClientConfig::from_root_pem_file(&cert).expect("a root");
    let (result, reports) = round_trip(server, client);
    result.expect("the handshake and the echo");
    assert!(reports.is_empty(), "{reports:?}");

    // Without the two extensions (`openssl req -x509 -subj /CN=localhost`
    // alone), the certificate is a CA with no subjectAltName: refused.
    make_cert(openssl, &key, &cert, &[]);
    let server = TlsServerConfig::from_pem_files(&cert, &key).expect("loaded");
    let client = TlsClientConfig::from_root_pem_file(&cert).expect("a root");
    let (result, reports) = round_trip(server, client);
    let refused = result.expect_err("refused");
    assert!(
        refused.contains("tls") || refused.contains("certificate"),
        "{refused}"
    );
    // The server saw the client give up on the handshake.
    assert_eq!(reports, ["SSL handshake failed"]);
}
