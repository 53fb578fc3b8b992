//! Runs `examples/chat.rs`: two clients join the room, a line from one reaches
//! the other, and SIGTERM stops the server with status 0; a member that never
//! reads cannot grow the server (issue 7).
//!
//! See <https://docs.python.org/3/library/asyncio-protocol.html#examples>.
//!
//! The example is built once and its binary run directly
//! ([`support::examples`]); every wait is bounded.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdout, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use support::examples;

/// How long the server may take to print a line, or to exit after SIGTERM.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The server's stdout, read line by line in the background.
struct Lines(mpsc::Receiver<std::io::Result<String>>);

impl Lines {
    fn new(stdout: ChildStdout) -> Lines {
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Lines(rx)
    }

    /// The next line, waited for at most [`STEP_TIMEOUT`].
    fn next(&self, what: &str) -> String {
        self.0
            .recv_timeout(STEP_TIMEOUT)
            .unwrap_or_else(|e| panic!("no {what} within {STEP_TIMEOUT:?}: {e}"))
            .expect("utf-8")
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    l.local_addr().expect("local addr").port()
}

fn connect_with_deadline(port: u16, deadline: Instant) -> TcpStream {
    loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => return s,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::yield_now();
            }
            Err(e) => panic!("chat server never accepted on {port}: {e}"),
        }
    }
}

#[test]
fn chat_broadcasts_lines_to_other_members_and_stops_on_sigterm() {
    // Built first, so the port is not picked long before it is bound.
    examples::exe("chat");
    let port = free_port();
    let child = examples::command("chat", &[&port.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("the chat example starts");
    let mut server = Server(child);
    let lines = Lines::new(server.0.stdout.take().expect("piped stdout"));
    let first = lines.next("a first line");
    assert_eq!(first, format!("Chat room on 127.0.0.1:{port}"));

    let deadline = Instant::now() + Duration::from_secs(10);
    let mut alice = connect_with_deadline(port, deadline);
    assert!(lines.next("join line").ends_with("joined (1 in the room)"));
    let mut bob = connect_with_deadline(port, deadline);
    assert!(lines.next("join line").ends_with("joined (2 in the room)"));

    alice.write_all(b"hello room\r\n").expect("alice writes");
    bob.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\n") {
        let n = bob.read(&mut byte).expect("bob reads");
        assert_eq!(n, 1, "bob's connection closed early");
        got.push(byte[0]);
    }
    let got = String::from_utf8(got).expect("utf-8");
    assert!(got.ends_with(": hello room\n"), "bob got {got:?}");
    assert!(lines.next("say line").ends_with("says \"hello room\""));

    let pid = nix::unistd::Pid::from_raw(server.0.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
    let deadline = Instant::now() + STEP_TIMEOUT;
    let status = loop {
        if let Some(status) = server.0.try_wait().expect("wait for chat") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "chat did not exit within {STEP_TIMEOUT:?} of SIGTERM"
        );
        thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "chat exited with {status}");
    // Both members were closed by the server on the way out.
    let mut rest = Vec::new();
    let _ = alice.read_to_end(&mut rest);
}

/// The peak resident size of process `pid`, in KiB.
fn peak_rss_kib(pid: u32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmHWM")
}

#[test]
fn issue_7_chat_the_slowest_member_cannot_grow_the_server() {
    const LINE: usize = 64 * 1024;
    const LINES: usize = 640; // 40 MiB for the member that never reads
    const BOUND_KIB: usize = 16 * 1024;
    examples::exe("chat");
    let port = free_port();
    let child = examples::command("chat", &[&port.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("the chat example starts");
    let mut server = Server(child);
    let pid = server.0.id();
    let lines = Lines::new(server.0.stdout.take().expect("piped stdout"));
    lines.next("a first line");
    let deadline = Instant::now() + Duration::from_secs(10);
    // Bob does not read (until the end).
    let bob = connect_with_deadline(port, deadline);
    assert!(lines.next("join line").ends_with("joined (1 in the room)"));
    let mut alice = connect_with_deadline(port, deadline);
    assert!(lines.next("join line").ends_with("joined (2 in the room)"));
    let before = peak_rss_kib(pid);
    let mut line = vec![b'x'; LINE - 1];
    line.push(b'\n');
    // One line at a time, each one through the room before the next: what
    // the server holds then is what it keeps for bob, not a backlog of
    // alice's lines.
    for _ in 0..LINES {
        alice.write_all(&line).expect("alice writes");
        assert!(lines.next("say line").contains(" says "));
    }
    let grew = peak_rss_kib(pid).saturating_sub(before);
    assert!(
        grew < BOUND_KIB,
        "the server grew by {grew} KiB for a member that does not read"
    );
    // Bob is still a member. Once he reads, he is told what he missed.
    let mut bob = bob;
    bob.set_read_timeout(Some(STEP_TIMEOUT)).expect("timeout");
    let mut got = Vec::new();
    // Large reads: each one opens the window wide, so the kernel tells the
    // server at once (64 KiB reads wait for delayed window updates).
    let mut buf = vec![0u8; 4 * 1024 * 1024];
    let notice = b"lines skipped while you were not reading\n";
    while !got.windows(notice.len()).any(|w| w == notice) {
        let n = bob.read(&mut buf).expect("bob reads");
        assert!(n > 0, "bob's connection closed early");
        got.extend_from_slice(&buf[..n]);
        assert!(
            got.len() < LINE * LINES,
            "more than the server held for bob"
        );
    }
    // He leaves, and SIGTERM stops the room.
    drop(bob);
    assert!(lines.next("leave line").contains(" left (1 in the room)"));
    let pid = nix::unistd::Pid::from_raw(pid as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
    let deadline = Instant::now() + STEP_TIMEOUT;
    let status = loop {
        if let Some(status) = server.0.try_wait().expect("wait for chat") {
            break status;
        }
        assert!(Instant::now() < deadline, "chat did not exit after SIGTERM");
        thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "chat exited with {status}");
    drop(alice);
}
