//! STARTTLS: a line protocol that turns into TLS mid-connection, both ends
//! in one program.
//!
//! Teaches: `start_tls` from inside a protocol, at the exact byte where TLS
//! begins (`t.start_tls(config.upgrade().leftover(rest))`: bytes already
//! received behind the command go to TLS, not lost), and `lp.start_tls` on a
//! handle from outside; the protocol keeps its events and writes, now
//! encrypted.
//!
//! Mirrors "TLS Upgrade" in
//! <https://docs.python.org/3/library/asyncio-eventloop.html#tls-upgrade>.
//!
//! ```text
//! cargo run --example starttls
//! ```
//!
//! Expected output:
//!
//! ```text
//! server: got STARTTLS, answering OK and upgrading
//! client: got OK, upgrading
//! client: TLS is up: TLSv1.3
//! server: got 'hello' over TLSv1.3
//! client: got 'HELLO'
//! ```

use switchboard::prelude::*;
use switchboard::{Bytes, LoopFuture, TlsClientConfig, TlsServerConfig};

/// Plaintext lines until `STARTTLS`; then TLS, answering in upper case.
struct Server {
    tls: TlsServerConfig,
    buf: Vec<u8>,
    upgraded: bool,
}

impl StreamProtocol for Server {
    fn handle(
        &mut self,
        ev: StreamEvent,
        t: &mut dyn StreamTransport,
    ) -> Result<(), ProtocolError> {
        let StreamEvent::DataReceived(data) = ev else {
            return Ok(());
        };
        if self.upgraded {
            let version = t.tls().map(|i| i.version.as_str()).unwrap_or("?");
            println!(
                "server: got '{}' over {version}",
                String::from_utf8_lossy(&data)
            );
            return Ok(t.write(&data.to_ascii_uppercase())?);
        }
        self.buf.extend_from_slice(&data);
        if let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
            println!("server: got STARTTLS, answering OK and upgrading");
            t.write(b"OK\n")?;
            let rest = Bytes::copy_from_slice(&self.buf[end + 1..]);
            t.start_tls(self.tls.upgrade().leftover(rest))?;
            self.upgraded = true;
        }
        Ok(())
    }
}

/// Prints what it gets; settles `ok` on the plaintext `OK`, `done` on the
/// encrypted answer.
struct Client {
    ok: LoopFuture<()>,
    done: LoopFuture<()>,
}

impl StreamProtocol for Client {
    fn handle(
        &mut self,
        ev: StreamEvent,
        _t: &mut dyn StreamTransport,
    ) -> Result<(), ProtocolError> {
        if let StreamEvent::DataReceived(data) = ev {
            if self.ok.set_result(()).is_ok() {
                println!("client: got OK, upgrading");
            } else {
                println!("client: got '{}'", String::from_utf8_lossy(&data));
                self.done.set_result(()).ok();
            }
        }
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()])?;
    let (cert_pem, key_pem) = (cert.cert.pem(), cert.key_pair.serialize_pem());
    let server_tls = TlsServerConfig::from_pem(cert_pem.as_bytes(), key_pem.as_bytes())?;
    let client_tls = TlsClientConfig::from_root_pem(cert_pem.as_bytes())?;
    switchboard::run(|lp| async move {
        let server = lp
            .create_server(move || Server {
                tls: server_tls.clone(),
                buf: Vec::new(),
                upgraded: false,
            })
            .host("127.0.0.1")
            .port(0)
            .await?;
        let (ok, done) = (lp.create_future(), lp.create_future());
        let client = Client {
            ok: ok.clone(),
            done: done.clone(),
        };
        let conn = lp
            .create_connection(move || client)
            .addr(server.sockets()[0])
            .await?;
        conn.transport.write(b"STARTTLS\n")?;
        ok.await?;
        let tls = lp
            .start_tls(conn.transport, client_tls)
            .server_hostname("localhost")
            .await?;
        println!(
            "client: TLS is up: {}",
            tls.tls().map(|i| i.version.as_str()).unwrap_or("?")
        );
        tls.write(b"hello")?;
        done.await?;
        tls.close();
        server.close();
        Ok(())
    })
}
