//! Section 2: `call_later`, `call_at` and `cancel`; timers fire by deadline.

use std::error::Error;

use switchboard::EventLoop;

use crate::stopper;

pub fn show(lp: &EventLoop) -> Result<(), Box<dyn Error>> {
    println!("   Timers fire by deadline, not by the order they were made in.");
    let now = lp.time();
    lp.call_later(0.02, || println!("   call_later(0.02) fired second"))?;
    lp.call_at(now + 0.01, || {
        println!("   call_at(time() + 0.01) fired first")
    })?;
    let doomed = lp.call_later(0.015, || println!("   never printed: cancelled"))?;
    doomed.cancel();
    lp.call_later(0.03, stopper(lp))?;
    lp.run_forever()?;
    println!(
        "   a third timer was cancelled: cancelled() = {}",
        doomed.cancelled()
    );
    Ok(())
}
