//! `redis-benchmark` against three RESP servers, in requests per CPU-second
//! of the server process: `examples/redis_server.rs` (switchboard: the
//! keyspace in an actor asked with `t.call`), the same server written on
//! tokio (a map behind a mutex, current-thread runtime; in this file), and
//! Debian's `redis-server` (the limit).
//!
//! Run with `cargo bench --bench redis` (needs `redis-benchmark` and
//! `redis-server` on the PATH: Debian's `redis-tools` and `redis-server`).
//! Each server runs pinned to core 0 and `redis-benchmark` to core 1
//! (`taskset`). For each command (`ping`, `set`, `get`) the server's CPU time
//! (`/proc/PID/stat`, user + system) is read around one
//! `redis-benchmark -t CMD -P 16 -n N -c 50` run; each server gets a warm-up
//! burst of every command first and each command runs twice, the second (warm)
//! pass reported. Rounds interleave the servers (the order rotates); the
//! report gives medians, min–max spreads, and the ratios taken within each
//! round. `SWITCHBOARD_BENCH_ROUNDS` (default 3) and
//! `SWITCHBOARD_BENCH_REQUESTS` (default 1,000,000) set the size. Without
//! `--bench` (under `cargo test --benches`) it does nothing.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[allow(dead_code)] // only `env_or`: the servers are measured from outside
#[path = "common/child.rs"]
mod child;
#[path = "common/stats.rs"]
mod stats;

const SERVERS: [&str; 3] = ["switchboard", "tokio", "redis-server"];
const COMMANDS: [&str; 3] = ["ping", "set", "get"];

// ---------------------------------------------------------------- tokio peer --

/// The tokio twin of `examples/redis_server.rs`: RESP arrays (and inline
/// commands) in, the same six commands, a `HashMap` behind a mutex.
mod tokio_peer {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use bytes::{Bytes, BytesMut};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    type Db = Arc<Mutex<HashMap<Bytes, Bytes>>>;

    /// One command parsed from the front of `buf`, if it is all there.
    fn parse(buf: &mut BytesMut) -> Option<Vec<Bytes>> {
        fn line(b: &[u8], at: usize) -> Option<(usize, usize)> {
            let end = at + b.get(at..)?.windows(2).position(|w| w == b"\r\n")?;
            Some((end, end + 2))
        }
        fn num(b: &[u8]) -> Option<usize> {
            std::str::from_utf8(b).ok()?.parse().ok()
        }
        if buf.first() != Some(&b'*') {
            let end = buf.iter().position(|&c| c == b'\n')?;
            let line = buf.split_to(end + 1).freeze();
            let words = line
                .split(|c| c.is_ascii_whitespace())
                .filter(|w| !w.is_empty())
                .map(|w| line.slice_ref(w))
                .collect();
            return Some(words);
        }
        let (end, mut at) = line(buf, 0)?;
        let n = num(&buf[1..end])?;
        let mut ranges = Vec::with_capacity(n);
        for _ in 0..n {
            let (end, start) = line(buf, at)?;
            let len = num(&buf[at + 1..end])?;
            if buf.len() < start + len + 2 {
                return None;
            }
            ranges.push(start..start + len);
            at = start + len + 2;
        }
        let frame = buf.split_to(at).freeze();
        Some(ranges.into_iter().map(|r| frame.slice(r)).collect())
    }

    fn execute(db: &Db, args: &[Bytes], out: &mut Vec<u8>) {
        let name = args[0].to_ascii_uppercase();
        let mut db = db.lock().unwrap();
        match (&name[..], &args[1..]) {
            (b"PING", []) => out.extend_from_slice(b"+PONG\r\n"),
            (b"PING" | b"ECHO", [m]) => bulk(out, Some(m)),
            (b"SET", [k, v]) => {
                db.insert(k.clone(), v.clone());
                out.extend_from_slice(b"+OK\r\n");
            }
            (b"GET", [k]) => bulk(out, db.get(k)),
            (b"DEL", keys) => {
                let n = keys.iter().filter(|k| db.remove(*k).is_some()).count();
                out.extend_from_slice(format!(":{n}\r\n").as_bytes());
            }
            (b"INCR", [k]) => {
                let n = db
                    .get(k)
                    .and_then(|v| std::str::from_utf8(v).ok()?.parse::<i64>().ok())
                    .unwrap_or(0)
                    + 1;
                db.insert(k.clone(), Bytes::from(n.to_string()));
                out.extend_from_slice(format!(":{n}\r\n").as_bytes());
            }
            _ => out.extend_from_slice(b"-ERR unknown command\r\n"),
        }
    }

    fn bulk(out: &mut Vec<u8>, v: Option<&Bytes>) {
        match v {
            None => out.extend_from_slice(b"$-1\r\n"),
            Some(v) => {
                out.extend_from_slice(format!("${}\r\n", v.len()).as_bytes());
                out.extend_from_slice(v);
                out.extend_from_slice(b"\r\n");
            }
        }
    }

    pub fn serve(port: u16) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
                .await
                .expect("bind");
            println!("ready");
            let db: Db = Arc::default();
            loop {
                let Ok((mut s, _)) = listener.accept().await else {
                    continue;
                };
                let _ = s.set_nodelay(true);
                let db = db.clone();
                tokio::spawn(async move {
                    let mut buf = BytesMut::with_capacity(16 * 1024);
                    let mut out = Vec::with_capacity(16 * 1024);
                    loop {
                        match s.read_buf(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(_) => {}
                        }
                        while let Some(args) = parse(&mut buf) {
                            if !args.is_empty() {
                                execute(&db, &args, &mut out);
                            }
                        }
                        if s.write_all(&out).await.is_err() {
                            return;
                        }
                        out.clear();
                    }
                });
            }
        });
    }
}

