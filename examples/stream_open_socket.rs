//! Wait for data on a socket someone else opened, with streams.
//!
//! Teaches: `open_unix_connection().sock(s)` adopts an already connected
//! socket (one end of a socket pair here; `open_connection().sock(..)` does
//! the same for a `TcpStream`) and gives it a reader and a writer;
//! `call_soon` stands in for data arriving from the network.
//!
//! Mirrors "Register an open socket to wait for data using streams" in
//! <https://docs.python.org/3/library/asyncio-stream.html#register-an-open-socket-to-wait-for-data-using-streams>
//! (Python's `socket.socketpair()` is a Unix socket pair too).
//!
//! ```text
//! cargo run --example stream_open_socket
//! ```
//!
//! Expected output:
//!
//! ```text
//! Received: abc
//! ```

use std::io::Write;
use std::os::unix::net::UnixStream;

fn main() -> switchboard::Result<()> {
    switchboard::run(|lp| async move {
        // Create a pair of connected sockets.
        let (rsock, mut wsock) = UnixStream::pair()?;

        // Register the open socket to wait for data.
        let (mut reader, mut writer) = lp.open_unix_connection().sock(rsock).await?;

        // Simulate the reception of data from the network. (A blocking
        // write is fine here: three bytes fit in the socket's buffer.)
        lp.call_soon(move || {
            if let Err(e) = wsock.write_all(b"abc") {
                eprintln!("cannot write to the socket pair: {e}");
            }
        })?;

        // Wait for data.
        let data = reader.read(100).await?;

        // Got data, we are done: close the socket. (The second one closed
        // when the callback that owned it was dropped.)
        println!("Received: {}", String::from_utf8_lossy(&data));
        writer.close();
        writer.wait_closed().await?;
        Ok(())
    })
}
