//! Section 5: `run_in_executor` runs a blocking function on the default
//! thread pool and the loop awaits its result.

use std::error::Error;
use std::thread;

use switchboard::EventLoop;

pub fn show(lp: &EventLoop) -> Result<(), Box<dyn Error>> {
    println!("   run_in_executor runs a blocking function on the default thread pool.");
    let job = lp.run_in_executor(None, || {
        let name = thread::current().name().unwrap_or("?").to_string();
        (
            (1..=1000u64).sum::<u64>(),
            name.starts_with("switchboard-pool"),
        )
    })?;
    // One `?` for the loop, one for the pool (the job itself cannot fail).
    let outcome = lp.run_until_complete(job)?;
    let (sum, on_pool) = outcome?;
    println!("   sum(1..=1000) = {sum}, computed on a pool thread: {on_pool}");
    Ok(())
}
