//! Runs `examples/kv_store.rs` and drives it from CPython's asyncio streams:
//! SET/GET/DEL answers, pipelined requests answered in order, CRLF and LF,
//! a line over 1 KiB answered with `ERR line too long` and a close, a
//! client that pipelines 2,000 requests and half-closes at once getting
//! every answer (issue 16, AC3), and SIGTERM stopping the server with status 0.
//!
//! The example is built once and its binary run directly
//! ([`support::examples`]); every wait is bounded.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use support::child::{exit_within, peak_rss_kib};
use support::examples;

const STEP_TIMEOUT: Duration = Duration::from_secs(10);

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The asyncio client: one scenario per connection, answers printed one per
/// line, `<closed>` when the server closed the connection.
const CLIENT: &str = r#"
import asyncio, sys

async def talk(port, payload, expect):
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(payload)
    await w.drain()
    for _ in range(expect):
        line = await asyncio.wait_for(r.readline(), 10)
        print(line.decode().rstrip("\r\n") if line else "<closed>")
    w.close()

async def main(port):
    await talk(port, b"SET k hello world\r\nGET k\r\n", 2)
    await talk(port, b"GET k\nGET missing\nDEL k\nDEL k\nGET k\nBOGUS\n", 6)
    # Pipelined in one write: answers in request order.
    await talk(port, b"".join(b"SET n%d %d\r\n" % (i, i) for i in range(50))
               + b"".join(b"GET n%d\r\n" % i for i in range(50)), 100)
    # Too long: answered, then closed.
    await talk(port, b"SET big " + b"x" * 2000 + b"\r\n", 2)
    # Pipelined, then half-closed at once (`nc -N`): every answer comes.
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(b"".join(b"GET n%d\n" % (i % 50) for i in range(2000)))
    w.write_eof()
    n = 0
    while await asyncio.wait_for(r.readline(), 10):
        n += 1
    print("after half-close: %d answers" % n)
    w.close()

asyncio.run(main(int(sys.argv[1])))
"#;

#[test]
fn kv_store_answers_a_cpython_client_and_stops_on_sigterm() {
    let mut child = examples::command("kv_store", &["0"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start kv_store");
    let stdout = child.stdout.take().expect("stdout");
    let server = Server(child);
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = rx
        .recv_timeout(STEP_TIMEOUT)
        .expect("banner")
        .expect("utf-8");
    let port = first
        .strip_prefix("kv_store on 127.0.0.1:")
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or_else(|| panic!("unexpected banner {first:?}"));

    let out = Command::new("python3")
        .args(["-c", CLIENT, &port.to_string()])
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "client failed: {out:?}");
    let answers = String::from_utf8(out.stdout).expect("utf-8");
    let mut expected = vec!["OK", "hello world"];
    expected.extend(["hello world", "NOT_FOUND", "OK", "NOT_FOUND", "NOT_FOUND"]);
    expected.push("ERR unknown command");
    let sets = vec!["OK".to_string(); 50];
    let gets: Vec<String> = (0..50).map(|i| i.to_string()).collect();
    let mut expected: Vec<String> = expected.into_iter().map(String::from).collect();
    expected.extend(sets);
    expected.extend(gets);
    expected.extend(["ERR line too long".to_string(), "<closed>".to_string()]);
    expected.push("after half-close: 2000 answers".to_string());
    assert_eq!(answers.lines().collect::<Vec<_>>(), expected);

    let pid = nix::unistd::Pid::from_raw(server.0.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
    let last = rx
        .recv_timeout(STEP_TIMEOUT)
        .expect("exit line")
        .expect("utf-8");
    assert_eq!(last, "kv_store: 50 keys at exit");
    let mut server = server;
    let status = exit_within(&mut server.0, STEP_TIMEOUT, "kv_store after SIGTERM");
    assert!(status.success(), "kv_store exited with {status}");
}

#[test]
fn issue_16_ac5_fifty_pipeliners_that_never_read_cost_kv_store_a_bounded_amount() {
    // 50 clients each pipeline 5 MB of GETs and never read an answer: each
    // connection holds at most 64 calls in flight and stops reading once its
    // answers fill its write buffer.
    let mut child = examples::command("kv_store", &["0"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start kv_store");
    let stdout = child.stdout.take().expect("stdout");
    let mut server = Server(child);
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().expect("banner").expect("utf-8");
    let port: u16 = first
        .strip_prefix("kv_store on 127.0.0.1:")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected banner {first:?}"));
    let pid = server.0.id();
    let before = peak_rss_kib(pid);
    let payload: std::sync::Arc<Vec<u8>> =
        std::sync::Arc::new(b"GET k\n".iter().copied().cycle().take(5 << 20).collect());
    let clients: Vec<_> = (0..50)
        .map(|_| {
            let payload = payload.clone();
            thread::spawn(move || {
                use std::io::Write;
                let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
                // Blocked this long: the server stopped reading us.
                s.set_write_timeout(Some(Duration::from_secs(3))).unwrap();
                let _ = s.write_all(&payload);
                s
            })
        })
        .collect();
    let held: Vec<_> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    let growth_mib = peak_rss_kib(pid).saturating_sub(before) as f64 / 1024.0;
    println!("kv_store grew by {growth_mib:.1} MiB under 50 x 5 MB never read");
    assert!(growth_mib < 64.0, "kv_store grew by {growth_mib:.1} MiB");
    drop(held);
    let _ = server.0.kill();
    let _ = server.0.wait();
}
