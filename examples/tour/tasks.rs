//! Section 3: `create_future` makes a settable value; `create_task` runs a
//! Rust future that awaits it.

use std::error::Error;

use switchboard::EventLoop;

pub fn show(lp: &EventLoop) -> Result<(), Box<dyn Error>> {
    println!("   create_future makes a settable value; create_task runs a Rust future.");
    let fut = lp.create_future::<u32>();
    let setter = fut.clone();
    lp.call_later(0.01, move || {
        setter.set_result(41).ok();
    })?;
    let task = lp.create_task(async move { fut.await.map(|v| v + 1) })?;
    let answer = lp.run_until_complete(task)???;
    println!("   a timer set the future to 41; the task awaited it and returned {answer}");
    Ok(())
}
