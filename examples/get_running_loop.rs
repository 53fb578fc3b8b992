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

use switchboard::{get_running_loop, LoopFuture};

/// Resolves `fut` with `value` after `delay` seconds, from a loop callback.
fn set_after(fut: LoopFuture<String>, delay: f64, value: &str) -> switchboard::Result<()> {
    let lp = get_running_loop()?;
    let value = value.to_string();
    lp.call_later(delay, move || {
        // Only fails if the future was already done (cancelled, say).
        fut.set_result(value).ok();
    })?;
    Ok(())
}

async fn main_task(delay: f64) -> switchboard::Result<()> {
    // Get the current event loop: this code runs inside it.
    let lp = get_running_loop()?;

    // Create a new future: a value that someone will set later.
    let fut = lp.create_future::<String>();

    // Arrange for set_after() to resolve it. The future is a cheap handle:
    // the clone and the original are the same future.
    set_after(fut.clone(), delay, "... world")?;

    println!("hello ...");

    // Wait until fut has a result (one delay) and print it.
    println!("{}", fut.await?);
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let delay: f64 = std::env::args().nth(1).map_or(Ok(1.0), |a| a.parse())?;
    // asyncio.run(main()): a fresh loop, main() as a task, then close.
    Ok(switchboard::run(move |_lp| main_task(delay))?)
}
