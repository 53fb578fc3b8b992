//! The load generator (a bare mio client loop in the parent, pinned to the
//! other core) and the server processes it loads.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use crate::http;
use crate::servers::{Kind, Service};
use crate::stats::{process_cpu, Sample};

/// A server in its own process (pinned to core 0 when `pin`), or several
/// serving one port.
pub struct ServerProc {
    child: Child,
    pub addr: SocketAddr,
    /// Other processes serving the same port (see [`ServerProc::with_sibling`]).
    siblings: Vec<ServerProc>,
}

impl ServerProc {
    pub fn start(kind: Kind, service: Service, pin: bool) -> ServerProc {
        if kind == Kind::Python {
            let mut cmd = if pin {
                let mut c = Command::new("taskset");
                c.arg("-c").arg("0");
                c
            } else {
                Command::new("env")
            };
            cmd.arg("python3").arg("-c").arg(crate::lines::PYTHON_LINES);
            return ServerProc::spawn(cmd, &kind.name());
        }
        let args = [kind.name(), service.name().to_owned()];
        ServerProc::serve(&args, pin.then_some("0"))
    }

    /// This bench binary re-executed with `--serve ARGS...`, under
    /// `taskset -c CPUS` when `cpus` is given.
    pub fn serve(args: &[String], cpus: Option<&str>) -> ServerProc {
        let exe = std::env::current_exe().expect("current_exe");
        let mut cmd = match cpus {
            Some(cpus) => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(cpus);
                c
            }
            None => Command::new("env"),
        };
        cmd.arg(exe).arg("--serve").args(args);
        ServerProc::spawn(cmd, &args.join(" "))
    }

    /// Runs `cmd` and reads the port it announces (`PORT n`, its first line).
    pub fn spawn(mut cmd: Command, what: &str) -> ServerProc {
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
            .unwrap_or_else(|| panic!("{what} server did not announce a port: {line:?}"));
        ServerProc {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            siblings: Vec::new(),
        }
    }

    /// Serves together with `other` (on the same port): CPU time is summed
    /// over both, and both are killed on drop.
    #[allow(dead_code)] // the group bench's two-process setup; echo does not use it
    pub fn with_sibling(mut self, other: ServerProc) -> ServerProc {
        self.siblings.push(other);
        self
    }

    /// The pids whose CPU time counts: this server's and its siblings'.
    pub fn pids(&self) -> Vec<u32> {
        let mut v = vec![self.pid()];
        v.extend(self.siblings.iter().flat_map(ServerProc::pids));
        v
    }

    /// The server's pid (taskset execs it, so the child is the server).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn rss_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("read /proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    }

    fn fd_count(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid())).map_or(0, |d| d.count())
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

/// The measured window: a warm-up, then this long.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub warmup: Duration,
    pub measure: Duration,
}

/// Drives `conns` with `step` (on each readiness event, and once at the start)
/// and returns what `step` counted over the measured window, with the wall
/// time and the server processes' CPU time (`/proc/PID/stat`, summed over
/// `server_pids`) of the window.
fn drive<S>(
    mut conns: Vec<TcpStream>,
    t: &Timing,
    server_pids: &[u32],
    mut state: Vec<S>,
    mut step: impl FnMut(&mut TcpStream, &mut S) -> u64,
) -> Sample {
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
    let mut window = Window::new(t, server_pids);
    while window.open(total) {
        poll.poll(&mut events, Some(Duration::from_millis(50)))
            .expect("poll");
        for ev in events.iter() {
            let i = ev.token().0;
            total += step(&mut conns[i], &mut state[i]);
        }
    }
    window.sample(total)
}

/// The measured window of a load loop: a warm-up, then `t.measure`, with
/// the count, wall time and server CPU time at its start.
struct Window<'a> {
    measure_from: Instant,
    end: Instant,
    pids: &'a [u32],
    base: Option<(u64, Instant, f64)>,
}

impl<'a> Window<'a> {
    fn new(t: &Timing, pids: &'a [u32]) -> Self {
        let measure_from = Instant::now() + t.warmup;
        Window {
            measure_from,
            end: measure_from + t.measure,
            pids,
            base: None,
        }
    }

    fn cpu(&self) -> f64 {
        self.pids.iter().map(|&p| process_cpu(p)).sum()
    }

    /// False once the window is over; notes its start when it comes.
    fn open(&mut self, total: u64) -> bool {
        let now = Instant::now();
        if self.base.is_none() && now >= self.measure_from {
            self.base = Some((total, now, self.cpu()));
        }
        now < self.end
    }

    /// What was counted in the window.
    fn sample(&self, total: u64) -> Sample {
        let (b, at, cpu0) = self.base.expect("measured window");
        Sample {
            count: (total - b) as f64,
            wall: at.elapsed(),
            cpu: self.cpu() - cpu0,
        }
    }
}

/// One request or batch in flight per connection: `sent` of `len` bytes
/// written, `got` bytes of the answer read.
#[derive(Default)]
struct Exchange {
    sent: usize,
    got: usize,
}

/// Writes `req` whole, waits for `answer_len` bytes back, repeats; returns how
/// many exchanges completed.
fn exchange_step(
    c: &mut TcpStream,
    s: &mut Exchange,
    req: &[u8],
    answer_len: usize,
    buf: &mut [u8],
) -> u64 {
    let mut done = 0;
    loop {
        while s.sent < req.len() {
            match c.write(&req[s.sent..]) {
                Ok(n) => s.sent += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("write: {e}"),
            }
        }
        loop {
            match c.read(buf) {
                Ok(0) => panic!("the server closed the connection"),
                Ok(n) => s.got += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("read: {e}"),
            }
        }
        if s.sent == req.len() && s.got >= answer_len {
            s.got -= answer_len;
            s.sent = 0;
            done += 1;
        } else {
            return done;
        }
    }
}

