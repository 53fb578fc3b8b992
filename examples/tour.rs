//! A guided tour of switchboard: the main demonstration, one numbered section
//! per capability. It starts with the event loop itself; sections for later
//! capabilities (TCP server and client, UDP, pipes, subprocesses, signals, …)
//! are added to [`SECTIONS`] as they land.
//!
//! Teaches, in order: callbacks run in the order they were scheduled; timers
//! (`call_later`, `call_at`, `cancel`); a task awaiting a future; a callback
//! sent from another thread with `call_soon_threadsafe`; `run_in_executor`; the
//! exception handler catching a panicking callback; stopping and closing cleanly.
//!
//! Mirrors the asyncio "Event Loop" page, sections "Running and stopping the
//! loop", "Scheduling callbacks", "Scheduling delayed callbacks", "Creating
//! Futures and Tasks", "Executing code in thread or process pools" and "Error
//! Handling API": <https://docs.python.org/3/library/asyncio-eventloop.html>
//!
//! Run it (it finishes in well under a second):
//!
//! ```text
//! cargo run --example tour
//! ```
//!
//! Expected output:
//!
//! ```text
//! 1. Callbacks run in the order they were scheduled
//!    call_soon queues callbacks; run_forever runs them until one calls stop().
//!    callback first
//!    callback second
//!    callback third
//!
//! 2. Timers: call_later, call_at and cancel
//!    Timers fire by deadline, not by the order they were made in.
//!    call_at(time() + 0.01) fired first
//!    call_later(0.02) fired second
//!    a third timer was cancelled: cancelled() = true
//!
//! 3. A task awaits a future
//!    create_future makes a settable value; create_task runs a Rust future.
//!    a timer set the future to 41; the task awaited it and returned 42
//!
//! 4. call_soon_threadsafe from another thread
//!    Other threads hold a LoopHandle; their callbacks run on the loop thread.
//!    a callback sent from thread tour-worker ran on thread main
//!
//! 5. run_in_executor: blocking work on a thread pool
//!    run_in_executor runs a blocking function on the default thread pool.
//!    sum(1..=1000) = 500500, computed on a pool thread: true
//!
//! 6. The exception handler catches a panic
//!    A panic in a callback goes to the exception handler; the loop goes on.
//!    handler: Exception in callback <Handle created at examples/tour.rs:193:8> -> panic: boom
//!    the next callback still runs
//!
//! 7. A TCP echo server and client on 127.0.0.1
//!    create_server on port 0 lets the OS pick a port; create_connection dials it.
//!    server listening on 127.0.0.1 (a free port)
//!    server: received 'hello, tour', echoing it
//!    client: got back 'hello, tour'; closing
//!    server: the client closed the connection
//!    server closed
//!
//! 8. Stopping and closing cleanly
//!    stop() before run_forever(): exactly one iteration runs.
//!    the one iteration ran this callback
//!    closed: is_closed() = true; call_soon -> event loop is closed
//! ```

use std::error::Error;
use std::rc::Rc;
use std::thread;

use switchboard::protocols::{ProtocolError, StreamEvent, StreamProtocol, StreamTransport};
use switchboard::{get_running_loop, new_event_loop, EventLoop, ExceptionContext, LoopFuture};

type Section = fn(&EventLoop) -> Result<(), Box<dyn Error>>;

/// The tour, in order: a title and the function that shows it. The last
/// section, closing the loop, is not in this list: it always comes last.
const SECTIONS: &[(&str, Section)] = &[
    ("Callbacks run in the order they were scheduled", callbacks),
    ("Timers: call_later, call_at and cancel", timers),
    ("A task awaits a future", task_and_future),
    ("call_soon_threadsafe from another thread", threadsafe),
    ("run_in_executor: blocking work on a thread pool", executor),
    ("The exception handler catches a panic", exceptions),
    ("A TCP echo server and client on 127.0.0.1", tcp_echo),
];

fn main() -> Result<(), Box<dyn Error>> {
    let lp = new_event_loop()?;
    for (n, (title, section)) in SECTIONS.iter().enumerate() {
        println!("{}. {title}", n + 1);
        section(&lp)?;
        println!();
    }
    println!("{}. Stopping and closing cleanly", SECTIONS.len() + 1);
    close(lp)
}

/// A callback that stops the loop it runs on.
fn stopper(lp: &EventLoop) -> impl FnOnce() + 'static {
    let lp = lp.clone();
    move || lp.stop()
}

fn callbacks(lp: &EventLoop) -> Result<(), Box<dyn Error>> {
    println!("   call_soon queues callbacks; run_forever runs them until one calls stop().");
    for name in ["first", "second", "third"] {
        lp.call_soon(move || println!("   callback {name}"))?;
    }
    lp.call_soon(stopper(lp))?;
    Ok(lp.run_forever()?)
}

