//! Section 10: `subprocess_exec` runs a program and its output arrives as
//! `PipeDataReceived`; `add_signal_handler` catches a signal (sent by a
//! child, so the tour needs nothing but switchboard).

use std::error::Error;

use switchboard::prelude::*;
use switchboard::LoopFuture;

/// Collects what the child prints; resolves when it is done.
struct Collect {
    out: Vec<u8>,
    done: LoopFuture<Vec<u8>>,
}

impl SubprocessProtocol for Collect {
    fn handle(
        &mut self,
        event: SubprocessEvent,
        _t: &mut dyn SubprocessTransport,
    ) -> Result<(), ProtocolError> {
        match event {
            SubprocessEvent::PipeDataReceived { data, .. } => self.out.extend_from_slice(&data),
            SubprocessEvent::ConnectionLost(_) => {
                let _ = self.done.set_result(std::mem::take(&mut self.out));
            }
            _ => {}
        }
        Ok(())
    }
}

pub fn show(lp: &EventLoop) -> Result<(), Box<dyn Error>> {
    println!("   subprocess_exec runs a program; its output arrives as PipeDataReceived.");
    let l = lp.clone();
    crate::block_on(lp, async move {
        let done = l.create_future();
        let d = done.clone();
        let child = l
            .subprocess_exec(
                move || Collect {
                    out: Vec::new(),
                    done: d,
                },
                "echo",
                ["hello from a child"],
            )
            .await?;
        let out = done.await?;
        let said = String::from_utf8_lossy(&out);
        let code = child.wait().await?;
        println!("   child said '{}', exited with {code}", said.trim_end());

        // A handler for SIGUSR1, then a child that sends it to us.
        let caught = l.create_future::<()>();
        let c = caught.clone();
        l.add_signal_handler(Signal::SIGUSR1, move || {
            let _ = c.set_result(());
        })?;
        let kill = format!("kill -USR1 {}", std::process::id());
        let done = l.create_future();
        let d = done.clone();
        l.subprocess_shell(
            move || Collect {
                out: Vec::new(),
                done: d,
            },
            kill,
        )
        .await?;
        done.await?;
        caught.await?;
        l.remove_signal_handler(Signal::SIGUSR1)?;
        println!("   a child sent us SIGUSR1; the handler ran on the loop thread");
        Ok(())
    })
}
