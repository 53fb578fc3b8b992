//! Connect both ends of a pipe (here a socket pair, which any std has) to the loop.
//!
//! Teaches: `EventLoop::connect_write_pipe` and `connect_read_pipe` take any
//! pipe-like descriptor (a pipe, a FIFO, a socket, a terminal) and give it a
//! transport: the write side buffers what the reader has not taken yet and
//! `close()` flushes before closing; the read side delivers
//! `DataReceived`, then `EofReceived` once every writer closed, then
//! `ConnectionLost`.
//!
//! Mirrors "Working with pipes" in
//! <https://docs.python.org/3/library/asyncio-eventloop.html#working-with-pipes>.
//!
//! ```text
//! cargo run --example pipes
//! ```
//!
//! Expected output:
//!
//! ```text
//! write pipe: connected, writing 3 lines then closing
//! read pipe: ping 1
//! read pipe: ping 2
//! read pipe: ping 3
//! read pipe: EOF
//! read pipe: closed
//! ```

use switchboard::prelude::*;
use switchboard::{LoopFuture, ReadPipeEvent, ReadPipeProtocol, ReadPipeTransport};
use switchboard::{WritePipeEvent, WritePipeProtocol, WritePipeTransport};

/// Writes three lines, then closes (after they were flushed).
struct Pinger;

impl WritePipeProtocol for Pinger {
    fn handle(
        &mut self,
        ev: WritePipeEvent,
        t: &mut dyn WritePipeTransport,
    ) -> Result<(), ProtocolError> {
        if let WritePipeEvent::ConnectionMade = ev {
            println!("write pipe: connected, writing 3 lines then closing");
            for n in 1..=3 {
                t.write(format!("ping {n}\n").as_bytes())?;
            }
            t.close();
        }
        Ok(())
    }
}

/// Prints whole lines; resolves `done` when the pipe is gone.
struct Printer {
    pending: Vec<u8>,
    done: LoopFuture<()>,
}

impl ReadPipeProtocol for Printer {
    fn handle(
        &mut self,
        ev: ReadPipeEvent,
        _t: &mut dyn ReadPipeTransport,
    ) -> Result<(), ProtocolError> {
        match ev {
            ReadPipeEvent::DataReceived(data) => {
                self.pending.extend_from_slice(&data);
                while let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = self.pending.drain(..=end).collect();
                    println!("read pipe: {}", String::from_utf8_lossy(&line).trim_end());
                }
            }
            ReadPipeEvent::EofReceived => println!("read pipe: EOF"),
            ReadPipeEvent::ConnectionLost(_) => {
                println!("read pipe: closed");
                let _ = self.done.set_result(());
            }
            _ => {}
        }
        Ok(())
    }
}

fn main() -> switchboard::Result<()> {
    switchboard::run(|lp| async move {
        // Any pipe-like pair works; a socket pair needs nothing but std.
        let (read_end, write_end) = std::os::unix::net::UnixStream::pair()?;
        let done = lp.create_future();
        let printer = Printer {
            pending: Vec::new(),
            done: done.clone(),
        };
        lp.connect_read_pipe(move || printer, read_end).await?;
        lp.connect_write_pipe(|| Pinger, write_end).await?;
        done.await?;
        Ok(())
    })
}
