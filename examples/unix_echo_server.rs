//! A Unix-socket echo server: the TCP echo server's protocol over a
//! filesystem path, stopped by SIGINT or SIGTERM.
//!
//! Teaches: `create_unix_server` with a path (a stale socket file left there
//! is replaced), the same `StreamProtocol` as over TCP, and a server whose
//! `close` removes its socket file.
//!
//! Mirrors `loop.create_unix_server` in
//! <https://docs.python.org/3/library/asyncio-eventloop.html#asyncio.loop.create_unix_server>.
//!
//! Run it (the path defaults to `switchboard-echo.sock` in the temporary
//! directory), then `cargo run --example unix_echo_client`:
//!
//! ```text
//! cargo run --example unix_echo_server [path]
//! ```
//!
//! Expected output for one client:
//!
//! ```text
//! Serving on /tmp/switchboard-echo.sock
//! Data received: 'Hello World!'
//! Close the client socket
//! ```

use std::path::PathBuf;

use switchboard::prelude::*;

struct Echo;

impl StreamProtocol for Echo {
    fn handle(
        &mut self,
        event: StreamEvent,
        t: &mut dyn StreamTransport,
    ) -> Result<(), ProtocolError> {
        if let StreamEvent::DataReceived(data) = event {
            println!("Data received: '{}'", String::from_utf8_lossy(&data));
            t.write(&data)?;
            println!("Close the client socket");
            t.close();
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
        let server = lp.create_unix_server(|| Echo).path(&path).await?;
        for sig in [Signal::SIGINT, Signal::SIGTERM] {
            let s = server.clone();
            lp.add_signal_handler(sig, move || s.close())?;
        }
        // Printed once the handlers are in place.
        println!("Serving on {}", path.display());
        // Returns once a signal closed the server, which removed the file.
        server.serve_forever().await?;
        Ok(())
    })
}
