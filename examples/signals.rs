//! Stop a loop cleanly on SIGINT or SIGTERM with `add_signal_handler`.
//!
//! Teaches: `EventLoop::add_signal_handler` runs a plain callback on the loop
//! thread when a Unix signal arrives (the OS handler only writes a byte to a
//! self-pipe; the loop does the rest), and the callback stops the loop.
//!
//! Mirrors "Set signal handlers for SIGINT and SIGTERM" in the examples of
//! <https://docs.python.org/3/library/asyncio-eventloop.html#examples>.
//!
//! Run it, then press Ctrl+C (or `kill -TERM <pid>`):
//!
//! ```text
//! cargo run --example signals
//! ```
//!
//! Expected output (the pid varies):
//!
//! ```text
//! Event loop running for 1 hour, press Ctrl+C to interrupt.
//! pid 12345: send SIGINT or SIGTERM to exit.
//! got signal SIGINT: exit
//! ```

use switchboard::prelude::*;

fn ask_exit(sig: Signal, lp: &EventLoop) {
    println!("got signal {sig}: exit");
    lp.stop();
}

fn main() -> switchboard::Result<()> {
    let lp = switchboard::new_event_loop()?;
    for sig in [Signal::SIGINT, Signal::SIGTERM] {
        let l = lp.clone();
        lp.add_signal_handler(sig, move || ask_exit(sig, &l))?;
    }
    // Printed once the handlers are in place, so a signal sent on seeing it
    // is always caught.
    println!("Event loop running for 1 hour, press Ctrl+C to interrupt.");
    println!(
        "pid {}: send SIGINT or SIGTERM to exit.",
        std::process::id()
    );
    // asyncio.sleep(3600): the loop stops earlier when a signal arrives.
    let l = lp.clone();
    lp.call_later(3600.0, move || l.stop())?;
    lp.run_forever()?;
    lp.close()?;
    Ok(())
}
