//! Runs `examples/redis_server.rs` and drives it with Redis's own tools and
//! with raw RESP: a `redis-cli` round trip (PING, SET, GET, INCR, DEL, an
//! INCR on a non-number), `redis-benchmark` with pipelining, a client that
//! half-closes after 4,000 pipelined commands and still gets every answer,
//! and bad input answered with `-ERR` and a close. Each test stops its
//! server with SIGTERM and checks it exits with status 0.
//!
//! `redis-cli` and `redis-benchmark` come with Debian's `redis-tools`
//! (`.ci/run` installs it). Under `CI=true` a missing tool fails the test;
//! elsewhere the tests that need it print a note and pass.

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::Command;
use std::thread;
use std::time::Duration;

use nix::sys::signal::Signal;
use support::child::{rss_kib, Child};
use support::examples;

/// How long one client (redis-cli, redis-benchmark, a raw socket read) may take.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `redis_server` on a free port.
struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    fn start() -> Redis {
        let mut child = Child::start(examples::command("redis_server", &["0"]));
        child.wait_for_output("redis_server on 127.0.0.1:");
        child.wait_for_output("\n");
        let out = child.stdout();
        let port = out
            .lines()
            .find_map(|l| l.strip_prefix("redis_server on 127.0.0.1:"))
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected banner {out:?}"));
        Redis { child, port }
    }

    /// `redis-cli -p PORT --no-raw ARGS...`, its output trimmed.
    fn cli(&self, args: &[&str]) -> String {
        let mut cmd = Command::new("redis-cli");
        cmd.args(["-p", &self.port.to_string(), "--no-raw"])
            .args(args);
        examples::run(cmd, CLIENT_TIMEOUT).trim().to_string()
    }

    /// Writes `request` from a second thread (so neither side waits on a full
    /// socket buffer), half-closes, and returns everything read until EOF.
    fn exchange(&self, request: Vec<u8>) -> Vec<u8> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        stream
            .set_read_timeout(Some(CLIENT_TIMEOUT))
            .expect("timeout");
        let mut writer = stream.try_clone().expect("clone");
        let sent = thread::spawn(move || {
            // The server may close first (bad input): a failed write is fine.
            let _ = writer.write_all(&request);
            let _ = writer.shutdown(Shutdown::Write);
        });
        let mut answers = Vec::new();
        stream
            .read_to_end(&mut answers)
            .expect("read until the server closes");
        sent.join().expect("writer thread");
        answers
    }

    /// SIGTERM, then a clean exit.
    fn stop(mut self) {
        self.child.signal(Signal::SIGTERM);
        let status = self.child.wait();
        assert!(
            status.success(),
            "redis_server exited with {status}; stderr:\n{}",
            self.child.stderr()
        );
    }
}

/// True if `redis-cli` (and with it `redis-benchmark`) is installed; under
/// `CI=true` its absence fails the test.
fn have_redis_tools() -> bool {
    let found = Command::new("redis-cli")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "redis-cli not found under CI=true (install redis-tools)"
        );
        eprintln!("note: redis-cli not found (apt-get install redis-tools); skipping");
    }
    found
}

/// A command as a RESP array of bulk strings.
fn resp(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
    out
}

#[test]
fn redis_cli_round_trip() {
    if !have_redis_tools() {
        return;
    }
    let redis = Redis::start();
    assert_eq!(redis.cli(&["PING"]), "PONG");
    assert_eq!(redis.cli(&["PING", "hello"]), "\"hello\"");
    assert_eq!(redis.cli(&["SET", "a", "1"]), "OK");
    assert_eq!(redis.cli(&["GET", "a"]), "\"1\"");
    assert_eq!(redis.cli(&["INCR", "a"]), "(integer) 2");
    assert_eq!(redis.cli(&["GET", "a"]), "\"2\"");
    assert_eq!(redis.cli(&["DEL", "a", "missing"]), "(integer) 1");
    assert_eq!(redis.cli(&["GET", "a"]), "(nil)");
    assert_eq!(redis.cli(&["SET", "s", "not a number"]), "OK");
    assert_eq!(
        redis.cli(&["INCR", "s"]),
        "(error) ERR value is not an integer or out of range"
    );
    assert_eq!(redis.cli(&["ECHO", "x y"]), "\"x y\"");
    redis.stop();
}

