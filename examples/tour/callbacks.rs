//! Section 1: `call_soon` queues callbacks; `run_forever` runs them in order
//! until one calls `stop()`.

use std::error::Error;

use switchboard::EventLoop;

use crate::stopper;

pub fn show(lp: &EventLoop) -> Result<(), Box<dyn Error>> {
    println!("   call_soon queues callbacks; run_forever runs them until one calls stop().");
    for name in ["first", "second", "third"] {
        lp.call_soon(move || println!("   callback {name}"))?;
    }
    lp.call_soon(stopper(lp))?;
    Ok(lp.run_forever()?)
}
