//! Side-by-side TCP echo benchmark: switchboard's `Echo` protocol against a
//! tokio current-thread echo server and a bare mio echo loop (the practical
//! limit), all under the same load generator, reported as ratios.
//!
//! Run with `cargo bench --bench echo`. Each server runs in its own process
//! (this binary re-executed with `--serve switchboard|tokio|mio`) pinned to
//! core 0 with `taskset -c 0`; the load generator, a bare mio client loop in
//! the parent, is pinned to core 1. `SWITCHBOARD_BENCH_SECS` sets the measured
//! seconds per server (default 3, after a warm-up of a sixth of that);
//! `SWITCHBOARD_BENCH_CONNS` sets the idle-connection count (default 10,000).
//! Without `--bench` on the command line (under `cargo test --benches`) it runs
//! a 0.2 s smoke of each workload with few connections and exits.
//!
//! Workloads:
//!
//! 1. `rr`: requests/s, 1 KiB messages over 100 connections, each connection
//!    waiting for its full echo before sending again.
//! 2. `stream`: MiB/s of echoed bytes, 64 KiB chunks written continuously
//!    over 10 connections.
//! 3. `idle memory`: the server's VmRSS growth per connection after opening
//!    N idle connections (lower is better).
//!
//! The tokio server is the lean variant (`readable().await` + `try_read` into
//! one shared 64 KiB buffer, `try_write` back, only the unwritten remainder
//! kept per connection, then `writable().await`), so its idle connections
//! carry no buffer, like the mio loop.

use std::cell::RefCell;
use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

const KINDS: [&str; 3] = ["switchboard", "tokio", "mio"];
const SHARED_BUF: usize = 64 * 1024;

fn raise_nofile() -> u64 {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((_, hard)) => {
            let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
            getrlimit(Resource::RLIMIT_NOFILE).map_or(1024, |(s, _)| s)
        }
        Err(_) => 1024,
    }
}

fn announce(addr: SocketAddr) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "PORT {}", addr.port());
    let _ = out.flush();
}

// ---------------------------------------------------------------- servers --

fn serve_switchboard() {
    use switchboard::ready_made::Echo;
    let lp = switchboard::new_event_loop().expect("event loop");
    let lp2 = lp.clone();
    let res = lp.run_until_complete(async move {
        let server = lp2
            .create_server(|| Echo)
            .host("127.0.0.1")
            .port(0)
            .backlog(1024)
            .await
            .expect("create_server");
        announce(server.sockets()[0]);
        server.serve_forever().await
    });
    eprintln!("switchboard server ended: {res:?}");
}

thread_local! {
    static TOKIO_BUF: RefCell<Vec<u8>> = RefCell::new(vec![0u8; SHARED_BUF]);
}

