//! Section 3: `create_future` makes a settable value; `create_task` runs a
//! Rust future that awaits it; awaiting a task gives its output.

use std::error::Error;

use switchboard::EventLoop;

pub fn show(lp: &EventLoop) -> Result<(), Box<dyn Error>> {
    println!("   create_future makes a settable value; create_task runs a Rust future.");
    let fut = lp.create_future::<u32>();
    let setter = fut.clone();
    lp.call_later(0.01, move || {
        setter.set_result(41).ok();
    })?;
    // The task's output is the future's outcome: Ok(41) once the timer set it.
    let task = lp.create_task(fut)?;
    let value = lp.run_until_complete(task)?;
    let answer = value? + 1;
    println!("   a timer set the future to 41; the task awaited it, and 41 + 1 = {answer}");
    Ok(())
}