/// Request/response: `msg` bytes out, the same back, per connection.
pub fn bench_rr(server: &ServerProc, conns: usize, msg_len: usize, t: &Timing) -> Sample {
    let msg: Vec<u8> = (0..msg_len).map(|i| (i % 251) as u8).collect();
    exchange(server, conns, msg, t)
}

/// Line echo: one `msg_len`-byte line (its last byte `\n`) per request, the
/// whole echo awaited before the next; counts requests.
pub fn bench_lines(server: &ServerProc, conns: usize, msg_len: usize, t: &Timing) -> Sample {
    let mut msg = vec![b'x'; msg_len.max(1)];
    *msg.last_mut().expect("one byte at least") = b'\n';
    exchange(server, conns, msg, t)
}

fn exchange(server: &ServerProc, conns: usize, msg: Vec<u8>, t: &Timing) -> Sample {
    let msg_len = msg.len();
    let mut buf = vec![0u8; 256 * 1024];
    let state = (0..conns).map(|_| Exchange::default()).collect();
    drive(
        connect_all(server.addr, conns),
        t,
        &server.pids(),
        state,
        |c, s| exchange_step(c, s, &msg, msg_len, &mut buf),
    )
}

/// HTTP/1.1: `depth` pipelined requests in one write, all answers awaited;
/// counts requests.
pub fn bench_http(server: &ServerProc, conns: usize, depth: usize, t: &Timing) -> Sample {
    let batch = http::REQUEST.repeat(depth);
    let answer_len = depth * http::HELLO_RESPONSE.len();
    let mut buf = vec![0u8; 256 * 1024];
    let state = (0..conns).map(|_| Exchange::default()).collect();
    let mut s = drive(
        connect_all(server.addr, conns),
        t,
        &server.pids(),
        state,
        |c, s| exchange_step(c, s, &batch, answer_len, &mut buf),
    );
    s.count *= depth as f64;
    s
}

/// Streaming: `chunk`-byte writes without waiting, echoes read as they come;
/// counts MiB echoed.
pub fn bench_stream(server: &ServerProc, conns: usize, chunk_len: usize, t: &Timing) -> Sample {
    let chunk: Vec<u8> = (0..chunk_len).map(|i| (i % 253) as u8).collect();
    let mut buf = vec![0u8; 256 * 1024];
    let mut s = drive(
        connect_all(server.addr, conns),
        t,
        &server.pids(),
        vec![0usize; conns],
        |c, off| {
            let mut got = 0u64;
            loop {
                let mut progressed = false;
                loop {
                    match c.write(&chunk[*off..]) {
                        Ok(n) => {
                            *off = (*off + n) % chunk_len;
                            progressed = true;
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) => panic!("stream write: {e}"),
                    }
                }
                loop {
                    match c.read(&mut buf) {
                        Ok(0) => panic!("stream: the server closed the connection"),
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
        },
    );
    s.count /= 1024.0 * 1024.0;
    s
}

/// The server's RSS growth per connection after `n` idle connections.
pub fn bench_idle(server: &ServerProc, n: usize) -> f64 {
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

/// One churning client: its socket, and how much of its request went out
/// and of the echo came back.
struct Churner {
    sock: TcpStream,
    sent: usize,
    got: usize,
}

/// Connection churn: `conns` clients at once, each connecting, sending one
/// 64-byte request, reading its echo and closing, then connecting again;
/// counts the connections completed (accepts served). The client closes
/// first; loopback reuses its TIME_WAIT ports (`tcp_tw_reuse`).
pub fn bench_churn(server: &ServerProc, conns: usize, t: &Timing) -> Sample {
    const REQ: [u8; 64] = [b'c'; 64];
    let mut poll = Poll::new().expect("poll");
    let open = |poll: &Poll, i: usize| {
        let mut sock = TcpStream::connect(server.addr).expect("connect");
        poll.registry()
            .register(&mut sock, Token(i), Interest::READABLE | Interest::WRITABLE)
            .expect("register");
        Churner {
            sock,
            sent: 0,
            got: 0,
        }
    };
    let mut clients: Vec<Churner> = (0..conns).map(|i| open(&poll, i)).collect();
    let mut buf = [0u8; 256];
    // Advances client `i`; true when it completed (and was replaced).
    let mut step = |poll: &Poll, c: &mut Churner, i: usize| -> bool {
        while c.sent < REQ.len() {
            match c.sock.write(&REQ[c.sent..]) {
                Ok(n) => c.sent += n,
                // Still connecting.
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::NotConnected) => {
                    return false
                }
                Err(e) => panic!("churn write: {e}"),
            }
        }
        loop {
            match c.sock.read(&mut buf) {
                Ok(0) => panic!("churn: the server closed first"),
                Ok(n) => c.got += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("churn read: {e}"),
            }
        }
        if c.got < REQ.len() {
            return false;
        }
        let _ = poll.registry().deregister(&mut c.sock);
        *c = open(poll, i);
        true
    };
    let mut events = Events::with_capacity(1024);
    let mut total: u64 = 0;
    let pids = server.pids();
    let mut window = Window::new(t, &pids);
    while window.open(total) {
        poll.poll(&mut events, Some(Duration::from_millis(50)))
            .expect("poll");
        for ev in events.iter() {
            let i = ev.token().0;
            // A new socket may get the old one's stale event: a step that
            // finds nothing to do is harmless.
            while step(&poll, &mut clients[i], i) {
                total += 1;
            }
        }
    }
    window.sample(total)
}
