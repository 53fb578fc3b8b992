//! Hello World with `call_soon()`: the smallest event-loop program.
//!
//! Teaches: making a loop, scheduling one callback with `call_soon`, running the
//! loop with `run_forever` until a callback calls `stop`, then closing it.
//!
//! Mirrors asyncio's "Hello World with call_soon()" example in the Event Loop
//! page, section Examples:
//! <https://docs.python.org/3/library/asyncio-eventloop.html#hello-world-with-call-soon>
//!
//! Run it:
//!
//! ```text
//! cargo run --example hello_world
//! ```
//!
//! Expected output:
//!
//! ```text
//! Hello World
//! ```

use switchboard::{get_event_loop, new_event_loop, set_event_loop, EventLoop, LoopError};

/// A callback to print 'Hello World' and stop the event loop.
fn hello_world(lp: &EventLoop) {
    println!("Hello World");
    lp.stop();
}

fn main() -> Result<(), LoopError> {
    // `asyncio.get_event_loop()`: asyncio 3.14 (and switchboard) no longer
    // create a loop implicitly, so make one and make it this thread's current loop.
    set_event_loop(Some(new_event_loop()?));
    let lp = get_event_loop()?;

    // Schedule a call to hello_world(). Callbacks are closures; this one keeps
    // its own handle on the loop so that it can stop it.
    let for_callback = lp.clone();
    lp.call_soon(move || hello_world(&for_callback))?;

    // Blocking call interrupted by lp.stop(); close the loop whatever happened
    // (Python's `try: ... finally: loop.close()`).
    let ran = lp.run_forever();
    lp.close()?;
    set_event_loop(None);
    ran
}
