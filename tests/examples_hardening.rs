//! The examples as services someone will copy: each holds against the hostile
//! clients an outside audit used on it (issue 17). `static_files` neither
//! opens a FIFO nor follows a symlink out of its root and cuts slow request
//! heads; `supervised_service` refuses a line with no end. Ids refer to
//! docs/behavior.md (EX1–EX4); the socket methods `static_files` teaches
//! are
//! <https://docs.python.org/3/library/asyncio-eventloop.html#working-with-socket-objects-directly>.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::stat::Mode;
use nix::unistd::mkfifo;

use support::child::{rss_kib, Child};
use support::examples;

/// How long an answer a server should give at once may take (on a busy
/// machine); an old server that blocks never gives it.
const AT_ONCE: Duration = Duration::from_secs(3);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port()
}

/// `static_files` on a free port serving `root`, with a request-head timeout
/// of `head_timeout` seconds; returns once it says it serves.
fn static_files(root: &Path, head_timeout: &str) -> (Child, u16) {
    let port = free_port();
    let root = root.to_str().expect("utf-8 path");
    let mut server = Child::start(examples::command(
        "static_files",
        &[&port.to_string(), root, head_timeout],
    ));
    server.wait_for_output("Serving ");
    (server, port)
}

/// Sends `GET target` and returns the connection to read the answer from.
fn ask(port: u16, target: &str) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(s, "GET {target} HTTP/1.0\r\nHost: x\r\n\r\n").expect("request");
    s
}

/// The whole answer on `s`, which must come (and the server close) within
/// `AT_ONCE`.
fn answer(mut s: TcpStream, what: &str) -> String {
    let deadline = Instant::now() + AT_ONCE;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "no whole answer to {what} within {AT_ONCE:?}"
        );
        s.set_read_timeout(Some(left)).expect("timeout");
        match s.read(&mut buf) {
            Ok(0) => return String::from_utf8_lossy(&got).into_owned(),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => panic!("reading the answer to {what}: {e}"),
        }
    }
}

/// A root with `hello.txt` beside a directory `outside` holding `secret.txt`.
fn tree() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (root, outside) = (dir.path().join("root"), dir.path().join("outside"));
    std::fs::create_dir(&root).expect("root");
    std::fs::create_dir(&outside).expect("outside");
    std::fs::write(root.join("hello.txt"), "hello").expect("hello.txt");
    std::fs::write(outside.join("secret.txt"), "secret").expect("secret.txt");
    (dir, root, outside)
}

#[test]
fn ex1_static_files_answers_a_fifo_request_with_404_at_once_and_serves_others() {
    let (_dir, root, outside) = tree();
    mkfifo(&outside.join("fifo"), Mode::S_IRWXU).expect("a FIFO outside the root");
    mkfifo(&root.join("fifo"), Mode::S_IRWXU).expect("a FIFO inside the root");
    symlink(outside.join("fifo"), root.join("pipe")).expect("symlink");
    symlink("/dev/zero", root.join("zero")).expect("symlink");
    let (server, port) = static_files(&root, "10");
    // Nobody ever opens the FIFOs' other end: opening one would block.
    let fifos = ["/../outside/fifo", "/pipe", "/fifo", "/zero"];
    let asked: Vec<_> = fifos.iter().map(|t| (t, ask(port, t))).collect();
    let hello = answer(ask(port, "/hello.txt"), "/hello.txt");
    assert!(
        hello.starts_with("HTTP/1.0 200 OK\r\n") && hello.ends_with("\r\n\r\nhello"),
        "another client is served meanwhile: {hello:?}"
    );
    for (target, s) in asked {
        let got = answer(s, target);
        assert!(got.starts_with("HTTP/1.0 404"), "{target}: {got:?}");
    }
    drop(server);
}

