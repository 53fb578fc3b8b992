//! A UDP echo client built on a datagram protocol: send one datagram, print
//! the echo, close.
//!
//! Teaches: `create_datagram_endpoint` with a `remote_addr` (a connected
//! endpoint: `sendto` without an address goes to the peer), the datagram
//! protocol's events, and a future settled on `ConnectionLost`.
//!
//! Mirrors "UDP Echo Client" in
//! <https://docs.python.org/3/library/asyncio-protocol.html#udp-echo-client>.
//!
//! Start `cargo run --example udp_echo_server` first, then (port defaults to
//! 9999):
//!
//! ```text
//! cargo run --example udp_echo_client [port]
//! ```
//!
//! Expected output:
//!
//! ```text
//! Send: Hello World!
//! Received: Hello World!
//! Close the socket
//! Connection closed
//! ```

use switchboard::prelude::*;
use switchboard::LoopFuture;

struct EchoClientProtocol {
    message: String,
    on_con_lost: LoopFuture<()>,
}

impl DatagramProtocol for EchoClientProtocol {
    fn handle(
        &mut self,
        event: DatagramEvent,
        t: &mut dyn DatagramTransport,
    ) -> Result<(), ProtocolError> {
        match event {
            DatagramEvent::ConnectionMade => {
                println!("Send: {}", self.message);
                t.sendto(self.message.as_bytes(), None)?;
            }
            DatagramEvent::DatagramReceived { data, .. } => {
                println!("Received: {}", String::from_utf8_lossy(&data));
                println!("Close the socket");
                t.close();
            }
            DatagramEvent::ErrorReceived(e) => println!("Error received: {e}"),
            DatagramEvent::ConnectionLost(_) => {
                println!("Connection closed");
                self.on_con_lost.set_result(()).ok();
            }
            _ => {}
        }
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::args().nth(1).map_or(Ok(9999), |p| p.parse())?;
    switchboard::run(|lp| async move {
        let on_con_lost = lp.create_future();
        let protocol = EchoClientProtocol {
            message: "Hello World!".to_string(),
            on_con_lost: on_con_lost.clone(),
        };
        let remote = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let endpoint = lp
            .create_datagram_endpoint(move || protocol)
            .remote_addr(remote)
            .await?;
        // The protocol closes the endpoint after the echo; wait for that.
        on_con_lost.await?;
        endpoint.transport.close();
        Ok(())
    })
}
