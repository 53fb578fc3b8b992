//! TLS interoperation over loopback with OpenSSL and CPython's `ssl`:
//! `openssl s_client` and an asyncio client against a switchboard TLS
//! server, a switchboard TLS client against `openssl s_server` and an asyncio
//! TLS server. Skipped (with a note) when `openssl` or `python3` is missing.
//! <https://docs.python.org/3/library/asyncio-eventloop.html#opening-network-connections>

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use switchboard::testing::{EventLog, Recorded, RecordingProtocol};
use switchboard::NoMessage;

use support::net::until;
use support::tls::{client_config, pki, tls_echo_server};
use support::tools::have;
use support::{new_loop, run_with_deadline};

/// The test PKI as files: (dir, ca, chain, key).
fn pki_files() -> (tempfile::TempDir, PathBuf, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = pki();
    let ca = dir.path().join("ca.pem");
    let chain = dir.path().join("chain.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&ca, &p.ca_pem).expect("write");
    std::fs::write(&chain, &p.chain_pem).expect("write");
    std::fs::write(&key, &p.key_pem).expect("write");
    (dir, ca, chain, key)
}

#[test]
fn openssl_s_client_against_a_switchboard_tls_server() {
    if !have("openssl", &["version"]) {
        return;
    }
    let (_dir, ca, _, _) = pki_files();
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let slog = EventLog::new();
    let sl = slog.clone();
    let (server, port) = run_with_deadline(&lp, async move { tls_echo_server(&l, &sl).await });
    let mut child = Command::new("openssl")
        .args(["s_client", "-quiet", "-no_ign_eof", "-verify_return_error"])
        .args(["-connect", &format!("127.0.0.1:{port}")])
        .args(["-servername", "localhost", "-verify_hostname", "localhost"])
        .arg("-CAfile")
        .arg(&ca)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn openssl");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(b"hello from openssl\n").expect("write");
    let l = lp.clone();
    let sl = slog.clone();
    run_with_deadline(&lp, async move {
        until(&l, || &sl.data()[..] == b"hello from openssl\n").await;
    });
    // EOF on stdin: s_client sends close_notify and leaves.
    drop(stdin);
    let l = lp.clone();
    let sl = slog.clone();
    run_with_deadline(&lp, async move {
        until(&l, || sl.lost_count() == 1).await;
        server.close();
    });
    let out = child.wait_with_output().expect("openssl output");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hello from openssl\n",
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = slog.snapshot();
    assert!(
        s.contains(&Recorded::Eof),
        "close_notify is EofReceived: {s:?}"
    );
    assert_eq!(s.last(), Some(&Recorded::Lost(None)));
}

#[test]
fn switchboard_tls_client_against_openssl_s_server() {
    if !have("openssl", &["version"]) {
        return;
    }
    let (_dir, _, chain, key) = pki_files();
    // Port 0 is not allowed by s_server: pick a free one and hand it over.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let mut child = Command::new("openssl")
        .args(["s_server", "-rev", "-naccept", "1"])
        .args(["-accept", &format!("127.0.0.1:{port}")])
        .arg("-cert")
        .arg(&chain)
        .arg("-key")
        .arg(&key)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn openssl");
    // s_server prints ACCEPT once it listens.
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    while !line.starts_with("ACCEPT") {
        line.clear();
        if out.read_line(&mut line).expect("read") == 0 {
            panic!("openssl s_server ended before listening");
        }
    }
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let client = RecordingProtocol::new();
        let clog = client.log();
        let conn = l
            .create_connection::<_, NoMessage>(move || client)
            .host("127.0.0.1")
            .port(port)
            .ssl(client_config())
            .server_hostname("localhost")
            .await
            .expect("tls connect to s_server");
        assert!(conn.transport.tls().is_some());
        // -rev answers each line reversed.
        conn.transport.write(b"switchboard\n").unwrap();
        until(&l, || clog.data().ends_with(b"draobhctiws\n")).await;
        conn.transport.close();
        until(&l, || clog.lost_count() == 1).await;
    });
    let mut rest = Vec::new();
    let _ = out.read_to_end(&mut rest);
    let _ = child.kill();
    let _ = child.wait();
}

const PY_CLIENT: &str = r#"
import asyncio, ssl, sys

async def main(port, cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname="localhost")
    msg = b"ping " * 20000
    writer.write(msg)
    await writer.drain()
    got = await reader.readexactly(len(msg))
    assert got == msg
    obj = writer.get_extra_info("ssl_object")
    print("OK", len(got), obj.version(), flush=True)
    writer.close()
    await writer.wait_closed()

asyncio.run(asyncio.wait_for(main(int(sys.argv[1]), sys.argv[2]), 10))
"#;

#[test]
fn asyncio_ssl_client_against_a_switchboard_tls_server() {
    if !have("python3", &["--version"]) {
        return;
    }
    let (_dir, ca, _, _) = pki_files();
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let slog = EventLog::new();
    let sl = slog.clone();
    let (server, port) = run_with_deadline(&lp, async move { tls_echo_server(&l, &sl).await });
    let child = Command::new("python3")
        .args(["-c", PY_CLIENT, &port.to_string()])
        .arg(&ca)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn python3");
    let l = lp.clone();
    let sl = slog.clone();
    run_with_deadline(&lp, async move {
        until(&l, || sl.lost_count() == 1).await;
        server.close();
    });
    let out = child.wait_with_output().expect("python3 output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.trim(), "OK 100000 TLSv1.3");
    assert_eq!(slog.data().len(), 100_000);
    assert_eq!(slog.snapshot().last(), Some(&Recorded::Lost(None)));
}

const PY_SERVER: &str = r#"
import asyncio, ssl, sys

async def main(chain, key):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(chain, key)
    done = asyncio.get_running_loop().create_future()
    async def handle(reader, writer):
        data = await reader.read(1 << 20)
        while not data.endswith(b"\n"):
            data += await reader.read(1 << 20)
        writer.write(data.upper())
        await writer.drain()
        rest = await reader.read()  # our close_notify: EOF
        writer.close()
        done.set_result(len(rest))
    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ctx)
    print(server.sockets[0].getsockname()[1], flush=True)
    print("DONE", await asyncio.wait_for(done, 10), flush=True)

asyncio.run(main(sys.argv[1], sys.argv[2]))
"#;

#[test]
fn switchboard_tls_client_against_an_asyncio_ssl_server() {
    if !have("python3", &["--version"]) {
        return;
    }
    let (_dir, _, chain, key) = pki_files();
    let mut child = Command::new("python3")
        .args(["-c", PY_SERVER])
        .arg(&chain)
        .arg(&key)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn python3");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    out.read_line(&mut line).expect("port");
    let port: u16 = line.trim().parse().expect("a port");
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let client = RecordingProtocol::new();
        let clog = client.log();
        let conn = l
            .create_connection::<_, NoMessage>(move || client)
            .host("127.0.0.1")
            .port(port)
            .ssl(client_config())
            .server_hostname("localhost")
            .await
            .expect("tls connect to asyncio");
        conn.transport.write(b"shout this\n").unwrap();
        until(&l, || &clog.data()[..] == b"SHOUT THIS\n").await;
        conn.transport.close();
        until(&l, || clog.lost_count() == 1).await;
        assert_eq!(clog.snapshot().last(), Some(&Recorded::Lost(None)));
    });
    let mut rest = String::new();
    out.read_to_string(&mut rest).expect("rest");
    let status = child.wait().expect("wait");
    assert!(status.success());
    assert_eq!(rest.trim(), "DONE 0");
}
