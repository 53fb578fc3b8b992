//! Section 9: `wait_for` puts a deadline on a future; `gather` runs several
//! at once and collects their outputs in order.

use std::error::Error;
use std::time::Duration;

use switchboard::EventLoop;

pub fn show(lp: &EventLoop) -> Result<(), Box<dyn Error>> {
    println!("   gather collects outputs in order; wait_for gives up after its timeout.");
    let l = lp.clone();
    crate::block_on(lp, async move {
        let slow = l.create_task(async {
            switchboard::sleep(0.03).await;
            "slow"
        })?;
        let fast = l.create_task(async {
            switchboard::sleep(0.01).await;
            "fast"
        })?;
        let both = switchboard::gather([slow, fast]).await;
        println!("   gather -> {both:?}: in the order given, though fast finished first");
        match switchboard::wait_for(switchboard::sleep(1.0), Duration::from_millis(10)).await {
            Ok(()) => println!("   wait_for: the sleep finished first"),
            Err(e) => println!("   wait_for: {e}; the sleep was dropped"),
        }
        Ok(())
    })
}
