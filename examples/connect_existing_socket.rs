//! Wrap an already connected socket in a transport and protocol.
//!
//! Teaches: `create_connection(...).sock(stream)` adopts a connected
//! `std::net::TcpStream` instead of connecting; the protocol prints what it
//! receives, closes its transport, and settles a future on `ConnectionLost`.
//! The docs use `socket.socketpair()`; `create_connection` takes a TCP stream,
//! so this example makes a connected loopback TCP pair instead.
//!
//! Mirrors "Register an open socket to wait for data using a protocol" in
//! <https://docs.python.org/3/library/asyncio-protocol.html#examples>.
//!
//! ```text
//! cargo run --example connect_existing_socket
//! ```
//!
//! Expected output:
//!
//! ```text
//! Received: abc
//! ```

use std::io::Write;
use std::net::{TcpListener, TcpStream};

use switchboard::prelude::*;
use switchboard::LoopFuture;

struct MyProtocol {
    on_con_lost: LoopFuture<()>,
}

impl StreamProtocol for MyProtocol {
    fn handle(
        &mut self,
        event: StreamEvent,
        t: &mut dyn StreamTransport,
    ) -> Result<(), ProtocolError> {
        match event {
            StreamEvent::DataReceived(data) => {
                println!("Received: {}", String::from_utf8_lossy(&data));
                // We are done: close the transport; ConnectionLost follows.
                t.close();
            }
            StreamEvent::ConnectionLost(_) => {
                self.on_con_lost.set_result(()).ok();
            }
            _ => {}
        }
        Ok(())
    }
}

/// A connected pair of loopback TCP sockets (the docs' `socket.socketpair()`).
fn socketpair() -> std::io::Result<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let wsock = TcpStream::connect(listener.local_addr()?)?;
    let (rsock, _) = listener.accept()?;
    Ok((rsock, wsock))
}

fn main() -> switchboard::Result<()> {
    let (rsock, mut wsock) = socketpair()?;
    switchboard::run(|lp| async move {
        let on_con_lost = lp.create_future();
        let protocol = MyProtocol {
            on_con_lost: on_con_lost.clone(),
        };
        let conn = lp.create_connection(move || protocol).sock(rsock).await?;
        // Simulate the reception of data from the network.
        lp.call_soon(move || {
            wsock.write_all(b"abc").ok();
        })?;
        on_con_lost.await?;
        conn.transport.close();
        Ok(())
    })
}
