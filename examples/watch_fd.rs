//! Watch a file descriptor for read events with `add_reader()`.
//!
//! Teaches: `add_reader` calls a closure whenever a descriptor is readable
//! (level-triggered, like asyncio's); `remove_reader` unregisters it; a
//! callback can stop the loop. The descriptor is one end of a socket pair,
//! whose other end gets "abc" from a `call_soon` callback.
//!
//! Mirrors asyncio's "Watch a file descriptor for read events" example in
//! the Event Loop page, section Examples:
//! <https://docs.python.org/3/library/asyncio-eventloop.html#watch-a-file-descriptor-for-read-events>
//!
//! Run it:
//!
//! ```text
//! cargo run --example watch_fd
//! ```
//!
//! Expected output:
//!
//! ```text
//! Received: abc
//! ```

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::rc::Rc;

fn main() -> switchboard::Result<()> {
    let lp = switchboard::new_event_loop()?;

    // A pair of connected sockets (Python's `socket.socketpair()`).
    let (rsock, mut wsock) = UnixStream::pair()?;
    let rsock = Rc::new(rsock);

    // The reader: read what arrived, unregister the descriptor, stop the loop.
    let (l, r) = (lp.clone(), Rc::clone(&rsock));
    lp.add_reader(&*rsock, move || {
        let mut data = [0u8; 100];
        let n = (&*r).read(&mut data).unwrap_or(0);
        println!("Received: {}", String::from_utf8_lossy(&data[..n]));
        // We are done: unregister the file descriptor, then stop.
        l.remove_reader(&*r);
        l.stop();
    })?;

    // Simulate the reception of data from the network.
    lp.call_soon(move || {
        let _ = wsock.write_all(b"abc");
    })?;

    // Run until the reader stops the loop, then close it.
    lp.run_forever()?;
    lp.close()?;
    Ok(())
}
