//! A Unix-socket echo client: the TCP echo client's protocol over a path.
//!
//! Teaches: `create_unix_connection` with a path, and the peer's
//! credentials (`SO_PEERCRED`), which only Unix sockets have.
//!
//! Mirrors `loop.create_unix_connection` in
//! <https://docs.python.org/3/library/asyncio-eventloop.html#asyncio.loop.create_unix_connection>.
//!
//! Start `cargo run --example unix_echo_server` first, then (same default
//! path):
//!
//! ```text
//! cargo run --example unix_echo_client [path]
//! ```
//!
//! Expected output:
//!
//! ```text
//! Data sent: 'Hello World!'
//! Data received: 'Hello World!'
//! The server closed the connection
//! ```

use std::path::PathBuf;

use switchboard::prelude::*;
use switchboard::LoopFuture;

struct EchoClient {
    on_con_lost: LoopFuture<()>,
}

impl StreamProtocol for EchoClient {
    fn handle(
        &mut self,
        event: StreamEvent,
        t: &mut dyn StreamTransport,
    ) -> Result<(), ProtocolError> {
        match event {
            StreamEvent::ConnectionMade => {
                // The peer's credentials, read while the socket is surely
                // open; on stderr, so stdout stays the same for every user.
                if let Some(Ok(cred)) = t.socket().map(|s| s.peer_credentials()) {
                    eprintln!("server process: pid {:?}, uid {}", cred.pid, cred.uid);
                }
                t.write(b"Hello World!")?;
                println!("Data sent: 'Hello World!'");
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

fn main() -> switchboard::Result<()> {
    let path = std::env::args().nth(1).map_or_else(
        || std::env::temp_dir().join("switchboard-echo.sock"),
        PathBuf::from,
    );
    switchboard::run(|lp| async move {
        let on_con_lost = lp.create_future();
        let protocol = EchoClient {
            on_con_lost: on_con_lost.clone(),
        };
        let conn = lp
            .create_unix_connection(move || protocol)
            .path(&path)
            .await?;
        on_con_lost.await?;
        conn.transport.close();
        Ok(())
    })
}
