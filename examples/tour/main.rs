//! A guided tour of switchboard: the main demonstration, one numbered section
//! per capability and one module file per section. Later capabilities (UDP,
//! fd watching, …) are added to [`SECTIONS`] as they land.
//!
//! Teaches, in order: callbacks run in the order they were scheduled; timers
//! (`call_later`, `call_at`, `cancel`); a task awaiting a future;
//! `call_soon_threadsafe` from another thread; `run_in_executor`; the exception
//! handler catching a panicking callback; a TCP echo server and client; a UDP
//! datagram round trip; an actor answering `call`; `wait_for` and `gather`; a
//! child process and a signal handler; the same protocols over TLS; streams
//! and a subprocess's `communicate`; a
//! supervisor restarting a crashed actor; stopping and closing cleanly.
//! Mirrors the asyncio "Event Loop" page (running and
//! stopping, scheduling callbacks, futures and tasks, network connections and
//! servers, executors, error handling, subprocesses and Unix signals):
//! <https://docs.python.org/3/library/asyncio-eventloop.html>
//!
//! Run it with `cargo run --example tour` (it finishes in well under a second).
//! Expected output (LINE:COL is where `errors.rs` calls `call_soon`):
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
//!    a timer set the future to 41; the task awaited it, and 41 + 1 = 42
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
//!    handler: Exception in callback <Handle created at examples/tour/errors.rs:25:8> -> panic: boom
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
//! 8. A UDP datagram round trip on 127.0.0.1
//!    create_datagram_endpoint binds one endpoint; a second, connected to it, sends.
//!    server: datagram 'ping' from the client
//!    client: got back 'echo: ping', one datagram, whole
//!
//! 9. An actor answers questions: call and ReplyTo
//!    spawn starts an actor; send tells it something, call asks and awaits.
//!    ada -> Some(1815), bob -> None
//!    a connection asks it with t.call: "1815\nunknown\n"
//!
//! 10. Deadlines and composition: wait_for and gather
//!    gather collects outputs in order; wait_for gives up after its timeout.
//!    gather -> ["slow", "fast"]: in the order given, though fast finished first
//!    wait_for: timed out after 0.01 seconds; the sleep was dropped
//!
//! 11. Run a child process and handle a signal
//!    subprocess_exec runs a program; its output arrives as PipeDataReceived.
//!    child said 'hello from a child', exited with 0
//!    a child sent us SIGUSR1; the handler ran on the loop thread
//!
//! 12. The same protocols over TLS
//!    .ssl(config) puts TLS under the very same protocols as section 7.
//!    server: received 'hello, tour', echoing it
//!    client: got back 'hello, tour'; closing
//!    server: the client closed the connection
//!    the session was TLSv1.3 with TLS13_AES_256_GCM_SHA384, server name localhost
//!
//! 13. Streams and processes: readline, drain, communicate
//!    open_connection and start_server give a reader and a writer, as asyncio's streams.
//!    client: readline() -> "HELLO, STREAMS\n"
//!    sort via communicate -> "apple\nfig\npear\n", exit code 0
//!
//! 14. A supervisor restarts a crashed actor
//!    A supervised actor that panics is started again, at the same address.
//!    counter at 5
//!    crash: a counter needs a number
//!    the question that crashed it: the actor dropped the question without answering
//!    restarted: counter at 1, same address
//!
//! 15. One loop per core: a LoopGroup shares a port and its actors
//!    Each loop of a group runs the same setup on its own thread.
//!    the actor named 'host' answered loop 1 from loop 0
//!    four connections to one port, balanced over the loops: [2, 2]
//!
//! 16. Seeing inside: a snapshot and the control socket
//!    A snapshot shows every actor: servers, connections, mailboxes.
//!    server 'echo': 1 connection; it read 14 bytes and wrote 14
//!    the control socket answered: 1 loop, 7 actors (try `switchboard-ctl ps PATH`)
//!
//! 17. Stopping and closing cleanly
//!    stop() before run_forever(): exactly one iteration runs.
//!    the one iteration ran this callback
//!    closed: is_closed() = true; call_soon -> event loop is closed
//! ```

mod actors;
mod callbacks;
mod closing;
mod compose;
mod errors;
mod executor;
mod group;
mod introspect;
mod process;
mod streams;
mod supervision;
mod tasks;
mod tcp;
mod threads;
mod timers;
mod tls;
mod udp;

use std::error::Error;

use switchboard::{new_event_loop, EventLoop};

type Section = fn(&EventLoop) -> Result<(), Box<dyn Error>>;

/// The tour, in order: a title and the function that shows it. The last
/// section, closing the loop, is not in this list: it always comes last.
const SECTIONS: &[(&str, Section)] = &[
    (
        "Callbacks run in the order they were scheduled",
        callbacks::show,
    ),
    ("Timers: call_later, call_at and cancel", timers::show),
    ("A task awaits a future", tasks::show),
    ("call_soon_threadsafe from another thread", threads::show),
    (
        "run_in_executor: blocking work on a thread pool",
        executor::show,
    ),
    ("The exception handler catches a panic", errors::show),
    ("A TCP echo server and client on 127.0.0.1", tcp::show),
    ("A UDP datagram round trip on 127.0.0.1", udp::show),
    ("An actor answers questions: call and ReplyTo", actors::show),
    (
        "Deadlines and composition: wait_for and gather",
        compose::show,
    ),
    ("Run a child process and handle a signal", process::show),
    ("The same protocols over TLS", tls::show),
    (
        "Streams and processes: readline, drain, communicate",
        streams::show,
    ),
    ("A supervisor restarts a crashed actor", supervision::show),
    (
        "One loop per core: a LoopGroup shares a port and its actors",
        group::show,
    ),
    (
        "Seeing inside: a snapshot and the control socket",
        introspect::show,
    ),
];

fn main() -> Result<(), Box<dyn Error>> {
    let lp = new_event_loop()?;
    for (n, (title, section)) in SECTIONS.iter().enumerate() {
        println!("{}. {title}", n + 1);
        section(&lp)?;
        println!();
    }
    println!("{}. Stopping and closing cleanly", SECTIONS.len() + 1);
    closing::show(lp)
}

/// Runs a section's future on the loop; one `?` covers the loop and the
/// future's own error.
fn block_on<T: 'static>(
    lp: &EventLoop,
    fut: impl std::future::Future<Output = switchboard::Result<T>> + 'static,
) -> Result<T, Box<dyn Error>> {
    let out = lp.run_until_complete(fut)?;
    Ok(out?)
}

/// A callback that stops the loop it runs on.
fn stopper(lp: &EventLoop) -> impl FnOnce() + 'static {
    let lp = lp.clone();
    move || lp.stop()
}
