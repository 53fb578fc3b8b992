//! Loopback scaffolding shared by the networking tests (`net_connections`,
//! `net_servers`, `transport_flow_control`): servers and clients on
//! `127.0.0.1`, port 0, recording every event into an [`EventLog`].
//!
//! * [`until`]: wait, yielding to the loop, until a condition holds (the
//!   caller's `run_with_deadline` turns a hang into a failure).
//! * [`serve`] / [`echo_server`] / [`recording_server`]: a server on a free port.
//! * [`connect`] / [`client`]: a connection to it.
//! * [`made`] / [`count`]: what a log holds.
//! * [`slow_peer`] / [`payload`]: a peer that reads nothing until told to, and
//!   the chunk the flow-control tests flood it with.
//! * [`run_alone`]: re-run one test in a child process, alone, for tests that
//!   change process-wide state (RLIMIT_NOFILE) or count its descriptors.

use std::io::Read;
use std::net::TcpListener;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use switchboard::Bytes;

use switchboard::testing::{EventLog, Recorded, RecordingProtocol};
use switchboard::{BufferedProtocol, NoMessage, StreamProtocol};
use switchboard::{Connection, EventLoop, Server};

/// Waits, yielding to the loop, until `cond` holds.
pub async fn until(lp: &EventLoop, mut cond: impl FnMut() -> bool) {
    while !cond() {
        let _ = lp.sleep(Duration::from_millis(1)).await;
    }
}

/// A server on `127.0.0.1`, port 0, whose connections get `factory()`; serving
/// at once or not. Returns it with its port.
pub async fn serve_with<P, M>(
    lp: &EventLoop,
    factory: impl Fn() -> P + 'static,
    serving: bool,
) -> (Server, u16)
where
    P: StreamProtocol<M>,
    M: Send + 'static,
{
    let server = lp
        .create_server(factory)
        .host("127.0.0.1")
        .port(0)
        .start_serving(serving)
        .await
        .expect("bind loopback");
    let port = server.sockets()[0].port();
    (server, port)
}

/// [`serve_with`], serving at once.
pub async fn serve<P, M>(lp: &EventLoop, factory: impl Fn() -> P + 'static) -> (Server, u16)
where
    P: StreamProtocol<M>,
    M: Send + 'static,
{
    serve_with(lp, factory, true).await
}

/// [`serve`] for a buffered protocol.
pub async fn serve_buffered<P, M>(
    lp: &EventLoop,
    factory: impl Fn() -> P + 'static,
) -> (Server, u16)
where
    P: BufferedProtocol<M>,
    M: Send + 'static,
{
    let server = lp
        .create_buffered_server(factory)
        .host("127.0.0.1")
        .port(0)
        .await
        .expect("bind loopback");
    let port = server.sockets()[0].port();
    (server, port)
}

/// A server whose connections echo and record into one shared `log`.
pub async fn echo_server(lp: &EventLoop, log: &EventLog) -> (Server, u16) {
    echo_server_with(lp, log, true).await
}

/// [`echo_server`], serving at once or only after `start_serving`.
pub async fn echo_server_with(lp: &EventLoop, log: &EventLog, serving: bool) -> (Server, u16) {
    let log = log.clone();
    serve_with::<_, NoMessage>(
        lp,
        move || RecordingProtocol::with_log(log.clone()).echo(true),
        serving,
    )
    .await
}

/// A server whose connections only record into one shared `log`.
pub async fn recording_server(lp: &EventLoop, log: &EventLog) -> (Server, u16) {
    let log = log.clone();
    serve::<_, NoMessage>(lp, move || RecordingProtocol::with_log(log.clone())).await
}

/// Connects to `127.0.0.1:port` with the protocol `factory` makes.
pub async fn connect<P, M>(
    lp: &EventLoop,
    port: u16,
    factory: impl FnOnce() -> P + 'static,
) -> Connection<M>
where
    P: StreamProtocol<M>,
    M: Send + 'static,
{
    lp.create_connection(factory)
        .host("127.0.0.1")
        .port(port)
        .await
        .expect("connect")
}

/// Connects a [`RecordingProtocol`] to `127.0.0.1:port`; returns its log too.
pub async fn client(lp: &EventLoop, port: u16) -> (Connection<NoMessage>, EventLog) {
    let p = RecordingProtocol::new();
    let log = p.log();
    (connect(lp, port, move || p).await, log)
}

/// How many `ConnectionMade` the log holds (one per connection on a shared log).
pub fn made(log: &EventLog) -> usize {
    count(log, &Recorded::ConnectionMade)
}

/// How many times `e` is in the log.
pub fn count(log: &EventLog, e: &Recorded) -> usize {
    log.snapshot().iter().filter(|x| *x == e).count()
}

/// The environment variable that marks the child [`run_alone`] starts.
pub const ALONE_CHILD: &str = "SWITCHBOARD_TEST_ALONE_CHILD";

/// True inside the child [`run_alone`] started.
pub fn is_alone_child() -> bool {
    std::env::var_os(ALONE_CHILD).is_some()
}

/// Runs the test `name` of this test binary again in a child process, alone
/// (`--exact --test-threads=1`), and asserts it passed and printed `marker`
/// (so a filter that matched nothing does not pass silently). Call it from
/// the test itself when [`is_alone_child`] is false, and return.
pub fn run_alone(name: &str, marker: &str) {
    let exe = std::env::current_exe().expect("test binary");
    let out = std::process::Command::new(exe)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(ALONE_CHILD, "1")
        .output()
        .expect("re-exec the test binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains(marker),
        "child did not run:\n{stdout}\n{stderr}"
    );
}

/// The number of open descriptors of this process.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}

/// The size of one [`payload`] chunk.
pub const CHUNK: usize = 256 * 1024;

/// One chunk of patterned bytes (so a reordering would show).
pub fn payload() -> Bytes {
    Bytes::from((0..CHUNK).map(|i| (i % 251) as u8).collect::<Vec<u8>>())
}

/// A peer that accepts one connection and reads nothing until told to (or
/// until `go` is dropped); then it reads to EOF (or error) and returns what it
/// got.
pub struct SlowPeer {
    pub port: u16,
    pub go: mpsc::Sender<()>,
    pub done: JoinHandle<Vec<u8>>,
}

/// Starts a [`SlowPeer`] with a small receive window, so the kernel absorbs
/// little of what is written to it.
pub fn slow_peer() -> SlowPeer {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    // Inherited by the accepted socket.
    socket2::SockRef::from(&listener)
        .set_recv_buffer_size(4096)
        .expect("SO_RCVBUF");
    let port = listener.local_addr().expect("addr").port();
    let (go, wait) = mpsc::channel();
    let done = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("accept");
        let _ = wait.recv();
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got);
        got
    });
    SlowPeer { port, go, done }
}

/// True when a connect to `127.0.0.1:port` is refused (nothing listens).
pub fn refused(port: u16) -> bool {
    matches!(
        std::net::TcpStream::connect(("127.0.0.1", port)),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused
    )
}
