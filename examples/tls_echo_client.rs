//! A TLS echo client: the TCP echo client's protocol, unchanged, over TLS.
//!
//! Teaches: `create_connection(..).ssl(config)` with `server_hostname`; a
//! `TlsClientConfig` that trusts one certificate (the one `tls_echo_server`
//! wrote, or a CA file given on the command line); the server's close
//! arrives as its close_notify, then `ConnectionLost(None)`.
//!
//! Mirrors "TCP Echo Client" in
//! <https://docs.python.org/3/library/asyncio-protocol.html#examples>, with
//! `ssl=` and `server_hostname=` from
//! <https://docs.python.org/3/library/asyncio-eventloop.html#asyncio.loop.create_connection>.
//!
//! Start `cargo run --example tls_echo_server` first, then:
//!
//! ```text
//! cargo run --example tls_echo_client [port] [ca.pem]
//! ```
//!
//! Expected output:
//!
//! ```text
//! Data sent: 'Hello World!'
//! Data received: 'Hello World!'
//! The server closed the connection
//! ```

use switchboard::prelude::*;
use switchboard::{LoopFuture, TlsClientConfig};

struct EchoClientProtocol {
    message: String,
    on_con_lost: LoopFuture<()>,
}

impl StreamProtocol for EchoClientProtocol {
    fn handle(
        &mut self,
        event: StreamEvent,
        t: &mut dyn StreamTransport,
    ) -> Result<(), ProtocolError> {
        match event {
            StreamEvent::ConnectionMade => {
                t.write(self.message.as_bytes())?;
                println!("Data sent: '{}'", self.message);
            }
            StreamEvent::DataReceived(data) => {
                println!("Data received: '{}'", String::from_utf8_lossy(&data));
            }
            StreamEvent::ConnectionLost(_) => {
                println!("The server closed the connection");
                self.on_con_lost.set_result(()).ok();
            }
            _ => {}
        }
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().map_or(Ok(8888), |p| p.parse())?;
    let ca = args
        .next()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("switchboard_tls_echo.pem"));
    let config = TlsClientConfig::from_root_pem_file(&ca)?;
    switchboard::run(|lp| async move {
        let on_con_lost = lp.create_future();
        let protocol = EchoClientProtocol {
            message: "Hello World!".to_string(),
            on_con_lost: on_con_lost.clone(),
        };
        let conn = lp
            .create_connection(move || protocol)
            .host("127.0.0.1")
            .port(port)
            .ssl(config)
            .server_hostname("localhost")
            .await?;
        on_con_lost.await?;
        conn.transport.close();
        Ok(())
    })
}
