//! A TLS echo server: the TCP echo server's protocol, unchanged, behind
//! `ssl`; stopped by SIGINT or SIGTERM.
//!
//! Teaches: `create_server(..).ssl(config)` puts TLS between the socket and
//! the protocol, which gets `ConnectionMade` once the handshake is done and
//! reads the session's facts with `t.tls()`; `TlsServerConfig` from PEM
//! files, or a self-signed certificate made at start (with rcgen) and written
//! where `tls_echo_client` looks for it.
//!
//! Mirrors "TCP Echo Server" in
//! <https://docs.python.org/3/library/asyncio-protocol.html#examples>, with
//! `ssl=` from <https://docs.python.org/3/library/asyncio-eventloop.html#asyncio.loop.create_server>.
//!
//! ```text
//! cargo run --example tls_echo_server [port] [cert.pem key.pem]
//! ```
//!
//! Then `cargo run --example tls_echo_client`. Expected output (ports and
//! the temp dir vary):
//!
//! ```text
//! Certificate for localhost written to /tmp/switchboard_tls_echo.pem
//! Serving on 127.0.0.1:8888
//! Connection from ('127.0.0.1', 50312) over TLSv1.3 (TLS13_AES_256_GCM_SHA384)
//! Data received: 'Hello World!'
//! Send: 'Hello World!'
//! Close the client socket
//! ```

use switchboard::prelude::*;
use switchboard::{Address, TlsServerConfig};

/// The TCP echo server's protocol: nothing here knows about TLS but the
/// line that prints the session's facts.
struct EchoServerProtocol;

impl StreamProtocol for EchoServerProtocol {
    fn handle(
        &mut self,
        event: StreamEvent,
        t: &mut dyn StreamTransport,
    ) -> Result<(), ProtocolError> {
        match event {
            StreamEvent::ConnectionMade => {
                let tls = t.tls().map(|i| format!("{} ({})", i.version, i.cipher));
                match t.peername() {
                    Some(Address::Inet(a)) => println!(
                        "Connection from ('{}', {}) over {}",
                        a.ip(),
                        a.port(),
                        tls.unwrap_or_default()
                    ),
                    other => println!("Connection from {other:?}"),
                }
            }
            StreamEvent::DataReceived(data) => {
                let message = String::from_utf8_lossy(&data);
                println!("Data received: '{message}'");
                println!("Send: '{message}'");
                t.write(&data)?;
                println!("Close the client socket");
                t.close();
            }
            _ => {}
        }
        Ok(())
    }
}

/// The configuration from `cert.pem key.pem`, or a certificate for
/// `localhost` made now and written to the temp dir for the client.
fn tls_config(args: &[String]) -> Result<TlsServerConfig, Box<dyn std::error::Error>> {
    if let [cert, key] = args {
        return Ok(TlsServerConfig::from_pem_files(cert, key)?);
    }
    let made = rcgen::generate_simple_self_signed(vec!["localhost".into()])?;
    let path = std::env::temp_dir().join("switchboard_tls_echo.pem");
    std::fs::write(&path, made.cert.pem())?;
    println!("Certificate for localhost written to {}", path.display());
    let key = made.key_pair.serialize_pem();
    Ok(TlsServerConfig::from_pem(
        made.cert.pem().as_bytes(),
        key.as_bytes(),
    )?)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let port: u16 = args.first().map_or(Ok(8888), |p| p.parse())?;
    let config = tls_config(args.get(1..).unwrap_or_default())?;
    switchboard::run(|lp| async move {
        let server = lp
            .create_server(|| EchoServerProtocol)
            .host("127.0.0.1")
            .port(port)
            .ssl(config)
            .await?;
        println!("Serving on 127.0.0.1:{}", server.sockets()[0].port());
        for sig in [Signal::SIGINT, Signal::SIGTERM] {
            let s = server.clone();
            lp.add_signal_handler(sig, move || s.close())?;
        }
        server.serve_forever().await?;
        Ok(())
    })
}
