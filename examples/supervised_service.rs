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

/// A line to count, and the connection to answer.
struct Count(String, Addr<String>);

/// The backend: counts words; `crash` makes it panic.
struct Backend(u32);

impl Actor for Backend {
    type Message = Count;
    fn handle(&mut self, Count(line, reply): Count, _: &mut ActorContext<'_, Count>) {
        assert!(line != "crash", "asked to crash");
        let words = line.split_whitespace().count();
        let _ = reply.send(format!("{words} words (backend #{})\n", self.0));
    }
}

/// One connection: splits lines, forwards them, writes the answers.
struct Conn {
    backend: Addr<Count>,
    pending: Vec<u8>,
}

impl StreamProtocol<String> for Conn {
    fn handle(
        &mut self,
        ev: StreamEvent<String>,
        t: &mut dyn StreamTransport<String>,
    ) -> Result<(), ProtocolError> {
        match ev {
            StreamEvent::DataReceived(data) => {
                self.pending.extend_from_slice(&data);
                while let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = self.pending.drain(..=end).collect();
                    let line = String::from_utf8_lossy(&line).trim().to_string();
                    if let Some(me) = t.addr() {
                        self.backend.forward(Count(line, me), t)?;
                    }
                }
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
