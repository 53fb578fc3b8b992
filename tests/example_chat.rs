//! Runs `examples/chat.rs`: two clients join the room, a line from one reaches
//! the other, and SIGTERM stops the server with status 0; a member that never
//! reads cannot grow the server (issue 7), and neither can members that write
//! as fast as they can (issue 16).
//!
//! See <https://docs.python.org/3/library/asyncio-protocol.html#examples>.
//!
//! The example is built once and its binary run directly
//! ([`support::examples`]); every wait is bounded.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdout, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use support::child::{exit_within, peak_rss_kib};
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
    let status = exit_within(&mut server.0, STEP_TIMEOUT, "chat after SIGTERM");
    assert!(status.success(), "chat exited with {status}");
    // Both members were closed by the server on the way out.
    let mut rest = Vec::new();
    let _ = alice.read_to_end(&mut rest);
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
    let status = exit_within(&mut server.0, STEP_TIMEOUT, "chat after SIGTERM");
    assert!(status.success(), "chat exited with {status}");
    drop(alice);
}

/// The server's stdout, read in the background: joins and leaves are passed
/// on, lines said only counted (a flood prints more than a test should hold).
struct Tally {
    first: mpsc::Receiver<String>,
    /// `true` for a join, `false` for a leave.
    events: mpsc::Receiver<bool>,
    said: Arc<AtomicUsize>,
    joined: usize,
    left: usize,
}

impl Tally {
    fn new(stdout: ChildStdout) -> Tally {
        let (first_tx, first) = mpsc::channel();
        let (events_tx, events) = mpsc::channel();
        let said = Arc::new(AtomicUsize::new(0));
        let s = said.clone();
        thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = first_tx.send(line);
            }
            for line in lines.map_while(Result::ok) {
                if line.contains(" says ") {
                    s.fetch_add(1, Ordering::SeqCst);
                } else if line.contains(" joined (") {
                    let _ = events_tx.send(true);
                } else if line.contains(" left (") {
                    let _ = events_tx.send(false);
                }
            }
        });
        Tally {
            first,
            events,
            said,
            joined: 0,
            left: 0,
        }
    }

    /// Waits until the server has printed `joined` joins and `left` leaves
    /// in all, failing at `deadline`.
    fn wait_for(&mut self, joined: usize, left: usize, deadline: Instant) {
        while self.joined < joined || self.left < left {
            let wait = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(wait) {
                Ok(true) => self.joined += 1,
                Ok(false) => self.left += 1,
                Err(e) => panic!(
                    "{} of {joined} joins and {} of {left} leaves by the deadline: {e}",
                    self.joined, self.left
                ),
            }
        }
    }
}

/// Issue 16, item 8 (MB2): four members write lines as fast as they can for
/// three seconds while five others never read. The room's mailbox is
/// bounded and each connection forwards to it, so the flooders are paused
/// (TCP slows them down) instead of the server queueing their lines: its
/// peak resident size grows by less than 32 MiB (with an unbounded room it
/// grew by 150-260 MiB in the same three seconds), and it still lets
/// everyone leave and stops on SIGTERM.
#[test]
fn issue_16_8_mb2_chat_flooding_members_are_paused_not_queued() {
    const FLOODERS: usize = 4;
    const SILENT: usize = 5;
    const FLOOD: Duration = Duration::from_secs(3);
    const FLOOD_BOUND_KIB: usize = 32 * 1024;
    examples::exe("chat");
    let port = free_port();
    let child = examples::command("chat", &[&port.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("the chat example starts");
    let mut server = Server(child);
    let pid = server.0.id();
    let mut tally = Tally::new(server.0.stdout.take().expect("piped stdout"));
    tally
        .first
        .recv_timeout(STEP_TIMEOUT)
        .expect("the server's first line");
    let deadline = Instant::now() + STEP_TIMEOUT;
    let silent: Vec<TcpStream> = (0..SILENT)
        .map(|_| connect_with_deadline(port, deadline))
        .collect();
    let flooders: Vec<TcpStream> = (0..FLOODERS)
        .map(|_| connect_with_deadline(port, deadline))
        .collect();
    tally.wait_for(SILENT + FLOODERS, 0, deadline);
    let before = peak_rss_kib(pid);

    let started = Instant::now();
    let floods: Vec<_> = flooders
        .into_iter()
        .enumerate()
        .map(|(k, mut s)| {
            thread::spawn(move || {
                // 2000 short lines (36 KB) per write; a write that cannot
                // finish within 100 ms (the server paused this connection)
                // is retried until the flood is over.
                let mut chunk = Vec::new();
                for i in 0..2000 {
                    chunk.extend_from_slice(format!("flood {k} line {i}\n").as_bytes());
                }
                s.set_write_timeout(Some(Duration::from_millis(100)))
                    .expect("timeout");
                let mut sent = 0usize;
                while started.elapsed() < FLOOD {
                    match s.write(&chunk) {
                        Ok(n) => sent += n,
                        Err(e)
                            if matches!(
                                e.kind(),
                                std::io::ErrorKind::WouldBlock
                                    | std::io::ErrorKind::TimedOut
                                    | std::io::ErrorKind::Interrupted
                            ) => {}
                        Err(e) => panic!("flooder {k}: {e}"),
                    }
                }
                (sent, s)
            })
        })
        .collect();
    let flooders: Vec<(usize, TcpStream)> = floods
        .into_iter()
        .map(|f| f.join().expect("a flooder panicked"))
        .collect();
    let peak = peak_rss_kib(pid);
    let sent: usize = flooders.iter().map(|(n, _)| n).sum();
    let grew = peak.saturating_sub(before);
    eprintln!(
        "chat flood: {} MB sent, {} lines said, peak RSS {peak} KiB ({before} KiB before)",
        sent / 1_000_000,
        tally.said.load(Ordering::SeqCst)
    );
    assert!(tally.said.load(Ordering::SeqCst) > 0, "no line got through");
    assert!(
        grew < FLOOD_BOUND_KIB,
        "the server grew by {grew} KiB while {FLOODERS} members flooded it with {sent} bytes"
    );

    // Everyone leaves, and SIGTERM stops the room. The flooders reset their
    // connections, as a client that gives up does: what their kernels still
    // buffer is dropped rather than read and said after the test.
    for (_, s) in &flooders {
        socket2::SockRef::from(s)
            .set_linger(Some(Duration::ZERO))
            .expect("SO_LINGER");
    }
    drop(flooders);
    drop(silent);
    let deadline = Instant::now() + STEP_TIMEOUT;
    tally.wait_for(SILENT + FLOODERS, SILENT + FLOODERS, deadline);
    let pid = nix::unistd::Pid::from_raw(pid as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
    let left = deadline.saturating_duration_since(Instant::now());
    let status = exit_within(&mut server.0, left, "chat after SIGTERM");
    assert!(status.success(), "chat exited with {status}");
}
