//! Section 4: another thread holds a `LoopHandle`; the callback it sends with
//! `call_soon_threadsafe` runs on the loop thread.

use std::error::Error;
use std::thread;

use switchboard::{get_running_loop, EventLoop};

pub fn show(lp: &EventLoop) -> Result<(), Box<dyn Error>> {
    println!("   Other threads hold a LoopHandle; their callbacks run on the loop thread.");
    let remote = lp.handle();
    let worker = thread::Builder::new()
        .name("tour-worker".into())
        .spawn(move || {
            let from = thread::current().name().unwrap_or("?").to_string();
            let sent = remote.call_soon_threadsafe(move || {
                let on = thread::current().name().unwrap_or("?").to_string();
                println!("   a callback sent from thread {from} ran on thread {on}");
                get_running_loop().map(|lp| lp.stop()).ok();
            });
            sent.is_ok()
        })?;
    lp.run_forever()?;
    assert!(worker.join().expect("the worker does not panic"));
    Ok(())
}
