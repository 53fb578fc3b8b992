//! A supervised TCP service: a listener and a backend worker under one
//! supervisor. The backend counts the words of each line; a line `crash`
//! makes it panic, the supervisor restarts it, and every connection goes on
//! talking to the new backend at the same address.
//!
//! Teaches: `sup.server` and `sup.actor` children, a bounded mailbox
//! (`ChildSpec::mailbox`) fed with `Addr::forward` (a connection stops
//! reading while the backend is behind), answers as `StreamEvent::Message`,
//! and SIGTERM/SIGINT bound to the loop's graceful `shutdown`. Beyond asyncio;
//! the protocol side mirrors <https://docs.python.org/3/library/asyncio-protocol.html#examples>.
//!
//! Limits: a line may be at most 1 KiB; a longer one is answered with an
//! error and the connection is closed, so a line with no end costs 1 KiB, not
//! its length. Each byte is scanned for the newline once (only the bytes just
//! received are searched), so a long line costs linear time, not quadratic.
//! Lines go to the backend in batches of up to 4 KiB cut from each read, so
//! a client that floods short lines and never reads the answers costs a few
//! MiB (reading stops), not a message per line.
//!
//! `crash` is a demo command that **any client** may send: 11 crashes within
//! a second exceed the supervisor's restart intensity (10 per second), and it
//! gives up, which stops the service. That is the lesson (a crash loop is
//! cut off instead of spinning), not something to copy: a real service takes
//! no such command from the wire. (Accepting it only from 127.0.0.1 would
//! change nothing here: the service listens on loopback only.)
//!
//! ```text
//! cargo run --example supervised_service [port]
//! ```
//!
//! A client sending `one two`, `crash`, `three` (a line each) gets `2 words
//! (backend #1)` and `1 words (backend #2)`. After it left, `kill -TERM <pid>`;
//! the service prints (the pid varies):
//!
//! ```text
//! service on 127.0.0.1:8888, pid 4242
//! backend crashed (asked to crash); the supervisor restarts it
//! stopped: 1 servers drained (0 finished, 0 closed, 0 aborted), 1 supervision trees stopped, 0 child processes exited
//! ```

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use switchboard::prelude::*;
use switchboard::{ChildSpec, Exception};

/// Lines to count (whole lines, each ending in `\n`, at most [`BATCH`]
/// bytes of them), and the connection to answer.
///
/// A batch, not a line per message: `forward` lets a whole read's worth of
/// messages past the mailbox's bound before reading stops, and a read of
/// short lines holds tens of thousands. Batches cut from the read itself
/// (no copy) keep that overshoot, and the answers it brings, to a few
/// dozen messages.
struct Count(Bytes, Addr<String>);

/// The most bytes of lines in one [`Count`].
const BATCH: usize = 4096;

/// The backend: counts words; `crash` makes it panic.
struct Backend(u32);

impl Actor for Backend {
    type Message = Count;
    fn handle(&mut self, Count(lines, reply): Count, _: &mut ActorContext<'_, Count>) {
        let mut answers = String::new();
        for line in lines
            .strip_suffix(b"\n")
            .unwrap_or(&lines)
            .split(|&b| b == b'\n')
        {
            let line = String::from_utf8_lossy(line);
            // The connection sends a `crash` line in a batch of its own.
            assert!(line.trim() != "crash", "asked to crash");
            let words = line.split_whitespace().count();
            answers.push_str(&format!("{words} words (backend #{})\n", self.0));
        }
        let _ = reply.send(answers);
    }
}

/// The longest line a client may send, without its newline.
const LINE_LIMIT: usize = 1024;

/// One connection: splits lines, forwards them in batches, writes the
/// answers.
struct Conn {
    backend: Addr<Count>,
    /// The start of a line whose newline has not come yet.
    pending: Vec<u8>,
}

impl Conn {
    /// Forwards `lines` (if any) to the backend.
    fn send(&self, lines: Bytes, t: &mut dyn StreamTransport<String>) -> Result<(), ProtocolError> {
        if let (false, Some(me)) = (lines.is_empty(), t.addr()) {
            self.backend.forward(Count(lines, me), t)?;
        }
        Ok(())
    }
}

impl StreamProtocol<String> for Conn {
    fn handle(
        &mut self,
        ev: StreamEvent<String>,
        t: &mut dyn StreamTransport<String>,
    ) -> Result<(), ProtocolError> {
        match ev {
            _ if t.is_closing() => {} // refused a long line: nothing more
            StreamEvent::DataReceived(data) => {
                // Only the new bytes are searched: `pending` has no newline.
                // `batch` is where the batch being gathered starts in `data`.
                let (mut at, mut batch) = (0, 0);
                while at < data.len() {
                    let end = data[at..].iter().position(|&b| b == b'\n').map(|e| at + e);
                    let part = end.unwrap_or(data.len()) - at;
                    if self.pending.len() + part > LINE_LIMIT {
                        self.send(data.slice(batch..at), t)?;
                        t.write(
                            format!("error: line longer than {LINE_LIMIT} bytes\n").as_bytes(),
                        )?;
                        t.close();
                        return Ok(());
                    }
                    let Some(end) = end else {
                        self.pending.extend_from_slice(&data[at..]);
                        break;
                    };
                    if !self.pending.is_empty() {
                        // A line begun in an earlier read: a batch of its own.
                        self.pending.extend_from_slice(&data[at..=end]);
                        let line = Bytes::from(std::mem::take(&mut self.pending));
                        self.send(line, t)?;
                        batch = end + 1;
                    } else if data[at..end].trim_ascii() == b"crash" {
                        // Alone, so the lines around it are answered.
                        self.send(data.slice(batch..at), t)?;
                        self.send(data.slice(at..=end), t)?;
                        batch = end + 1;
                    } else if end + 1 - batch >= BATCH {
                        self.send(data.slice(batch..=end), t)?;
                        batch = end + 1;
                    }
                    at = end + 1;
                }
                self.send(data.slice(batch..at.min(data.len()).max(batch)), t)?;
            }
            StreamEvent::Message(answer) => t.write(answer.as_bytes())?,
            _ => {}
        }
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::args().nth(1).map_or(Ok(8888), |p| p.parse())?;
    std::panic::set_hook(Box::new(|_| {})); // the exception handler reports crashes
    switchboard::run(|lp| async move {
        lp.set_exception_handler(Some(Rc::new(|_, ctx| {
            if let Some(Exception::Panic(why)) = &ctx.exception {
                println!("backend crashed ({why}); the supervisor restarts it");
            }
        })));
        let mut sup = lp
            .supervisor("service")
            .intensity(10, Duration::from_secs(1));
        let started = Rc::new(Cell::new(0));
        let backend = sup.actor(ChildSpec::new("backend").mailbox(64), move || {
            started.set(started.get() + 1);
            Backend(started.get())
        });
        let listener = sup.server("listener", move |lp| {
            let backend = backend.clone();
            lp.create_server(move || Conn {
                backend: backend.clone(),
                pending: Vec::new(),
            })
            .host("127.0.0.1")
            .port(port)
        });
        let _tree = sup.await?;
        let done =
            lp.shutdown_on_signals(&[Signal::SIGTERM, Signal::SIGINT], Duration::from_secs(5))?;
        println!(
            "service on {}, pid {}",
            listener.sockets()[0],
            std::process::id()
        );
        let report = done.await?;
        println!("stopped: {report}");
        Ok::<(), switchboard::Error>(())
    })?;
    Ok(())
}