async fn tokio_conn(s: tokio::net::TcpStream) {
    let _ = s.set_nodelay(true);
    let mut pending: Vec<u8> = Vec::new();
    loop {
        if s.readable().await.is_err() {
            return;
        }
        loop {
            // Read into the shared buffer and echo at once; keep only what
            // the kernel did not take.
            let r = TOKIO_BUF.with(|b| {
                let mut b = b.borrow_mut();
                match s.try_read(&mut b[..]) {
                    Ok(0) => Ok(false),
                    Ok(n) => {
                        match s.try_write(&b[..n]) {
                            Ok(w) => pending.extend_from_slice(&b[w..n]),
                            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                                pending.extend_from_slice(&b[..n])
                            }
                            Err(e) => return Err(e),
                        }
                        Ok(true)
                    }
                    Err(e) => Err(e),
                }
            });
            match r {
                Ok(false) => return,
                Ok(true) => {
                    while !pending.is_empty() {
                        if s.writable().await.is_err() {
                            return;
                        }
                        match s.try_write(&pending) {
                            Ok(w) => {
                                pending.drain(..w);
                            }
                            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                            Err(_) => return,
                        }
                    }
                    if pending.capacity() > 0 {
                        pending = Vec::new();
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(_) => return,
            }
        }
    }
}

fn serve_tokio() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        announce(listener.local_addr().expect("addr"));
        loop {
            match listener.accept().await {
                Ok((s, _)) => {
                    tokio::task::spawn_local(tokio_conn(s));
                }
                Err(e) => {
                    eprintln!("tokio accept: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    });
}

struct MioConn {
    stream: TcpStream,
    pending: Vec<u8>,
}

/// Reads until `WouldBlock` (or until a write blocks), echoing each read back.
/// Returns false when the connection is finished.
fn mio_drain(c: &mut MioConn, buf: &mut [u8]) -> bool {
    loop {
        while !c.pending.is_empty() {
            match c.stream.write(&c.pending) {
                Ok(w) => {
                    c.pending.drain(..w);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
        if c.pending.capacity() > 0 {
            c.pending = Vec::new();
        }
        match c.stream.read(buf) {
            Ok(0) => return false,
            Ok(n) => match c.stream.write(&buf[..n]) {
                Ok(w) if w == n => {}
                Ok(w) => c.pending.extend_from_slice(&buf[w..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    c.pending.extend_from_slice(&buf[..n])
                }
                Err(_) => return false,
            },
            Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

fn serve_mio() {
    const LISTENER: Token = Token(usize::MAX);
    let mut poll = Poll::new().expect("poll");
    let mut listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).expect("bind");
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)
        .expect("register");
    announce(listener.local_addr().expect("addr"));
    let mut conns: Vec<Option<MioConn>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut buf = vec![0u8; SHARED_BUF];
    let mut events = Events::with_capacity(1024);
    loop {
        if let Err(e) = poll.poll(&mut events, None) {
            if e.kind() == ErrorKind::Interrupted {
                continue;
            }
            panic!("poll: {e}");
        }
        for ev in events.iter() {
            if ev.token() == LISTENER {
                loop {
                    match listener.accept() {
                        Ok((mut stream, _)) => {
                            let _ = stream.set_nodelay(true);
                            let idx = free.pop().unwrap_or_else(|| {
                                conns.push(None);
                                conns.len() - 1
                            });
                            poll.registry()
                                .register(
                                    &mut stream,
                                    Token(idx),
                                    Interest::READABLE | Interest::WRITABLE,
                                )
                                .expect("register");
                            conns[idx] = Some(MioConn {
                                stream,
                                pending: Vec::new(),
                            });
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) => {
                            eprintln!("mio accept: {e}");
                            break;
                        }
                    }
                }
                continue;
            }
            let idx = ev.token().0;
            let alive = match conns.get_mut(idx).and_then(Option::as_mut) {
                Some(c) => mio_drain(c, &mut buf),
                None => continue,
            };
            if !alive {
                if let Some(mut c) = conns[idx].take() {
                    let _ = poll.registry().deregister(&mut c.stream);
                }
                free.push(idx);
            }
        }
    }
}

fn serve(kind: &str) {
    raise_nofile();
    match kind {
        "switchboard" => serve_switchboard(),
        "tokio" => serve_tokio(),
        "mio" => serve_mio(),
        other => panic!("unknown server kind {other}"),
    }
}

// ---------------------------------------------------------- load generator --

struct ServerProc {
    child: Child,
    addr: SocketAddr,
}

impl ServerProc {
    fn start(kind: &str, pin: bool) -> ServerProc {
        let exe = std::env::current_exe().expect("current_exe");
        let mut cmd = if pin {
            let mut c = Command::new("taskset");
            c.arg("-c").arg("0").arg(exe);
            c
        } else {
            Command::new(exe)
        };
        cmd.arg("--serve").arg(kind);
        let mut child = cmd
            .stdout(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn server");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read port");
        let port: u16 = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("{kind} server did not announce a port: {line:?}"));
        ServerProc {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        }
    }

    fn rss_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("read /proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    }

    fn fd_count(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id())).map_or(0, |d| d.count())
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn connect_all(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    (0..n)
        .map(|_| {
            let s = std::net::TcpStream::connect(addr).expect("connect");
            s.set_nodelay(true).expect("nodelay");
            s.set_nonblocking(true).expect("nonblocking");
            TcpStream::from_std(s)
        })
        .collect()
}

/// User + system CPU seconds of a process, from `/proc/PID/stat` (clock
/// ticks, assumed 100 Hz, the Linux `USER_HZ`).
fn cpu_secs(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the `(comm)`: state is field 3, utime 14, stime 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

thread_local! {
    static LABEL: RefCell<String> = const { RefCell::new(String::new()) };
}

fn server_label() -> String {
    LABEL.with(|l| l.borrow().clone())
}

struct Timing {
    warmup: Duration,
    measure: Duration,
}

/// Drives `conns` with `step` (called on each readiness event and once at
/// start) and returns the counter delta over the measured window per second.
fn drive<S>(
    mut conns: Vec<TcpStream>,
    t: &Timing,
    server_pid: u32,
    mut state: Vec<S>,
    mut step: impl FnMut(&mut TcpStream, &mut S) -> u64,
) -> f64 {
    let mut poll = Poll::new().expect("poll");
    for (i, c) in conns.iter_mut().enumerate() {
        poll.registry()
            .register(c, Token(i), Interest::READABLE | Interest::WRITABLE)
            .expect("register");
    }
    let mut events = Events::with_capacity(1024);
    let mut total: u64 = 0;
    for (c, s) in conns.iter_mut().zip(state.iter_mut()) {
        total += step(c, s);
    }
    let start = Instant::now();
    let measure_from = start + t.warmup;
    let end = measure_from + t.measure;
    let mut base: Option<(u64, Instant)> = None;
    let server_pid = server_pid.to_string();
    let mut cpu0 = (0.0, 0.0);
    loop {
        let now = Instant::now();
        if base.is_none() && now >= measure_from {
            base = Some((total, now));
            cpu0 = (cpu_secs("self"), cpu_secs(&server_pid));
        }
        if now >= end {
            break;
        }
        poll.poll(&mut events, Some(Duration::from_millis(50)))
            .expect("poll");
        for ev in events.iter() {
            let i = ev.token().0;
            total += step(&mut conns[i], &mut state[i]);
        }
    }
    let (b, at) = base.expect("measured window");
    let wall = at.elapsed().as_secs_f64();
    let rate = (total - b) as f64 / wall;
    let server_cpu = cpu_secs(&server_pid) - cpu0.1;
    eprintln!(
        "  [{} CPU busy over the window: load generator {:.0}%, server {:.0}%; \
         {:.0} units per server CPU-second]",
        server_label(),
        100.0 * (cpu_secs("self") - cpu0.0) / wall,
        100.0 * server_cpu / wall,
        if server_cpu > 0.0 {
            (total - b) as f64 / server_cpu
        } else {
            0.0
        }
    );
    rate
}

const RR_MSG: usize = 1024;

#[derive(Default)]
struct RrState {
    sent: usize,
    got: usize,
}

fn rr_step(c: &mut TcpStream, s: &mut RrState, msg: &[u8], buf: &mut [u8]) -> u64 {
    let mut done = 0;
    loop {
        while s.sent < RR_MSG {
            match c.write(&msg[s.sent..]) {
                Ok(n) => s.sent += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("rr write: {e}"),
            }
        }
        loop {
            match c.read(buf) {
                Ok(0) => panic!("rr: server closed the connection"),
                Ok(n) => s.got += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("rr read: {e}"),
            }
        }
        if s.sent == RR_MSG && s.got >= RR_MSG {
            s.got -= RR_MSG;
            s.sent = 0;
            done += 1;
        } else {
            return done;
        }
    }
}

fn bench_rr(server: &ServerProc, conns: usize, t: &Timing) -> f64 {
    let addr = server.addr;
    let msg: Vec<u8> = (0..RR_MSG).map(|i| (i % 251) as u8).collect();
    let mut buf = vec![0u8; SHARED_BUF];
    let streams = connect_all(addr, conns);
    let state = (0..conns).map(|_| RrState::default()).collect();
    drive(streams, t, server.child.id(), state, |c, s| {
        rr_step(c, s, &msg, &mut buf)
    })
}

const CHUNK: usize = 64 * 1024;

fn stream_step(c: &mut TcpStream, off: &mut usize, chunk: &[u8], buf: &mut [u8]) -> u64 {
    let mut got = 0u64;
    loop {
        let mut progressed = false;
        loop {
            match c.write(&chunk[*off..]) {
                Ok(n) => {
                    *off = (*off + n) % CHUNK;
                    progressed = true;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("stream write: {e}"),
            }
        }
        loop {
            match c.read(buf) {
                Ok(0) => panic!("stream: server closed the connection"),
                Ok(n) => {
                    got += n as u64;
                    progressed = true;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("stream read: {e}"),
            }
        }
        if !progressed {
            return got;
        }
    }
}

fn bench_stream(server: &ServerProc, conns: usize, t: &Timing) -> f64 {
    let addr = server.addr;
    let chunk: Vec<u8> = (0..CHUNK).map(|i| (i % 253) as u8).collect();
    let mut buf = vec![0u8; SHARED_BUF];
    let streams = connect_all(addr, conns);
    let bytes_per_s = drive(
        streams,
        t,
        server.child.id(),
        vec![0usize; conns],
        |c, off| stream_step(c, off, &chunk, &mut buf),
    );
    bytes_per_s / (1024.0 * 1024.0)
}

fn bench_idle(server: &ServerProc, n: usize) -> f64 {
    std::thread::sleep(Duration::from_millis(200));
    let fds_before = server.fd_count();
    let before = server.rss_bytes();
    let streams: Vec<std::net::TcpStream> = (0..n)
        .map(|_| std::net::TcpStream::connect(server.addr).expect("idle connect"))
        .collect();
    // Wait until the server holds every connection, then for RSS to settle.
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.fd_count() < fds_before + n && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let accepted = server.fd_count().saturating_sub(fds_before);
    if accepted < n {
        eprintln!("idle: only {accepted} of {n} connections seen in the server's fd table");
    }
    let mut after = server.rss_bytes();
    for _ in 0..20 {
        std::thread::sleep(Duration::from_millis(100));
        let now = server.rss_bytes();
        if now == after {
            break;
        }
        after = now;
    }
    drop(streams);
    after.saturating_sub(before) as f64 / n as f64
}

fn pin_self() -> bool {
    // Counted before pinning: available_parallelism honours the affinity mask.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores < 2 {
        return false;
    }
    let pid = std::process::id().to_string();
    let ok = Command::new("taskset")
        .args(["-cp", "1", &pid])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok
}

fn line(name: &str, v: &[f64; 3], unit_fmt: fn(f64) -> String, lower_better: bool) {
    let [sb, tk, mi] = *v;
    if lower_better {
        println!(
            "{name}: switchboard {}, tokio {}, mio {}, switchboard/mio {:.2}, switchboard/tokio {:.2}",
            unit_fmt(sb),
            unit_fmt(tk),
            unit_fmt(mi),
            sb / mi,
            sb / tk
        );
    } else {
        println!(
            "{name}: switchboard {}, tokio {}, mio {}, switchboard/mio {:.3}, switchboard/tokio {:.3}",
            unit_fmt(sb),
            unit_fmt(tk),
            unit_fmt(mi),
            sb / mi,
            sb / tk
        );
    }
}

fn env_f64(name: &str) -> Option<f64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--serve") {
        serve(args.get(i + 1).map_or("", String::as_str));
        return;
    }
    let smoke = !args.iter().any(|a| a == "--bench");
    let nofile = raise_nofile();
    let (secs, rr_conns, stream_conns, mut idle_conns) = if smoke {
        (0.2, 4, 2, 50)
    } else {
        (
            env_f64("SWITCHBOARD_BENCH_SECS").unwrap_or(3.0),
            100,
            10,
            env_f64("SWITCHBOARD_BENCH_CONNS").map_or(10_000, |v| v as usize),
        )
    };
    // Client and server each need one fd per connection, plus some slack.
    let max_idle = (nofile as usize).saturating_sub(64);
    if idle_conns > max_idle {
        eprintln!("RLIMIT_NOFILE is {nofile}: idle connections capped at {max_idle}");
        idle_conns = max_idle;
    }
    let t = Timing {
        warmup: Duration::from_secs_f64(if smoke { 0.05 } else { secs / 6.0 }),
        measure: Duration::from_secs_f64(secs),
    };
    let pin = pin_self();
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "echo bench ({}): {secs} s per server, warm-up {:.2} s; {}; loadavg at start {}",
        if smoke {
            "smoke, cargo test --benches"
        } else {
            "cargo bench --bench echo"
        },
        t.warmup.as_secs_f64(),
        if pin {
            "servers pinned to core 0 (taskset -c 0), load generator to core 1"
        } else {
            "NOT pinned (taskset failed or fewer than 2 cores)"
        },
        loadavg
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "(stderr notes each run's CPU share; far below 100% means other processes took the cores)"
    );

    let mut rr = [0.0; 3];
    for (k, kind) in KINDS.iter().enumerate() {
        LABEL.with(|l| *l.borrow_mut() = format!("rr {kind}:"));
        let server = ServerProc::start(kind, pin);
        rr[k] = bench_rr(&server, rr_conns, &t);
    }
    line(
        &format!("rr 1 KiB x {rr_conns} conns (req/s, higher is better)"),
        &rr,
        |v| format!("{v:.0}"),
        false,
    );

    let mut st = [0.0; 3];
    for (k, kind) in KINDS.iter().enumerate() {
        LABEL.with(|l| *l.borrow_mut() = format!("stream {kind}:"));
        let server = ServerProc::start(kind, pin);
        st[k] = bench_stream(&server, stream_conns, &t);
    }
    line(
        &format!("stream 64 KiB chunks x {stream_conns} conns (MiB/s, higher is better)"),
        &st,
        |v| format!("{v:.0}"),
        false,
    );

    let mut mem = [0.0; 3];
    for (k, kind) in KINDS.iter().enumerate() {
        let server = ServerProc::start(kind, pin);
        mem[k] = bench_idle(&server, idle_conns);
    }
    line(
        &format!("idle memory @{idle_conns} conns (bytes/conn, lower is better)"),
        &mem,
        |v| format!("{v:.0}"),
        true,
    );
}
