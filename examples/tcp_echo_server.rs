//! A TCP echo server built on a protocol, stopped by SIGINT or SIGTERM.
//!
//! Teaches: `create_server` with a `StreamProtocol` whose `handle` sees the
//! connection's events (`ConnectionMade`, `DataReceived`, …) and writes through
//! its transport; `add_signal_handler` to stop the loop, like the Python twin
//! interrupted by Ctrl+C.
//!
//! Mirrors "TCP Echo Server" in
//! <https://docs.python.org/3/library/asyncio-protocol.html#examples>.
//!
//! Run it (port defaults to 8888), then `cargo run --example tcp_echo_client`:
//!
//! ```text
//! cargo run --example tcp_echo_server [port]
//! ```
//!
//! Expected output for one client (the client's port varies):
//!
//! ```text
//! Connection from ('127.0.0.1', 50312)
//! Data received: 'Hello World!'
//! Send: 'Hello World!'
//! Close the client socket
//! ```

use switchboard::prelude::*;
use switchboard::Address;

/// Echoes the first data it receives, then closes the connection.
struct EchoServerProtocol;

impl StreamProtocol for EchoServerProtocol {
    fn handle(
        &mut self,
        event: StreamEvent,
        t: &mut dyn StreamTransport,
    ) -> Result<(), ProtocolError> {
        match event {
            StreamEvent::ConnectionMade => match t.peername() {
                Some(Address::Inet(a)) => println!("Connection from ('{}', {})", a.ip(), a.port()),
                other => println!("Connection from {other:?}"),
            },
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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::args().nth(1).map_or(Ok(8888), |p| p.parse())?;
    switchboard::run(|lp| async move {
        let server = lp
            .create_server(|| EchoServerProtocol)
            .host("127.0.0.1")
            .port(port)
            .await?;
        // Ctrl+C or SIGTERM: stop accepting; serve_forever returns.
        for sig in [Signal::SIGINT, Signal::SIGTERM] {
            let s = server.clone();
            lp.add_signal_handler(sig, move || s.close())?;
        }
        server.serve_forever().await?;
        Ok(())
    })
}
