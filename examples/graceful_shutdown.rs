//! An echo server that drains on SIGTERM without losing a request: the
//! listening socket closes first, open conversations may finish until a
//! deadline (10 s by default), then the rest are closed, then aborted.
//!
//! Teaches: `lp.shutdown_on_signals` (the first SIGTERM or SIGINT drains,
//! a second one aborts), and the `ShutdownReport` with how each connection
//! ended. Beyond asyncio's `Server.close()`, `close_clients()` and
//! `abort_clients()` (<https://docs.python.org/3/library/asyncio-eventloop.html#server-objects>),
//! put in order with a deadline.
//!
//! ```text
//! cargo run --example graceful_shutdown [port] [deadline-seconds]
//! ```
//!
//! Then talk to it (`nc 127.0.0.1 8888`) and `kill -TERM <pid>`. Expected
//! output (the pid varies; with one client that ended its conversation
//! during the drain, one idle client, and one that never read what it was
//! sent):
//!
//! ```text
//! echo server on 127.0.0.1:8888, pid 4242
//! drained: 1 finished cleanly, 1 closed, 1 aborted
//! ```

use std::time::Duration;

use switchboard::prelude::*;
use switchboard::ready_made::Echo;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().map_or(Ok(8888), |p| p.parse())?;
    let deadline: f64 = args.next().map_or(Ok(10.0), |d| d.parse())?;
    switchboard::run(|lp| async move {
        let server = lp
            .create_server(|| Echo)
            .host("127.0.0.1")
            .port(port)
            .await?;
        let deadline = Duration::from_secs_f64(deadline);
        let done = lp.shutdown_on_signals(&[Signal::SIGTERM, Signal::SIGINT], deadline)?;
        // Printed once the handlers are in place: a signal sent on seeing
        // the pid is always caught.
        println!(
            "echo server on {}, pid {}",
            server.sockets()[0],
            std::process::id()
        );
        let report = done.await?;
        let c = report.connections;
        println!(
            "drained: {} finished cleanly, {} closed, {} aborted",
            c.finished, c.closed, c.aborted
        );
        Ok::<(), switchboard::Error>(())
    })?;
    Ok(())
}
