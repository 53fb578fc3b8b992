//! Runs the datagram, Unix-socket and sendfile examples the way a user
//! would: each server on a free port (or a temporary path) until SIGTERM,
//! driven by its client example and by a CPython asyncio twin, checking what
//! both print and that the server exits with status 0.
//! <https://docs.python.org/3/library/asyncio-protocol.html#udp-echo-server>

mod support;

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::process::Command;

use nix::sys::signal::Signal;

use support::child::Child;
use support::examples;
use support::tools::have_python;

fn example(name: &str, args: &[&str]) -> Child {
    Child::start(examples::command(name, args))
}

/// A UDP port that was free a moment ago.
fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn stop(mut server: Child) -> String {
    server.signal(Signal::SIGTERM);
    server.success()
}

const UDP_CLIENT_OUTPUT: &str =
    "Send: Hello World!\nReceived: Hello World!\nClose the socket\nConnection closed\n";

/// The docs' "UDP Echo Client", port from argv.
const PY_UDP_CLIENT: &str = r#"
import asyncio, sys
class EchoClientProtocol:
    def __init__(self, message, on_con_lost):
        self.message, self.on_con_lost, self.transport = message, on_con_lost, None
    def connection_made(self, transport):
        self.transport = transport
        print('Send:', self.message)
        self.transport.sendto(self.message.encode())
    def datagram_received(self, data, addr):
        print("Received:", data.decode())
        print("Close the socket")
        self.transport.close()
    def error_received(self, exc):
        print('Error received:', exc)
    def connection_lost(self, exc):
        print("Connection closed")
        self.on_con_lost.set_result(True)
async def main():
    loop = asyncio.get_running_loop()
    on_con_lost = loop.create_future()
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: EchoClientProtocol("Hello World!", on_con_lost), remote_addr=('127.0.0.1', int(sys.argv[1])))
    try:
        await asyncio.wait_for(on_con_lost, 10)
    finally:
        transport.close()
asyncio.run(main())
"#;

/// The docs' "UDP Echo Server", port from argv.
const PY_UDP_SERVER: &str = r#"
import asyncio, sys
class EchoServerProtocol:
    def connection_made(self, transport):
        self.transport = transport
    def datagram_received(self, data, addr):
        message = data.decode()
        print('Received %r from %s' % (message, addr))
        print('Send %r to %s' % (message, addr), flush=True)
        self.transport.sendto(data, addr)
async def main():
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        EchoServerProtocol, local_addr=('127.0.0.1', int(sys.argv[1])))
    print("Starting UDP server", flush=True)
    try:
        await asyncio.sleep(30)
    finally:
        transport.close()
asyncio.run(main())
"#;

#[test]
fn udp_echo_server_with_udp_echo_client_and_a_cpython_client() {
    examples::exe("udp_echo_server");
    let port = free_udp_port().to_string();
    let mut server = example("udp_echo_server", &[&port]);
    server.wait_for_output("Starting UDP server\n");
    let mut client = example("udp_echo_client", &[&port]);
    assert_eq!(client.success(), UDP_CLIENT_OUTPUT);
    if have_python() {
        let mut py = Child::start({
            let mut c = Command::new("python3");
            c.args(["-c", PY_UDP_CLIENT, &port]);
            c
        });
        assert_eq!(py.success(), UDP_CLIENT_OUTPUT);
    }
    let out = stop(server);
    assert!(
        out.starts_with("Starting UDP server\nReceived 'Hello World!' from ('127.0.0.1', "),
        "{out}"
    );
    assert!(
        out.contains("Send 'Hello World!' to ('127.0.0.1', "),
        "{out}"
    );
}

#[test]
fn udp_echo_client_with_a_cpython_server() {
    if !have_python() {
        return;
    }
    examples::exe("udp_echo_client");
    let port = free_udp_port().to_string();
    let mut server = Child::start({
        let mut c = Command::new("python3");
        c.args(["-u", "-c", PY_UDP_SERVER, &port]);
        c
    });
    server.wait_for_output("Starting UDP server\n");
    let mut client = example("udp_echo_client", &[&port]);
    assert_eq!(client.success(), UDP_CLIENT_OUTPUT);
    server.wait_for_output("Send 'Hello World!'");
}

#[test]
fn unix_echo_server_with_unix_echo_client() {
    examples::exe("unix_echo_server");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("echo.sock");
    let p = path.to_str().expect("utf-8");
    let mut server = example("unix_echo_server", &[p]);
    server.wait_for_output(&format!("Serving on {p}\n"));
    let mut client = example("unix_echo_client", &[p]);
    assert_eq!(
        client.success(),
        "Data sent: 'Hello World!'\nData received: 'Hello World!'\nThe server closed the connection\n"
    );
    assert!(
        client.stderr().contains("server process: pid Some("),
        "{}",
        client.stderr()
    );
    server.wait_for_output("Close the client socket\n");
    assert!(path.exists());
    let out = stop(server);
    assert!(
        out.ends_with("Data received: 'Hello World!'\nClose the client socket\n"),
        "{out}"
    );
    assert!(
        !path.exists(),
        "the server removed its socket file on close"
    );
}

fn http_get(port: u16, target: &str) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(s, "GET {target} HTTP/1.0\r\nHost: x\r\n\r\n").expect("request");
    let mut got = Vec::new();
    s.read_to_end(&mut got).expect("response");
    got
}

#[test]
fn static_files_serves_a_file_with_sendfile() {
    examples::exe("static_files");
    let dir = tempfile::tempdir().expect("tempdir");
    let data: Vec<u8> = (0..3 * 1024 * 1024u32).map(|i| (i % 249) as u8).collect();
    std::fs::write(dir.path().join("blob.bin"), &data).expect("write");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let mut server = example(
        "static_files",
        &[&port.to_string(), dir.path().to_str().expect("utf-8")],
    );
    server.wait_for_output("Serving ");
    let got = http_get(port, "/blob.bin");
    let head = format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n", data.len());
    assert_eq!(&got[..head.len()], head.as_bytes());
    assert!(got[head.len()..] == data[..], "the body is the file");
    let missing = http_get(port, "/../etc/passwd");
    assert!(
        missing.starts_with(b"HTTP/1.0 404"),
        "{}",
        String::from_utf8_lossy(&missing)
    );
    server.wait_for_output("GET /../etc/passwd -> 404\n");
    let out = stop(server);
    assert!(
        out.contains(&format!("GET /blob.bin -> 200 ({} bytes)\n", data.len())),
        "{out}"
    );
}
