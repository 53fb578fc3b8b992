//! Every server example stops within [`STOP_DEADLINE`] of SIGTERM (and
//! SIGINT), whatever its clients do: one that connected and said nothing,
//! one that sent half a request and stalled. (The TLS server's stalled
//! handshakes and close_notify are in `examples_tls.rs`.)
//!
//! Ids refer to docs/behavior.md (V5, HS10).

mod support;

use std::io::Write;
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use support::child::Child;
use support::examples;

/// What examples/README.md promises.
const STOP_DEADLINE: Duration = Duration::from_secs(10);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port()
}

/// Polls until `connect` succeeds (the example is listening); there is no
/// message to wait on.
fn until_accepting<S>(child: &mut Child, mut connect: impl FnMut() -> std::io::Result<S>) -> S {
    let end = Instant::now() + support::child::STEP;
    loop {
        if let Ok(s) = connect() {
            return s;
        }
        assert!(
            Instant::now() < end,
            "not accepting; stderr:\n{}",
            child.stderr()
        );
        thread::sleep(Duration::from_millis(10));
    }
}

/// Sends `sig` and checks the example exits cleanly within the deadline.
fn stops(mut child: Child, sig: Signal, name: &str) {
    let asked = Instant::now();
    child.signal(sig);
    let status = child.wait();
    let took = asked.elapsed();
    assert!(
        status.success(),
        "{name}: status {status}; stderr:\n{}",
        child.stderr()
    );
    assert!(took < STOP_DEADLINE, "{name} took {took:?} to stop");
}

/// Starts TCP server example `name` on a free port with `more` arguments,
/// waits for `ready` (printed once its signal handlers are in place: a
/// signal before that would kill it), attaches an idle client and one that
/// sent `partial` and stalled, then stops it with `sig`.
fn tcp_case(name: &str, more: &[&str], ready: &str, partial: &[u8], sig: Signal) {
    let port = free_port();
    let port_arg = port.to_string();
    let mut args = vec![port_arg.as_str()];
    args.extend_from_slice(more);
    let mut child = Child::start(examples::command(name, &args));
    let idle = until_accepting(&mut child, || TcpStream::connect(("127.0.0.1", port)));
    child.wait_for_output(ready);
    let mut stalled = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stalled.write_all(partial).expect("send half a request");
    stops(child, sig, name);
    drop((idle, stalled));
}

#[test]
fn hs10_tcp_echo_server_stops_with_idle_and_stalled_clients() {
    tcp_case(
        "tcp_echo_server",
        &[],
        "Connection from",
        b"half a li",
        Signal::SIGTERM,
    );
}

#[test]
fn hs10_chat_stops_with_idle_and_stalled_members() {
    tcp_case(
        "chat",
        &[],
        "Chat room on",
        b"no newline yet",
        Signal::SIGINT,
    );
}

#[test]
fn hs10_kv_store_stops_with_idle_and_stalled_clients() {
    tcp_case("kv_store", &[], "kv_store on", b"SET k", Signal::SIGTERM);
}

#[test]
fn hs10_redis_server_stops_with_idle_and_stalled_clients() {
    tcp_case(
        "redis_server",
        &[],
        "redis_server on",
        b"*2\r\n$4\r\nECHO\r\n$5\r\nhel",
        Signal::SIGTERM,
    );
}

#[test]
fn hs10_static_files_stops_with_idle_and_stalled_clients() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().to_str().expect("utf-8 path").to_string();
    tcp_case(
        "static_files",
        &[&root],
        "Serving",
        b"GET / HTTP/1.0\r\n",
        Signal::SIGTERM,
    );
}

#[test]
fn hs10_supervised_service_stops_with_idle_and_stalled_clients() {
    tcp_case(
        "supervised_service",
        &[],
        "service on",
        b"GET ke",
        Signal::SIGTERM,
    );
}

#[test]
fn hs10_graceful_shutdown_stops_with_idle_and_stalled_clients() {
    tcp_case(
        "graceful_shutdown",
        &["1"],
        "echo server on",
        b"half",
        Signal::SIGTERM,
    );
}

#[test]
fn hs10_unix_echo_server_stops_with_idle_and_stalled_clients() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("echo.sock");
    let path_arg = path.to_str().expect("utf-8 path");
    let mut child = Child::start(examples::command("unix_echo_server", &[path_arg]));
    let idle = until_accepting(&mut child, || UnixStream::connect(&path));
    child.wait_for_output("Serving on");
    let mut stalled = UnixStream::connect(&path).expect("connect");
    stalled.write_all(b"half").expect("send half a line");
    stops(child, Signal::SIGTERM, "unix_echo_server");
    assert!(!Path::new(&path).exists(), "the socket file is removed");
    drop((idle, stalled));
}
