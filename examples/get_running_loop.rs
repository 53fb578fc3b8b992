//! `get_running_loop()` and `create_future()`: a future set by a callback and
//! awaited by a task.
//!
//! Teaches: `get_running_loop` inside a task, `create_future` for a value that
//! arrives later, `create_task` to run a Rust future on the loop, a callback
//! scheduled with `call_later` that resolves the future, and `await` on it.
//!
//! Mirrors the example the asyncio "Low-level API Index" gives for
//! `asyncio.get_running_loop()` (the `set_after` example of the Futures page):
//! <https://docs.python.org/3/library/asyncio-future.html#asyncio-example-future>
//! Python runs `set_after` as a task that sleeps and then sets the result; here
//! it is a plain `call_later` callback, which is the same thing one level lower.
//!
//! Run it (the optional argument is the delay in seconds, default 1.0):
//!
//! ```text
//! cargo run --example get_running_loop
//! ```
//!
//! Expected output, the second line one second after the first:
//!
//! ```text
//! hello ...
//! ... world
//! ```

use switchboard::{get_running_loop, new_event_loop, LoopError, LoopFuture};

/// Resolves `fut` with `value` after `delay` seconds, from a loop callback.
fn set_after(fut: LoopFuture<String>, delay: f64, value: &str) -> Result<(), LoopError> {
    let lp = get_running_loop()?;
    let value = value.to_string();
    lp.call_later(delay, move || {
        // Only fails if the future was already done (cancelled, say).
        fut.set_result(value).ok();
    })?;
    Ok(())
}

async fn main_task(delay: f64) -> Result<(), LoopError> {
    // Get the current event loop: this code runs inside it.
    let lp = get_running_loop()?;

    // Create a new future: a value that someone will set later.
    let fut = lp.create_future::<String>();

    // Arrange for set_after() to resolve it. The future is a cheap handle:
    // the clone and the original are the same future.
    set_after(fut.clone(), delay, "... world")?;

    println!("hello ...");

    // Wait until fut has a result (one delay) and print it.
    match fut.await {
        Ok(value) => println!("{value}"),
        Err(e) => println!("the future ended without a value: {e}"),
    }
    Ok(())
}

fn main() -> Result<(), LoopError> {
    let delay: f64 = match std::env::args().nth(1) {
        Some(arg) => arg.parse().expect("the delay is a number of seconds"),
        None => 1.0,
    };
    // asyncio.run(main()): a fresh loop, main() as a task, then close.
    let lp = new_event_loop()?;
    let task = lp.create_task(main_task(delay))?;
    let outcome = lp.run_until_complete(task);
    lp.close()?;
    // Three layers: the loop ran, the task finished, main_task succeeded.
    outcome?.map_err(LoopError::Task)??;
    Ok(())
}
