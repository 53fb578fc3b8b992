//! A worker that crashes on some inputs is restarted and keeps serving; past
//! its restart intensity, the supervisor gives up and says so.
//!
//! Teaches: `lp.supervisor(..)` with a restart intensity, a child actor whose
//! address stays valid across restarts, `call` to a supervised worker (a
//! question that crashed it ends with `NoReply`, the next one is answered by
//! the new incarnation), and a root supervisor's failure coming out of
//! `switchboard::run` as `Error::Supervisor`. Beyond asyncio (Erlang/OTP's
//! supervisors); it runs on the loop of
//! <https://docs.python.org/3/library/asyncio-eventloop.html>.
//!
//! ```text
//! cargo run --example supervised_workers
//! ```
//!
//! Expected output:
//!
//! ```text
//! worker #1 started
//! 100 / 4 = 25
//! crash: attempt to divide by zero
//! 100 / 0: no answer (the actor dropped the question without answering)
//! worker #2 started
//! 100 / 5 = 20
//! crash: attempt to divide by zero
//! 100 / 0: no answer (the actor dropped the question without answering)
//! worker #3 started
//! 100 / 20 = 5, the worker still serves
//! crash: attempt to divide by zero
//! worker #4 started
//! crash: attempt to divide by zero
//! gave up: supervisor workers gave up: more than 3 restarts within 1s
//! ```

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use switchboard::prelude::*;
use switchboard::{Exception, SupervisorError};

/// Divides 100 by what it is asked; 0 makes it panic.
struct Divider;

impl Actor for Divider {
    type Message = (u32, ReplyTo<u32>);
    fn handle(&mut self, (n, reply): Self::Message, _: &mut ActorContext<'_, Self::Message>) {
        let _ = reply.send(100 / n);
    }
}

fn main() -> switchboard::Result<()> {
    // The exception handler reports each crash; Rust's own panic message
    // would repeat it on stderr.
    std::panic::set_hook(Box::new(|_| {}));
    let out = switchboard::run(|lp: EventLoop| async move {
        // Crashes go to the exception handler: print them briefly.
        lp.set_exception_handler(Some(Rc::new(|_, ctx| {
            if let Some(Exception::Panic(why)) = &ctx.exception {
                println!("crash: {why}");
            }
        })));
        let mut sup = lp
            .supervisor("workers")
            .intensity(3, Duration::from_secs(1));
        let started = Rc::new(Cell::new(0));
        let worker = sup.actor("divider", move || {
            started.set(started.get() + 1);
            println!("worker #{} started", started.get());
            Divider
        });
        let _tree = sup.await?;
        for n in [4, 0, 5, 0] {
            match worker.call(|r| (n, r)).await {
                Ok(q) => println!("100 / {n} = {q}"),
                Err(e) => println!("100 / {n}: no answer ({e})"),
            }
        }
        let q = worker.call(|r| (20, r)).await?;
        println!("100 / 20 = {q}, the worker still serves");
        // Two more crashes within the second: one restart too many.
        for _ in 0..2 {
            let _ = worker.call(|r| (0, r)).await;
        }
        switchboard::sleep(5.0).await; // the supervisor's failure ends `run` first
        Ok(())
    });
    match out {
        Err(switchboard::Error::Supervisor(e @ SupervisorError::GaveUp { .. })) => {
            println!("gave up: {e}");
            Ok(())
        }
        other => other,
    }
}
