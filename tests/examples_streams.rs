//! The streams and high-level subprocess examples, run as a user runs them:
//! the asyncio docs' streams examples
//! (<https://docs.python.org/3/library/asyncio-stream.html#examples>) and
//! subprocess examples
//! (<https://docs.python.org/3/library/asyncio-subprocess.html#examples>).
//! The CPython side of the stream examples is in `streams_interop.rs`.
//!
//! Ids refer to docs/behavior.md (HS10).

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;

use switchboard::{Stdio, TlsServerConfig};

use support::child::STEP;
use support::examples::{exe, run_example};
use support::stream_echo::{start_echo_server, stop_echo_server};
use support::{new_loop, run_with_deadline};

/// Connects, sends `line` and reads the echo (with a read timeout).
fn talk(port: u16, line: &str) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(STEP)).expect("timeout");
    s.write_all(line.as_bytes()).expect("send");
    let mut got = vec![0; line.len()];
    s.read_exact(&mut got).expect("the echo");
    assert_eq!(got, line.as_bytes());
    s
}

#[test]
fn hs10_stream_echo_server_with_stream_echo_client() {
    let (mut server, port) = start_echo_server();
    let out = run_example("stream_echo_client", &[&port.to_string()]);
    assert_eq!(
        out,
        "Send: 'Hello World!'\nReceived: 'Hello World!'\nClose the connection\n"
    );
    server.wait_for_output("Close the connection");
    let out = stop_echo_server(server);
    assert!(
        out.contains("Received 'Hello World!' from ('127.0.0.1', "),
        "{out}"
    );
    assert!(
        out.contains("Send: 'Hello World!'\nClose the connection\n"),
        "{out}"
    );
    assert!(
        out.contains("Stopped: 0 finished, 0 closed, 0 aborted"),
        "{out}"
    );
}

#[test]
fn hs10_stream_echo_server_stops_on_sigterm_within_its_deadline_with_idle_clients() {
    let (server, port) = start_echo_server();
    // One client that spoke once and then went quiet (so it was surely
    // accepted), one that never says anything.
    let mut quiet = talk(port, "once\n");
    let _silent = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let out = stop_echo_server(server);
    assert!(out.contains("Stopped: 0 finished"), "{out}");
    // The quiet client was closed, not left hanging: it reads EOF.
    let mut rest = Vec::new();
    quiet.read_to_end(&mut rest).expect("EOF, not an error");
    assert!(rest.is_empty(), "{rest:?}");
}

#[test]
fn hs10_stream_echo_server_closes_a_connection_whose_line_is_over_the_limit() {
    let (mut server, port) = start_echo_server();
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(STEP)).expect("timeout");
    s.write_all(&[b'x'; 4096]).expect("send");
    let mut got = Vec::new();
    s.read_to_end(&mut got).expect("EOF");
    assert!(got.is_empty(), "nothing echoed: {} bytes", got.len());
    server.wait_for_output("sent a line longer than 1024 bytes");
    // The server goes on serving others.
    drop(talk(port, "after\n"));
    stop_echo_server(server);
}

#[test]
fn hs10_get_http_headers_over_tls_trusting_a_ca_file() {
    let exe = exe("get_http_headers");
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("ca.pem");
    let (lp, h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let config = TlsServerConfig::self_signed(["localhost", "127.0.0.1"]).unwrap();
        std::fs::write(&ca, config.certificate_pem().unwrap()).unwrap();
        let server = l
            .start_server(|mut r, mut w| async move {
                let request = r.readuntil(b"\r\n\r\n").await?;
                assert!(request.starts_with(b"HEAD /index.html HTTP/1.0\r\nHost: "));
                w.write(b"HTTP/1.0 200 OK\r\nServer: test\r\nContent-Length: 5\r\n\r\nhello");
                w.close();
                Ok::<(), switchboard::Error>(())
            })
            .host("127.0.0.1")
            .port(0)
            .ssl(config)
            .await
            .unwrap();
        let port = server.sockets()[0].port();
        for host in ["localhost", "127.0.0.1"] {
            let url = format!("https://{host}:{port}/index.html");
            let mut trusted = l
                .create_subprocess_exec(exe, [url.as_str(), "--cafile"])
                .arg(&ca)
                .stdout(Stdio::Pipe)
                .stderr(Stdio::Pipe)
                .await
                .unwrap();
            let (out, err) = trusted.communicate(None).await.unwrap();
            let (out, err) = (String::from_utf8_lossy(&out), String::from_utf8_lossy(&err));
            assert_eq!(trusted.returncode(), Some(0), "{url}: {err}");
            assert_eq!(
                out,
                "HTTP header> HTTP/1.0 200 OK\nHTTP header> Server: test\n\
                 HTTP header> Content-Length: 5\n"
            );
        }
        // Without the CA file the self-signed certificate is refused.
        let url = format!("https://127.0.0.1:{port}/");
        let mut untrusted = l
            .create_subprocess_exec(exe, [url.as_str()])
            .env_remove("SSL_CERT_FILE")
            .stdout(Stdio::Pipe)
            .stderr(Stdio::Pipe)
            .await
            .unwrap();
        let (out, err) = untrusted.communicate(None).await.unwrap();
        assert_ne!(untrusted.returncode(), Some(0));
        assert!(out.is_empty(), "{out:?}");
        let err = String::from_utf8_lossy(&err);
        assert!(err.to_lowercase().contains("certificate"), "{err}");
        server.close();
    });
    // The server saw the refused handshake too, as asyncio reports it.
    let seen = h.take_one();
    assert_eq!(seen.message, "SSL handshake failed", "{seen:?}");
}

#[test]
fn hs10_stream_open_socket() {
    assert_eq!(run_example("stream_open_socket", &[]), "Received: abc\n");
}

#[test]
fn hs10_process_date() {
    let out = run_example("process_date", &[]);
    let date = out
        .strip_prefix("Current date: ")
        .unwrap_or_else(|| panic!("{out:?}"));
    assert!(date.trim().len() > 10, "{out:?}");
    assert_eq!(out.lines().count(), 1, "{out:?}");
}

#[test]
fn hs10_communicate() {
    let out = run_example("communicate", &[]);
    assert_eq!(
        out,
        "[\"echo out; echo err >&2; exit 3\" exited with 3]\n[stdout]\nout\n[stderr]\nerr\n\
         [sort] 1048576 bytes back, first line 000000000000000\n\
         [no-such-program] cannot spawn no-such-program: No such file or directory (os error 2)\n"
    );
}

#[test]
fn hs10_communicate_fits_in_35_lines() {
    let src = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/communicate.rs"
    ))
    .expect("the source");
    let program: Vec<&str> = src
        .lines()
        .skip_while(|l| l.starts_with("//!") || l.is_empty())
        .collect();
    assert!(program.len() <= 35, "{} lines", program.len());
}