fn timers(lp: &EventLoop) -> Result<(), Box<dyn Error>> {
    println!("   Timers fire by deadline, not by the order they were made in.");
    let now = lp.time();
    lp.call_later(0.02, || println!("   call_later(0.02) fired second"))?;
    lp.call_at(now + 0.01, || {
        println!("   call_at(time() + 0.01) fired first")
    })?;
    let doomed = lp.call_later(0.015, || println!("   never printed: cancelled"))?;
    doomed.cancel();
    lp.call_later(0.03, stopper(lp))?;
    lp.run_forever()?;
    println!(
        "   a third timer was cancelled: cancelled() = {}",
        doomed.cancelled()
    );
    Ok(())
}

fn task_and_future(lp: &EventLoop) -> Result<(), Box<dyn Error>> {
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

fn threadsafe(lp: &EventLoop) -> Result<(), Box<dyn Error>> {
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

fn executor(lp: &EventLoop) -> Result<(), Box<dyn Error>> {
    println!("   run_in_executor runs a blocking function on the default thread pool.");
    let job = lp.run_in_executor(None, || {
        let name = thread::current().name().unwrap_or("?").to_string();
        (
            (1..=1000u64).sum::<u64>(),
            name.starts_with("switchboard-pool"),
        )
    })?;
    let (sum, on_pool) = lp.run_until_complete(job)??;
    println!("   sum(1..=1000) = {sum}, computed on a pool thread: {on_pool}");
    Ok(())
}

fn exceptions(lp: &EventLoop) -> Result<(), Box<dyn Error>> {
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

/// The server side of section 7: echoes, and reports when the client leaves.
struct TourEchoServer {
    lost: LoopFuture<()>,
}

impl StreamProtocol for TourEchoServer {
    fn handle(
        &mut self,
        event: StreamEvent,
        t: &mut dyn StreamTransport,
    ) -> Result<(), ProtocolError> {
        match event {
            StreamEvent::DataReceived(data) => {
                println!(
                    "   server: received '{}', echoing it",
                    String::from_utf8_lossy(&data)
                );
                t.write(&data)?;
            }
            StreamEvent::ConnectionLost(_) => {
                println!("   server: the client closed the connection");
                self.lost.set_result(()).ok();
            }
            _ => {}
        }
        Ok(())
    }
}

/// The client side of section 7: sends one line, closes on the echo.
struct TourEchoClient;

impl StreamProtocol for TourEchoClient {
    fn handle(
        &mut self,
        event: StreamEvent,
        t: &mut dyn StreamTransport,
    ) -> Result<(), ProtocolError> {
        match event {
            StreamEvent::ConnectionMade => t.write(b"hello, tour")?,
            StreamEvent::DataReceived(data) => {
                println!(
                    "   client: got back '{}'; closing",
                    String::from_utf8_lossy(&data)
                );
                t.close();
            }
            _ => {}
        }
        Ok(())
    }
}

fn tcp_echo(lp: &EventLoop) -> Result<(), Box<dyn Error>> {
    println!("   create_server on port 0 lets the OS pick a port; create_connection dials it.");
    let l = lp.clone();
    lp.run_until_complete(async move {
        let lost = l.create_future::<()>();
        let on_lost = lost.clone();
        let server = l
            .create_server(move || TourEchoServer {
                lost: on_lost.clone(),
            })
            .host("127.0.0.1")
            .port(0)
            .await?;
        let addr = server.sockets()[0];
        println!("   server listening on {} (a free port)", addr.ip());
        l.create_connection(|| TourEchoClient)
            .host("127.0.0.1")
            .port(addr.port())
            .await?;
        lost.await?;
        server.close();
        server.wait_closed().await;
        println!("   server closed");
        Ok::<(), Box<dyn Error>>(())
    })?
}

fn close(lp: EventLoop) -> Result<(), Box<dyn Error>> {
    println!("   stop() before run_forever(): exactly one iteration runs.");
    lp.stop();
    lp.call_soon(|| println!("   the one iteration ran this callback"))?;
    lp.run_forever()?;
    // asyncio.run's epilogue: wait for the default executor, then close.
    lp.run_until_complete(lp.shutdown_default_executor(None))?;
    lp.close()?;
    let refused = lp
        .call_soon(|| {})
        .expect_err("a closed loop refuses callbacks");
    println!(
        "   closed: is_closed() = {}; call_soon -> {refused}",
        lp.is_closed()
    );
    Ok(())
}
