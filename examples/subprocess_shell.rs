//! Feed a shell pipeline through its stdin and read its stdout.
//!
//! Teaches: `EventLoop::subprocess_shell` runs a command line with
//! `/bin/sh -c`; inside the protocol, `get_pipe_transport(0)` is the child's
//! stdin (a write pipe: write, then close for EOF); `PipeDataReceived` brings
//! stdout; `ProcessExited` carries the return code, and the handle's `wait()`
//! resolves to it too.
//!
//! Mirrors `loop.subprocess_shell()` in
//! <https://docs.python.org/3/library/asyncio-eventloop.html#running-subprocesses>.
//!
//! ```text
//! cargo run --example subprocess_shell
//! ```
//!
//! Expected output:
//!
//! ```text
//! child: 2 apple
//! child: 1 pear
//! process exited with 3
//! wait() -> 3
//! ```

use switchboard::prelude::*;

/// Writes fruit to the child's stdin and prints each line it answers.
struct Fruit {
    pending: Vec<u8>,
}

impl SubprocessProtocol for Fruit {
    fn handle(
        &mut self,
        event: SubprocessEvent,
        transport: &mut dyn SubprocessTransport,
    ) -> Result<(), ProtocolError> {
        match event {
            SubprocessEvent::ConnectionMade => {
                if let Some(stdin) = transport.get_pipe_transport(0).and_then(|p| p.writer()) {
                    stdin.write(b"pear\napple\napple\n")?;
                    stdin.close(); // EOF for `sort`
                }
            }
            SubprocessEvent::PipeDataReceived { data, .. } => {
                self.pending.extend_from_slice(&data);
                while let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = self.pending.drain(..=end).collect();
                    let line = String::from_utf8_lossy(&line);
                    println!("child: {}", line.trim());
                }
            }
            SubprocessEvent::ProcessExited { returncode } => {
                println!("process exited with {returncode}");
            }
            _ => {}
        }
        Ok(())
    }
}

fn main() -> switchboard::Result<()> {
    switchboard::run(|lp| async move {
        let child = lp
            .subprocess_shell(
                || Fruit {
                    pending: Vec::new(),
                },
                "sort | uniq -c; exit 3",
            )
            .await?;
        let code = child.wait().await?;
        println!("wait() -> {code}");
        Ok(())
    })
}