#[test]
fn redis_benchmark_reports_a_rate_for_each_command() {
    if !have_redis_tools() {
        return;
    }
    let redis = Redis::start();
    let mut cmd = Command::new("redis-benchmark");
    let port = redis.port.to_string();
    cmd.args(["-h", "127.0.0.1", "-p", &port, "-t", "ping,set,get"])
        .args(["-P", "16", "-n", "20000", "-c", "10", "-q"]);
    let out = examples::run(cmd, CLIENT_TIMEOUT);
    // With -q each test ends in `NAME: RATE requests per second, ...`
    // (progress lines before it are separated by `\r`).
    let rates: Vec<(String, f64)> = out
        .split(['\r', '\n'])
        .filter_map(|l| {
            let (name, rest) = l.trim().split_once(": ")?;
            let (rate, _) = rest.split_once(" requests per second")?;
            Some((name.to_string(), rate.trim().parse().ok()?))
        })
        .collect();
    for name in ["PING_INLINE", "PING_MBULK", "SET", "GET"] {
        let rate = rates
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no rate for {name} in {out:?}"));
        assert!(rate.1 > 0.0, "{name}: {} requests per second", rate.1);
        eprintln!("redis-benchmark {name}: {} requests per second", rate.1);
    }
    redis.stop();
}

#[test]
fn a_half_closing_client_gets_every_pipelined_answer() {
    let redis = Redis::start();
    let mut request = Vec::new();
    let mut expected = Vec::new();
    for i in 0..2000 {
        let (k, v) = (format!("k{i}"), format!("v{i}"));
        request.extend(resp(&["SET", &k, &v]));
        request.extend(resp(&["GET", &k]));
        expected.extend_from_slice(b"+OK\r\n");
        expected.extend_from_slice(format!("${}\r\n{v}\r\n", v.len()).as_bytes());
    }
    let answers = redis.exchange(request);
    assert_eq!(answers.len(), expected.len());
    assert!(answers == expected, "answers differ from the expected ones");
    redis.stop();
}

#[test]
fn bad_input_is_answered_with_an_error_then_closed() {
    let redis = Redis::start();
    let huge = redis.exchange(b"*1\r\n$999999999999\r\n".to_vec());
    assert_eq!(
        String::from_utf8_lossy(&huge),
        "-ERR Protocol error: invalid bulk length\r\n"
    );
    // What came before the garbage is answered first.
    let garbage = redis.exchange(b"PING\r\n*2\r\nhello\r\nPING\r\n".to_vec());
    assert_eq!(
        String::from_utf8_lossy(&garbage),
        "+PONG\r\n-ERR Protocol error: expected '$', got 'h'\r\n"
    );
    let count = redis.exchange(b"*x\r\n".to_vec());
    assert_eq!(
        String::from_utf8_lossy(&count),
        "-ERR Protocol error: invalid multibulk length\r\n"
    );
    redis.stop();
}

#[test]
fn issue_16_ac5_fifty_pipeliners_that_never_read_cost_the_server_a_bounded_amount() {
    // 50 clients each pipeline 5 MB of GETs and never read an answer. Each
    // connection holds at most 64 calls in flight and stops reading once its
    // answers fill its write buffer, so the server's growth is bounded
    // however long they go on.
    let redis = Redis::start();
    let pid = redis.child.id();
    let (before, _) = rss_kib(pid);
    let one = resp(&["GET", "k"]);
    let payload: Vec<u8> = one.iter().copied().cycle().take(5 << 20).collect();
    let payload = std::sync::Arc::new(payload);
    let port = redis.port;
    let clients: Vec<_> = (0..50)
        .map(|_| {
            let payload = payload.clone();
            thread::spawn(move || {
                let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
                // A write that blocks this long means the server stopped
                // reading this connection: what we want to see.
                s.set_write_timeout(Some(Duration::from_secs(3))).unwrap();
                let sent = match s.write_all(&payload) {
                    Ok(()) => payload.len(),
                    Err(_) => 0,
                };
                (s, sent)
            })
        })
        .collect();
    let held: Vec<(TcpStream, usize)> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    let (after, peak) = rss_kib(pid);
    let growth_mib = (peak.saturating_sub(before)) as f64 / 1024.0;
    println!(
        "rss before {before} KiB, after {after} KiB, peak {peak} KiB: +{growth_mib:.1} MiB; {} of 50 clients sent all 5 MB",
        held.iter().filter(|(_, n)| *n > 0).count()
    );
    assert!(growth_mib < 64.0, "the server grew by {growth_mib:.1} MiB");
    drop(held);
    redis.stop();
}
