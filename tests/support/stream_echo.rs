//! The `stream_echo_server` example as the streams tests start and stop
//! it: on a free port with a short grace, stopped by SIGTERM within a
//! deadline.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::support::child::Child;
use crate::support::examples::command;

/// The grace the tests give the echo server: it must exit within this plus
/// its one-second close grace after SIGTERM (plus slack for a busy machine).
pub const GRACE: &str = "0.3";
pub const STOP_WITHIN: Duration = Duration::from_millis(300 + 1000 + 1500);

/// Starts `stream_echo_server` on a free port; returns it and the port.
pub fn start_echo_server() -> (Child, u16) {
    let mut server = Child::start(command("stream_echo_server", &["0", GRACE]));
    server.wait_for_output("Serving on 127.0.0.1:");
    let out = server.stdout();
    let port = out
        .lines()
        .find_map(|l| l.strip_prefix("Serving on 127.0.0.1:"))
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no port in {out:?}"));
    (server, port)
}

/// SIGTERM; the server must exit 0 within [`STOP_WITHIN`]. Returns stdout.
pub fn stop_echo_server(mut server: Child) -> String {
    let sent = Instant::now();
    server.signal(Signal::SIGTERM);
    let status = server.wait();
    let took = sent.elapsed();
    assert!(status.success(), "{status}; stderr:\n{}", server.stderr());
    assert!(
        took < STOP_WITHIN,
        "exited {took:?} after SIGTERM, over {STOP_WITHIN:?}"
    );
    server.stdout()
}
