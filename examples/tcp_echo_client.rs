//! A TCP echo client built on a protocol: send one message, print the echo,
//! stop when the server closes the connection.
//!
//! Teaches: `create_connection` with a `StreamProtocol` that writes on
//! `ConnectionMade`, prints on `DataReceived` and settles a future on
//! `ConnectionLost`, which `main` waits for (the docs' `on_con_lost`).
//!
//! Mirrors "TCP Echo Client" in
//! <https://docs.python.org/3/library/asyncio-protocol.html#examples>.
//!
//! Start `cargo run --example tcp_echo_server` first, then (port defaults to
//! 8888):
//!
//! ```text
//! cargo run --example tcp_echo_client [port]
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
use switchboard::LoopFuture;

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
    let port: u16 = std::env::args().nth(1).map_or(Ok(8888), |p| p.parse())?;
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
            .await?;
        // Wait until the protocol signals that the connection is lost.
        on_con_lost.await?;
        conn.transport.close();
        Ok(())
    })
}
