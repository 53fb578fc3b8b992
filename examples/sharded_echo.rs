//! One echo server per core on one port: a `LoopGroup` runs the same setup
//! on every loop, each on its own thread, and every loop serves the port.
//!
//! Teaches: `LoopGroup::new().run(..)` (one loop per core), the two ways to
//! share a port — `reuse_port(true)` on every loop (the kernel spreads the
//! connections) or `balanced(true)` (one listener, each connection handed
//! to the loop serving the fewest) — `lp.group()` for the loop's index, and
//! `shutdown_on_signals` on the group: one SIGINT or SIGTERM drains every
//! loop, and each prints the summed report.
//!
//! Each connection echoes what it reads, stops reading while its peer does
//! not read the echo (flow control, so a slow peer costs at most the
//! transport's write buffer), and is closed after 60 s to 120 s without
//! data.
//!
//! ```text
//! cargo run --example sharded_echo [port] [reuse-port|balanced] [loops]
//! ```
//!
//! It prints `sharded_echo on 127.0.0.1:8888, 2 loops (balanced)` once
//! every loop serves, then `loop N served K connections` per loop at exit.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use switchboard::prelude::*;

/// A connection quiet for this long (up to twice as long) is closed.
const IDLE: Duration = Duration::from_secs(60);
/// How long the drain on SIGINT/SIGTERM waits for connections to end.
const DRAIN: Duration = Duration::from_secs(5);
const IDLE_TIMER: u32 = 1;

/// Echoes; closes an idle connection.
#[derive(Default)]
struct EchoConn {
    active: bool,
}

impl StreamProtocol for EchoConn {
    fn handle(
        &mut self,
        ev: StreamEvent,
        t: &mut dyn StreamTransport,
    ) -> Result<(), ProtocolError> {
        match ev {
            StreamEvent::ConnectionMade => t.call_later(IDLE, IDLE_TIMER),
            StreamEvent::DataReceived(data) => {
                self.active = true;
                t.write_bytes(data)?;
            }
            // The peer is not reading its echo: stop reading until it does.
            StreamEvent::PauseWriting => t.pause_reading(),
            StreamEvent::ResumeWriting => t.resume_reading(),
            StreamEvent::TimerFired(IDLE_TIMER) if !std::mem::take(&mut self.active) => t.close(),
            StreamEvent::TimerFired(IDLE_TIMER) => t.call_later(IDLE, IDLE_TIMER),
            _ => {}
        }
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().map_or(Ok(8888), |p| p.parse())?;
    let balanced = match args.next().as_deref() {
        None | Some("balanced") => true,
        Some("reuse-port") => false,
        Some(other) => return Err(format!("mode {other:?}: reuse-port or balanced").into()),
    };
    if !balanced && port == 0 {
        // Each loop would get a port of its own.
        return Err("reuse-port needs a fixed port".into());
    }
    let mut group = switchboard::LoopGroup::new();
    if let Some(n) = args.next() {
        group = group.loops(n.parse()?);
    }
    // How many loops have their server up: the last one prints the banner.
    let up = Arc::new(AtomicUsize::new(0));
    let served = group.run(move |lp: EventLoop| {
        let up = up.clone();
        async move {
            let g = lp.group().expect("a loop of the group");
            let count = Arc::new(AtomicUsize::new(0));
            let c = count.clone();
            let server = lp
                .create_server(move || {
                    c.fetch_add(1, Ordering::Relaxed);
                    EchoConn::default()
                })
                .host("127.0.0.1")
                .port(port)
                .reuse_port(!balanced)
                .balanced(balanced)
                .await?;
            let done = g.shutdown_on_signals(&[Signal::SIGINT, Signal::SIGTERM], DRAIN)?;
            if up.fetch_add(1, Ordering::AcqRel) + 1 == g.len() {
                let mode = if balanced { "balanced" } else { "reuse-port" };
                let at = server.sockets()[0];
                println!("sharded_echo on {at}, {} loops ({mode})", g.len());
            }
            let report = done.await;
            if g.index() == 0 {
                println!("sharded_echo: {report}");
            }
            Ok::<_, switchboard::Error>(count.load(Ordering::Relaxed))
        }
    })?;
    for (i, n) in served.iter().enumerate() {
        println!("loop {i} served {n} connections");
    }
    Ok(())
}
