//! Runs the TLS examples the way a user would: `tls_echo_server` on a free
//! port with a certificate made at start, driven by `tls_echo_client` (which
//! trusts the certificate the server wrote), and by CPython's asyncio with
//! `ssl` when `python3` is installed, then stopped with SIGTERM (exit 0);
//! `starttls` runs to its end.
//! <https://docs.python.org/3/library/asyncio-protocol.html#examples>

mod support;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use support::examples;

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Starts `tls_echo_server` on a free port with its certificate files in
/// `dir` (made with the test PKI); waits until it serves.
fn start_server(
    dir: &std::path::Path,
) -> (
    std::process::Child,
    BufReader<std::process::ChildStdout>,
    u16,
) {
    let pki = support::tls::pki();
    let (cert, key) = (dir.join("chain.pem"), dir.join("key.pem"));
    std::fs::write(&cert, &pki.chain_pem).expect("write");
    std::fs::write(&key, &pki.key_pem).expect("write");
    let port = free_port();
    let mut child = examples::command(
        "tls_echo_server",
        &[
            &port.to_string(),
            cert.to_str().expect("utf-8"),
            key.to_str().expect("utf-8"),
        ],
    )
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .expect("start tls_echo_server");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    out.read_line(&mut line).expect("banner");
    assert_eq!(line.trim(), format!("Serving on 127.0.0.1:{port}"));
    (child, out, port)
}

fn stop(mut child: std::process::Child, mut out: BufReader<std::process::ChildStdout>) -> String {
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).expect("SIGTERM");
    let mut rest = String::new();
    out.read_to_string(&mut rest).expect("stdout");
    let status = child.wait().expect("wait");
    assert!(status.success(), "tls_echo_server exited with {status}");
    rest
}

#[test]
fn tls_echo_server_with_tls_echo_client() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, out, port) = start_server(dir.path());
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &support::tls::pki().ca_pem).expect("write");
    let client = examples::run(
        examples::command(
            "tls_echo_client",
            &[&port.to_string(), ca.to_str().expect("utf-8")],
        ),
        Duration::from_secs(30),
    );
    assert_eq!(
        client,
        "Data sent: 'Hello World!'\nData received: 'Hello World!'\nThe server closed the connection\n"
    );
    let rest = stop(server, out);
    let lines: Vec<&str> = rest.lines().collect();
    assert!(
        lines[0].starts_with("Connection from ('127.0.0.1', "),
        "{rest}"
    );
    assert!(lines[0].contains(") over TLSv1.3 (TLS13_"), "{rest}");
    assert_eq!(
        &lines[1..],
        [
            "Data received: 'Hello World!'",
            "Send: 'Hello World!'",
            "Close the client socket"
        ]
    );
}

const PY_CLIENT: &str = r#"
import asyncio, ssl, sys

async def main(port, cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname="localhost")
    writer.write(b"Hello World!")
    print("Received:", (await reader.read()).decode(), flush=True)
    writer.close()

asyncio.run(asyncio.wait_for(main(int(sys.argv[1]), sys.argv[2]), 10))
"#;

/// A TLS client that completes its handshake, says it is up, and then
/// neither reads nor closes (it will never answer a close_notify).
const PY_STALLED: &str = r#"
import asyncio, ssl, sys

async def main(port, cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname="localhost")
    print("up", flush=True)
    await asyncio.sleep(60)

asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
"#;

#[test]
fn tls_echo_server_stops_on_sigterm_with_stalled_clients_attached() {
    // One client stopped half-way through its handshake (it sent nothing),
    // one that finished it and will never answer close_notify: SIGTERM ends
    // the server all the same, well within the deadline.
    let python = support::tools::have_python();
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut server, out, port) = start_server(dir.path());
    let half = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let mut stalled = None;
    if python {
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, &support::tls::pki().ca_pem).expect("write");
        let mut py = Command::new("python3")
            .args([
                "-c",
                PY_STALLED,
                &port.to_string(),
                ca.to_str().expect("utf-8"),
            ])
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 starts");
        let mut up = String::new();
        BufReader::new(py.stdout.take().expect("stdout"))
            .read_line(&mut up)
            .expect("its line");
        assert_eq!(up.trim(), "up");
        stalled = Some(py);
    } else {
        eprintln!("note: python3 not found; only the half-finished handshake is attached");
    }
    let started = std::time::Instant::now();
    // A watchdog, so a server that does not stop fails the test instead of
    // hanging it.
    let pid = server.id();
    let (done, watched) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if watched.recv_timeout(Duration::from_secs(20)).is_err() {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
    });
    kill(Pid::from_raw(pid as i32), Signal::SIGTERM).expect("SIGTERM");
    let status = server.wait().expect("wait");
    let _ = done.send(());
    watchdog.join().expect("watchdog");
    let took = started.elapsed();
    assert!(status.success(), "tls_echo_server exited with {status}");
    assert!(took < Duration::from_secs(10), "it took {took:?} to stop");
    drop((half, out));
    if let Some(mut py) = stalled {
        let _ = py.kill();
        let _ = py.wait();
    }
}

#[test]
fn tls_echo_server_with_cpython_ssl_client() {
    if !support::tools::have_python() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, out, port) = start_server(dir.path());
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &support::tls::pki().ca_pem).expect("write");
    let mut py = Command::new("python3");
    py.args([
        "-c",
        PY_CLIENT,
        &port.to_string(),
        ca.to_str().expect("utf-8"),
    ]);
    let got = examples::run(py, Duration::from_secs(30));
    assert_eq!(got, "Received: Hello World!\n");
    let rest = stop(server, out);
    assert!(rest.contains("Data received: 'Hello World!'"), "{rest}");
}

#[test]
fn starttls_upgrades_mid_connection() {
    let out = examples::run_example("starttls", &[]);
    assert_eq!(
        out,
        "server: got STARTTLS, answering OK and upgrading\n\
         client: got OK, upgrading\n\
         client: TLS is up: TLSv1.3\n\
         server: got 'hello' over TLSv1.3\n\
         client: got 'HELLO'\n"
    );
}
