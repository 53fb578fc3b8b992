//! The last section: `stop()` before `run_forever()` runs exactly one
//! iteration; then the loop waits for its executor and closes, and a closed
//! loop refuses callbacks.

use std::error::Error;

use switchboard::EventLoop;

pub fn show(lp: EventLoop) -> Result<(), Box<dyn Error>> {
    println!("   stop() before run_forever(): exactly one iteration runs.");
    lp.stop();
    lp.call_soon(|| println!("   the one iteration ran this callback"))?;
    lp.run_forever()?;
    // asyncio.run's epilogue: wait for the default executor, then close.
    lp.run_until_complete(lp.shutdown_default_executor(None))?;
    lp.close()?;
    let refused = lp
        .call_soon(|| {})
        .expect_err("a closed loop refuses callbacks");
    println!(
        "   closed: is_closed() = {}; call_soon -> {refused}",
        lp.is_closed()
    );
    Ok(())
}
