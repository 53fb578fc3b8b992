//! Collect a child's output with a subprocess protocol.
//!
//! Teaches: `EventLoop::subprocess_exec` runs a program whose stdout is a
//! pipe; a `SubprocessProtocol` hears `PipeDataReceived` for its output,
//! `ProcessExited` when it exits and `ConnectionLost` once it exited *and*
//! its pipes closed. switchboard documents the order asyncio leaves open:
//! what the child wrote comes before `ProcessExited`, so the protocol need
//! not wait for both events as the Python example does.
//!
//! Mirrors "loop.subprocess_exec() and SubprocessProtocol" in
//! <https://docs.python.org/3/library/asyncio-protocol.html#loop-subprocess-exec-and-subprocessprotocol>
//! (the child is `date`, not another Python).
//!
//! ```text
//! cargo run --example subprocess_date
//! ```
//!
//! Expected output (the date varies):
//!
//! ```text
//! Current date: Wed Dec  2 15:46:52 UTC 2026
//! ```

use switchboard::prelude::*;
use switchboard::LoopFuture;

/// Collects the child's stdout; hands it over when the child is done.
struct DateProtocol {
    output: Vec<u8>,
    exit_future: LoopFuture<Vec<u8>>,
}

impl SubprocessProtocol for DateProtocol {
    fn handle(
        &mut self,
        event: SubprocessEvent,
        _transport: &mut dyn SubprocessTransport,
    ) -> Result<(), ProtocolError> {
        match event {
            SubprocessEvent::PipeDataReceived { data, .. } => self.output.extend_from_slice(&data),
            // Exited and every pipe closed: all the output is here.
            SubprocessEvent::ConnectionLost(_) => {
                let _ = self
                    .exit_future
                    .set_result(std::mem::take(&mut self.output));
            }
            _ => {}
        }
        Ok(())
    }
}

fn main() -> switchboard::Result<()> {
    let date = switchboard::run(|lp| async move {
        let exit_future = lp.create_future();
        let done = exit_future.clone();
        // stdin and stderr are this process's own; stdout is a pipe.
        let transport = lp
            .subprocess_exec(
                move || DateProtocol {
                    output: Vec::new(),
                    exit_future: done,
                },
                "date",
                [""; 0],
            )
            .stdin(Stdio::Inherit)
            .stderr(Stdio::Inherit)
            .await?;
        let data = exit_future.await?;
        transport.close();
        Ok::<_, switchboard::Error>(String::from_utf8_lossy(&data).trim_end().to_string())
    })?;
    println!("Current date: {date}");
    Ok(())
}
