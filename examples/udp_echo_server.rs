//! A UDP echo server built on a datagram protocol, stopped by SIGINT or
//! SIGTERM.
//!
//! Teaches: `create_datagram_endpoint` with a `local_addr`, a
//! `DatagramProtocol` whose `handle` sees each `DatagramReceived` with its
//! sender, and `sendto` back to that sender.
//!
//! Mirrors "UDP Echo Server" in
//! <https://docs.python.org/3/library/asyncio-protocol.html#udp-echo-server>.
//!
//! Run it (port defaults to 9999), then `cargo run --example udp_echo_client`:
//!
//! ```text
//! cargo run --example udp_echo_server [port]
//! ```
//!
//! Expected output for one client (the client's port varies):
//!
//! ```text
//! Starting UDP server
//! Received 'Hello World!' from ('127.0.0.1', 50312)
//! Send 'Hello World!' to ('127.0.0.1', 50312)
//! ```

use switchboard::prelude::*;

struct EchoServerProtocol;

/// asyncio prints addresses as Python tuples.
fn tuple(addr: &Address) -> String {
    match addr {
        Address::Inet(a) => format!("('{}', {})", a.ip(), a.port()),
        other => other.to_string(),
    }
}

impl DatagramProtocol for EchoServerProtocol {
    fn handle(
        &mut self,
        event: DatagramEvent,
        t: &mut dyn DatagramTransport,
    ) -> Result<(), ProtocolError> {
        if let DatagramEvent::DatagramReceived { data, addr } = event {
            let message = String::from_utf8_lossy(&data);
            println!("Received '{message}' from {}", tuple(&addr));
            println!("Send '{message}' to {}", tuple(&addr));
            t.sendto(&data, Some(&addr))?;
        }
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::args().nth(1).map_or(Ok(9999), |p| p.parse())?;
    switchboard::run(|lp| async move {
        // One endpoint serves all clients.
        let local = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let endpoint = lp
            .create_datagram_endpoint(|| EchoServerProtocol)
            .local_addr(local)
            .await?;
        println!("Starting UDP server");
        // Serve until Ctrl+C or SIGTERM (the Python twin sleeps an hour).
        let stop = lp.create_future::<()>();
        for sig in [Signal::SIGINT, Signal::SIGTERM] {
            let s = stop.clone();
            lp.add_signal_handler(sig, move || {
                let _ = s.set_result(());
            })?;
        }
        stop.await?;
        endpoint.transport.close();
        Ok(())
    })
}
