//! A TCP echo client on asyncio's high-level streams.
//!
//! Teaches: `lp.open_connection()` gives a `(StreamReader, StreamWriter)`;
//! `write` buffers, `drain` waits for room, `readline` reads the answer
//! (bounded by `.limit(..)` and a timeout, as the server controls both);
//! `close` + `wait_closed` end the connection.
//!
//! Mirrors "TCP echo client using streams" in
//! <https://docs.python.org/3/library/asyncio-stream.html#tcp-echo-client-using-streams>
//! (the message is sent as one line, which the streams echo server expects).
//!
//! Start `cargo run --example stream_echo_server` first, then:
//!
//! ```text
//! cargo run --example stream_echo_client [port] [message]
//! ```
//!
//! Expected output:
//!
//! ```text
//! Send: 'Hello World!'
//! Received: 'Hello World!'
//! Close the connection
//! ```

use std::time::Duration;

use switchboard::wait_for;

/// The longest answer line we accept.
const MAX_LINE: usize = 1024;
/// How long the server may take to connect and to answer.
const TIMEOUT: Duration = Duration::from_secs(10);

fn main() -> switchboard::Result<()> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args
        .next()
        .map_or(Some(8888), |p| p.parse().ok())
        .unwrap_or_else(|| {
            eprintln!("usage: stream_echo_client [port] [message]");
            std::process::exit(2)
        });
    let message = args.next().unwrap_or_else(|| "Hello World!".to_string());
    switchboard::run(|lp| async move {
        let connecting = lp
            .open_connection()
            .host("127.0.0.1")
            .port(port)
            .limit(MAX_LINE);
        let (mut reader, mut writer) = wait_for(connecting, TIMEOUT).await??;
        println!("Send: '{message}'");
        writer.write(format!("{message}\n").as_bytes());
        writer.drain().await?;
        let data = wait_for(reader.readline(), TIMEOUT).await??;
        println!("Received: '{}'", String::from_utf8_lossy(&data).trim_end());
        println!("Close the connection");
        writer.close();
        writer.wait_closed().await?;
        Ok(())
    })
}