#[test]
fn ex2_static_files_refuses_symlinks_out_of_its_root() {
    let (_dir, root, outside) = tree();
    symlink(outside.join("secret.txt"), root.join("leak")).expect("symlink to a file");
    symlink("../outside", root.join("up")).expect("symlink to a directory");
    symlink("/etc/hostname", root.join("hostname")).expect("symlink to /etc");
    symlink("hello.txt", root.join("alias")).expect("symlink inside");
    std::fs::create_dir(root.join("sub")).expect("sub");
    symlink("../hello.txt", root.join("sub/back")).expect("symlink inside, via ..");
    let (mut server, port) = static_files(&root, "10");
    for target in ["/leak", "/up/secret.txt", "/hostname"] {
        let got = answer(ask(port, target), target);
        assert!(got.starts_with("HTTP/1.0 404"), "{target}: {got:?}");
        server.wait_for_output(&format!("GET {target} -> 404\n"));
    }
    // Symlinks that stay inside the root are followed.
    for target in ["/alias", "/sub/back"] {
        let got = answer(ask(port, target), target);
        assert!(got.ends_with("\r\n\r\nhello"), "{target}: {got:?}");
    }
}

#[test]
fn ex3_static_files_cuts_a_request_head_that_does_not_come_in_time() {
    let (_dir, root, _outside) = tree();
    let (mut server, port) = static_files(&root, "1");
    let mut slow = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    slow.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let started = Instant::now();
    // One byte per 200 ms (the read timeout paces it), a head that never ends.
    let head = b"GET /hello.txt HTTP/1.0\r\nX: "
        .iter()
        .chain([b'a'].iter().cycle());
    let mut buf = [0u8; 256];
    for &byte in head {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "a head sent a byte per 200 ms is still read after 5 s"
        );
        if slow.write_all(&[byte]).is_err() {
            break;
        }
        match slow.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => panic!("an answer to half a head: {:?}", &buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break, // reset: closed too
        }
    }
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "cut after {took:?}, not about 1 s"
    );
    server.wait_for_output("no request within 1s: closed\n");
    // A head of 8 KiB without its blank line is refused, not parsed.
    let mut long = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let mut request = b"GET /hello.txt HTTP/1.0\r\nX: ".to_vec();
    request.resize(8192, b'a');
    long.write_all(&request).expect("a long head");
    let got = answer(long, "a head of 8 KiB");
    assert!(got.starts_with("HTTP/1.0 400"), "{got:?}");
}

#[test]
fn ex4_supervised_service_refuses_a_line_with_no_end_and_serves_others() {
    let port = free_port();
    let mut server = Child::start(examples::command(
        "supervised_service",
        &[&port.to_string()],
    ));
    server.wait_for_output("service on ");
    let (mut other, mut other_r) = line_client(port);
    other.write_all(b"a b\n").expect("write");
    assert_eq!(read_line(&mut other_r), "2 words (backend #1)\n");
    let (_, peak_before) = rss_kib(server.id());
    let started = Instant::now();
    let mut long = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let mut writer = long.try_clone().expect("clone");
    let flood = thread::spawn(move || {
        let chunk = vec![b'x'; 64 << 10];
        for _ in 0..32 {
            // 2 MiB and no newline; the server may close before it all went.
            if writer.write_all(&chunk).is_err() {
                break;
            }
        }
    });
    long.set_read_timeout(Some(AT_ONCE)).expect("timeout");
    let mut got = Vec::new();
    match long.read_to_end(&mut got) {
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        Err(e) => panic!("the long line's connection is not closed: {e} after {got:?}"),
    }
    let took = started.elapsed();
    let said = String::from_utf8_lossy(&got);
    assert!(
        said.is_empty() || said == "error: line longer than 1024 bytes\n",
        "{said:?}"
    );
    assert!(took < AT_ONCE, "closed after {took:?}");
    flood.join().expect("the flood");
    let (_, peak_after) = rss_kib(server.id());
    assert!(
        peak_after < peak_before + 1024,
        "peak RSS grew by {} KiB for a 2 MiB line",
        peak_after - peak_before
    );
    other.write_all(b"c d e\n").expect("write");
    assert_eq!(read_line(&mut other_r), "3 words (backend #1)\n");
}

fn line_client(port: u16) -> (TcpStream, std::io::BufReader<TcpStream>) {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(AT_ONCE)).expect("timeout");
    let r = std::io::BufReader::new(s.try_clone().expect("clone"));
    (s, r)
}

fn read_line(r: &mut std::io::BufReader<TcpStream>) -> String {
    let mut line = String::new();
    std::io::BufRead::read_line(r, &mut line).expect("a line in time");
    line
}
