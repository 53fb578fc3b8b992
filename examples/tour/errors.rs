//! Section 6: a panic in a callback goes to the exception handler, and the
//! loop goes on with the next callback.

use std::error::Error;
use std::rc::Rc;

use switchboard::{EventLoop, ExceptionContext};

use crate::stopper;

pub fn show(lp: &EventLoop) -> Result<(), Box<dyn Error>> {
    println!("   A panic in a callback goes to the exception handler; the loop goes on.");
    lp.set_exception_handler(Some(Rc::new(|_lp: &EventLoop, ctx: &ExceptionContext| {
        let what = ctx.exception.as_ref().map(|e| e.to_string());
        println!(
            "   handler: {} -> {}",
            ctx.message,
            what.unwrap_or_default()
        );
    })));
    // Rust's panic hook would also print the panic to stderr; silence it here
    // so that only the handler speaks.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    lp.call_soon(|| panic!("boom"))?;
    lp.call_soon(|| println!("   the next callback still runs"))?;
    lp.call_soon(stopper(lp))?;
    let ran = lp.run_forever();
    std::panic::set_hook(hook);
    lp.set_exception_handler(None);
    Ok(ran?)
}
