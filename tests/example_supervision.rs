//! Runs the supervision examples the way a user would: `supervised_workers`
//! to its end, and the `graceful_shutdown` and `supervised_service` servers
//! on free ports, driven by clients and stopped with SIGTERM (exit 0).
//! Drain semantics extend asyncio's server objects,
//! <https://docs.python.org/3/library/asyncio-eventloop.html#server-objects>.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use support::examples::{command, run_example};

const STEP: Duration = Duration::from_secs(30);

/// A running example whose stdout is collected in the background; killed
/// on drop if still running.
struct Server {
    child: Child,
    out: Arc<Mutex<String>>,
    /// Collects stdout until EOF (the example's exit).
    reader: Option<thread::JoinHandle<()>>,
}

impl Server {
    fn start(name: &str, args: &[&str]) -> Server {
        let mut child = command(name, args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .stdin(Stdio::null())
            .spawn()
            .expect("start the example");
        let mut pipe = child.stdout.take().expect("piped");
        let out = Arc::new(Mutex::new(String::new()));
        let sink = out.clone();
        let reader = thread::spawn(move || {
            let mut buf = [0u8; 1024];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let s = Server {
            child,
            out,
            reader: Some(reader),
        };
        s.wait_for("pid ");
        s
    }

    fn out(&self) -> String {
        self.out.lock().unwrap().clone()
    }

    fn wait_for(&self, text: &str) {
        let end = Instant::now() + STEP;
        while !self.out().contains(text) {
            assert!(Instant::now() < end, "no {text:?} in:\n{}", self.out());
            thread::sleep(Duration::from_millis(10));
        }
    }

    fn term(&self) {
        let pid = Pid::from_raw(self.child.id() as i32);
        kill(pid, Signal::SIGTERM).expect("signal");
    }

    fn exit(&mut self) -> String {
        let end = Instant::now() + STEP;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                // Everything it printed: its stdout is at EOF now.
                if let Some(reader) = self.reader.take() {
                    reader.join().expect("the stdout reader");
                }
                assert!(status.success(), "{status}:\n{}", self.out());
                return self.out();
            }
            assert!(Instant::now() < end, "no exit:\n{}", self.out());
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.child.kill().ok();
            self.child.wait().ok();
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port()
}

fn line(r: &mut BufReader<TcpStream>) -> String {
    let mut s = String::new();
    r.read_line(&mut s).expect("a line");
    s
}

fn connect(port: u16) -> (TcpStream, BufReader<TcpStream>) {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(STEP)).ok();
    let r = BufReader::new(s.try_clone().expect("clone"));
    (s, r)
}

/// Waits until connecting to `port` is refused (the listener is closed).
fn wait_refused(port: u16) {
    let end = Instant::now() + STEP;
    while TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(Instant::now() < end, "port {port} still accepts");
        thread::sleep(Duration::from_millis(5));
    }
}

/// The counts of the example's last line,
/// `drained: F finished cleanly, C closed, A aborted`.
fn counts(out: &str) -> (usize, usize, usize) {
    let last = out.lines().last().expect("output");
    let n: Vec<usize> = last
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    assert!(last.starts_with("drained: ") && n.len() == 3, "{out}");
    (n[0], n[1], n[2])
}

#[test]
fn supervised_workers_restarts_a_crashed_worker_then_gives_up() {
    let out = run_example("supervised_workers", &[]);
    let want = "worker #1 started\n\
        100 / 4 = 25\n\
        crash: attempt to divide by zero\n\
        100 / 0: no answer (the actor dropped the question without answering)\n\
        worker #2 started\n\
        100 / 5 = 20\n\
        crash: attempt to divide by zero\n\
        100 / 0: no answer (the actor dropped the question without answering)\n\
        worker #3 started\n\
        100 / 20 = 5, the worker still serves\n\
        crash: attempt to divide by zero\n\
        worker #4 started\n\
        crash: attempt to divide by zero\n\
        gave up: supervisor workers gave up: more than 3 restarts within 1s\n";
    assert_eq!(out, want);
}

#[test]
fn dr1_graceful_shutdown_drains_on_sigterm_and_counts_each_ending() {
    let port = free_port();
    let p = port.to_string();
    let mut server = Server::start("graceful_shutdown", &[&p, "0.5"]);
    // Mid-conversation: a client that goes on talking during the drain…
    let (mut talker, mut talker_r) = connect(port);
    talker.write_all(b"one\n").expect("write");
    assert_eq!(line(&mut talker_r), "one\n");
    // …an idle one, closed at the deadline…
    let (mut idle, mut idle_r) = connect(port);
    idle.write_all(b"idle\n").expect("write");
    assert_eq!(line(&mut idle_r), "idle\n");
    // …and one that never reads what it is sent back: aborted.
    let (mut stuck, mut stuck_r) = connect(port);
    stuck.write_all(b"stuck\n").expect("write");
    assert_eq!(line(&mut stuck_r), "stuck\n");
    let written = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let w = written.clone();
    let flood = thread::spawn(move || {
        let chunk = vec![b'x'; 64 << 10];
        for _ in 0..1024 {
            if stuck.write_all(&chunk).is_err() {
                break;
            }
            w.fetch_add(chunk.len(), std::sync::atomic::Ordering::SeqCst);
        }
    });
    // The flood is under way; by the deadline (0.5 s) it has filled the
    // socket buffers, so the server's echo of it cannot drain.
    let end = Instant::now() + STEP;
    while written.load(std::sync::atomic::Ordering::SeqCst) < 1 << 20 {
        assert!(Instant::now() < end, "the flood does not start");
        thread::sleep(Duration::from_millis(1));
    }
    server.term();
    wait_refused(port);
    talker.write_all(b"two\n").expect("write during the drain");
    assert_eq!(line(&mut talker_r), "two\n", "served during the drain");
    drop((talker, talker_r));
    let out = server.exit();
    flood.join().ok();
    drop(idle);
    // The probes of `wait_refused` that got in before the listener closed
    // were accepted and ended at once: they count as finished too.
    let (finished, closed, aborted) = counts(&out);
    assert!(finished >= 1, "{out}");
    assert_eq!((closed, aborted), (1, 1), "{out}");
}

#[test]
fn dr2_graceful_shutdown_a_second_sigterm_aborts() {
    let port = free_port();
    let p = port.to_string();
    let mut server = Server::start("graceful_shutdown", &[&p]);
    let (mut idle, mut idle_r) = connect(port);
    idle.write_all(b"hi\n").expect("write");
    assert_eq!(line(&mut idle_r), "hi\n");
    server.term();
    wait_refused(port);
    let t0 = Instant::now();
    server.term();
    let out = server.exit();
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "not the 10 s deadline"
    );
    let (_probes, closed, aborted) = counts(&out);
    assert_eq!((closed, aborted), (0, 1), "{out}");
}

#[test]
fn supervised_service_keeps_connections_across_a_backend_restart() {
    let port = free_port();
    let p = port.to_string();
    let mut server = Server::start("supervised_service", &[&p]);
    let (mut c, mut r) = connect(port);
    c.write_all(b"one two\ncrash\nthree\n").expect("write");
    assert_eq!(line(&mut r), "2 words (backend #1)\n");
    assert_eq!(line(&mut r), "1 words (backend #2)\n", "same connection");
    // A second client is served by the new backend too.
    let (mut c2, mut r2) = connect(port);
    c2.write_all(b"a b c d\n").expect("write");
    assert_eq!(line(&mut r2), "4 words (backend #2)\n");
    drop((c, r, c2, r2));
    server.wait_for("restarts it");
    server.term();
    let out = server.exit();
    assert!(
        out.contains("backend crashed (asked to crash); the supervisor restarts it\n"),
        "{out}"
    );
    assert!(
        out.contains("stopped: 1 servers drained") && out.contains("1 supervision trees stopped"),
        "{out}"
    );
}
