//! A TCP echo server on asyncio's high-level streams, stopped by SIGINT or
//! SIGTERM.
//!
//! Teaches: `lp.start_server(cb)` runs `cb(reader, writer)` as a task per
//! connection; `reader.readline()` under a line limit (`.limit(..)`) and an
//! idle timeout (`wait_for`), because both are the peer's to choose;
//! `writer.write` + `drain` (also under the timeout: a peer that never reads
//! holds `drain`); `lp.shutdown_on_signals` for a stop that ends.
//!
//! Mirrors "TCP echo server using streams" in
//! <https://docs.python.org/3/library/asyncio-stream.html#tcp-echo-server-using-streams>,
//! echoing lines until the client's EOF rather than one `read(100)`.
//!
//! ```text
//! cargo run --example stream_echo_server [port] [grace-seconds]
//! ```
//!
//! The port defaults to 8888; 0 picks a free one (printed). Try it with
//! `cargo run --example stream_echo_client`. Expected output for one client
//! (the client's port varies):
//!
//! ```text
//! Serving on 127.0.0.1:8888
//! Received 'Hello World!' from ('127.0.0.1', 50312)
//! Send: 'Hello World!'
//! Close the connection
//! ```
//!
//! **Deadline.** On the first SIGINT or SIGTERM it stops accepting at once;
//! open connections have `grace` seconds (5 by default) to end, are then
//! closed, and aborted one second later (a second signal aborts at once).
//! So it exits within grace + 1 s whatever its clients do.

use std::time::Duration;

use switchboard::prelude::*;
use switchboard::{wait_for, StreamError, StreamReader, StreamWriter};

/// The longest line a client may send, `\n` included.
const MAX_LINE: usize = 1024;
/// How long a client may stay silent, or leave an echo unread.
const IDLE: Duration = Duration::from_secs(30);

async fn handle_echo(
    mut reader: StreamReader,
    mut writer: StreamWriter,
) -> switchboard::Result<()> {
    let peer = match writer.peername() {
        Some(Address::Inet(a)) => format!("('{}', {})", a.ip(), a.port()),
        other => format!("{other:?}"),
    };
    loop {
        let line = match wait_for(reader.readline(), IDLE).await {
            Err(_) => {
                println!("{peer} was idle for {IDLE:?}");
                break;
            }
            Ok(Err(StreamError::LimitOverrun { .. })) => {
                println!("{peer} sent a line longer than {MAX_LINE} bytes");
                break;
            }
            Ok(line) => line?,
        };
        if line.is_empty() {
            break; // EOF: the client is done.
        }
        let message = String::from_utf8_lossy(&line);
        let message = message.trim_end();
        println!("Received '{message}' from {peer}");
        println!("Send: '{message}'");
        writer.write_bytes(line);
        wait_for(writer.drain(), IDLE).await??;
    }
    println!("Close the connection");
    writer.close();
    Ok(())
}

fn main() -> switchboard::Result<()> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args
        .next()
        .map_or(Some(8888), |p| p.parse().ok())
        .unwrap_or_else(usage);
    let grace: f64 = args
        .next()
        .map_or(Some(5.0), |g| g.parse().ok())
        .unwrap_or_else(usage);
    switchboard::run(|lp| async move {
        let server = lp
            .start_server(handle_echo)
            .host("127.0.0.1")
            .port(port)
            .limit(MAX_LINE)
            .await?;
        let grace = Duration::from_secs_f64(grace);
        let stopped = lp.shutdown_on_signals(&[Signal::SIGINT, Signal::SIGTERM], grace)?;
        // Printed once the handlers are in place: a signal sent on seeing
        // this line is caught.
        println!("Serving on {}", server.sockets()[0]);
        let report = stopped.await?;
        println!("Stopped: {}", report.connections);
        Ok(())
    })
}

fn usage<T>() -> T {
    eprintln!("usage: stream_echo_server [port] [grace-seconds]");
    std::process::exit(2)
}