// ------------------------------------------------------------------ harness --

/// The release build of `examples/redis_server.rs`, built now.
fn switchboard_server() -> PathBuf {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "build",
            "--release",
            "--example",
            "redis_server",
            "--message-format=json",
        ])
        .stderr(Stdio::inherit())
        .output()
        .expect("cargo build");
    assert!(out.status.success(), "building redis_server failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("\"executable\":\"") && l.contains("redis_server"))
        .filter_map(|l| {
            let at = l.find("\"executable\":\"")? + "\"executable\":\"".len();
            Some(PathBuf::from(&l[at..at + l[at..].find('"')?]))
        })
        .next_back()
        .expect("the redis_server executable")
}

/// A free port on 127.0.0.1.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// User + system CPU seconds of process `pid` so far.
fn cpu_of(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 (utime, stime), counted from `state` (field 3).
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    // Linux reports these in USER_HZ, which is 100 on every architecture.
    ticks / 100.0
}

/// Starts server `kind` on `port`, pinned to core 0, and waits until it
/// answers.
fn start(kind: &str, port: u16, sb: &PathBuf) -> Child {
    let p = port.to_string();
    let mut cmd = Command::new("taskset");
    cmd.args(["-c", "0"]);
    match kind {
        "switchboard" => cmd.arg(sb).arg(&p),
        "tokio" => cmd
            .arg(std::env::current_exe().expect("exe"))
            .args(["--serve-tokio", &p]),
        _ => cmd.args([
            "redis-server",
            "--port",
            &p,
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
        ]),
    };
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start server");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{kind} did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

/// One `redis-benchmark` run of `command` against the server `pid` (not a
/// `taskset` of its own: taskset execs the server, same pid); requests per
/// CPU-second of the server.
fn bench(port: u16, pid: u32, command: &str, n: u64) -> f64 {
    let before = cpu_of(pid);
    let out = Command::new("taskset")
        .args(["-c", "1", "redis-benchmark", "-h", "127.0.0.1", "-p"])
        .arg(port.to_string())
        .args(["-t", command, "-P", "16", "-c", "50", "-q", "-n"])
        .arg(n.to_string())
        .stderr(Stdio::null())
        .output()
        .expect("redis-benchmark");
    assert!(out.status.success(), "redis-benchmark failed");
    let cpu = cpu_of(pid) - before;
    // `ping` runs two tests (inline and multi-bulk).
    let tests = if command == "ping" { 2.0 } else { 1.0 };
    tests * n as f64 / cpu.max(1e-9)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--serve-tokio") {
        tokio_peer::serve(args[i + 1].parse().expect("port"));
        return;
    }
    if !args.iter().any(|a| a == "--bench") {
        return;
    }
    let rounds: usize = child::env_or("SWITCHBOARD_BENCH_ROUNDS", 3);
    let n: u64 = child::env_or("SWITCHBOARD_BENCH_REQUESTS", 1_000_000);
    let sb = switchboard_server();
    println!(
        "redis bench: {rounds} rounds, {n} requests per command, -P 16 -c 50; \
         servers on core 0, redis-benchmark on core 1; requests per server CPU-second, warm pass"
    );
    // rates[server][command] per round
    let mut rates: HashMap<(usize, usize), Vec<f64>> = HashMap::new();
    for round in 0..rounds {
        for j in 0..SERVERS.len() {
            let k = (j + round) % SERVERS.len();
            let port = free_port();
            let mut server = start(SERVERS[k], port, &sb);
            let pid = server.id();
            // A burst of every command first, so the pass we keep is warm.
            for c in COMMANDS {
                bench(port, pid, c, n / 4);
            }
            for (ci, c) in COMMANDS.iter().enumerate() {
                bench(port, pid, c, n);
                let warm = bench(port, pid, c, n);
                rates.entry((k, ci)).or_default().push(warm);
            }
            let _ = server.kill();
            let _ = server.wait();
        }
    }
    for (ci, c) in COMMANDS.iter().enumerate() {
        let med = |k: usize| stats::median(&rates[&(k, ci)]);
        let spread = |k: usize| {
            let v = &rates[&(k, ci)];
            let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = v.iter().copied().fold(0.0, f64::max);
            format!("{:.0}k–{:.0}k", lo / 1e3, hi / 1e3)
        };
        let ratio = |a: usize, b: usize| {
            let r: Vec<f64> = (0..rounds)
                .map(|i| rates[&(a, ci)][i] / rates[&(b, ci)][i])
                .collect();
            let lo = r.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = r.iter().copied().fold(0.0, f64::max);
            format!("{:.2} ({lo:.2}–{hi:.2})", stats::median(&r))
        };
        println!(
            "{c}: switchboard {:.0}k ({}), tokio {:.0}k ({}), redis-server {:.0}k ({}); \
             switchboard/tokio {}, switchboard/redis-server {}",
            med(0) / 1e3,
            spread(0),
            med(1) / 1e3,
            spread(1),
            med(2) / 1e3,
            spread(2),
            ratio(0, 1),
            ratio(0, 2)
        );
    }
}
