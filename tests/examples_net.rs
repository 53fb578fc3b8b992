//! Runs the networking and signal examples the way a user would: each server
//! example on a free port until SIGTERM, driven by its client example (and by
//! its CPython asyncio twin when `python3` is installed), checking what both
//! print and that the server exits with status 0.
//!
//! The examples are built once and their binaries run directly
//! ([`support::examples`]), so signalling the child signals the example.
//! Children are killed on every path ([`Child`]'s `Drop`), and every wait is
//! bounded.

mod support;

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use support::examples;

/// How long one step (start, run, exit) may take once built.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// A running child whose stdout and stderr are collected in the background;
/// killed and reaped on drop unless it already exited.
struct Child {
    inner: std::process::Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    readers: Vec<thread::JoinHandle<()>>,
}

impl Child {
    fn spawn(program: &str, args: &[&str]) -> Child {
        let mut cmd = Command::new(program);
        cmd.args(args).current_dir(env!("CARGO_MANIFEST_DIR"));
        Child::start(cmd)
    }

    /// Starts example `name` from its built binary.
    fn example(name: &str, args: &[&str]) -> Child {
        Child::start(examples::command(name, args))
    }

    fn start(mut cmd: Command) -> Child {
        let mut inner = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{cmd:?} starts: {e}"));
        let (stdout, stderr): (Arc<Mutex<String>>, Arc<Mutex<String>>) = Default::default();
        let mut readers = Vec::new();
        let out = inner.stdout.take().expect("stdout is piped");
        let err = inner.stderr.take().expect("stderr is piped");
        for (mut pipe, sink) in [
            (Box::new(out) as Box<dyn Read + Send>, Arc::clone(&stdout)),
            (Box::new(err) as Box<dyn Read + Send>, Arc::clone(&stderr)),
        ] {
            readers.push(thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    let mut s = sink.lock().unwrap_or_else(|p| p.into_inner());
                    s.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }));
        }
        Child {
            inner,
            stdout,
            stderr,
            readers,
        }
    }

    fn stdout(&self) -> String {
        self.stdout
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn signal(&self, sig: Signal) {
        let pid = Pid::from_raw(i32::try_from(self.inner.id()).expect("pid fits"));
        kill(pid, sig).expect("signal the child");
    }

    /// Waits for the child to exit, then for its output to be read; panics
    /// after `timeout` (the child is killed by `Drop`).
    fn wait(&mut self, timeout: Duration, what: &str) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.inner.try_wait().expect("try_wait") {
                for r in self.readers.drain(..) {
                    r.join().ok();
                }
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{what} did not exit within {timeout:?}; stdout:\n{}\nstderr:\n{}",
                self.stdout(),
                self.stderr()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until stdout contains `text`.
    fn wait_for_output(&mut self, text: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.stdout().contains(text) {
            assert!(
                Instant::now() < deadline,
                "no {text:?} within {timeout:?}; stdout:\n{}\nstderr:\n{}",
                self.stdout(),
                self.stderr()
            );
            if let Some(status) = self.inner.try_wait().expect("try_wait") {
                thread::sleep(Duration::from_millis(50));
                assert!(
                    self.stdout().contains(text),
                    "exited ({status}) without {text:?}; stdout:\n{}\nstderr:\n{}",
                    self.stdout(),
                    self.stderr()
                );
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if let Ok(None) = self.inner.try_wait() {
            self.inner.kill().ok();
            self.inner.wait().ok();
        }
    }
}

/// Builds the examples once, first, so that no port is picked long before it
/// is bound and no step below waits on the compiler.
fn build() {
    examples::exe("tcp_echo_server");
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    listener.local_addr().expect("local_addr").port()
}

/// Retries connecting to `port` until something accepts (the probe connects
/// and closes at once, so servers print one extra "Connection from" line).
fn wait_accepting(port: u16, server: &mut Child) {
    let deadline = Instant::now() + STEP_TIMEOUT;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(status) = server.inner.try_wait().expect("try_wait") {
            panic!(
                "the server exited ({status}) before accepting; stderr:\n{}",
                server.stderr()
            );
        }
        assert!(
            Instant::now() < deadline,
            "nothing accepts on port {port}; stderr:\n{}",
            server.stderr()
        );
        thread::sleep(Duration::from_millis(20));
    }
}

/// The docs' "TCP Echo Client" (protocol version), port from argv.
const PY_CLIENT: &str = r#"
import asyncio, sys
class EchoClientProtocol(asyncio.Protocol):
    def __init__(self, message, on_con_lost):
        self.message = message
        self.on_con_lost = on_con_lost
    def connection_made(self, transport):
        transport.write(self.message.encode())
        print('Data sent: {!r}'.format(self.message))
    def data_received(self, data):
        print('Data received: {!r}'.format(data.decode()))
    def connection_lost(self, exc):
        print('The server closed the connection')
        self.on_con_lost.set_result(True)
async def main():
    loop = asyncio.get_running_loop()
    on_con_lost = loop.create_future()
    transport, protocol = await loop.create_connection(
        lambda: EchoClientProtocol('Hello World!', on_con_lost), '127.0.0.1', int(sys.argv[1]))
    try:
        await on_con_lost
    finally:
        transport.close()
asyncio.run(main())
"#;

/// The docs' "TCP Echo Server" (protocol version), port from argv.
const PY_SERVER: &str = r#"
import asyncio, sys
class EchoServerProtocol(asyncio.Protocol):
    def connection_made(self, transport):
        print('Connection from {}'.format(transport.get_extra_info('peername')), flush=True)
        self.transport = transport
    def data_received(self, data):
        message = data.decode()
        print('Data received: {!r}'.format(message))
        print('Send: {!r}'.format(message))
        self.transport.write(data)
        print('Close the client socket', flush=True)
        self.transport.close()
async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: EchoServerProtocol(), '127.0.0.1', int(sys.argv[1]))
    async with server:
        await server.serve_forever()
asyncio.run(main())
"#;

const CLIENT_OUTPUT: &str =
    "Data sent: 'Hello World!'\nData received: 'Hello World!'\nThe server closed the connection\n";
const SERVER_OUTPUT: &str =
    "Data received: 'Hello World!'\nSend: 'Hello World!'\nClose the client socket\n";

/// Starts `tcp_echo_server` on a free port and waits until it accepts.
fn start_server() -> (Child, u16) {
    build();
    let port = free_port();
    let mut server = Child::example("tcp_echo_server", &[&port.to_string()]);
    wait_accepting(port, &mut server);
    (server, port)
}

/// SIGTERM stops the server with status 0.
fn stop_server(mut server: Child) -> String {
    server.signal(Signal::SIGTERM);
    let status = server.wait(STEP_TIMEOUT, "tcp_echo_server after SIGTERM");
    assert!(
        status.success(),
        "status {status}; stderr:\n{}",
        server.stderr()
    );
    server.stdout()
}

fn assert_server_output(out: &str) {
    assert!(out.contains("Connection from ('127.0.0.1', "), "{out}");
    assert!(out.contains(SERVER_OUTPUT), "{out}");
}

#[test]
fn tcp_echo_server_with_tcp_echo_client() {
    let (mut server, port) = start_server();
    let mut client = Child::example("tcp_echo_client", &[&port.to_string()]);
    let status = client.wait(STEP_TIMEOUT, "tcp_echo_client");
    assert!(status.success(), "client: {status}\n{}", client.stderr());
    assert_eq!(client.stdout(), CLIENT_OUTPUT);
    server.wait_for_output("Close the client socket", STEP_TIMEOUT);
    assert_server_output(&stop_server(server));
}

#[test]
fn tcp_echo_server_stops_on_sigterm_with_an_idle_client_attached() {
    // The README's pattern: close on SIGTERM, and serve_forever returns
    // although a client is still connected (it kept the process alive).
    let (mut server, port) = start_server();
    let idle = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    server.wait_for_output("Connection from", STEP_TIMEOUT);
    let out = stop_server(server);
    assert!(out.contains("Connection from ('127.0.0.1', "), "{out}");
    drop(idle);
}

#[test]
fn tcp_echo_server_with_cpython_client() {
    let Some(py) = python3() else { return };
    let (mut server, port) = start_server();
    let mut client = Child::spawn(py, &["-c", PY_CLIENT, &port.to_string()]);
    let status = client.wait(STEP_TIMEOUT, "the CPython client");
    assert!(status.success(), "client: {status}\n{}", client.stderr());
    assert_eq!(client.stdout(), CLIENT_OUTPUT);
    server.wait_for_output("Close the client socket", STEP_TIMEOUT);
    assert_server_output(&stop_server(server));
}

#[test]
fn tcp_echo_client_with_cpython_server() {
    let Some(py) = python3() else { return };
    build();
    let port = free_port();
    let mut server = Child::spawn(py, &["-u", "-c", PY_SERVER, &port.to_string()]);
    wait_accepting(port, &mut server);
    let mut client = Child::example("tcp_echo_client", &[&port.to_string()]);
    let status = client.wait(STEP_TIMEOUT, "tcp_echo_client");
    assert!(status.success(), "client: {status}\n{}", client.stderr());
    assert_eq!(client.stdout(), CLIENT_OUTPUT);
    server.wait_for_output("Close the client socket", STEP_TIMEOUT);
    assert_server_output(&server.stdout());
    // Python's serve_forever ends in KeyboardInterrupt on SIGINT; just kill it.
}

#[test]
fn connect_existing_socket_prints_received() {
    build();
    let mut child = Child::example("connect_existing_socket", &[]);
    let status = child.wait(STEP_TIMEOUT, "connect_existing_socket");
    assert!(status.success(), "{status}\n{}", child.stderr());
    assert_eq!(child.stdout(), "Received: abc\n");
}

#[test]
fn signals_example_exits_cleanly_on_sigint_and_sigterm() {
    build();
    for (sig, name) in [(Signal::SIGINT, "SIGINT"), (Signal::SIGTERM, "SIGTERM")] {
        let mut child = Child::example("signals", &[]);
        // The example prints this once its handlers are installed.
        child.wait_for_output("send SIGINT or SIGTERM to exit.\n", STEP_TIMEOUT);
        let pid = child.inner.id();
        child.signal(sig);
        let status = child.wait(STEP_TIMEOUT, "signals");
        assert!(status.success(), "{status}\n{}", child.stderr());
        assert_eq!(
            child.stdout(),
            format!(
                "Event loop running for 1 hour, press Ctrl+C to interrupt.\n\
                 pid {pid}: send SIGINT or SIGTERM to exit.\n\
                 got signal {name}: exit\n"
            )
        );
    }
}

fn python3() -> Option<&'static str> {
    support::tools::have_python().then_some("python3")
}
